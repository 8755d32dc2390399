package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testapp"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
	"github.com/nodebird/nodebird-api/models"
)

// The browser tests need Chromium (Debian's, at chromiumPath), MariaDB
// (NODEBIRD_TEST_MYSQL_DSN) and axe-core (npm ci in e2e/). On a developer
// machine a missing one skips the tests with a message; under CI=true it
// fails them.

const chromiumPath = "/usr/bin/chromium"

// axePath is axe-core's browser bundle, installed by `npm ci` in e2e/.
const axePath = "node_modules/axe-core/axe.min.js"

// stepTimeout bounds one group of browser steps, so that a page that never
// shows what a test waits for fails the test instead of hanging it. It is a
// guard, not an assertion about speed.
const stepTimeout = 30 * time.Second

var writeScreenshots = flag.Bool("screenshots", false, "write the README screenshots to docs/screenshots (TestReadmeScreenshots)")

func inCI() bool { return os.Getenv("CI") == "true" }

// need skips the test on a developer machine and fails it under CI: what
// says what is missing and how to get it.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	what := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("%s: CI must run the browser tests (see .ci/run)", what)
	}
	t.Skipf("browser tests skipped: %s", what)
}

// app is the real application, in process (handlers.New and Run, as
// main.go starts it), on a port of 127.0.0.1, on a fresh MariaDB database.
type app struct {
	URL  string // http://127.0.0.1:port
	db   *gorm.DB
	logs *lockedBuffer
}

func startApp(t *testing.T, tweak ...func(*config.Config)) *app {
	t.Helper()
	if os.Getenv(testdb.EnvDSN) == "" {
		need(t, "%s is not set (for example root@tcp(127.0.0.1:3306)/)", testdb.EnvDSN)
	}
	cfg := testapp.Config()
	cfg.CacheRefresh, cfg.RateLimits = time.Second, true
	cfg.DataDir = t.TempDir() // mails without SMTP_URL are files under DATA_DIR/mail
	for _, f := range tweak {
		f(cfg)
	}
	db := testdb.Fresh(t, "mysql")
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("application log (last lines):\n%s", logs.tail(40))
		}
	})
	url, err := testapp.Serve(t, cfg, slog.New(slog.NewTextHandler(logs, nil)), db)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL == "" { // the links in mails (read by the first request that mails)
		cfg.BaseURL = url
	}
	return &app{URL: url, db: db, logs: logs}
}

// waitForUsage waits until the application has written the batched token
// counts (every USAGE_FLUSH), so that the dashboard shows them.
func (a *app) waitForUsage(t *testing.T) {
	t.Helper()
	if !testutil.Eventually(stepTimeout, func() bool {
		var n int64
		return a.db.Model(&models.DomainUsage{}).Where("issued > 0").Count(&n).Error == nil && n > 0
	}) {
		t.Fatalf("no token counts in the database %s after the use", stepTimeout)
	}
}

// waitForHost waits until the API knows host as a registered domain (its
// view of the domains is refreshed every CACHE_REFRESH): a CORS preflight
// from the host's origin is then answered 204.
func (a *app) waitForHost(t *testing.T, host string) {
	t.Helper()
	start := time.Now()
	if !testutil.Eventually(stepTimeout, func() bool {
		req, _ := http.NewRequest(http.MethodOptions, a.URL+"/v1/token", nil)
		req.Header.Set("Origin", "http://"+host)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusNoContent
	}) {
		t.Fatalf("the API did not learn of %s within %s", host, stepTimeout)
	}
	t.Logf("the API knew of %s %s after the registration", host, time.Since(start).Round(time.Millisecond))
}

type lockedBuffer struct{ testutil.LogBuffer }

