package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

const password = "correct horse battery"

func en(key string, args ...any) string { return i18n.T("en", key, args...) }
func ko(key string, args ...any) string { return i18n.T("ko", key, args...) }

// TestJourney is a domain owner's whole visit: sign up, log in, register
// the domain of their site, copy its secret, call the API from a page on
// that domain (allowed) and from another origin (blocked), rotate the
// secret, see the old one refused, delete the domain, log out.
func TestJourney(t *testing.T) {
	a := startApp(t)
	site := startOrigin(t)
	b := newBrowser(t, "en-US,en;q=0.9")

	// Sign up: a link to verify the address is on its way; log in, and an
	// empty state says what to do next.
	b.join(a.URL, "carol@example.com", "carol", password)
	b.mustSee(`[data-testid="flash"]`, en("flash.join.sent"))
	b.login(a.URL, "carol@example.com", password)
	b.mustSee(`[data-testid="nav-user"]`, "carol")
	b.mustSee(`[data-testid="empty-domains"]`, en("dash.empty.title"))
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="empty-domains"] a`)))
	if id := b.eval(`document.activeElement.id`); id != "host" {
		t.Errorf("the empty state's call to action focused %q, want the host field", id)
	}

	// Log out, then log in; a wrong password first gets the error above the form.
	b.submit(`[data-testid="logout"]`, "#email")
	b.mustSee(`[data-testid="flash"]`, en("flash.logout"))
	b.fill("#email", "carol@example.com")
	b.fill("#password", "not my password")
	b.submit(`[data-testid="login-submit"]`, `[data-testid="form-error"]`)
	b.mustSee(`[data-testid="form-error"]`, en("form.login.failed"))
	if v := get(b, chromedp.Value(chromedp.CSS("#email"))); v != "carol@example.com" {
		t.Errorf("email not kept after a failed login: %q", v)
	}
	if v := get(b, chromedp.Value(chromedp.CSS("#password"))); v != "" {
		t.Error("the password was sent back into the form")
	}
	b.login(a.URL, "carol@example.com", password)

	// A mistake in the host is explained next to the field.
	host := "localhost:" + site.Port
	b.fill("#host", "ftp://"+host) // a web address would be reduced to its host (TestKorean)
	b.submit(`[data-testid="register-submit"]`, "#host-error")
	b.mustSee("#host-error", en("form.host.scheme"))
	if attr := get(b, chromedp.AttributeValue(chromedp.CSS("#host"), "aria-describedby")); !strings.Contains(attr.Value, "host-error") {
		t.Errorf("the host field is not described by its error: %q", attr.Value)
	}

	// Register: the secret is shown once, with a warning and examples.
	secret := b.register(host, "free")
	if !regexp.MustCompile(`^nbk_[a-z2-7]{39}$`).MatchString(secret) {
		t.Fatalf("shown secret %q does not look like a client secret", secret)
	}
	b.mustSee(`[data-testid="flash"]`, en("flash.domain.created"))
	b.mustSee(`[data-testid="secret-panel"] h2`, en("secret.created", host))
	b.mustSee(`[data-testid="secret-panel"] .alert-warning`, en("secret.once.title"))
	for _, ex := range []string{"#ex-curl", "#ex-fetch"} {
		code := b.text(ex)
		if !strings.Contains(code, a.URL+"/v1/token") || !strings.Contains(code, secret) {
			t.Errorf("%s does not call %s/v1/token with the secret:\n%s", ex, a.URL, code)
		}
	}

	// The copy button puts exactly the secret on the clipboard.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: a.URL,
		})
		if err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	b.do(chromedp.Evaluate[chromedp.Void](`navigator.clipboard.writeText('')`, chromedp.EvalAwaitPromise))
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="copy-secret"]`)))
	get(b, chromedp.Poll[bool](`document.querySelector('[data-testid="copy-status"]').textContent.trim() !== ''`))
	b.mustSee(`[data-testid="copy-status"]`, en("secret.copied"))
	if got := b.eval(`navigator.clipboard.readText()`); got != secret {
		t.Errorf("the clipboard holds %q, want the secret %q", got, secret)
	}

	// A page on the registered domain gets a token, and the token works.
	a.waitForHost(t, host)
	allowed := "http://" + host + "/"
	r := b.callFrom(allowed, a.URL, secret)
	if r.Status != 200 || r.Token == "" || r.TestStatus != 200 {
		t.Fatalf("from %s: %+v", allowed, r)
	}
	if r.Claims["nick"] != "carol" || fmt.Sprint(r.Claims["aud"]) != "["+host+"]" {
		t.Errorf("claims from %s: %v", allowed, r.Claims)
	}
	// A page on an origin nobody registered is blocked by CORS.
	blocked := "http://127.0.0.1:" + site.Port + "/"
	r = b.callFrom(blocked, a.URL, secret)
	if !strings.HasPrefix(r.Error, "TypeError") || r.Token != "" || r.Status != 0 {
		t.Errorf("from the unregistered origin %s the browser was not blocked: %+v", blocked, r)
	}

	// The dashboard shows the use.
	a.waitForUsage(t)
	b.open(a.URL+"/", `[data-testid="domains"]`)
	row := `[data-testid="domain-row"][data-host="` + host + `"]`
	if m := regexp.MustCompile(`(\d+)`).FindString(b.text(row + ` [data-testid="usage"]`)); m == "" || m == "0" {
		t.Errorf("recent use not shown: %q", b.text(row+` [data-testid="usage"]`))
	}
	if got := b.text(row + ` [data-testid="secret-last4"]`); got != "…"+secret[len(secret)-4:] {
		t.Errorf("last 4 shown: %q", got)
	}
	if n := b.count(`[data-testid="client-secret"]`); n != 0 {
		t.Error("the secret is shown again on the dashboard")
	}

	// Rotate, through the confirmation step, ending the old secret at once
	// (no overlap: TestRotateWithOverlap has the default).
	b.do(chromedp.Click(chromedp.CSS(row + ` details.confirm summary.button-secondary`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(row + ` [data-testid="confirm-rotate"]`)))
	b.mustSee(row+` details[open] form`, en("confirm.rotate", host))
	b.do(chromedp.SetValue(chromedp.CSS(row+` [data-testid="overlap-choice"]`), "0s"))
	b.submit(row+` [data-testid="confirm-rotate"]`, `[data-testid="client-secret"]`)
	rotated := b.text(`[data-testid="client-secret"]`)
	if rotated == secret || len(rotated) != len(secret) {
		t.Fatalf("rotation showed %q", rotated)
	}
	b.mustSee(`[data-testid="flash"]`, en("flash.domain.rotated"))
	b.mustSee(`[data-testid="secret-panel"] h2`, en("secret.rotated", host))

	// The old secret is refused (the API says 401; the page gets no token),
	// the new one works.
	if r := b.callFrom(allowed, a.URL, secret); r.Status == 200 || r.Token != "" {
		t.Errorf("the old secret after rotation, from the browser: %+v", r)
	}
	if code := tokenStatus(t, a.URL, secret); code != 401 {
		t.Errorf("the old secret after rotation: %d, want 401", code)
	}
	if r := b.callFrom(allowed, a.URL, rotated); r.Status != 200 || r.TestStatus != 200 {
		t.Errorf("the new secret: %+v", r)
	}

	// Delete, after changing one's mind once.
	b.open(a.URL+"/", `[data-testid="domains"]`)
	b.do(chromedp.Click(chromedp.CSS(row + ` summary.button-danger`)))
	b.mustSee(row+` details[open] form`, en("confirm.delete", host))
	b.do(chromedp.Click(chromedp.CSS(row + ` details[open] [data-close]`)))
	if n := b.count(row + ` details[open]`); n != 0 {
		t.Error("Cancel did not close the confirmation")
	}
	if got := b.eval(`document.activeElement.textContent.trim()`); got != en("action.delete") {
		t.Errorf("after Cancel the focus is on %q, not back on the Delete button", got)
	}
	b.do(chromedp.Click(chromedp.CSS(row + ` summary.button-danger`)))
	b.submit(row+` [data-testid="confirm-delete"]`, `[data-testid="empty-domains"]`)
	b.mustSee(`[data-testid="flash"]`, en("flash.domain.deleted"))
	if code := tokenStatus(t, a.URL, rotated); code != 401 {
		t.Errorf("a deleted domain's secret: %d, want 401", code)
	}

	// Log out: back to the login form, and the dashboard is gone.
	b.open(a.URL+"/", `[data-testid="logout"]`)
	b.submit(`[data-testid="logout"]`, "#email")
	b.mustSee(`[data-testid="flash"]`, en("flash.logout"))
	if n := b.count(`[data-testid="nav-user"]`); n != 0 {
		t.Error("still signed in after logging out")
	}
}

