package i18n

// The portal polished (issue 18): what the secret panel's server example
// means, the plans on a server without limits, a pasted address reduced to
// its host.
func init() {
	register(map[string]map[string]string{
		"en": {
			"secret.curl.note":          "A server keeps the secret private: put it in the server's settings (an environment variable), never in a repository or a page.",
			"plan.nolimit.hint":         "No rate limit on this server",
			"field.host.reduced":        "Taken from the address you pasted, %s: only the host counts.",
			"flash.domain.host.reduced": "You pasted a web address: its host is registered (shown below); its path and the rest do not matter to the API.",
			"usage.last.label":          "Last used",
		},
		"ko": {
			"secret.curl.note":          "서버에서는 비밀 키가 드러나지 않습니다. 저장소나 페이지가 아니라 서버 설정(환경 변수)에 보관하세요.",
			"plan.nolimit.hint":         "이 서버에는 요청 한도가 없습니다",
			"field.host.reduced":        "붙여 넣은 주소 %s에서 가져왔습니다. 호스트만 씁니다.",
			"flash.domain.host.reduced": "웹 주소를 붙여 넣어 그 호스트를 등록했습니다(아래). 경로 등 나머지는 API와 관계가 없습니다.",
			"usage.last.label":          "마지막 사용",
		},
	})
}
