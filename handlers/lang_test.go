package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLocalPath(t *testing.T) {
	cases := map[string]string{
		"/":                             "/",
		"/docs":                         "/docs",
		"/admin/domains?x=1":            "/admin/domains?x=1",
		"/%09/evil.example":             "/%09/evil.example", // stays a path on this site
		"":                              "FALLBACK",
		"//evil.example":                "FALLBACK",
		"/\\evil.example":               "FALLBACK",
		"/\t/evil.example":              "FALLBACK",
		"/\n/evil.example":              "FALLBACK",
		"/ /evil.example":               "FALLBACK",
		"https://evil.example":          "FALLBACK",
		"evil.example":                  "FALLBACK",
		"javascript:alert(1)":           "FALLBACK",
		"/a\\b":                         "FALLBACK",
		"/" + strings.Repeat("a", 3000): "FALLBACK",
	}
	for in, want := range cases {
		if got := localPath(in, "FALLBACK"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLanguageSwitch(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.client(t)
	r := c.post("/lang", url.Values{"lang": {"ko"}, "next": {"/docs"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/docs" {
		t.Fatalf("switch: %d %q", r.Status, r.Header.Get("Location"))
	}
	mustContain(t, "after switching", c.get("/join").Body, `lang="ko"`, "계정 만들기")
	for _, next := range []string{"/\t/evil.example", "//evil.example", "https://evil.example/"} {
		r := c.post("/lang", url.Values{"lang": {"en"}, "next": {next}})
		if r.Header.Get("Location") != "/" {
			t.Errorf("next=%q redirected to %q", next, r.Header.Get("Location"))
		}
	}
	if r := c.post("/lang", url.Values{"lang": {"fr"}}); r.Status != http.StatusBadRequest {
		t.Errorf("unsupported language: %d", r.Status)
	}
	// A page shown after a POST switches back to the start page, not to the POST URL.
	u := s.user(t, "switch@example.com")
	body := u.post("/domain", url.Values{"host": {"bad host"}, "type": {"free"}}).Body
	mustContain(t, "form re-rendered after POST", body, `name="next" value="/"`)
}