// TestKorean: the language comes from Accept-Language, can be switched,
// and the choice is remembered.
func TestKorean(t *testing.T) {
	a := startApp(t)

	t.Run("chosen from Accept-Language", func(t *testing.T) {
		b := newBrowser(t, "ko-KR,ko;q=0.9,en;q=0.5")
		b.open(a.URL+"/", "#email")
		b.mustSee("h1", ko("login.heading"))
		b.mustSee(`[data-testid="lang-switch"]`, "English")
		if lang := b.eval(`document.documentElement.lang`); lang != "ko" {
			t.Errorf("html lang=%q", lang)
		}
		b.open(a.URL+"/no/such/page", `[data-testid="error-message"]`)
		b.mustSee(`[data-testid="error-message"]`, ko("err.404"))
	})

	t.Run("switched and remembered", func(t *testing.T) {
		b := newBrowser(t, "en-US,en;q=0.9")
		b.signup(a.URL, "dana@example.com", "dana", password)
		b.mustSee("h1", en("dash.heading", "dana"))

		b.submit(`[data-testid="lang-switch"]`, `html[lang="ko"] h1`)
		if loc := b.location(); loc != a.URL+"/" {
			t.Errorf("the switch led to %s, not back to the page it was on", loc)
		}
		b.mustSee("h1", ko("dash.heading", "dana"))
		b.mustSee(`[data-testid="empty-domains"]`, ko("dash.empty.title"))
		b.mustSee(`[data-testid="register-submit"]`, ko("dash.register.submit"))
		b.mustSee(`[data-testid="lang-switch"]`, "English")

		// A form's messages are Korean too.
		b.fill("#host", "ftp://example.com")
		b.submit(`[data-testid="register-submit"]`, "#host-error")
		b.mustSee("#host-error", ko("form.host.scheme"))
		// A pasted web address is registered as its host, and the page says so.
		b.register("https://example.com/some/page?x=1", "premium")
		b.mustSee(`[data-testid="flash"]`, ko("flash.domain.created"))
		if got := b.text(`.flashes`); !strings.Contains(got, ko("flash.domain.host.reduced")) {
			t.Errorf("no note that the pasted address was reduced: %q", got)
		}
		b.mustSee(`[data-testid="secret-panel"] h2`, ko("secret.created", "example.com"))
		b.mustSee(`[data-testid="plan"]`, ko("plan.premium"))

		// Reloaded, and on other pages, it stays Korean.
		b.open(a.URL+"/", `[data-testid="domains"]`)
		b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="domains"]`)))
		b.mustSee("h1", ko("dash.heading", "dana"))
		b.axe("the Korean dashboard")
		b.open(a.URL+"/docs", `[data-testid="docs"]`)
		b.mustSee("h1", ko("docs.heading"))
		b.mustSee(`[data-testid="status-codes"] [data-status="419"]`, ko("docs.status.419.when"))
		b.mustSee("#doc-test-419", ko("api.token.expired"))

		// Logged out, still Korean; switched back, English.
		b.submit(`[data-testid="logout"]`, "#email")
		b.mustSee(`[data-testid="flash"]`, ko("flash.logout"))
		b.submit(`[data-testid="lang-switch"]`, `html[lang="en"] #email`)
		b.mustSee("h1", en("login.heading"))
		b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#email")))
		b.mustSee("h1", en("login.heading"))
	})
}

