package e2e

import (
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nodebird/nodebird-api/models"
)

// TestReloadAfterRotate: the page a rotation leads to shows the new secret
// once; reloading it neither rotates again nor shows the secret again, and
// says so; the secret shown keeps getting tokens.
func TestReloadAfterRotate(t *testing.T) {
	a := startApp(t)
	b := newBrowser(t, "en")
	b.signup(a.URL, "rita@example.com", "rita", password)
	first := b.register("reload.example.com", "free")
	if loc := b.location(); loc != a.URL+"/" {
		t.Errorf("registering left the address bar at %s, want %s/", loc, a.URL)
	}
	b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret-gone"]`)))
	if n := b.count(`[data-testid="client-secret"]`); n != 0 {
		t.Error("reloading after registering showed the secret again")
	}

	row := `[data-testid="domain-row"][data-host="reload.example.com"]`
	b.do(chromedp.Click(chromedp.CSS(row + ` details.confirm summary.button-secondary`)))
	b.do(chromedp.SetValue(chromedp.CSS(row+` [data-testid="overlap-choice"]`), "0s")) // the old secret ends at once
	b.submit(row+` [data-testid="confirm-rotate"]`, `[data-testid="client-secret"]`)
	rotated := b.text(`[data-testid="client-secret"]`)
	if rotated == first {
		t.Fatal("rotation showed the old secret")
	}
	if loc := b.location(); loc != a.URL+"/" {
		t.Errorf("rotating left the address bar at %s, want %s/", loc, a.URL)
	}
	var d models.Domain
	if err := a.db.Where("host = ?", "reload.example.com").Take(&d).Error; err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="domains"]`)))
		if n := b.count(`[data-testid="client-secret"]`); n != 0 {
			t.Fatalf("reload %d showed a secret", i+1)
		}
		if i == 0 {
			b.mustSee(`[data-testid="secret-gone"]`, en("secret.gone", "reload.example.com"))
		}
	}
	var after models.Domain
	if err := a.db.Where("host = ?", "reload.example.com").Take(&after).Error; err != nil {
		t.Fatal(err)
	}
	if after.SecretVersion != d.SecretVersion || after.SecretHash != d.SecretHash {
		t.Fatalf("reloading rotated the secret (version %d → %d)", d.SecretVersion, after.SecretVersion)
	}
	if code := tokenStatus(t, a.URL, rotated); code != 200 {
		t.Errorf("the secret revealed, after the reloads: /v1/token %d, want 200", code)
	}
	if code := tokenStatus(t, a.URL, first); code != 401 {
		t.Errorf("the secret before the rotation: /v1/token %d, want 401", code)
	}
}

// TestAccountPage: change the password (the login then takes the new one,
// and comes back to the page that asked for it), then delete the account
// (its domain's secret is refused at once).
func TestAccountPage(t *testing.T) {
	a := startApp(t)
	b := newBrowser(t, "en")
	const email, newPassword = "sam@example.com", "a brand new password"
	b.signup(a.URL, email, "sam", password)
	secret := b.register("sam.example.com", "free")

	b.submit(`[data-testid="account-link"]`, `[data-testid="account-password"]`)
	if loc := b.location(); loc != a.URL+"/account" {
		t.Fatalf("the account link led to %s", loc)
	}
	b.axe("the account page")

	// A wrong current password is explained in its section.
	b.fill("#current-password", "not my password")
	b.fill("#new-password", newPassword)
	b.submit(`[data-testid="password-submit"]`, `[data-testid="password-error"]`)
	b.mustSee(`[data-testid="password-error"]`, en("form.password.wrong"))
	b.axe("the account page with an error")

	b.fill("#current-password", password)
	b.fill("#new-password", newPassword)
	b.submit(`[data-testid="password-submit"]`, `[data-testid="flash"]`)
	b.mustSee(`[data-testid="flash"]`, en("account.flash.password"))
	if loc := b.location(); loc != a.URL+"/account" {
		t.Errorf("after the change the address bar shows %s", loc)
	}

	// Log out; /account sends to the login, which takes the new password
	// and comes back to /account.
	b.submit(`[data-testid="logout"]`, "#email")
	b.open(a.URL+"/account", "#email")
	want := a.URL + "/auth/login?" + url.Values{"next": {"/account"}}.Encode()
	if b.location() != want {
		t.Errorf("signed out, /account led to %s, want %s", b.location(), want)
	}
	b.fill("#email", email)
	b.fill("#password", password)
	b.submit(`[data-testid="login-submit"]`, `[data-testid="form-error"]`)
	b.mustSee(`[data-testid="form-error"]`, en("form.login.failed"))
	// The address bar still names the page to come back to; opening it
	// shows the form (no 405).
	if loc, _ := url.Parse(b.location()); loc.Path != "/auth/login" || loc.Query().Get("next") != "/account" {
		t.Errorf("after the failed login the address bar shows %s, want %s", loc, want)
	}
	b.open(want, "#email")
	b.fill("#email", email)
	b.fill("#password", newPassword)
	b.submit(`[data-testid="login-submit"]`, `[data-testid="account-delete"]`)
	if loc := b.location(); loc != a.URL+"/account" {
		t.Errorf("the login came back to %s, want %s/account", loc, a.URL)
	}

	// Delete the account.
	if code := tokenStatus(t, a.URL, secret); code != 200 {
		t.Fatalf("the domain's secret before: %d", code)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-testid="account-delete"] summary`)))
	b.fill("#delete-password", newPassword)
	b.submit(`[data-testid="delete-account-submit"]`, "#email")
	b.mustSee(`[data-testid="flash"]`, en("account.flash.deleted"))
	if code := tokenStatus(t, a.URL, secret); code != 401 {
		t.Errorf("the deleted account's secret: /v1/token %d, want 401 at once", code)
	}
	b.fill("#email", email)
	b.fill("#password", newPassword)
	b.submit(`[data-testid="login-submit"]`, `[data-testid="form-error"]`)
	b.mustSee(`[data-testid="form-error"]`, en("form.login.failed"))
}
