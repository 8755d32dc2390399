package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testutil"
)

// TestNodecat runs the application and the demo client site together: a
// post written in the portal shows on nodecat's page and in its hashtag
// search; once the token has expired, nodecat renews it and still shows
// the posts (token requests counted on the way to the API).
func TestNodecat(t *testing.T) {
	a := startApp(t, func(c *config.Config) { c.TokenTTL = time.Second })
	b := newBrowser(t, "en-US,en;q=0.9")
	b.signup(a.URL, "cat@example.com", "cat", password)
	secret := b.register("localhost:4000", "free")
	writePost(b, a.URL, "Hello from the portal #nodecat")

	// nodecat reaches the API through a proxy that counts token requests.
	var tokens atomic.Int64
	target, _ := url.Parse(a.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/token" {
			tokens.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	cat := startNodecat(t, proxy.URL, secret)

	b.open(cat+"/", `[data-testid="post"]`)
	b.mustSee(`[data-testid="heading"]`, en("nodecat.mine"))
	b.mustSee(`[data-testid="post"]`, "Hello from the portal")
	b.fill("#hashtag", "NodeCat")
	b.submit(`form[role="search"] button`, `[data-testid="post"]`)
	b.mustSee(`[data-testid="heading"]`, en("nodecat.results", "NodeCat"))
	b.mustSee(`[data-testid="post"]`, "#nodecat")
	if n := tokens.Load(); n != 1 {
		t.Errorf("%d token requests for two pages within the token's life, want 1", n)
	}

	// The token expires (TOKEN_TTL 1s, and the API's 2s of leeway): the
	// next page renews it, and shows the post written since.
	writePost(b, a.URL, "Written after the token expired")
	time.Sleep(3500 * time.Millisecond)
	b.open(cat+"/", `[data-testid="post"]`)
	b.mustSee(`[data-testid="post"]`, "Written after the token expired")
	if b.count(`[data-testid="error"]`) != 0 || b.count(`[data-testid="post"]`) != 2 {
		t.Errorf("after the renewal: %d errors, %d posts", b.count(`[data-testid="error"]`), b.count(`[data-testid="post"]`))
	}
	if n := tokens.Load(); n != 2 {
		t.Errorf("%d token requests, want 2 (one renewal after the expiry)", n)
	}
}

// writePost writes a post on the portal's /posts page.
func writePost(b *browser, base, content string) {
	b.t.Helper()
	b.open(base+"/posts", "#content")
	b.do(chromedp.SendKeys(chromedp.CSS("#content"), content)) // an empty textarea: nothing to clear
	b.submit(`[data-testid="post-submit"]`, `[data-testid="post-row"]`)
}

// startNodecat builds cmd/nodecat and runs it, as `go run ./cmd/nodecat`
// would, with NODEBIRD_URL, CLIENT_SECRET and a free PORT; it returns its
// URL once it answers.
func startNodecat(t *testing.T, nodebird, secret string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nodecat")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/nodecat").CombinedOutput(); err != nil {
		t.Fatalf("building nodecat: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "NODEBIRD_URL="+nodebird, "CLIENT_SECRET="+secret, "PORT="+port)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("nodecat's log:\n%s", logs.tail(20))
		}
	})
	u := "http://127.0.0.1:" + port
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if !testutil.Eventually(10*time.Second, func() bool {
		res, err := noRedirect.Get(u + "/search") // a redirect to /: answers without calling the API
		if err == nil {
			res.Body.Close()
		}
		return err == nil
	}) {
		t.Fatalf("nodecat did not start\n%s", logs.tail(20))
	}
	return u
}
