package i18n

// Messages of the console's compact domain list and its page of one
// domain (issue 18 point 1).
func init() {
	register(map[string]map[string]string{
		"en": {
			"admin.col.domain":       "Domain and owner",
			"admin.manage":           "Manage",
			"admin.owner.suspended":  "Owner suspended",
			"admin.domain.title":     "Domain %s",
			"admin.domain.owner":     "Owner",
			"admin.domain.actions":   "Actions",
			"admin.domain.final":     "Its owner deleted this domain: nothing can change it any more.",
			"admin.domain.reason":    "Reason given to the owner",
			"admin.history.empty":    "No admin action on this domain yet.",
			"admin.history.all":      "The whole history in the audit log",
			"admin.history.caption":  "Admin actions on this domain, newest first",
			"admin.domain.lastused":  "Last use",
			"admin.domain.user.page": "All domains of this owner",
		},
		"ko": {
			"admin.col.domain":       "도메인과 소유자",
			"admin.manage":           "관리",
			"admin.owner.suspended":  "소유자 정지됨",
			"admin.domain.title":     "도메인 %s",
			"admin.domain.owner":     "소유자",
			"admin.domain.actions":   "작업",
			"admin.domain.final":     "소유자가 삭제한 도메인이라 더 이상 바꿀 수 없습니다.",
			"admin.domain.reason":    "소유자에게 알린 사유",
			"admin.history.empty":    "이 도메인에 대한 관리자 작업이 아직 없습니다.",
			"admin.history.all":      "감사 로그에서 전체 기록 보기",
			"admin.history.caption":  "이 도메인에 대한 관리자 작업(최신순)",
			"admin.domain.lastused":  "마지막 사용",
			"admin.domain.user.page": "이 소유자의 모든 도메인",
		},
	})
}
