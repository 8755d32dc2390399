package i18n

// Messages of the token API (/v1) beyond the seed's, which live in catalogue.go.
func init() {
	register(map[string]map[string]string{
		"en": {
			"api.token.missing":  "Send the token in the Authorization header.",
			"api.body.type":      "Send clientSecret in a JSON or form body.",
			"api.domain.revoked": "An administrator revoked this domain: its secret and tokens are refused. Its owner can see the reason on the NodeBird dashboard and contact an administrator.",
		},
		"ko": {
			"api.token.missing":  "Authorization 헤더에 토큰을 보내세요",
			"api.body.type":      "clientSecret은 JSON 또는 폼 본문으로 보내세요",
			"api.domain.revoked": "관리자가 이 도메인의 사용을 중지해 비밀 키와 토큰이 거부됩니다. 도메인 소유자는 NodeBird 대시보드에서 사유를 확인하고 관리자에게 문의할 수 있습니다",
		},
	})
}
