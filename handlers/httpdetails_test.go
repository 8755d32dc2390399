package handlers

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The portal takes its CSRF token from the request body only: a token in
// the URL would leak through logs, history and Referer, and a form that
// put it there must not work.
func TestCSRFTokenOnlyFromBody(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.user(t, "csrf@example.com")
	tok := c.csrf()
	const form = "application/x-www-form-urlencoded"
	esc := url.QueryEscape(tok)
	mpType, mpBody := multipartBody(map[string]string{"host": "multipart.example.com", "type": "free", "_csrf": tok})
	mpType2, mpBody2 := multipartBody(map[string]string{"host": "multipart2.example.com", "type": "free"})

	cases := []struct {
		name, query string
		ctype, body string
		host        string // registered by the request when it works
		want        int
	}{
		{"token in the urlencoded body", "", form, "host=body.example.com&type=free&_csrf=" + esc, "body.example.com", 201},
		{"token in the multipart body", "", mpType, mpBody, "multipart.example.com", 201},
		{"token in the body, a wrong one in the URL", "?_csrf=forged", form, "host=body2.example.com&type=free&_csrf=" + esc, "body2.example.com", 201},
		{"token in the URL only, urlencoded body", "?_csrf=" + esc, form, "host=query.example.com&type=free", "query.example.com", 403},
		{"token in the URL only, multipart body", "?_csrf=" + esc, mpType2, mpBody2, "multipart2.example.com", 403},
		{"token in the URL, a wrong one in the body", "?_csrf=" + esc, form, "host=query2.example.com&type=free&_csrf=forged", "query2.example.com", 403},
		{"everything in the URL, no body", "?_csrf=" + esc + "&host=query3.example.com&type=free", "", "", "query3.example.com", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.ctype != "" {
				h["Content-Type"] = tc.ctype
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := c.do("POST", "/domain"+tc.query, body, h)
			if r.Status != tc.want {
				t.Fatalf("POST /domain%s: %d, want %d\n%.300s", tc.query, r.Status, tc.want, r.Body)
			}
			registered := strings.Contains(c.get("/").Body, tc.host)
			if registered != (tc.want == http.StatusCreated) {
				t.Fatalf("%s registered: %v, want %v", tc.host, registered, tc.want == http.StatusCreated)
			}
		})
	}

	// Logging out with the token in the URL only does not log out.
	if r := c.do("POST", "/auth/logout?_csrf="+url.QueryEscape(tok), nil, nil); r.Status != http.StatusForbidden {
		t.Fatalf("logout with the token in the URL: %d, want 403", r.Status)
	}
	if !strings.Contains(c.get("/").Body, "Log out") {
		t.Fatal("a logout with the token in the URL logged out")
	}
}
