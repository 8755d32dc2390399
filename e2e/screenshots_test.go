package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestReadmeScreenshots writes the README's screenshots to docs/screenshots.
// It runs only when asked, with MariaDB, Chromium and axe-core as the other
// browser tests:
//
//	NODEBIRD_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/' go test ./e2e -run TestReadmeScreenshots -args -screenshots
//	NODEBIRD_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/' NODEBIRD_SCREENSHOTS=1 go test ./e2e -run TestReadmeScreenshots
//
// Korean text needs a Korean font on the machine (apt-get install fonts-nanum).
func TestReadmeScreenshots(t *testing.T) {
	if !*writeScreenshots && os.Getenv("NODEBIRD_SCREENSHOTS") != "1" {
		t.Skip("writes docs/screenshots only with -args -screenshots or NODEBIRD_SCREENSHOTS=1")
	}
	a := startApp(t)
	b := newBrowser(t, "en-US,en;q=0.9")
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(name string, png []byte) {
		t.Helper()
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d KiB)", path, len(png)/1024)
	}
	page := func(name string) { t.Helper(); save(name, get(b, chromedp.FullScreenshot(100))) }
	screen := func(name string) { t.Helper(); save(name, get(b, chromedp.CaptureScreenshot())) }

	b.viewport(1280, 860, false, 1)
	b.open(a.URL+"/", "#email")
	screen("login")

	b.signup(a.URL, "alice@example.com", "alice", password)
	blog := b.register("blog.example.org", "free")
	b.register("localhost:4000", "free")
	shop := b.register("shop.example.com", "premium")
	page("secret")

	// Some use, so that the dashboard has numbers to show.
	for _, sec := range []string{shop, shop, shop, blog, "nbk_" + strings.Repeat("a", 39)} {
		tokenStatus(t, a.URL, sec)
	}
	a.waitForUsage(t)
	b.open(a.URL+"/", `[data-testid="domains"]`)
	page("dashboard")

	b.viewport(1280, 1500, false, 1)
	b.open(a.URL+"/docs", `[data-testid="docs"]`)
	screen("docs")

	b.viewport(1280, 860, false, 1)
	b.open(a.URL+"/", `[data-testid="domains"]`)
	b.submit(`[data-testid="lang-switch"]`, `html[lang="ko"] [data-testid="domains"]`)
	page("dashboard-ko")
	b.submit(`[data-testid="lang-switch"]`, `html[lang="en"] [data-testid="domains"]`)

	b.viewport(1280, 860, false, 1)
	b.colorScheme("dark")
	b.open(a.URL+"/", `[data-testid="domains"]`)
	page("dashboard-dark")
	b.colorScheme("light")

	b.viewport(390, 844, true, 2)
	b.open(a.URL+"/", `[data-testid="domains"]`)
	screen("mobile")
	// A visitor's first screen on a phone: the login form.
	b.open(a.URL+"/", `[data-testid="logout"]`)
	b.submit(`[data-testid="logout"]`, "#email")
	screen("mobile-login")
}
