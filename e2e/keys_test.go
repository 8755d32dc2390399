package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestRotateWithOverlap: rotating with the default overlap (24 hours)
// keeps both secrets getting tokens, from a page on the registered host
// too; the dashboard says until when; "End the previous secret now" leaves
// only the new one. The dashboard in an overlap and the domain page with
// its chart pass the accessibility checks.
func TestRotateWithOverlap(t *testing.T) {
	a := startApp(t)
	site := startOrigin(t)
	b := newBrowser(t, "en-US,en;q=0.9")
	b.signup(a.URL, "rolf@example.com", "rolf", password)
	host := "localhost:" + site.Port
	b.fill("#label", "Rolf's shop")
	old := b.register(host, "premium")
	a.waitForHost(t, host)
	allowed := "http://" + host + "/"

	b.open(a.URL+"/", `[data-testid="domains"]`)
	row := `[data-testid="domain-row"][data-host="` + host + `"]`
	b.mustSee(row+` [data-testid="label"]`, "Rolf's shop")
	b.do(chromedp.Click(chromedp.CSS(row + ` details.confirm summary.button-secondary`)))
	b.do(chromedp.WaitVisible(chromedp.CSS(row + ` [data-testid="overlap-choice"]`)))
	if v := get(b, chromedp.Value(chromedp.CSS(row+` [data-testid="overlap-choice"]`))); v != "24h" {
		t.Errorf("the overlap chosen by default: %q, want 24h", v)
	}
	b.submit(row+` [data-testid="confirm-rotate"]`, `[data-testid="client-secret"]`)
	cur := b.text(`[data-testid="client-secret"]`)
	if cur == old {
		t.Fatal("the rotation showed the old secret")
	}

	// Both secrets get tokens, from a server and from the registered host.
	for name, sec := range map[string]string{"previous": old, "new": cur} {
		if code := tokenStatus(t, a.URL, sec); code != 200 {
			t.Errorf("during the overlap, the %s secret: %d, want 200", name, code)
		}
		if r := b.callFrom(allowed, a.URL, sec); r.Status != 200 || r.TestStatus != 200 {
			t.Errorf("during the overlap, the %s secret from the browser: %+v", name, r)
		}
	}

	b.open(a.URL+"/", `[data-testid="domains"]`)
	b.mustSee(row+` [data-testid="overlap"]`, en("overlap.until"))
	b.axe("dashboard with a secret in its overlap")
	b.submit(row+` [data-testid="end-overlap"]`, `[data-testid="flash"]`)
	b.mustSee(`[data-testid="flash"]`, en("flash.overlap.ended"))
	if n := b.count(row + ` [data-testid="overlap"]`); n != 0 {
		t.Error("the overlap is still shown after ending it")
	}

	// Only the new secret now.
	if code := tokenStatus(t, a.URL, old); code != 401 {
		t.Errorf("after end now, the previous secret: %d, want 401", code)
	}
	if r := b.callFrom(allowed, a.URL, old); r.Status == 200 || r.Token != "" {
		t.Errorf("after end now, the previous secret from the browser: %+v", r)
	}
	if r := b.callFrom(allowed, a.URL, cur); r.Status != 200 || r.TestStatus != 200 {
		t.Errorf("after end now, the new secret from the browser: %+v", r)
	}

	// The domain page: its chart, drawn from the counts just made.
	a.waitForUsage(t)
	b.open(a.URL+"/", `[data-testid="domains"]`)
	b.submit(row+` [data-testid="domain-link"]`, `[data-testid="usage-chart"]`)
	b.mustSee(`[data-testid="domain-heading"]`, host)
	if n := b.count(`[data-testid="usage-chart"] rect.chart-issued`); n == 0 {
		t.Error("no bar of issued tokens on the chart")
	}
	b.axe("domain page")
}
