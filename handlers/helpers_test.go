package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
	"gorm.io/gorm"
)

// testConfig is a development configuration with fixed secrets and a low
// bcrypt cost so that tests run quickly.
func testConfig() *config.Config {
	return &config.Config{
		Env: "test", Port: 0, DBQueryTimeout: 2 * time.Second,
		JWTSecret:     []byte("test-jwt-secret-0123456789abcdef0123456789"),
		SessionSecret: []byte("test-session-secret-0123456789abcdef012345"),
		TokenTTL:      time.Minute, JWTIssuer: "nodebird", SessionTTL: time.Hour,
		BodyLimit: "64K", CacheRefresh: time.Second, DomainCacheMax: 1000, BcryptCost: 4,
		FreeTokenRPM: 10, PremiumTokenRPM: 1000, VerifyRPM: 6000, BadSecretRPM: 30, ClientShares: 5,
		LoginFailsAccount: 5, LoginFailsIP: 20, LoginWindow: 15 * time.Minute, RateLimitKeys: 100000, JoinPerHourIP: 20,
		LoginAccountCeiling: 50, LoginSlowInterval: 30 * time.Second,
	}
}

type testServer struct {
	*httptest.Server
	app *App
	log *logBuffer
}

// logBuffer collects the app's log lines; safe to read while the server writes.
type logBuffer struct{ testutil.LogBuffer }

// forEachDB runs fn against SQLite, and MariaDB when configured.
func forEachDB(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range testdb.Targets(t) {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// newTestServer starts the whole application on a fresh database.
func newTestServer(t *testing.T, driver string, tweak ...func(*config.Config)) *testServer {
	t.Helper()
	cfg := testConfig()
	for _, f := range tweak {
		f(cfg)
	}
	return startApp(t, testdb.Fresh(t, driver), cfg, false)
}

// startApp builds the App on db, loads its domain view and serves it.
func startApp(t testing.TB, db *gorm.DB, cfg *config.Config, jsonLogs bool, hooks ...func(*App)) *testServer {
	t.Helper()
	app, logs := buildApp(t, db, cfg, jsonLogs, hooks...)
	if err := app.cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return serveApp(t, app, logs)
}

// buildApp makes an App on db, as another instance sharing the database
// would be; hooks adjust it before it serves. It logs text (JSON with
// jsonLogs) into the returned buffer.
func buildApp(t testing.TB, db *gorm.DB, cfg *config.Config, jsonLogs bool, hooks ...func(*App)) (*App, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	var h slog.Handler = slog.NewTextHandler(logs, nil)
	if jsonLogs {
		h = slog.NewJSONHandler(logs, nil)
	}
	if cfg.DataDir == "" { // mails without SMTP_URL are files under DATA_DIR/mail
		cfg.DataDir = t.TempDir()
	}
	app, err := New(cfg, slog.New(h), db, os.DirFS(".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	for _, hook := range hooks {
		hook(app)
	}
	return app, logs
}

// serveApp starts app on a test server, every answer under /v1 checked
// against the OpenAPI document (openapi_test.go).
func serveApp(t testing.TB, app *App, logs *logBuffer) *testServer {
	t.Helper()
	srv := httptest.NewServer(openAPIChecked(t, app.handler))
	t.Cleanup(srv.Close)
	if app.config.BaseURL == "" { // the links in mails
		app.config.BaseURL = srv.URL
	}
	return &testServer{Server: srv, app: app, log: logs}
}

// client is a browser stand-in: a cookie jar, no automatic redirects.
type client struct {
	t    *testing.T
	srv  *testServer
	http *http.Client
}

func (s *testServer) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, srv: s, http: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

func (c *client) do(method, path string, body io.Reader, header map[string]string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

func (c *client) get(path string) response { return c.do("GET", path, nil, nil) }

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf returns the token the portal currently puts in this client's forms.
func (c *client) csrf() string {
	c.t.Helper()
	m := csrfRe.FindStringSubmatch(c.get("/").Body)
	if m == nil {
		c.t.Fatal("no CSRF token on /")
	}
	return m[1]
}

// post submits a form with this client's CSRF token.
func (c *client) post(path string, v url.Values) response {
	c.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	if _, ok := v["_csrf"]; !ok {
		v.Set("_csrf", c.csrf())
	}
	return c.do("POST", path, strings.NewReader(v.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

func (c *client) signup(email, nick, password string) response {
	c.t.Helper()
	return c.post("/auth/join", url.Values{"email": {email}, "nick": {nick}, "password": {password}})
}

func (c *client) login(email, password string) response {
	c.t.Helper()
	return c.post("/auth/login", url.Values{"email": {email}, "password": {password}})
}

// user signs up a fresh account and returns a client signed in as it.
func (s *testServer) user(t *testing.T, email string) *client {
	t.Helper()
	c := s.client(t)
	if r := c.signup(email, strings.Split(email, "@")[0], "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("signup %s: %d\n%s", email, r.Status, r.Body)
	}
	// Sign-up signs nobody in (the answer is the same for a taken address).
	if r := c.login(email, "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("login after the signup of %s: %d\n%s", email, r.Status, r.Body)
	}
	return c
}

var secretRe = regexp.MustCompile(`data-testid="client-secret">([^<]+)<`)

// register registers host and returns its client secret as shown once,
// on the page the registration redirects to.
func (c *client) register(host, plan string) string {
	c.t.Helper()
	r := c.post("/domain", url.Values{"host": {host}, "type": {plan}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		c.t.Fatalf("register %s: %d to %q\n%s", host, r.Status, r.Header.Get("Location"), r.Body)
	}
	m := secretRe.FindStringSubmatch(c.get("/").Body)
	if m == nil {
		c.t.Fatalf("register %s: no secret shown", host)
	}
	return m[1]
}

// thenGet follows the 303 r answered (a POST's Post/Redirect/Get), with
// the jar's cookies as a browser would.
func (c *client) thenGet(r response) response {
	c.t.Helper()
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") == "" {
		c.t.Fatalf("want a 303, got %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	return c.get(r.Header.Get("Location"))
}

// followAlone follows the redirect r answered as the browser that sent
// the request would, with the session cookie r set rather than the jar's
// (which requests answered at once overwrite).
func (c *client) followAlone(r response) response {
	c.t.Helper()
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || loc == "" {
		c.t.Fatalf("not a redirect: %d %q", r.Status, loc)
	}
	req, err := http.NewRequest("GET", c.srv.URL+loc, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		req.AddCookie(ck)
	}
	res, err := (&http.Client{Timeout: c.http.Timeout}).Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", loc, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

var rowIDRe = regexp.MustCompile(`action="/domain/(\d+)/rotate"`)

// domainIDs lists the ids of the domains on this client's dashboard.
func (c *client) domainIDs() []string {
	var ids []string
	for _, m := range rowIDRe.FindAllStringSubmatch(c.get("/").Body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

func mustNotContain(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if b != "" && strings.Contains(body, b) {
			t.Errorf("%s: must not contain %q", what, b)
		}
	}
}