// TestAdminSeesTheConsole: an admin (by ADMIN_EMAILS) has the console in the
// navigation and can open it; other users have neither.
func TestAdminSeesTheConsole(t *testing.T) {
	a := startApp(t)

	user := newBrowser(t, "en")
	user.signup(a.URL, "erin@example.com", "erin", password)
	if n := user.count(`[data-testid="admin-link"]`); n != 0 {
		t.Error("a user who is not an admin has the admin link")
	}
	user.open(a.URL+"/admin/domains", `[data-testid="error-message"]`)
	if code := user.text(".error-code"); code != "403" {
		t.Errorf("a user who is not an admin got %s at /admin/domains", code)
	}

	admin := newBrowser(t, "en")
	admin.signup(a.URL, "root@example.com", "root", password)
	// Listed addresses cannot sign up: the operator grants the role once
	// the account exists (as `nodebird admin grant` does).
	if err := models.NewUserModel(a.db, 5*time.Second, 4).SetAdmin(context.Background(), "root@example.com", true); err != nil {
		t.Fatal(err)
	}
	admin.open(a.URL+"/", `[data-testid="admin-link"]`)
	admin.mustSee(`[data-testid="admin-link"]`, en("nav.admin"))
	admin.submit(`[data-testid="admin-link"]`, "h1")
	if loc := admin.location(); loc != a.URL+"/admin/domains" {
		t.Fatalf("the admin link led to %s", loc)
	}
	admin.mustSee("h1", en("admin.heading"))
	if cur := get(admin, chromedp.AttributeValue(chromedp.CSS(`[data-testid="admin-link"]`), "aria-current")); cur.Value != "page" {
		t.Error("the admin link is not marked as the current page")
	}
}

