package i18n

// The one-time reveal of a secret (Post/Redirect/Get) and the account page.
func init() {
	register(map[string]map[string]string{
		"en": {
			"secret.gone": "The secret of %s was shown once and is not shown again: if you did not copy it, rotate it to get a new one.",

			"nav.account":              "Account",
			"account.title":            "Account",
			"account.heading":          "Your account",
			"account.lead":             "Signed in as %s.",
			"account.nick.heading":     "Nickname",
			"account.nick.submit":      "Change nickname",
			"account.password.heading": "Password",
			"account.password.lead":    "Changing it logs you out everywhere else; this browser stays signed in.",
			"account.password.submit":  "Change password",
			"account.delete.heading":   "Delete the account",
			"account.delete.lead":      "Your domains stop working at once: their secrets and tokens are refused. This cannot be undone.",
			"account.delete.open":      "Delete my account",
			"account.delete.submit":    "Yes, delete my account",
			"account.flash.password":   "Password changed: every other session of your account has ended.",
			"account.flash.nick":       "Nickname changed.",
			"account.flash.deleted":    "Your account is deleted, and its domains no longer work.",

			"admin.audit.action.user.delete": "Deleted their account",
		},
		"ko": {
			"secret.gone": "%s의 비밀 키는 한 번만 보여 주며 다시 보여 주지 않습니다. 복사하지 못했다면 키를 교체해 새 키를 받으세요.",

			"nav.account":              "계정",
			"account.title":            "계정",
			"account.heading":          "내 계정",
			"account.lead":             "%s(으)로 로그인했습니다.",
			"account.nick.heading":     "닉네임",
			"account.nick.submit":      "닉네임 바꾸기",
			"account.password.heading": "비밀번호",
			"account.password.lead":    "바꾸면 다른 모든 곳에서 로그아웃됩니다. 이 브라우저는 로그인 상태로 남습니다.",
			"account.password.submit":  "비밀번호 바꾸기",
			"account.delete.heading":   "계정 삭제",
			"account.delete.lead":      "도메인이 즉시 작동을 멈춥니다. 비밀 키와 토큰이 모두 거부됩니다. 되돌릴 수 없습니다.",
			"account.delete.open":      "계정 삭제",
			"account.delete.submit":    "네, 계정을 삭제합니다",
			"account.flash.password":   "비밀번호가 바뀌었습니다. 계정의 다른 모든 세션이 종료되었습니다.",
			"account.flash.nick":       "닉네임이 바뀌었습니다.",
			"account.flash.deleted":    "계정이 삭제되었고 도메인은 더 이상 작동하지 않습니다.",

			"admin.audit.action.user.delete": "자기 계정 삭제",
		},
	})
}
