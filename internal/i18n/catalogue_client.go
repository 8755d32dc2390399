package i18n

// /docs on the posts API, the OpenAPI document and the client examples.
func init() {
	register(map[string]map[string]string{
		"en": {
			"docs.openapi":      "OpenAPI 3.1 description (openapi.json)",
			"docs.openapi.lead": "— every operation, parameter, header, response and error id, for code generators and API tools.",
			// cmd/nodecat, the demo client site.
			"nodecat.title":       "NodeCat",
			"nodecat.mine":        "My NodeBird posts",
			"nodecat.search":      "Hashtag search",
			"nodecat.results":     "Posts with #%s",
			"nodecat.hashtag":     "Hashtag",
			"nodecat.go":          "Search",
			"nodecat.none":        "No posts have this hashtag.",
			"nodecat.nothing":     "No posts yet: write one on NodeBird.",
			"nodecat.more":        "Older posts",
			"nodecat.code":        "NodeBird's error id:",
			"nodecat.err.refused": "NodeBird refused this site's client secret or token. The site's owner must check CLIENT_SECRET and the domain on the NodeBird dashboard.",
			"nodecat.err.busy":    "NodeBird is busy for this site: try again in %d seconds.",
			"nodecat.err.api":     "NodeBird answered with an error (%d). Try again later.",
			"nodecat.err.down":    "NodeBird is not answering. Try again later.",
		},
		"ko": {
			"docs.openapi":        "OpenAPI 3.1 명세 (openapi.json)",
			"docs.openapi.lead":   "— 모든 작업, 매개변수, 헤더, 응답, 오류 ID를 담고 있어 코드 생성기와 API 도구에서 쓸 수 있습니다.",
			"nodecat.title":       "NodeCat",
			"nodecat.mine":        "내 NodeBird 게시글",
			"nodecat.search":      "해시태그 검색",
			"nodecat.results":     "#%s 게시글",
			"nodecat.hashtag":     "해시태그",
			"nodecat.go":          "검색",
			"nodecat.none":        "이 해시태그가 달린 게시글이 없습니다.",
			"nodecat.nothing":     "아직 게시글이 없습니다. NodeBird에서 글을 써 보세요.",
			"nodecat.more":        "이전 게시글",
			"nodecat.code":        "NodeBird 오류 ID:",
			"nodecat.err.refused": "NodeBird가 이 사이트의 클라이언트 비밀 키나 토큰을 거부했습니다. 사이트 관리자는 CLIENT_SECRET과 NodeBird 대시보드의 도메인을 확인하세요.",
			"nodecat.err.busy":    "NodeBird가 이 사이트의 요청을 잠시 받지 않습니다. %d초 뒤에 다시 시도하세요.",
			"nodecat.err.api":     "NodeBird가 오류(%d)로 응답했습니다. 잠시 뒤에 다시 시도하세요.",
			"nodecat.err.down":    "NodeBird가 응답하지 않습니다. 잠시 뒤에 다시 시도하세요.",
		},
	})
}
