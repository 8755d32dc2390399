package i18n

// /docs on the posts API, the OpenAPI document and the client examples.
func init() {
	register(map[string]map[string]string{
		"en": {
			"docs.openapi":      "OpenAPI 3.1 description (openapi.json)",
			"docs.openapi.lead": "— every operation, parameter, header, response and error id, for code generators and API tools.",
		},
		"ko": {
			"docs.openapi":      "OpenAPI 3.1 명세 (openapi.json)",
			"docs.openapi.lead": "— 모든 작업, 매개변수, 헤더, 응답, 오류 ID를 담고 있어 코드 생성기와 API 도구에서 쓸 수 있습니다.",
		},
	})
}
