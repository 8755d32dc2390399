package handlers

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/config"
)

const metricsToken = "2c7d0e5b8f1a4c9e3b6d0f2a5c8e1b4d7f0a3c6e9b2d5f8a1c4e7b0d3f6a9c2e"

// TestMetricsAccess: in production the app's port shows /metrics only to
// a client with METRICS_TOKEN as a bearer token; development keeps it
// open unless a token is set; METRICS_ADDR serves it (with the token
// asked when set) instead.
func TestMetricsAccess(t *testing.T) {
	const exposition = "nodebird_token_verifications_total"
	for _, tc := range []struct {
		name  string
		tweak func(*config.Config)
		// status of GET /metrics on the app's port, without a token, with
		// a wrong one, with the right one
		none, wrong, right int
	}{
		{"development", func(c *config.Config) {}, 200, 200, 200},
		{"development with a token", func(c *config.Config) { c.MetricsToken = []byte(metricsToken) }, 401, 401, 200},
		{"production", func(c *config.Config) { c.Env = "production" }, 404, 404, 404},
		{"production with a token", func(c *config.Config) { c.Env, c.MetricsToken = "production", []byte(metricsToken) }, 401, 401, 200},
		{"production on METRICS_ADDR", func(c *config.Config) { c.Env, c.MetricsAddr = "production", "127.0.0.1:9102" }, 404, 404, 404},
		{"production, metrics off", func(c *config.Config) { c.Env, c.Metrics, c.MetricsToken = "production", false, []byte(metricsToken) }, 404, 404, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newOpsServer(t, "sqlite", nil, tc.tweak)
			c := s.client(t)
			for _, try := range []struct {
				auth string
				want int
			}{
				{"", tc.none},
				{"Bearer wrong", tc.wrong},
				{"Bearer " + metricsToken[:len(metricsToken)-1], tc.wrong},
				{"Bearer " + metricsToken + "x", tc.wrong},
				{metricsToken, tc.wrong}, // a raw token is not a bearer token
				{"Basic " + metricsToken, tc.wrong},
				{"Bearer " + metricsToken, tc.right},
				{"bearer  " + metricsToken + " ", tc.right},
			} {
				r := c.do("GET", "/metrics", nil, map[string]string{"Authorization": try.auth})
				if r.Status != try.want {
					t.Errorf("Authorization %q: %d, want %d", try.auth, r.Status, try.want)
				}
				if r.Status == 200 && !strings.Contains(r.Body, exposition) || r.Status != 200 && strings.Contains(r.Body, exposition) {
					t.Errorf("Authorization %q: %d and the body\n%.300s", try.auth, r.Status, r.Body)
				}
				if r.Status == 401 && r.Header.Get("WWW-Authenticate") != `Bearer realm="metrics"` {
					t.Errorf("401 without WWW-Authenticate: %q", r.Header.Get("WWW-Authenticate"))
				}
			}
			// What serve.go mounts on METRICS_ADDR asks for the token when set.
			rec := httptest.NewRecorder()
			s.app.metricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if want := map[bool]int{true: 401, false: 200}[len(s.app.config.MetricsToken) > 0]; rec.Code != want {
				t.Errorf("metricsHandler without a token: %d, want %d", rec.Code, want)
			}
			req := httptest.NewRequest("GET", "/metrics", nil)
			req.Header.Set("Authorization", "Bearer "+metricsToken)
			rec = httptest.NewRecorder()
			s.app.metricsHandler().ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Errorf("metricsHandler with the token: %d", rec.Code)
			}
		})
	}
}
