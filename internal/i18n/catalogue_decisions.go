package i18n

// An admin's decisions sticking to an owner's host (issue 15): what the
// owner is told, and what the admin console shows and asks.
func init() {
	register(map[string]map[string]string{
		"en": {
			"form.host.revoked":               "An administrator revoked this host for your account: it cannot be registered again until an administrator restores it.",
			"flash.domain.plan.admin.free":    "An administrator put this host on the free plan: it keeps that plan.",
			"flash.domain.plan.admin.premium": "An administrator put this host on the premium plan: it keeps that plan.",
			"confirm.delete.revoked":          "An administrator revoked this domain: deleting it does not free its host, which you cannot register again until an administrator restores it.",

			"admin.held":         "Revocation holds",
			"admin.held.hint":    "Its owner cannot register this host again until it is restored.",
			"admin.confirm.lift": "Lift the revocation of %s? The domain stays deleted and its old secret and tokens stay refused; its owner may register the host again, with a new secret.",
			"admin.flash.lifted": "Revocation lifted: the domain stays deleted, and its owner may register the host again.",
		},
		"ko": {
			"form.host.revoked":               "관리자가 이 계정에서 이 호스트의 사용을 중지했습니다. 관리자가 복구할 때까지 다시 등록할 수 없습니다.",
			"flash.domain.plan.admin.free":    "관리자가 이 호스트를 무료 요금제로 정했으므로 그 요금제를 유지합니다.",
			"flash.domain.plan.admin.premium": "관리자가 이 호스트를 프리미엄 요금제로 정했으므로 그 요금제를 유지합니다.",
			"confirm.delete.revoked":          "관리자가 사용을 중지한 도메인입니다. 삭제해도 호스트는 풀리지 않으며, 관리자가 복구할 때까지 다시 등록할 수 없습니다.",

			"admin.held":         "사용 중지 유지 중",
			"admin.held.hint":    "복구할 때까지 소유자는 이 호스트를 다시 등록할 수 없습니다.",
			"admin.confirm.lift": "%s의 사용 중지를 해제할까요? 도메인은 삭제된 채로 남고 이전 비밀 키와 토큰은 계속 거부됩니다. 소유자는 호스트를 다시 등록해 새 비밀 키를 받을 수 있습니다.",
			"admin.flash.lifted": "사용 중지를 해제했습니다. 도메인은 삭제된 채로 남고, 소유자는 호스트를 다시 등록할 수 있습니다.",
		},
	})
}
