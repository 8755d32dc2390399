package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
)

// askToken posts a secret to /v1/token with extra headers.
func askToken(t *testing.T, s *testServer, sec string, h map[string]string) response {
	t.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	for k, v := range h {
		hdr[k] = v
	}
	return s.client(t).do("POST", "/v1/token", strings.NewReader(`{"clientSecret":"`+sec+`"}`), hdr)
}

func tokenOf(t *testing.T, r response) string {
	t.Helper()
	var body struct{ Token string }
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body.Token == "" {
		t.Fatalf("no token in %d %s", r.Status, r.Body)
	}
	return body.Token
}

func wantJSONError(t *testing.T, what string, r response, status int) {
	t.Helper()
	var body struct {
		Code    int
		Message string
	}
	if r.Status != status || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") ||
		json.Unmarshal([]byte(r.Body), &body) != nil || body.Code != status || body.Message == "" {
		t.Fatalf("%s: %d %q %s, want JSON %d", what, r.Status, r.Header.Get("Content-Type"), r.Body, status)
	}
}

// The plans' quotas, from one client that may take all of them (clients'
// shares: quota_share_test.go).
func TestTokenRateLimitsByPlan(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, oneClientMayTakeAll)
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	owner := s.user(t, "plans@example.com")
	free := owner.register("free.example.com", "free")
	premium := owner.register("premium.example.com", "premium")

	for i := 1; i <= 10; i++ {
		r := askToken(t, s, free, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("free request %d: %d", i, r.Status)
		}
		if got, want := r.Header.Get("RateLimit-Policy"), `"token-free";q=10;w=60`; got != want {
			t.Fatalf("RateLimit-Policy %q, want %q", got, want)
		}
		if got, want := r.Header.Get("RateLimit"), `"token-free";r=`+strconv.Itoa(10-i)+`;t=60`; got != want {
			t.Fatalf("RateLimit %q, want %q", got, want)
		}
	}
	clk.advance(15 * time.Second)
	r := askToken(t, s, free, nil)
	wantJSONError(t, "11th free request", r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") != "45" || r.Header.Get("RateLimit") != `"token-free";r=0;t=45` {
		t.Fatalf("429 headers: Retry-After %q RateLimit %q", r.Header.Get("Retry-After"), r.Header.Get("RateLimit"))
	}
	if !strings.Contains(askToken(t, s, free, map[string]string{"Accept-Language": "ko"}).Body, "요청 한도") {
		t.Fatal("429 message not in Korean")
	}
	// A spoofed X-Forwarded-For does not help: the limit is the domain's.
	if r := askToken(t, s, free, map[string]string{"X-Forwarded-For": "203.0.113.7"}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("spoofed XFF: %d", r.Status)
	}
	// Premium has its own, larger budget.
	for i := 0; i < 30; i++ {
		if r := askToken(t, s, premium, nil); r.Status != http.StatusOK || !strings.Contains(r.Header.Get("RateLimit-Policy"), "q=1000") {
			t.Fatalf("premium request %d: %d %q", i, r.Status, r.Header.Get("RateLimit-Policy"))
		}
	}
	// The window ends: the free domain may ask again.
	clk.advance(46 * time.Second)
	if r := askToken(t, s, free, nil); r.Status != http.StatusOK {
		t.Fatalf("after the window: %d", r.Status)
	}
}