// TestAccessibility runs axe-core on every main page, in both languages
// and both colour schemes (b.axe), and checks the keyboard basics: a skip
// link first, a visible focus.
func TestAccessibility(t *testing.T) {
	a := startApp(t)
	for _, lang := range i18n.Languages {
		t.Run(lang, func(t *testing.T) {
			b := newBrowser(t, lang)
			b.open(a.URL+"/", "#email")
			if got := b.eval(`document.documentElement.lang`); got != lang {
				t.Fatalf("the login page is in %q, want %q", got, lang)
			}
			b.axe("the login page")
			// The first Tab reaches the skip link, which then shows, with an outline.
			b.do(chromedp.KeyEvent("\t"))
			focus := b.eval(`(() => {
				const el = document.activeElement, r = el.getBoundingClientRect(), s = getComputedStyle(el);
				return [el.className, r.top >= 0 && r.bottom <= innerHeight, s.outlineStyle, s.outlineWidth].join('|');
			})()`)
			parts := strings.Split(focus, "|")
			if parts[0] != "skip-link" || parts[1] != "true" || parts[2] == "none" {
				t.Errorf("first Tab: %q, want the skip link, visible, with an outline", focus)
			} else if w, _ := strconv.ParseFloat(strings.TrimSuffix(parts[3], "px"), 64); w < 2 {
				t.Errorf("focus outline %s is too thin", parts[3])
			}
			b.do(chromedp.KeyEvent("\r"))
			if id := b.eval(`document.activeElement.id`); id != "main" {
				t.Errorf("the skip link moved focus to %q, not to main", id)
			}

			b.fill("#email", "nobody@example.com")
			b.fill("#password", "wrong password")
			b.submit(`[data-testid="login-submit"]`, `[data-testid="form-error"]`)
			b.axe("the login page with an error")

			b.open(a.URL+"/join", "#email")
			b.axe("the sign-up page")
			b.fill("#email", "not an email")
			b.submit(`[data-testid="join-submit"]`, ".field-error")
			b.axe("the sign-up page with errors")

			b.signup(a.URL, "frank-"+lang+"@example.com", "frank", password)
			b.axe("the empty dashboard")
			b.register("one-"+lang+".example.com", "free")
			b.axe("the dashboard showing a new secret")
			b.register("two-"+lang+".example.com", "premium")
			b.open(a.URL+"/", `[data-testid="domains"]`)
			b.axe("the dashboard with domains")
			b.do(chromedp.Click(chromedp.CSS(`[data-testid="domain-row"] summary.button-danger`)))
			b.axe("the dashboard with a confirmation open")
			b.fill("#host", "bad host!")
			b.submit(`[data-testid="register-submit"]`, "#host-error")
			b.axe("the dashboard with a form error")
			b.open(a.URL+"/domain/"+b.eval(`document.querySelector('[data-testid="domain-link"]').getAttribute('href').split('/').pop()`), `[data-testid="usage-chart"]`)
			b.axe("a domain's page")
			b.open(a.URL+"/account", `[data-testid="account-link"]`)
			b.axe("the account page")
			b.open(a.URL+"/posts", `[data-testid="posts-link"]`)
			b.axe("the posts page")

			b.open(a.URL+"/docs", `[data-testid="docs"]`)
			b.axe("the API docs")
			b.open(a.URL+"/no/such/page", `[data-testid="error-message"]`)
			b.axe("the 404 page")
		})
	}
}

