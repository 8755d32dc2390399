package i18n

// Messages of the token API (/v1) beyond the seed's, which live in catalogue.go.
func init() {
	register(map[string]map[string]string{
		"en": {
			"api.token.missing": "Send the token in the Authorization header.",
			"api.body.type":     "Send clientSecret in a JSON or form body.",
		},
		"ko": {
			"api.token.missing": "Authorization 헤더에 토큰을 보내세요",
			"api.body.type":     "clientSecret은 JSON 또는 폼 본문으로 보내세요",
		},
	})
}
