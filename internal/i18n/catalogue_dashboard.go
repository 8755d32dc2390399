package i18n

// The owner's dashboard in pages, its search, and the limit on domains
// per account (issue 14).
func init() {
	register(map[string]map[string]string{
		"en": {
			"dash.count.one":          "domain",
			"dash.count.other":        "domains",
			"dash.search.label":       "Find a domain",
			"dash.search.placeholder": "shop.example",
			"dash.search.hint":        "Hosts that start with what you type.",
			"dash.search.submit":      "Search",
			"dash.search.clear":       "Show all domains",
			"dash.search.none":        "No domain starts with “%s”.",
			"dash.pages":              "Pages of your domains",
			"dash.page.newer":         "← Newer",
			"dash.page.older":         "Older →",
			"dash.page.first":         "Newest",
			"dash.err.query":          "This dashboard address is not valid: go back to the dashboard and try again.",
			"dash.limit":              "You have %s of the %s domains your account may have.",
			"form.host.limit":         "Your account has as many domains as it may have. Delete one you no longer use, or ask an administrator to raise your limit.",
		},
		"ko": {
			"dash.count.one":          "개",
			"dash.count.other":        "개",
			"dash.search.label":       "도메인 찾기",
			"dash.search.placeholder": "shop.example",
			"dash.search.hint":        "입력한 글자로 시작하는 호스트를 찾습니다.",
			"dash.search.submit":      "검색",
			"dash.search.clear":       "모든 도메인 보기",
			"dash.search.none":        "“%s”(으)로 시작하는 도메인이 없습니다.",
			"dash.pages":              "내 도메인 페이지",
			"dash.page.newer":         "← 더 최근",
			"dash.page.older":         "더 이전 →",
			"dash.page.first":         "가장 최근",
			"dash.err.query":          "올바른 대시보드 주소가 아닙니다. 대시보드로 돌아가 다시 시도하세요.",
			"dash.limit":              "계정에 등록할 수 있는 도메인 %[2]s개 중 %[1]s개를 등록했습니다.",
			"form.host.limit":         "계정에 등록할 수 있는 도메인 수에 도달했습니다. 더 이상 쓰지 않는 도메인을 삭제하거나 관리자에게 한도를 늘려 달라고 요청하세요.",
		},
	})
}
