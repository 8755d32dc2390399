package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/token"
)

// opsToken asks /v1/token for a token with sec; it returns the response
// and the token ("" when none).
func opsToken(t *testing.T, s *testServer, sec string) (response, string) {
	t.Helper()
	r := s.client(t).do("POST", "/v1/token", strings.NewReader(`{"clientSecret":"`+sec+`"}`),
		map[string]string{"Content-Type": "application/json"})
	var body struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal([]byte(r.Body), &body)
	return r, body.Token
}

func TestHealthAndReadiness(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, _ := newOpsServer(t, driver, nil)
		c := s.client(t)
		type check struct {
			path   string
			status int
			body   string
		}
		for _, phase := range []struct {
			name   string
			before func()
			checks []check
		}{
			{"serving", func() {}, []check{
				{"/healthz", 200, `{"status":"ok"}`},
				{"/readyz", 200, `{"status":"ok"}`},
			}},
			{"shutting down", func() { s.app.shuttingDown.Store(true) }, []check{
				{"/healthz", 200, `{"status":"ok"}`},
				{"/readyz", 503, `{"status":"shutting down"}`},
			}},
		} {
			phase.before()
			for _, ch := range phase.checks {
				r := c.get(ch.path)
				if r.Status != ch.status || strings.TrimSpace(r.Body) != ch.body {
					t.Errorf("%s: GET %s = %d %s, want %d %s", phase.name, ch.path, r.Status, r.Body, ch.status, ch.body)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("%s: GET %s Content-Type %q", phase.name, ch.path, ct)
				}
			}
		}
	})
}

func TestReadinessWithoutDatabase(t *testing.T) {
	s, _ := newOpsServer(t, "sqlite", nil)
	c := s.client(t)
	if r := c.get("/readyz"); r.Status != http.StatusOK {
		t.Fatalf("readyz before: %d", r.Status)
	}
	sqlDB, _ := s.app.db.DB()
	sqlDB.Close()
	if r := c.get("/readyz"); r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, `"database unavailable"`) {
		t.Errorf("readyz with the database closed: %d %s", r.Status, r.Body)
	}
	if r := c.get("/healthz"); r.Status != http.StatusOK {
		t.Errorf("healthz checks no dependency, got %d", r.Status)
	}
}

func TestMetrics(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, _ := newOpsServer(t, driver, nil)
		c := s.user(t, "metrics@example.com")
		sec := c.register("metrics.example.com", "free")
		anon := s.client(t)

		// Requests the metrics must count.
		anon.get("/healthz")
		anon.get("/healthz")
		anon.get("/no/such/page/q7Zx9")
		r, tok := opsToken(t, s, sec)
		if r.Status != http.StatusOK || tok == "" {
			t.Fatalf("token: %d %s", r.Status, r.Body)
		}
		if r, _ := opsToken(t, s, secret.New()); r.Status != http.StatusUnauthorized {
			t.Fatalf("unknown secret: %d", r.Status)
		}
		claims, err := s.app.tokenManager(nil).Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		past := token.New(s.app.config.JWTSecret, s.app.config.JWTIssuer, time.Minute,
			func() time.Time { return time.Now().Add(-time.Hour) })
		expired, _, _ := past.Issue(token.Subject{UserID: claims.UserID, Nick: claims.Nick,
			DomainID: claims.DomainID, SecretVersion: claims.SecretVersion, Host: "metrics.example.com"})
		for _, v := range []struct {
			tok    string
			status int
		}{{tok, 200}, {tok, 200}, {expired, 419}, {"not.a.token", 401}} {
			if r := anon.do("GET", "/v1/test", nil, map[string]string{"Authorization": v.tok}); r.Status != v.status {
				t.Fatalf("/v1/test: %d, want %d", r.Status, v.status)
			}
		}

		m := anon.get("/metrics")
		if m.Status != http.StatusOK || !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: %d %s", m.Status, m.Header.Get("Content-Type"))
		}
		for _, want := range []struct {
			name   string
			labels map[string]string
			value  float64
		}{
			{"nodebird_http_requests_total", map[string]string{"method": "GET", "route": "/healthz", "status": "200"}, 2},
			{"nodebird_http_requests_total", map[string]string{"method": "GET", "route": "unmatched", "status": "404"}, 1},
			{"nodebird_http_requests_total", map[string]string{"method": "POST", "route": "/v1/token", "status": "200"}, 1},
			{"nodebird_http_requests_total", map[string]string{"method": "POST", "route": "/v1/token", "status": "401"}, 1},
			{"nodebird_http_requests_total", map[string]string{"method": "POST", "route": "/domain", "status": "303"}, 1},
			{"nodebird_http_request_duration_seconds_count", map[string]string{"method": "GET", "route": "/v1/test", "status": "200"}, 2},
			{"nodebird_http_request_duration_seconds_bucket", map[string]string{"method": "GET", "route": "/v1/test", "status": "419", "le": "+Inf"}, 1},
			{"nodebird_tokens_issued_total", map[string]string{"plan": "free"}, 1},
			{"nodebird_token_verifications_total", map[string]string{"result": "ok"}, 2},
			{"nodebird_token_verifications_total", map[string]string{"result": "expired"}, 1},
			{"nodebird_token_verifications_total", map[string]string{"result": "invalid"}, 1},
		} {
			got, ok := metricValue(m.Body, want.name, want.labels)
			if !ok || got != want.value {
				t.Errorf("%s%v = %v (found %v), want %v", want.name, want.labels, got, ok, want.value)
			}
		}
		// The pool, the runtime and the process are there too.
		for _, name := range []string{"go_sql_max_open_connections", "go_sql_open_connections", "go_sql_wait_count_total"} {
			if _, ok := metricValue(m.Body, name, map[string]string{"db_name": "nodebird"}); !ok {
				t.Errorf("missing %s", name)
			}
		}
		for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
			if _, ok := metricValue(m.Body, name, map[string]string{}); !ok {
				t.Errorf("missing %s", name)
			}
		}
		// Routes are patterns: neither a URL nor a secret nor a token shows.
		mustNotContain(t, "/metrics", m.Body, "q7Zx9", "/no/such", sec, tok)
	})
}

