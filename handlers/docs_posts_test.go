package handlers

import (
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/i18n"
)

// docsCode is the text of the example <code id="id"> on a /docs page.
func docsCode(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<code id="` + id + `">([\s\S]*?)</code>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("/docs has no example %s", id)
	}
	return html.UnescapeString(m[1])
}

// TestDocsPostsExamples: /docs shows the posts endpoints with examples in
// curl, JavaScript (renewing on 419), Go (the client package) and Python
// (requests), on this server's URL; its sample answer is one the OpenAPI
// document accepts; the prose is in the page's language.
func TestDocsPostsExamples(t *testing.T) {
	s := newTestServer(t, "sqlite")
	page := s.client(t).get("/docs").Body
	for id, want := range map[string][]string{
		"doc-posts-curl":   {s.URL + "/v1/token", s.URL + "/v1/posts/my?limit=20", s.URL + "/v1/posts/hashtag/%EB%85%B8%EB%93%9C", "Authorization: Bearer $TOKEN"},
		"doc-posts-js":     {"const API = '" + s.URL + "'", "res.status === 419", "newToken()", "/v1/posts/my?limit=50&cursor=${next}", "encodeURIComponent('노드')"},
		"doc-posts-go":     {`"github.com/nodebird/nodebird-api/client"`, `client.New("` + s.URL + `"`, "c.MyPosts(ctx, opts)", "opts.Cursor = page.Next", "*client.APIError", `c.PostsByHashtag(ctx, "노드"`},
		"doc-posts-python": {"import os, requests", "API = '" + s.URL + "'", "res.status_code == 419", "cursor=page['next']", "json={'clientSecret'"},
	} {
		mustContain(t, id, docsCode(t, page, id), want...)
	}
	mustContain(t, "docs", page, `href="#posts"`, html.EscapeString(i18n.T("en", "docs.posts.lead")))

	// The sample answer: status line, headers, blank line, body.
	sample := docsCode(t, page, "doc-posts-ok")
	head, body, ok := strings.Cut(sample, "\n\n")
	if !ok {
		t.Fatalf("sample without a body:\n%s", sample)
	}
	hdr := http.Header{}
	for _, line := range strings.Split(head, "\n")[1:] {
		k, v, _ := strings.Cut(line, ": ")
		hdr.Add(k, v)
	}
	if err := mustOpenAPI(t).validate(httptest.NewRequest("GET", "/v1/posts/my", nil), 200, hdr, []byte(body)); err != nil {
		t.Errorf("the /docs sample is not an answer the OpenAPI document allows: %v\n%s", err, sample)
	}

	// In Korean: the prose and the comments are Korean, the code the same.
	ko := s.client(t).do("GET", "/docs", nil, map[string]string{"Accept-Language": "ko"}).Body
	mustContain(t, "Korean docs", ko, html.EscapeString(i18n.T("ko", "docs.posts.lead")), html.EscapeString(i18n.T("ko", "docs.ex.posts.python")))
	mustContain(t, "Korean Go example", docsCode(t, ko, "doc-posts-go"), "// "+i18n.T("ko", "docs.posts.comment.go"))
	code := func(ex string) string { return regexp.MustCompile(`(?m)^\s*// .*$`).ReplaceAllString(ex, "") }
	if code(docsCode(t, ko, "doc-posts-go")) != code(docsCode(t, page, "doc-posts-go")) {
		t.Error("the Go example's code differs between languages")
	}
}
