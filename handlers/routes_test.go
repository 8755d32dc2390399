package handlers

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/i18n"
)

// TestEveryGETRouteAnswersHEAD: RFC 9110 asks every GET resource to
// answer HEAD; load balancers and uptime checkers send it.
func TestEveryGETRouteAnswersHEAD(t *testing.T) {
	s := newTestServer(t, "sqlite")
	for name, e := range map[string]*echo.Echo{"portal": s.app.web, "API": s.app.api} {
		heads := map[string]bool{}
		gets := 0
		for _, r := range e.Routes() {
			if r.Method == http.MethodHead {
				heads[r.Path] = true
			}
		}
		for _, r := range e.Routes() {
			if r.Method == http.MethodGet {
				gets++
				if !heads[r.Path] {
					t.Errorf("%s: GET %s has no HEAD", name, r.Path)
				}
			}
		}
		if gets == 0 {
			t.Fatalf("%s: no GET routes", name)
		}
	}
	c := s.client(t)
	for _, path := range []string{"/healthz", "/readyz", "/", "/join", "/docs", "/static/css/app.css"} {
		get, head := c.get(path), c.do(http.MethodHead, path, nil, nil)
		if head.Status != http.StatusOK || get.Status != http.StatusOK {
			t.Errorf("%s: HEAD %d, GET %d; want 200", path, head.Status, get.Status)
		}
		if head.Body != "" {
			t.Errorf("HEAD %s has a body: %q", path, head.Body)
		}
		if ct := head.Header.Get("Content-Type"); ct != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: Content-Type %q, GET's is %q", path, ct, get.Header.Get("Content-Type"))
		}
	}
	// HEAD of a route that has no GET is still refused.
	if r := c.do(http.MethodHead, "/auth/logout", nil, nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /auth/logout: %d, want 405", r.Status)
	}
	if r := c.do(http.MethodHead, "/v1/token", nil, nil); r.Status != http.StatusMethodNotAllowed || r.Body != "" {
		t.Errorf("HEAD /v1/token: %d %q, want 405 and no body", r.Status, r.Body)
	}
}

// TestPortalAndAPIAreApart: each face answers with its own error format
// and headers, whatever URL it gets, and /v1 never reaches the portal.
func TestPortalAndAPIAreApart(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.client(t)
	for _, path := range []string{"/v1", "/v1/", "/v1/nowhere", "/v1/admin/domains"} {
		r := c.get(path)
		if r.Status != http.StatusNotFound || r.Header.Get("Content-Type") != echo.MIMEApplicationJSON ||
			r.Header.Get("Content-Security-Policy") != apiCSP || r.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET %s: %d %q, CSP %q, cookie %q; want the API's JSON 404 and no session",
				path, r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Security-Policy"), r.Header.Get("Set-Cookie"))
		}
	}
	for _, path := range []string{"/v2/token", "/v1x", "/nowhere"} {
		r := c.get(path)
		if r.Status != http.StatusNotFound || r.Header.Get("Content-Type") != echo.MIMETextHTMLCharsetUTF8 ||
			r.Header.Get("Content-Security-Policy") != webCSP {
			t.Errorf("GET %s: %d %q; want the portal's HTML 404", path, r.Status, r.Header.Get("Content-Type"))
		}
	}
}

// TestEveryAccessRefusalHasAStatus: the table from the access rules'
// refusals to statuses covers every reason, with a message in every language.
func TestEveryAccessRefusalHasAStatus(t *testing.T) {
	for r := access.UnknownSecret; r <= access.DomainRevoked; r++ { // DomainRevoked: the last reason
		s, ok := accessStatus[r]
		if !ok || s.status < 400 {
			t.Errorf("%v: no status", r)
			continue
		}
		if !i18n.Has(s.key) {
			t.Errorf("%v: message key %q is not in the catalogue", r, s.key)
		}
		if status, key := statusOf(&access.Error{Reason: r}); status != s.status || key != s.key {
			t.Errorf("%v: statusOf = %d %s, want %d %s", r, status, key, s.status, s.key)
		}
	}
	if n := len(accessStatus); n != int(access.DomainRevoked) {
		t.Errorf("the table has %d entries, the access package %d reasons", n, access.DomainRevoked)
	}
}