// TestRateLimitMetric: a refusal by a rate limit is counted under the
// limit's name (here the domain's quota, from one client that may take it
// all; a client's share: TestClientShareRefusalMetric).
func TestRateLimitMetric(t *testing.T) {
	s, _ := newOpsServer(t, "sqlite", nil, func(c *config.Config) { c.RateLimits, c.FreeTokenRPM = true, 2 }, oneClientMayTakeAll)
	sec := s.user(t, "limited@example.com").register("limited.example.com", "free")
	for i, want := range []int{200, 200, 429} {
		if r, _ := opsToken(t, s, sec); r.Status != want {
			t.Fatalf("token %d: %d, want %d", i+1, r.Status, want)
		}
	}
	m := s.client(t).get("/metrics").Body
	for _, want := range []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"nodebird_rate_limited_total", map[string]string{"scope": "token-free"}, 1},
		{"nodebird_tokens_issued_total", map[string]string{"plan": "free"}, 2},
		{"nodebird_http_requests_total", map[string]string{"method": "POST", "route": "/v1/token", "status": "429"}, 1},
	} {
		if got, ok := metricValue(m, want.name, want.labels); !ok || got != want.value {
			t.Errorf("%s%v = %v (found %v), want %v", want.name, want.labels, got, ok, want.value)
		}
	}
}

func TestMetricsSettings(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tweak      func(*config.Config)
		onApp      int  // status of GET /metrics on the app's address
		standalone bool // MetricsHandler serves the exposition
	}{
		{"served by the app", func(c *config.Config) { c.Metrics = true }, http.StatusOK, true},
		{"turned off", func(c *config.Config) { c.Metrics = false }, http.StatusNotFound, false},
		{"on a separate address", func(c *config.Config) { c.Metrics, c.MetricsAddr = true, "127.0.0.1:9102" }, http.StatusNotFound, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newOpsServer(t, "sqlite", nil, tc.tweak)
			if r := s.client(t).get("/metrics"); r.Status != tc.onApp {
				t.Errorf("GET /metrics on the app: %d, want %d", r.Status, tc.onApp)
			}
			if !tc.standalone {
				return
			}
			rec := httptest.NewRecorder()
			s.app.metrics.http.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "nodebird_token_verifications_total") {
				t.Errorf("MetricsHandler: %d", rec.Code)
			}
		})
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestRequestID(t *testing.T) {
	s, logs := newOpsServer(t, "sqlite", nil)
	c := s.client(t)
	long64 := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name, sent string
		echoed     bool // the client's id is kept; otherwise one is generated
	}{
		{"none sent", "", false},
		{"uuid", "3f1c1a8e-6a7b-4c2d-9e0f-1a2b3c4d5e6f", true},
		{"letters, digits, dot, dash, underscore", "req_42.A-b", true},
		{"64 characters", long64, true},
		{"65 characters", long64 + "a", false},
		{"space", "two words", false},
		{"markup", "<script>", false},
		{"non-ASCII", "요청-1", false},
		{"quote", `a"b`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL+"/healthz", nil)
			if tc.sent != "" {
				req.Header["X-Request-Id"] = []string{tc.sent} // raw, even when invalid
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			got := res.Header.Get("X-Request-ID")
			switch {
			case tc.echoed && got != tc.sent:
				t.Errorf("X-Request-ID %q, want the client's %q", got, tc.sent)
			case !tc.echoed && !generatedID.MatchString(got):
				t.Errorf("X-Request-ID %q, want a generated one (24 hex digits)", got)
			}
			if line := logs.waitRequestID(t, got); line["route"] != "/healthz" {
				t.Errorf("request line for %q: %v", got, line)
			}
		})
	}
	// Generated ids differ from one request to the next.
	a, b := c.get("/healthz").Header.Get("X-Request-ID"), c.get("/healthz").Header.Get("X-Request-ID")
	if a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

