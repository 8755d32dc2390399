package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nodebird/nodebird-api/models"
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

	// The admin console, alice an admin, over a realistic set of owners.
	order := seedScreenshotConsole(t, a, "alice@example.com")
	b.login(a.URL, "alice@example.com", password)
	b.viewport(1280, 860, false, 1)
	b.open(a.URL+"/admin/domains", `[data-testid="admin-domains"]`)
	page("admin-domains")
	b.open(fmt.Sprintf("%s/admin/domains/%d", a.URL, order), `[data-testid="admin-domain-actions"]`)
	page("admin-domain")
	b.viewport(390, 844, true, 2)
	b.open(a.URL+"/admin/domains", `[data-testid="admin-domains"]`)
	b.eval(`document.querySelector('[data-testid="admin-filters-box"]').scrollIntoView(), ''`)
	screen("mobile-admin")
}

// seedScreenshotConsole makes admin an admin and gives the console what a
// real one holds: owners with Korean and English names, registrations
// spread over months, a revoked domain with its reason, a plan changed by
// an admin, and a week of hourly use. It returns the id of the domain
// whose page the README shows.
func seedScreenshotConsole(t *testing.T, a *app, admin string) uint64 {
	t.Helper()
	ctx := context.Background()
	users := models.NewUserModel(a.db, 5*time.Second, 4)
	domains := models.NewDomainModel(a.db, 5*time.Second)
	if err := users.SetAdmin(ctx, admin, true); err != nil {
		t.Fatal(err)
	}
	root, err := users.GetByEmail(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// The admin's own domains, registered above, date from a month ago.
	if err := a.db.Model(&models.Domain{}).Where("1 = 1").Update("created_at", now.Add(-26*24*time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	ids := map[string]uint64{}
	for _, o := range []struct {
		email, nick string
		hosts       []string // host:plan
		age         time.Duration
	}{
		{"kim.minsu@hanbit-coffee.co.kr", "김민수", []string{"www.hanbit-coffee.co.kr:premium", "order.hanbit-coffee.co.kr:free"}, 211 * 24 * time.Hour},
		{"seoyeon.lee@gmail.com", "이서연", []string{"seoyeon.dev:free", "blog.seoyeon.dev:free"}, 163 * 24 * time.Hour},
		{"jihoon@parkstudio.kr", "박지훈", []string{"parkstudio.kr:free", "booking.parkstudio.kr:premium"}, 97 * 24 * time.Hour},
		{"dev@nodebird-fans.org", "nodebird fans", []string{"nodebird-fans.org:free"}, 64 * 24 * time.Hour},
		{"ops@daegu-market.com", "대구시장", []string{"shop.daegu-market.com:premium", "staging.daegu-market.com:free"}, 40 * 24 * time.Hour},
		{"yujin.choi@naver.com", "최유진", []string{"yujin.photo:free"}, 12 * 24 * time.Hour},
		{"best.deals@mail-offers.biz", "deals", []string{"cheap-deals-today.biz:free"}, 3 * 24 * time.Hour},
	} {
		u, err := users.Insert(ctx, o.email, o.nick, password)
		if err != nil {
			t.Fatal(err)
		}
		for i, hp := range o.hosts {
			host, plan, _ := strings.Cut(hp, ":")
			d, _, err := domains.Insert(ctx, u.ID, host, plan)
			if err != nil {
				t.Fatal(err)
			}
			created := now.Add(-o.age + time.Duration(i)*9*24*time.Hour + time.Duration(i*7+3)*time.Hour)
			if err := a.db.Model(&models.Domain{}).Where("id = ?", d.ID).Update("created_at", created).Error; err != nil {
				t.Fatal(err)
			}
			ids[host] = d.ID
		}
	}

	// A week of use, hour by hour, busier by day (UTC+9) than by night.
	usage := models.NewUsageModel(a.db, 5*time.Second)
	uses := map[string]struct {
		base  int64
		until time.Duration // before now: the last use
	}{
		"order.hanbit-coffee.co.kr": {140, 0}, "www.hanbit-coffee.co.kr": {60, 0}, "booking.parkstudio.kr": {25, 0},
		"seoyeon.dev": {4, 3 * time.Hour}, "shop.daegu-market.com": {12, 0}, "nodebird-fans.org": {2, 50 * time.Hour},
		"yujin.photo": {6, 6 * 24 * time.Hour}, "staging.daegu-market.com": {6, 4 * 24 * time.Hour},
	}
	start := now.Truncate(time.Hour).Add(-7 * 24 * time.Hour)
	for h := start; !h.After(now); h = h.Add(time.Hour) {
		day := (h.Hour()+9)%24 >= 8
		deltas := map[uint64]models.UsageDelta{}
		for host, use := range uses {
			if h.After(now.Add(-use.until)) {
				continue
			}
			base := use.base
			n := base / 6
			if day {
				n = base + int64(h.Unix()/3600%7)*base/10
			}
			if n == 0 {
				continue
			}
			var refused int64
			if h.Unix()/3600%23 == 0 {
				refused = n / 5
			}
			last := h.Add(time.Duration(h.Unix()/3600%50) * time.Minute)
			if last.After(now) {
				last = now
			}
			delta := models.UsageDelta{Issued: n, Refused: refused, LastIssued: last}
			if refused > 0 {
				delta.LastRefused = last
			}
			deltas[ids[host]] = delta
		}
		if len(deltas) == 0 {
			continue
		}
		if err := usage.Add(ctx, h, deltas); err != nil {
			t.Fatal(err)
		}
	}

	// An admin's decisions: one site moved to premium, one revoked.
	adm := models.NewAdminModel(a.db, 5*time.Second)
	actor := models.Actor{ID: root.ID, Email: root.Email}
	if err := adm.SetPlan(ctx, actor, ids["order.hanbit-coffee.co.kr"], models.PlanPremium); err != nil {
		t.Fatal(err)
	}
	if err := adm.Revoke(ctx, actor, ids["cheap-deals-today.biz"], "피싱 페이지를 올렸습니다 (phishing pages)"); err != nil {
		t.Fatal(err)
	}
	return ids["order.hanbit-coffee.co.kr"]
}