func TestVerifyRateLimit(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, oneClientMayTakeAll, func(c *config.Config) { c.VerifyRPM = 3 })
	sec := s.user(t, "verify@example.com").register("verify.example.com", "premium")
	tok := tokenOf(t, askToken(t, s, sec, nil))
	c := s.client(t)
	for i := 0; i < 3; i++ {
		if r := c.do("GET", "/v1/test", nil, map[string]string{"Authorization": tok}); r.Status != http.StatusOK || r.Header.Get("RateLimit-Policy") != `"verify";q=3;w=60` {
			t.Fatalf("verify %d: %d %q", i, r.Status, r.Header.Get("RateLimit-Policy"))
		}
	}
	r := c.do("GET", "/v1/test", nil, map[string]string{"Authorization": tok})
	wantJSONError(t, "4th verification", r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

func TestGuessingSecretsIsSlowedPerIP(t *testing.T) {
	s := newTestServer(t, "sqlite", limited)
	good := s.user(t, "guess@example.com").register("guess.example.com", "premium")
	bad := strings.Replace(good, good[10:11], map[bool]string{true: "b", false: "a"}[good[10] == 'a'], 1)
	for i := 0; i < 30; i++ {
		r := askToken(t, s, bad, map[string]string{"X-Forwarded-For": "198.51.100." + strconv.Itoa(i)})
		wantJSONError(t, "bad secret", r, http.StatusUnauthorized)
		if !strings.HasPrefix(r.Header.Get("RateLimit-Policy"), `"bad-secret";q=30`) {
			t.Fatalf("bad-secret policy header %q", r.Header.Get("RateLimit-Policy"))
		}
	}
	// The 31st guess from this IP is refused before any lookup, and so is a
	// good secret from the same IP until the window ends.
	wantJSONError(t, "31st guess", askToken(t, s, bad, nil), http.StatusTooManyRequests)
	r := askToken(t, s, good, map[string]string{"X-Forwarded-For": "192.0.2.200"})
	wantJSONError(t, "good secret from the guessing IP", r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

func TestRateLimitsOff(t *testing.T) {
	s := newTestServer(t, "sqlite", func(c *config.Config) { c.RateLimits = false })
	sec := s.user(t, "off@example.com").register("off.example.com", "free")
	for i := 0; i < 25; i++ {
		r := askToken(t, s, sec, nil)
		if r.Status != http.StatusOK || r.Header.Get("RateLimit") != "" {
			t.Fatalf("request %d with RATE_LIMITS=off: %d %q", i, r.Status, r.Header.Get("RateLimit"))
		}
	}
}

func TestCORSBoundToRegisteredHost(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver, limited)
		owner := s.user(t, "cors@example.com")
		sec := owner.register("localhost:4000", "premium")
		other := owner.register("other.example.com", "premium")
		const origin = "http://localhost:4000"

		// Server-to-server: no Origin, no CORS headers, served.
		r := askToken(t, s, sec, nil)
		if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("no Origin: %d ACAO=%q", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
		// The registered origin: served, with CORS headers for it alone.
		r = askToken(t, s, sec, map[string]string{"Origin": origin})
		if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
			t.Fatalf("registered origin: %d ACAO=%q Vary=%q", r.Status, r.Header.Get("Access-Control-Allow-Origin"), r.Header.Values("Vary"))
		}
		if r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatal("credentials allowed")
		}
		tok := tokenOf(t, r)

		// Other origins: 403 JSON and no CORS headers.
		for _, o := range []string{"http://evil.example", "http://localhost:4001", "http://localhost", "null", "http://localhost:4000.evil.example", "http://other.example.com"} {
			r := askToken(t, s, sec, map[string]string{"Origin": o})
			wantJSONError(t, "origin "+o, r, http.StatusForbidden)
			if r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("origin %s got CORS headers", o)
			}
		}
		// A secret's origin is its own host, not any registered host.
		if r := askToken(t, s, other, map[string]string{"Origin": origin}); r.Status != http.StatusForbidden {
			t.Fatalf("other domain's secret from localhost:4000: %d", r.Status)
		}
		// The rule is the host: either scheme, and default ports equal no port.
		if r := askToken(t, s, sec, map[string]string{"Origin": "https://localhost:4000"}); r.Status != http.StatusOK {
			t.Fatalf("https origin on the registered host: %d", r.Status)
		}
		if r := askToken(t, s, other, map[string]string{"Origin": "http://other.example.com:80"}); r.Status != http.StatusOK {
			t.Fatalf("explicit default port: %d", r.Status)
		}

		// A page on a registered host may read the API's refusals (here a
		// rotated-away or mistyped secret), an unregistered origin may not.
		unknown := sec[:len(sec)-1] + map[bool]string{true: "b", false: "a"}[sec[len(sec)-1] == 'a']
		r = askToken(t, s, unknown, map[string]string{"Origin": origin})
		wantJSONError(t, "unknown secret from a registered origin", r, http.StatusUnauthorized)
		if r.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("401 to a registered origin without CORS headers: %v", r.Header)
		}
		r = askToken(t, s, unknown, map[string]string{"Origin": "http://evil.example"})
		if r.Status != http.StatusUnauthorized || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("401 to an unregistered origin: %d %v", r.Status, r.Header)
		}

		// /v1/test: the token's domain decides.
		c := s.client(t)
		r = c.do("GET", "/v1/test", nil, map[string]string{"Authorization": "Bearer " + tok, "Origin": origin})
		if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("/v1/test from the registered origin: %d %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
		r = c.do("GET", "/v1/test", nil, map[string]string{"Authorization": "Bearer " + tok, "Origin": "http://evil.example"})
		wantJSONError(t, "/v1/test from another origin", r, http.StatusForbidden)
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("/v1/test 403 carries CORS headers")
		}

		// Preflights.
		for _, tc := range []struct{ path, method string }{{"/v1/token", "POST"}, {"/v1/test", "GET"}} {
			r := c.do("OPTIONS", tc.path, nil, map[string]string{"Origin": origin, "Access-Control-Request-Method": tc.method,
				"Access-Control-Request-Headers": "content-type, authorization"})
			if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != origin ||
				!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), tc.method) ||
				!strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")), "content-type") {
				t.Fatalf("preflight %s: %d %v", tc.path, r.Status, r.Header)
			}
			r = c.do("OPTIONS", tc.path, nil, map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": tc.method})
			wantJSONError(t, "preflight from another origin", r, http.StatusForbidden)
			if r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatal("refused preflight carries CORS headers")
			}
		}
	})
}

func TestDashboardShowsRecentUse(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, oneClientMayTakeAll)
	owner := s.user(t, "usage@example.com")
	sec := owner.register("usage.example.com", "free")
	mustContain(t, "unused domain", owner.get("/").Body, "Not used yet")
	for i := 0; i < 12; i++ { // 10 issued, 2 refused by the free plan's limit
		askToken(t, s, sec, nil)
	}
	if err := s.app.tokenCounts.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := owner.get("/").Body
	mustContain(t, "dashboard usage", body, "10 issued, 2 refused", "Last used")
}
