package e2e

import (
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/mail/mailtest"
)

// The password reset journey, as its owner lives it: "Forgot password?" on
// the login page, the link from the mail (read from a real SMTP server in
// the test), a new password; the browser is signed in, and the session
// the owner had elsewhere has ended.
func TestPasswordResetJourney(t *testing.T) {
	box := mailtest.Start(t, mailtest.Plain)
	a := startApp(t, func(c *config.Config) { c.SMTPURL = box.URL() })
	const email = "rosa@example.com"

	elsewhere := newBrowser(t, "en-US,en;q=0.9")
	elsewhere.signup(a.URL, email, "rosa", password)
	box.Wait(t, 1) // the sign-up's verification

	b := newBrowser(t, "en-US,en;q=0.9")
	b.open(a.URL+"/", `[data-testid="forgot-link"]`)
	b.mustSee(`[data-testid="forgot-link"]`, en("login.forgot"))
	b.submit(`[data-testid="forgot-link"]`, `[data-testid="forgot-submit"]`)
	b.axe("the forgot page")
	b.fill("#email", email)
	b.submit(`[data-testid="forgot-submit"]`, `[data-testid="flash"]`)
	b.mustSee(`[data-testid="flash"]`, en("flash.forgot.sent"))

	m, err := mailtest.Parse(box.Wait(t, 2).Data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != en("mail.reset.subject") {
		t.Fatalf("second mail: %q", m.Subject)
	}
	link := m.Link("/auth/reset")
	if !strings.HasPrefix(link, a.URL+"/auth/reset?token=") {
		t.Fatalf("the mail's link %q does not lead to %s/auth/reset", link, a.URL)
	}

	b.open(link, "#new_password")
	b.axe("the reset page")
	b.fill("#new_password", "short")
	b.submit(`[data-testid="reset-submit"]`, "#password-error")
	b.mustSee("#password-error", en("form.password.short"))
	b.fill("#new_password", "a new password for rosa")
	b.submit(`[data-testid="reset-submit"]`, `[data-testid="logout"]`)
	b.mustSee(`[data-testid="flash"]`, en("flash.reset.done"))
	b.mustSee(`[data-testid="nav-user"]`, "rosa")

	// The session the owner had in the other browser has ended.
	elsewhere.open(a.URL+"/", "#email")
	if n := elsewhere.count(`[data-testid="nav-user"]`); n != 0 {
		t.Error("the other browser is still signed in after the reset")
	}
	// The link worked once.
	b.open(link, `[data-testid="link-bad"]`)
	b.mustSee(`[data-testid="link-bad"]`, en("link.bad"))
	b.axe("a used link's page")
	// The new password signs in.
	b.submit(`[data-testid="logout"]`, "#email")
	b.login(a.URL, email, "a new password for rosa")
}

// The verification journey: sign-up signs nobody in and mails a link; the
// link, opened signed out, names the account and asks to log in; the login
// comes back to it, and its button verifies the address.
func TestVerifyJourney(t *testing.T) {
	box := mailtest.Start(t, mailtest.Plain)
	a := startApp(t, func(c *config.Config) { c.SMTPURL = box.URL() })
	const email = "vera@example.com"

	b := newBrowser(t, "en-US,en;q=0.9")
	b.join(a.URL, email, "vera", password)
	b.mustSee(`[data-testid="flash"]`, en("flash.join.sent"))
	m, err := mailtest.Parse(box.Wait(t, 1).Data)
	if err != nil {
		t.Fatal(err)
	}
	link := m.Link("/auth/verify")
	if !strings.HasPrefix(link, a.URL+"/auth/verify?token=") {
		t.Fatalf("the mail's link %q does not lead to %s/auth/verify", link, a.URL)
	}

	b.open(link, `[data-testid="verify-login"]`)
	b.mustSee(`[data-testid="verify-account"]`, en("verify.account", "vera"))
	b.axe("the verification page, signed out")
	b.submit(`[data-testid="verify-login"]`, "#email")
	b.fill("#email", email)
	b.fill("#password", password)
	b.submit(`[data-testid="login-submit"]`, `[data-testid="verify-submit"]`)
	b.axe("the verification page, signed in")
	b.submit(`[data-testid="verify-submit"]`, `[data-testid="logout"]`)
	b.mustSee(`[data-testid="flash"]`, en("flash.verify.done"))
	if n := b.count(`[data-testid="verify-banner"]`); n != 0 {
		t.Error("the dashboard still says the address is unverified")
	}
}