// tail is the last n lines of the log, after every warning and error (a
// test that polls fills the end of the log with its requests).
func (l *lockedBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	var out []string
	for _, line := range lines[:max(0, len(lines)-n)] {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return strings.Join(append(out, lines[max(0, len(lines)-n):]...), "\n")
}

// browser is one headless Chromium with a fresh profile, and one tab.
type browser struct {
	t      *testing.T
	ctx    context.Context
	scheme string // the emulated prefers-color-scheme ("": the browser's)
}

// newBrowser starts Chromium for this test. On failure the test saves a
// screenshot of the tab under e2e/screenshots/failures/.
func newBrowser(t *testing.T, lang string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		need(t, "%s is missing (apt-get install -y chromium)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // the tests run as root
		chromedp.Headless,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	// Accept-Language for every request of this tab (the flags above set
	// navigator.languages; this sets the header for certain).
	b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang},
		})
		return err
	}))
	t.Cleanup(b.screenshotOnFailure) // runs before the tab closes
	return b
}

func (b *browser) screenshotOnFailure() {
	if !b.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no failure screenshot: %v", err)
		return
	}
	dir := filepath.Join("screenshots", "failures")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("no failure screenshot: %v", err)
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(b.t.Name(), "_") + ".png"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("no failure screenshot: %v", err)
		return
	}
	abs, _ := filepath.Abs(path)
	url, _ := chromedp.Run(ctx, chromedp.Location())
	b.t.Logf("failure screenshot of %s: %s", url, abs)
}

// do runs browser steps and fails the test on the first error.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// get runs one browser action and returns its value.
func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// open loads url and waits for sel to be visible.
func (b *browser) open(url, sel string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// submit clicks sel, waits for the page it leads to to load, then for
// then to be visible on it.
func (b *browser) submit(sel, then string) {
	b.t.Helper()
	b.do(
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))(ctx, tg)
			return err
		}),
		chromedp.WaitVisible(chromedp.CSS(then)),
	)
}

// fill types value into the field sel, replacing what it held.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	b.do(chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, chromedp.Text(chromedp.CSS(sel))))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return get(b, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

func (b *browser) location() string {
	b.t.Helper()
	return get(b, chromedp.Location())
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	return get(b, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
}

func (b *browser) mustSee(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s on %s: %q does not contain %q", sel, b.location(), got, want)
	}
}

// viewport sets the size of the tab's page, as a phone or a desktop.
func (b *browser) viewport(w, h int64, mobile bool, scale float64) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(scale)}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.do(chromedp.EmulateViewport(w, h, opts...))
}

// The portal, as a person uses it.

// join signs up and stays on the page it leads to (the login form, saying
// a verification link is on its way: sign-up signs nobody in).
func (b *browser) join(base, email, nick, password string) {
	b.t.Helper()
	b.open(base+"/join", "#email")
	b.fill("#email", email)
	b.fill("#nick", nick)
	b.fill("#password", password)
	b.submit(`[data-testid="join-submit"]`, `[data-testid="flash"]`)
}

// signup signs up, then logs in.
func (b *browser) signup(base, email, nick, password string) {
	b.t.Helper()
	b.join(base, email, nick, password)
	b.login(base, email, password)
}

func (b *browser) login(base, email, password string) {
	b.t.Helper()
	b.open(base+"/", "#email")
	b.fill("#email", email)
	b.fill("#password", password)
	b.submit(`[data-testid="login-submit"]`, `[data-testid="logout"]`)
}

// register registers host from the dashboard and returns the secret shown.
func (b *browser) register(host, plan string) string {
	b.t.Helper()
	b.fill("#host", host)
	b.do(chromedp.Click(chromedp.CSS(`input[name="type"][value="` + plan + `"]`)))
	b.submit(`[data-testid="register-submit"]`, `[data-testid="client-secret"]`)
	return b.text(`[data-testid="client-secret"]`)
}

// colorScheme makes the page's prefers-color-scheme light or dark ("" for
// the browser's own, which is light in headless Chromium).
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	b.scheme = scheme
	// Buttons and fields fade their colours (.12s): let them settle before
	// anything measures them.
	b.do(chromedp.Sleep(300 * time.Millisecond))
}

// axe checks the current page in both colour schemes (light, then dark;
// the tab is left in the scheme it was in).
func (b *browser) axe(what string) {
	b.t.Helper()
	was := b.scheme
	for _, scheme := range []string{"light", "dark"} {
		b.colorScheme(scheme)
		b.axeOnce(what + " (" + scheme + ")")
	}
	b.colorScheme(was)
}

