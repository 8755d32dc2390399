package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/models"
)

// TestSuspendInTheBrowser: an admin suspends a user from the console (a
// Cancel first closes the confirmation), the user's domain secret gets
// 401 at once and their login says why; unsuspending brings the secret
// back. With PREMIUM=approval, the user's premium registration waits in
// the queue, marked on their dashboard. axe on the new pages.
func TestSuspendInTheBrowser(t *testing.T) {
	a := startApp(t, func(c *config.Config) { c.Premium = config.PremiumApproval })

	user := newBrowser(t, "en")
	user.signup(a.URL, "sue@example.com", "sue", password)
	sec := user.register("sue.example.com", "free")
	user.open(a.URL+"/", "#host")
	user.register("pro.sue.example.com", "premium")
	user.open(a.URL+"/", `[data-testid="premium-requested"]`)
	user.mustSee(`[data-testid="premium-requested"]`, en("plan.premium.requested"))
	if got := tokenStatus(t, a.URL, sec); got != http.StatusOK {
		t.Fatalf("/v1/token before the suspension: %d", got)
	}

	admin := newBrowser(t, "en")
	admin.signup(a.URL, "root@example.com", "root", password)
	if err := models.NewUserModel(a.db, 5*time.Second, 4).SetAdmin(context.Background(), "root@example.com", true); err != nil {
		t.Fatal(err)
	}
	sue, err := models.NewUserModel(a.db, 5*time.Second, 4).GetByEmail(context.Background(), "sue@example.com")
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("%s/admin/users/%d", a.URL, sue.ID)

	admin.open(a.URL+"/admin/premium", `[data-testid="premium-queue"]`)
	if n := admin.count(`[data-testid="premium-row"][data-host="pro.sue.example.com"]`); n != 1 {
		t.Errorf("the queue holds %d rows of the request", n)
	}
	admin.axe("the premium queue")

	admin.open(page, `[data-testid="admin-user-team"]`)
	admin.axe("a user's page with the team actions")
	// Open the confirmation, then Cancel it: nothing happens.
	suspend := `[data-testid="admin-user-team"] details.confirm`
	admin.do(chromedp.Click(chromedp.CSS(suspend+" summary")), chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-suspend"]`)))
	admin.do(chromedp.Click(chromedp.CSS(suspend + " [data-close]")))
	if open := admin.eval(`String(document.querySelector('[data-testid="admin-user-team"] details.confirm').open)`); open != "false" {
		t.Fatalf("Cancel left the confirmation open (%s)", open)
	}
	if got := tokenStatus(t, a.URL, sec); got != http.StatusOK {
		t.Fatalf("Cancel suspended the user: /v1/token %d", got)
	}
	admin.do(chromedp.Click(chromedp.CSS(suspend + " summary")))
	admin.submit(`[data-testid="confirm-suspend"]`, `[data-testid="flash"]`)
	admin.mustSee(`[data-testid="flash"]`, en("admin.flash.suspended"))
	admin.mustSee(`[data-testid="admin-user-state"]`, en("admin.user.suspended"))
	if got := tokenStatus(t, a.URL, sec); got != http.StatusUnauthorized {
		t.Errorf("/v1/token right after the suspension: %d, want 401", got)
	}

	// The user's session ended: the next page is the login form, and
	// logging in says the account is suspended.
	user.open(a.URL+"/", "#email")
	user.fill("#email", "sue@example.com")
	user.fill("#password", password)
	user.submit(`[data-testid="login-submit"]`, `[data-testid="form-error"]`)
	user.mustSee(`[data-testid="form-error"]`, en("form.login.suspended"))

	admin.open(a.URL+"/admin/audit?action=user.suspend", `[data-testid="audit-row"]`)
	admin.axe("the filtered audit log")

	admin.open(page, `[data-testid="admin-user-team"]`)
	admin.do(chromedp.Click(chromedp.CSS(suspend + " summary")))
	admin.submit(`[data-testid="confirm-unsuspend"]`, `[data-testid="flash"]`)
	admin.mustSee(`[data-testid="flash"]`, en("admin.flash.unsuspended"))
	if got := tokenStatus(t, a.URL, sec); got != http.StatusOK {
		t.Errorf("/v1/token after unsuspending: %d, want 200", got)
	}
	user.login(a.URL, "sue@example.com", password)
}
