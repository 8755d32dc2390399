package handlers

import (
	"net/http"
	"testing"

	"github.com/nodebird/nodebird-api/internal/testdb"
)

// TestSecurityHeaders: portal pages carry the page policy, every /v1
// answer (success, refusal, unknown URL, wrong method) the API one, and
// HSTS comes in production only.
func TestSecurityHeaders(t *testing.T) {
	page := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
	}
	api := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "",
	}
	db := testdb.Fresh(t, "sqlite")
	sec := startApp(t, db, testConfig(), false).user(t, "headers@example.com").register("headers.example.com", "free")
	for _, production := range []bool{false, true} {
		cfg := testConfig()
		if production {
			cfg.Env = "production" // Secure cookies: the domain was registered above
		}
		s := startApp(t, db, cfg, false)
		tok := s.issueToken(t, sec)
		hsts := ""
		if production {
			hsts = "max-age=31536000"
		}
		check := func(what string, r response, status int, want map[string]string) {
			t.Helper()
			if r.Status != status {
				t.Fatalf("%s: status %d, want %d", what, r.Status, status)
			}
			for name, v := range want {
				if got := r.Header.Get(name); got != v || v != "" && len(r.Header.Values(name)) != 1 {
					t.Errorf("production=%v %s: %s = %q, want %q", production, what, name, r.Header.Values(name), v)
				}
			}
			if got := r.Header.Get("Strict-Transport-Security"); got != hsts {
				t.Errorf("production=%v %s: Strict-Transport-Security = %q, want %q", production, what, got, hsts)
			}
		}
		c := s.client(t)
		check("home page", c.get("/"), http.StatusOK, page)
		check("docs page", c.get("/docs"), http.StatusOK, page)
		check("missing page", c.get("/nowhere"), http.StatusNotFound, page)
		check("token issued", s.call(t, jsonSecret(sec)), http.StatusOK, api)
		check("unknown secret", s.call(t, jsonSecret("nbk_wrong")), http.StatusUnauthorized, api)
		check("token verified", s.call(t, verifyReq("Bearer "+tok)), http.StatusOK, api)
		check("bad token", s.call(t, verifyReq("Bearer x.y.z")), http.StatusUnauthorized, api)
		check("unknown API URL", c.get("/v1/nowhere"), http.StatusNotFound, api)
		check("wrong method", c.do("DELETE", "/v1/token", nil, nil), http.StatusMethodNotAllowed, api)
	}
}