// axeOnce runs axe-core on the current page and fails the test on any
// violation of impact serious or critical, listing each one.
func (b *browser) axeOnce(what string) {
	b.t.Helper()
	src, err := os.ReadFile(axePath)
	if err != nil {
		msg := fmt.Sprintf("axe-core is missing (run npm ci in e2e/): %v", err)
		if inCI() {
			b.t.Fatalf("%s: CI must run the accessibility checks (see .ci/run)", msg)
		}
		b.t.Logf("accessibility check of %s skipped: %s", what, msg)
		return
	}
	b.do(chromedp.Evaluate[chromedp.Void](string(src)))
	raw := get(b, chromedp.Evaluate[[]byte](`axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
		resultTypes: ['violations'],
	}).then(r => r.violations.map(v => ({
		id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
	})))`, chromedp.EvalAwaitPromise))
	var violations []struct {
		ID, Impact, Help, HelpURL string
		Nodes                     []struct{ Target, Summary string }
	}
	if err := json.Unmarshal(raw, &violations); err != nil {
		b.t.Fatalf("axe on %s: %v", what, err)
	}
	var bad []string
	for _, v := range violations {
		line := fmt.Sprintf("[%s] %s: %s (%s)", v.Impact, v.ID, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			line += fmt.Sprintf("\n      at %s\n        %s", n.Target, strings.ReplaceAll(n.Summary, "\n", "\n        "))
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, line)
		} else {
			b.t.Logf("axe on %s, %s (not failing: impact %s):\n    %s", what, b.location(), v.Impact, line)
		}
	}
	if len(bad) > 0 {
		b.t.Errorf("axe on %s (%s): %d serious or critical violations:\n    %s", what, b.location(), len(bad), strings.Join(bad, "\n    "))
	}
}

// origin is a second small server: the website of a domain's owner. Its
// page calls the API from the browser with a client secret and writes what
// happened into the page.
type origin struct {
	Port string
}

const originPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A site using NodeBird API</title></head>
<body><main><h1>A site using NodeBird API</h1>
<output id="result" data-state="pending"></output>
<script src="/client.js"></script></main></body></html>`

// originScript: fetch a token with the secret, then check it with
// /v1/test. The result is JSON in #result: {status, token, claims} or
// {error: "TypeError: ..."} when the browser refused (CORS).
const originScript = `(async () => {
  const q = new URLSearchParams(location.search);
  const api = q.get('api'), out = document.getElementById('result');
  const result = {};
  try {
    const res = await fetch(api + '/v1/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientSecret: q.get('secret') }),
    });
    result.status = res.status;
    const body = await res.json();
    result.message = body.message;
    if (body.token) {
      result.token = body.token;
      const check = await fetch(api + '/v1/test', { headers: { Authorization: 'Bearer ' + body.token } });
      result.testStatus = check.status;
      result.claims = await check.json();
    }
  } catch (e) {
    result.error = e.name + ': ' + e.message;
  }
  out.textContent = JSON.stringify(result);
  out.dataset.state = 'done';
})();`

func startOrigin(t *testing.T) *origin {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, originPage)
	})
	mux.HandleFunc("GET /client.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		io.WriteString(w, originScript)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return &origin{Port: port}
}

// tokenStatus asks POST /v1/token for a token as a server would (no
// Origin) and returns the status.
func tokenStatus(t *testing.T, base, secret string) int {
	t.Helper()
	res, err := http.Post(base+"/v1/token", "application/json", strings.NewReader(`{"clientSecret":"`+secret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// originResult is what the origin page wrote.
type originResult struct {
	Status     int            `json:"status"`
	Message    string         `json:"message"`
	Token      string         `json:"token"`
	TestStatus int            `json:"testStatus"`
	Claims     map[string]any `json:"claims"`
	Error      string         `json:"error"`
}

// callFrom opens the origin page at pageURL, which calls api with secret.
func (b *browser) callFrom(pageURL, api, secret string) originResult {
	b.t.Helper()
	u := pageURL + "?api=" + api + "&secret=" + secret
	b.open(u, `#result[data-state="done"]`)
	var r originResult
	if err := json.Unmarshal([]byte(b.text("#result")), &r); err != nil {
		b.t.Fatalf("origin page %s: %v", pageURL, err)
	}
	return r
}
