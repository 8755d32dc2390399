package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

// On a phone (390×844) the home page shows the login form, its button
// included, in the first screen, in both languages.
func TestPhoneHomeShowsTheLoginForm(t *testing.T) {
	a := startApp(t)
	for _, lang := range i18n.Languages {
		t.Run(lang, func(t *testing.T) {
			b := newBrowser(t, lang)
			b.viewport(390, 844, true, 3)
			b.open(a.URL+"/", "#email")
			for _, sel := range []string{"#email", "#password", `[data-testid="login-submit"]`} {
				bottom := get(b, chromedp.Evaluate[float64](`document.querySelector('`+sel+`').getBoundingClientRect().bottom`))
				if bottom <= 0 || bottom > 844 {
					t.Errorf("%s ends at %.0f px: not in the first 844 px", sel, bottom)
				}
			}
		})
	}
}

// After a form comes back from the server with errors (422), focus is on
// the first field the server marked wrong.
func TestFocusGoesToTheFirstWrongField(t *testing.T) {
	a := startApp(t)
	b := newBrowser(t, "en")
	b.open(a.URL+"/join", "#email")
	b.fill("#email", "not an email")
	b.fill("#nick", "")
	b.fill("#password", "short")
	b.submit(`[data-testid="join-submit"]`, "#email-error")
	if id := b.eval(`document.activeElement.id`); id != "email" {
		t.Errorf("after a sign-up with three wrong fields focus is on %q, want email", id)
	}
	b.fill("#email", "focus@example.com")
	b.fill("#nick", "focus")
	b.fill("#password", "short")
	b.submit(`[data-testid="join-submit"]`, "#password-error")
	if id := b.eval(`document.activeElement.id`); id != "password" {
		t.Errorf("after a sign-up with a short password focus is on %q, want password", id)
	}
	b.fill("#password", password)
	b.submit(`[data-testid="join-submit"]`, `[data-testid="flash"]`)
	b.login(a.URL, "focus@example.com", password)
	if id := b.eval(`document.activeElement.id || document.activeElement.tagName`); id != "BODY" {
		t.Errorf("on a page without errors focus is on %q, want nothing (the body)", id)
	}
	b.fill("#host", "bad host!")
	b.submit(`[data-testid="register-submit"]`, "#host-error")
	if id := b.eval(`document.activeElement.id`); id != "host" {
		t.Errorf("after a refused registration focus is on %q, want host", id)
	}

	// A failed login blames no single field: focus goes to the email, which
	// (like the password) is marked wrong and described by the message, so a
	// screen reader says why.
	b.submit(`[data-testid="logout"]`, "#email")
	b.fill("#email", "focus@example.com")
	b.fill("#password", "not the password")
	b.submit(`[data-testid="login-submit"]`, `[data-testid="form-error"]`)
	if got := b.eval(`[document.activeElement.id, document.activeElement.getAttribute('aria-invalid'),
		document.getElementById(document.activeElement.getAttribute('aria-describedby') || 'none')?.textContent.trim()].join(' | ')`); got != "email | true | "+en("form.login.failed") {
		t.Errorf("after a failed login, focus: %q, want the email field, marked wrong and described by %q", got, en("form.login.failed"))
	}
	if got := b.eval(`document.querySelector('#password').getAttribute('aria-describedby')`); got != "login-error" {
		t.Errorf("after a failed login the password is described by %q, want login-error", got)
	}
	// A refusal no field caused (a suspended account, after the right
	// password): focus goes to the message itself, which is read.
	if err := a.db.Exec("UPDATE users SET suspended_at = ? WHERE email = ?", time.Now(), "focus@example.com").Error; err != nil {
		t.Fatal(err)
	}
	b.fill("#password", password)
	b.submit(`[data-testid="login-submit"]`, `[data-testid="form-error"]`)
	if got := b.eval(`[document.activeElement.dataset.testid, document.activeElement.textContent.trim(), String(document.querySelector('[aria-invalid="true"]'))].join(' | ')`); got != "form-error | "+en("form.login.suspended")+" | null" {
		t.Errorf("after a suspended account's login, focus: %q, want the form's error, and no field marked wrong", got)
	}
}