// TestRequestLogs: one line per request with method, route pattern,
// status, duration, client IP and request id, and no secret of any kind.
func TestRequestLogs(t *testing.T) {
	s, logs := newOpsServer(t, "sqlite", nil)
	const password = "Tr0ub4dor&3-horse"
	c := s.client(t)
	if r := c.signup("logs@example.com", "logs", password); r.Status != http.StatusSeeOther {
		t.Fatalf("signup: %d", r.Status)
	}
	if r := c.login("logs@example.com", password); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.Status)
	}
	sec := c.register("logs.example.com", "premium")
	id := c.domainIDs()[0]
	_, tok := opsToken(t, s, sec)
	if tok == "" {
		t.Fatal("no token")
	}
	base, _ := url.Parse(s.URL)
	var cookies []string
	for _, k := range c.http.Jar.Cookies(base) {
		cookies = append(cookies, k.Value)
	}
	csrf := c.csrf()

	// The requests whose lines are checked, each with its own request id.
	type want struct{ method, route string }
	sent := map[string]want{}
	do := func(method, path string, body io.Reader, h map[string]string, w want) response {
		t.Helper()
		rid := "logtest-" + strconv.Itoa(len(sent))
		if h == nil {
			h = map[string]string{}
		}
		h["X-Request-ID"] = rid
		sent[rid] = w
		return c.do(method, path, body, h)
	}
	do("GET", "/v1/test?token="+tok, nil, map[string]string{"Authorization": "Bearer " + tok}, want{"GET", "/v1/test"})
	do("POST", "/v1/token?clientSecret="+sec, strings.NewReader(url.Values{"clientSecret": {sec}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want{"POST", "/v1/token"})
	do("POST", "/domain/"+id+"/rotate", strings.NewReader(url.Values{"_csrf": {csrf}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want{"POST", "/domain/:id/rotate"})
	do("POST", "/auth/login", strings.NewReader(url.Values{"_csrf": {csrf}, "email": {"logs@example.com"}, "password": {password}}.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want{"POST", "/auth/login"})
	do("GET", "/static/css/app.css", nil, nil, want{"GET", "/static/*"})
	do("DELETE", "/nothing/here/"+sec, nil, nil, want{"DELETE", "unmatched"})

	for rid := range sent {
		logs.waitRequestID(t, rid)
	}
	lines := logs.requestLines(t)
	seen := map[string]int{}
	for _, l := range lines {
		rid, _ := l["request_id"].(string)
		w, ok := sent[rid]
		if !ok {
			continue
		}
		seen[rid]++
		if l["method"] != w.method || l["route"] != w.route {
			t.Errorf("%s: logged %v %v, want %s %s", rid, l["method"], l["route"], w.method, w.route)
		}
		for _, k := range []string{"status", "duration", "ip", "level", "time"} {
			if _, ok := l[k]; !ok {
				t.Errorf("%s: no %q in %v", rid, k, l)
			}
		}
	}
	for rid := range sent {
		if seen[rid] != 1 {
			t.Errorf("%s: %d log lines, want exactly 1", rid, seen[rid])
		}
	}
	mustNotContain(t, "logs", logs.String(), append([]string{password, sec, tok, csrf, sec[len(sec)-8:]}, cookies...)...)
}

// TestRequestLineLevels: a failure of the server is logged as an error; a
// readiness probe answering "not ready" (loading, shutting down) is not.
func TestRequestLineLevels(t *testing.T) {
	s, logs := newOpsServer(t, "sqlite", nil)
	s.app.web.GET("/boom", func(echo.Context) error { return errors.New("boom") })
	s.app.shuttingDown.Store(true)
	for _, tc := range []struct{ path, level string }{
		{"/readyz", "INFO"},
		{"/boom", "ERROR"},
		{"/healthz", "INFO"},
	} {
		req, _ := http.NewRequest("GET", s.URL+tc.path, nil)
		req.Header.Set("X-Request-ID", "level-"+strings.Trim(tc.path, "/"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if line := logs.waitRequestID(t, "level-"+strings.Trim(tc.path, "/")); line["level"] != tc.level {
			t.Errorf("GET %s (%d): logged at %v, want %s", tc.path, res.StatusCode, line["level"], tc.level)
		}
	}
}