// TestPhoneLayout: on a phone-sized screen no page scrolls sideways, and
// the navigation and the main actions stay on screen.
func TestPhoneLayout(t *testing.T) {
	a := startApp(t)
	b := newBrowser(t, "en")
	b.viewport(360, 740, true, 2)

	fits := func(what string) {
		t.Helper()
		if got := b.eval(`(() => {
			const w = document.documentElement.clientWidth;
			const wide = [...document.querySelectorAll('body *')].filter(el => {
				const r = el.getBoundingClientRect();
				return r.width > 0 && (r.right > w + 1 || r.left < -1) && !el.closest('pre, .table-wrap, .skip-link, .visually-hidden');
			}).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
			return document.documentElement.scrollWidth > w ? 'page is ' + document.documentElement.scrollWidth + 'px wide: ' + wide.slice(0, 5).join(', ') : '';
		})()`); got != "" {
			t.Errorf("%s on a 360px screen: %s", what, got)
		}
	}
	b.open(a.URL+"/", "#email")
	fits("the login page")
	b.open(a.URL+"/join", "#email")
	fits("the sign-up page")
	b.signup(a.URL, "gina@example.com", "gina", password)
	fits("the empty dashboard")
	b.register("a-rather-long-subdomain.of-an-example-domain.example.com", "premium")
	fits("the dashboard showing a new secret")
	b.open(a.URL+"/docs", `[data-testid="docs"]`)
	fits("the API docs")
	b.submit(`[data-testid="lang-switch"]`, `html[lang="ko"] [data-testid="docs"]`)
	fits("the Korean API docs")
	b.open(a.URL+"/", `[data-testid="domains"]`)
	fits("the Korean dashboard")
	for _, sel := range []string{`[data-testid="logout"]`, `[data-testid="lang-switch"]`, `.nav-links a[href="/docs"]`} {
		box := b.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return r.left >= 0 && r.right <= document.documentElement.clientWidth ? '' : r.left + '..' + r.right; })()`, sel))
		if box != "" {
			t.Errorf("%s is off screen: %s", sel, box)
		}
	}
}