// "Copied" says what just happened, then goes away.
func TestCopiedClears(t *testing.T) {
	a := startApp(t)
	b := newBrowser(t, "en")
	b.signup(a.URL, "copy@example.com", "copy", password)
	b.register("copy.example.com", "free")
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: a.URL,
		})
		if err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="copy-secret"]`)))
	get(b, chromedp.Poll[bool](`document.querySelector('[data-testid="copy-status"]').textContent.trim() !== ''`))
	b.mustSee(`[data-testid="copy-status"]`, en("secret.copied"))
	start := time.Now()
	get(b, chromedp.Poll[bool](`document.querySelector('[data-testid="copy-status"]').textContent.trim() === ''`, chromedp.WithPollingTimeout(10*time.Second)))
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("\"Copied\" went after %v: too soon to be read", d)
	}
}

// Times are written in UTC by the server (what a page without script
// shows) and shown relative, with the exact local time on hover: on the
// portal's pages and in the admin console (the same partial, time.html).
func TestRelativeTimes(t *testing.T) {
	a := startApp(t)
	for _, tc := range []struct{ lang, zone, want, zoneName string }{
		{"en", "Asia/Seoul", "now|second|minute", "GMT+9"},
		{"ko", "Asia/Seoul", "지금|초 전|분 전", "GMT+9"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			b := newBrowser(t, tc.lang)
			b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: tc.zone})
				return err
			}))
			email := "time-" + tc.lang + "@example.com"
			b.signup(a.URL, email, "time", password)
			b.register("time-"+tc.lang+".example.com", "free")
			relative := func(where, page, sel string) {
				t.Helper()
				b.open(page, sel)
				text, title, abs, iso := b.text(sel), b.eval(`document.querySelector('`+sel+`').title`),
					b.eval(`document.querySelector('`+sel+`').dataset.absolute`), b.eval(`document.querySelector('`+sel+`').getAttribute('datetime')`)
				t.Logf("%s, %s: shown %q, title %q, without script %q", where, tc.lang, text, title, abs)
				matched := false
				for _, w := range strings.Split(tc.want, "|") {
					matched = matched || strings.Contains(text, w)
				}
				if !matched {
					t.Errorf("%s: relative time %q: want one of %s", where, text, tc.want)
				}
				if !strings.HasSuffix(abs, " UTC") || !strings.HasSuffix(iso, "Z") {
					t.Errorf("%s: the server wrote %q (datetime %q), want an absolute UTC time", where, abs, iso)
				}
				when, err := time.Parse(time.RFC3339, iso)
				if err != nil {
					t.Fatal(err)
				}
				seoul := when.In(time.FixedZone("KST", 9*3600))
				if !strings.Contains(title, tc.zoneName) || !strings.Contains(title, seoul.Format("3:04")) {
					t.Errorf("%s: title %q: want the local time (%s) with its zone %s", where, title, seoul.Format("15:04"), tc.zoneName)
				}
			}
			relative("the dashboard", a.URL+"/", `[data-testid="domain-row"] time[data-relative]`)

			// The admin console: the domain list's row, then the domain's page.
			if err := models.NewUserModel(a.db, 5*time.Second, 4).SetAdmin(context.Background(), email, true); err != nil {
				t.Fatal(err)
			}
			b.open(a.URL+"/admin/domains?owner="+email, `[data-testid="admin-domain-row"]`)
			id := b.eval(`document.querySelector('[data-testid="admin-domain-row"]').dataset.id`)
			relative("the admin domain page", a.URL+"/admin/domains/"+id, `.admin-domain-meta time[data-relative]`)
		})
	}
}

// Dark mode follows the system: the page's colours change, and the text
// stays readable (axe, in TestAccessibility, checks the contrast of every
// page in both schemes).
func TestDarkMode(t *testing.T) {
	a := startApp(t)
	b := newBrowser(t, "ko")
	b.open(a.URL+"/docs", `[data-testid="docs"]`)
	bg := func() string { return b.eval(`getComputedStyle(document.documentElement).backgroundColor`) }
	b.colorScheme("light")
	light := bg()
	b.colorScheme("dark")
	dark := bg()
	if light != "rgb(244, 246, 245)" || dark != "rgb(14, 21, 18)" {
		t.Errorf("page background: light %s, dark %s; want rgb(244, 246, 245) and rgb(14, 21, 18)", light, dark)
	}
	b.axe("the Korean API docs")
}

// In Korean on a phone no status code, code or number splits across lines
// in the /docs tables, and the page does not scroll sideways.
func TestKoreanCodesDoNotSplit(t *testing.T) {
	a := startApp(t)
	b := newBrowser(t, "ko")
	b.viewport(390, 844, true, 3)
	b.open(a.URL+"/docs", `[data-testid="docs"]`)
	split := b.eval(`(() => {
		const bad = [];
		for (const el of document.querySelectorAll('.docs .status, .docs td > code, .docs th > code')) {
			const lines = new Set([...el.getClientRects()].map(r => Math.round(r.top)));
			if (lines.size > 1) bad.push(el.textContent);
		}
		return bad.join(', ');
	})()`)
	if split != "" {
		t.Errorf("split across lines on a 390px phone: %s", split)
	}
	if w := get(b, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
		t.Errorf("the Korean docs are %d px wide on a 390 px phone", w)
	}
}
