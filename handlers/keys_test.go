package handlers

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/models"
)

// Issue 16, points 2, 3 and 10: rotation with an overlap, revocation the
// owner can see, a label per domain and the domain's page.

// rotate posts the rotate form of domain id with overlap ("" sends none)
// and returns the new secret.
func (c *client) rotate(id uint64, overlap string) string {
	c.t.Helper()
	v := url.Values{}
	if overlap != "" {
		v.Set("overlap", overlap)
	}
	r := c.post(fmt.Sprintf("/domain/%d/rotate", id), v)
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("rotate %d (%q): %d\n%s", id, overlap, r.Status, r.Body)
	}
	m := secretRe.FindStringSubmatch(c.get(r.Header.Get("Location")).Body) // shown once, after the redirect
	if m == nil {
		c.t.Fatalf("rotate %d: no secret shown", id)
	}
	return m[1]
}

func storedDomain(t *testing.T, s *testServer, id uint64) models.Domain {
	t.Helper()
	var d models.Domain
	if err := s.app.db.First(&d, id).Error; err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRotateWithOverlap(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		clk := &apiClock{t: time.Now()}
		s := newAPIServer(t, driver, tokenClock(clk), func(a *App) { a.cache.SetClock(clk.now) })
		owner := s.user(t, "olive@example.com")
		old := owner.register("olive.example.com", "premium")
		id := domainIDOf(t, s, "olive.example.com")
		oldTok := s.issueToken(t, old)

		// The default overlap is 24 hours: both secrets get tokens, and the
		// old tokens still open the API.
		before := time.Now()
		cur := owner.rotate(id, "")
		d := storedDomain(t, s, id)
		if d.PrevSecretUntil == nil || d.PrevSecretUntil.Sub(before) < 24*time.Hour-time.Minute || d.PrevSecretUntil.Sub(before) > 24*time.Hour+time.Minute {
			t.Fatalf("default overlap: previous secret until %v, want 24h from %v", d.PrevSecretUntil, before)
		}
		if d.PrevSecretHash == nil || *d.PrevSecretHash != secret.Hash(old) {
			t.Fatal("the previous secret's hash is not stored")
		}
		for name, sec := range map[string]string{"new": cur, "previous": old} {
			if st := s.tokenStatusOn(t, sec); st != http.StatusOK {
				t.Errorf("during the overlap, the %s secret: %d, want 200", name, st)
			}
		}
		if st := s.verifyStatus(t, oldTok); st != http.StatusOK {
			t.Errorf("during the overlap, a token of the previous secret: %d, want 200", st)
		}
		prevTok := s.issueToken(t, old)
		if sv := jwtPayload(t, prevTok)["sv"]; fmt.Sprint(sv) != "1" {
			t.Errorf("a token of the previous secret carries sv %v, want 1", sv)
		}
		if sv := jwtPayload(t, s.issueToken(t, cur))["sv"]; fmt.Sprint(sv) != "2" {
			t.Errorf("a token of the new secret carries sv %v, want 2", sv)
		}

		// The dashboard says until when, with a button that ends it now.
		dash := owner.get("/").Body
		mustContain(t, "dashboard during the overlap", dash, "The previous secret works until",
			`action="/domain/`+strconv.FormatUint(id, 10)+`/overlap/end"`, `data-testid="end-overlap"`,
			d.PrevSecretUntil.UTC().Format("2006-01-02 15:04 UTC"))

		// Another owner cannot end it (the query checks the owner); no CSRF, no change.
		other := s.user(t, "otto@example.com")
		if r := other.post(fmt.Sprintf("/domain/%d/overlap/end", id), nil); r.Status != http.StatusNotFound {
			t.Errorf("another owner's end now: %d, want 404", r.Status)
		}
		if r := owner.do("POST", fmt.Sprintf("/domain/%d/overlap/end", id), strings.NewReader(""),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.Status != http.StatusForbidden {
			t.Errorf("end now without CSRF: %d, want 403", r.Status)
		}
		if st := s.tokenStatusOn(t, old); st != http.StatusOK {
			t.Fatalf("the refused end-now requests ended the overlap: %d", st)
		}

		// End now: only the new secret, and the previous secret's tokens are refused.
		r := owner.post(fmt.Sprintf("/domain/%d/overlap/end", id), url.Values{"next": {"/"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("end now: %d %q", r.Status, r.Header.Get("Location"))
		}
		if st := s.tokenStatusOn(t, old); st != http.StatusUnauthorized {
			t.Errorf("after end now, the previous secret: %d, want 401", st)
		}
		for _, tok := range []string{oldTok, prevTok} {
			if st := s.verifyStatus(t, tok); st != http.StatusUnauthorized {
				t.Errorf("after end now, a token of the previous secret: %d, want 401", st)
			}
		}
		if st := s.tokenStatusOn(t, cur); st != http.StatusOK {
			t.Errorf("after end now, the new secret: %d", st)
		}
		mustNotContain(t, "dashboard after end now", owner.get("/").Body, `data-testid="end-overlap"`)
		if r := owner.post(fmt.Sprintf("/domain/%d/overlap/end", id), nil); r.Status != http.StatusNotFound {
			t.Errorf("ending an ended overlap: %d, want 404", r.Status)
		}

		// 1h: the previous secret's tokens expire by the overlap's end at
		// the latest, and past it they, and the secret, are refused.
		old, cur = cur, owner.rotate(id, "1h")
		until := *storedDomain(t, s, id).PrevSecretUntil
		clk.set(until.Add(-30 * time.Second)) // a token issued now would outlive the overlap
		late := s.issueToken(t, old)
		if e, _ := strconv.ParseInt(fmt.Sprint(jwtPayload(t, late)["exp"]), 10, 64); e == 0 || e > until.Unix() {
			t.Errorf("a token of the previous secret expires at %d, after the overlap's end %d", e, until.Unix())
		}
		if st := s.verifyStatus(t, late); st != http.StatusOK {
			t.Errorf("a token of the previous secret before the overlap's end: %d", st)
		}
		newTok := s.issueToken(t, cur)
		clk.set(until.Add(time.Second)) // within the verifier's 2 s leeway of the capped exp: still refused
		if st := s.verifyStatus(t, late); st != http.StatusUnauthorized {
			t.Errorf("a token of the previous secret after the overlap's end: %d, want 401", st)
		}
		if st := s.tokenStatusOn(t, old); st != http.StatusUnauthorized {
			t.Errorf("the previous secret after the overlap's end: %d, want 401", st)
		}
		if st := s.verifyStatus(t, newTok); st != http.StatusOK {
			t.Errorf("a token of the new secret after the overlap's end: %d", st)
		}
		clk.set(time.Now())

		// 0s ends the previous secret at once.
		old, cur = cur, owner.rotate(id, "0s")
		if d := storedDomain(t, s, id); d.PrevSecretHash != nil || d.PrevSecretUntil != nil {
			t.Errorf("0s stored a previous secret: %v %v", d.PrevSecretHash, d.PrevSecretUntil)
		}
		if st := s.tokenStatusOn(t, old); st != http.StatusUnauthorized {
			t.Errorf("0s: the previous secret: %d, want 401", st)
		}

		// Anything but the four choices is 422, and changes nothing.
		was := storedDomain(t, s, id)
		for _, bad := range []string{"2h", "24", "1d", "-1h", "0", "24H", " 24h"} {
			r := owner.post(fmt.Sprintf("/domain/%d/rotate", id), url.Values{"overlap": {bad}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Errorf("overlap %q: %d, want 422", bad, r.Status)
			}
		}
		if now := storedDomain(t, s, id); now.SecretHash != was.SecretHash || now.SecretVersion != was.SecretVersion {
			t.Error("a refused overlap rotated the secret")
		}
		if st := s.tokenStatusOn(t, cur); st != http.StatusOK {
			t.Errorf("after refused rotations, the secret: %d", st)
		}
	})
}

// TestOverlapAcrossInstances: a rotation with an overlap made on one
// instance reaches another through its refresh; so does "end now".
func TestOverlapAcrossInstances(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		one := newTestServer(t, driver)
		two := instanceOn(t, one.app.db)
		owner := one.user(t, "ivy@example.com")
		old := owner.register("ivy.example.com", "premium")
		id := domainIDOf(t, one, "ivy.example.com")
		if st := two.tokenStatusOn(t, old); st != http.StatusOK {
			t.Fatalf("the other instance before the rotation: %d", st)
		}
		oldTok := two.issueToken(t, old)
		cur := owner.rotate(id, "168h")
		if err := two.app.cache.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		for name, sec := range map[string]string{"new": cur, "previous": old} {
			if st := two.tokenStatusOn(t, sec); st != http.StatusOK {
				t.Errorf("the other instance after its refresh, the %s secret: %d", name, st)
			}
		}
		if st := two.verifyStatus(t, oldTok); st != http.StatusOK {
			t.Errorf("the other instance, an old token during the overlap: %d", st)
		}
		if r := owner.post(fmt.Sprintf("/domain/%d/overlap/end", id), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("end now: %d", r.Status)
		}
		if err := two.app.cache.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := two.tokenStatusOn(t, old); st != http.StatusUnauthorized {
			t.Errorf("the other instance after end now and its refresh, the previous secret: %d, want 401", st)
		}
		if st := two.verifyStatus(t, oldTok); st != http.StatusUnauthorized {
			t.Errorf("the other instance after end now, an old token: %d, want 401", st)
		}
		if st := two.tokenStatusOn(t, cur); st != http.StatusOK {
			t.Errorf("the other instance, the new secret: %d", st)
		}
	})
}

// TestRevocationOwnerCanSee: the admin's reason is required, stored,
// shown to the owner with what to do, and audited; a revoked domain has
// no rotate button and a rotation is refused with 409, changing nothing;
// revocation ends both secrets of an overlap; restore clears the reason.
func TestRevocationOwnerCanSee(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "rex@example.com")
		old := owner.register("rex.example.com", "premium")
		id := domainIDOf(t, s, "rex.example.com")
		cur := owner.rotate(id, "24h")
		oldTok := s.issueToken(t, old)
		revoke := fmt.Sprintf("/admin/domains/%d/revoke", id)

		for _, bad := range []string{"", "   ", strings.Repeat("x", 201), "bad\u200breason", "a\x07b"} {
			if r := admin.post(revoke, url.Values{"reason": {bad}}); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("reason %q: %d, want 422", bad, r.Status)
			}
		}
		if r := admin.post(revoke, nil); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "Give the reason") {
			t.Errorf("no reason: %d", r.Status)
		}
		if d := storedDomain(t, s, id); d.Status != models.StatusActive {
			t.Fatalf("a revoke without a reason revoked: %s", d.Status)
		}
		if st := s.tokenStatusOn(t, old); st != http.StatusOK {
			t.Fatalf("the overlap before the revocation: %d", st)
		}

		reason := `Hosts <script>phishing</script> pages & "fake" logins`
		if r := admin.post(revoke, url.Values{"reason": {"  " + reason + " "}}); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke: %d\n%s", r.Status, r.Body)
		}
		d := storedDomain(t, s, id)
		if d.RevokeReason != reason || d.PrevSecretHash != nil {
			t.Errorf("revoked: reason %q, previous secret %v", d.RevokeReason, d.PrevSecretHash)
		}
		// Both secrets stop at once, and the tokens of both.
		for name, sec := range map[string]string{"current": cur, "previous": old} {
			if st := s.tokenStatusOn(t, sec); st != http.StatusUnauthorized {
				t.Errorf("revoked: the %s secret: %d, want 401", name, st)
			}
		}
		if st := s.verifyStatus(t, oldTok); st != http.StatusUnauthorized {
			t.Errorf("revoked: a token of the previous secret: %d", st)
		}

		// The owner sees the reason (escaped) and what to do, and no rotate button.
		dash := owner.get("/").Body
		mustContain(t, "owner's dashboard", dash, `data-testid="revoked-note"`, html.EscapeString(reason),
			"ask an administrator to restore it")
		mustNotContain(t, "owner's dashboard", dash, "<script>phishing", fmt.Sprintf(`action="/domain/%d/rotate"`, id),
			`data-testid="end-overlap"`)
		mustContain(t, "owner's domain page", owner.get(fmt.Sprintf("/domain/%d", id)).Body, html.EscapeString(reason))
		// The audit log keeps it.
		audit := admin.get(fmt.Sprintf("/admin/audit?domain=%d", id)).Body
		mustContain(t, "audit", audit, `data-testid="audit-note">Reason: `+html.EscapeString(reason))
		var entry models.AuditEntry
		s.app.db.Where("domain_id = ? AND action = ?", id, models.ActionRevoke).Take(&entry)
		if entry.Note != reason {
			t.Errorf("audit entry's note %q", entry.Note)
		}

		// A rotation of the revoked domain: 409, nothing changes, still refused.
		r := owner.post(fmt.Sprintf("/domain/%d/rotate", id), url.Values{"overlap": {"1h"}})
		if r.Status != http.StatusConflict || !strings.Contains(r.Body, "cannot be rotated") {
			t.Errorf("rotate of a revoked domain: %d\n%s", r.Status, r.Body)
		}
		mustNotContain(t, "refused rotation", r.Body, `data-testid="client-secret"`)
		after := storedDomain(t, s, id)
		if after.SecretHash != d.SecretHash || after.SecretVersion != d.SecretVersion || after.PrevSecretHash != nil || after.Status != models.StatusRevoked {
			t.Errorf("the refused rotation changed the domain: %+v", after)
		}
		if st := s.tokenStatusOn(t, cur); st != http.StatusUnauthorized {
			t.Errorf("after the refused rotation, the secret: %d, want 401", st)
		}

		// Restore: the current secret works again, the previous one does not, the reason is gone.
		if r := admin.post(fmt.Sprintf("/admin/domains/%d/restore", id), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("restore: %d", r.Status)
		}
		if d := storedDomain(t, s, id); d.RevokeReason != "" {
			t.Errorf("restored: reason %q kept", d.RevokeReason)
		}
		if st := s.tokenStatusOn(t, cur); st != http.StatusOK {
			t.Errorf("restored: the current secret: %d", st)
		}
		if st := s.tokenStatusOn(t, old); st != http.StatusUnauthorized {
			t.Errorf("restored: the previous secret: %d, want 401", st)
		}
		dash = owner.get("/").Body
		mustNotContain(t, "dashboard after restore", dash, `data-testid="revoked-note"`, html.EscapeString(reason))
		mustContain(t, "dashboard after restore", dash, fmt.Sprintf(`action="/domain/%d/rotate"`, id))
	})
}

func TestDomainLabel(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		c := s.user(t, "lia@example.com")
		r := c.post("/domain", url.Values{"host": {"lia.example.com"}, "type": {"free"}, "label": {"  Lia's   <b>shop</b> "}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("register with a label: %d", r.Status)
		}
		id := domainIDOf(t, s, "lia.example.com")
		if d := storedDomain(t, s, id); d.Label != "Lia's <b>shop</b>" {
			t.Errorf("stored label %q", d.Label)
		}
		mustContain(t, "dashboard", c.get("/").Body, `data-testid="label">Lia&#39;s &lt;b&gt;shop&lt;/b&gt;</p>`)
		if r := c.post("/domain", url.Values{"host": {"nolabel.example.com"}, "type": {"free"}}); r.Status != http.StatusSeeOther {
			t.Errorf("register without a label: %d", r.Status)
		}

		for _, tc := range []struct{ label, msg string }{
			{strings.Repeat("가", 61), "at most 60 characters"},
			{"zero\u200bwidth", "invisible"},
			{"bell\x07", "control characters"},
		} {
			r := c.post("/domain", url.Values{"host": {"bad.example.com"}, "type": {"free"}, "label": {tc.label}})
			if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, tc.msg) {
				t.Errorf("register with label %q: %d", tc.label, r.Status)
			}
			r = c.post(fmt.Sprintf("/domain/%d/label", id), url.Values{"label": {tc.label}})
			if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, tc.msg) || !strings.Contains(r.Body, `id="label-error"`) {
				t.Errorf("edit to label %q: %d", tc.label, r.Status)
			}
		}
		if r := c.post("/domain", url.Values{"host": {"ok60.example.com"}, "type": {"free"}, "label": {strings.Repeat("가", 60)}}); r.Status != http.StatusSeeOther {
			t.Errorf("a label of 60 characters: %d", r.Status)
		}

		// Edited on the domain page; empty clears it.
		r = c.post(fmt.Sprintf("/domain/%d/label", id), url.Values{"label": {"Main shop"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != fmt.Sprintf("/domain/%d", id) {
			t.Fatalf("edit label: %d %q", r.Status, r.Header.Get("Location"))
		}
		page := c.get(fmt.Sprintf("/domain/%d", id)).Body
		mustContain(t, "domain page", page, "Label saved.", `value="Main shop"`)
		c.post(fmt.Sprintf("/domain/%d/label", id), url.Values{"label": {"Main shop"}}) // the same again is fine
		if r := c.post(fmt.Sprintf("/domain/%d/label", id), url.Values{"label": {"  "}}); r.Status != http.StatusSeeOther {
			t.Errorf("clear label: %d", r.Status)
		}
		if d := storedDomain(t, s, id); d.Label != "" {
			t.Errorf("cleared label %q", d.Label)
		}

		// Another owner: 404 for the page and the form, and nothing changes.
		other := s.user(t, "max@example.com")
		if r := other.get(fmt.Sprintf("/domain/%d", id)); r.Status != http.StatusNotFound {
			t.Errorf("another owner's domain page: %d, want 404", r.Status)
		}
		if r := other.post(fmt.Sprintf("/domain/%d/label", id), url.Values{"label": {"mine"}}); r.Status != http.StatusNotFound {
			t.Errorf("another owner's label: %d, want 404", r.Status)
		}
		if d := storedDomain(t, s, id); d.Label != "" {
			t.Errorf("another owner changed the label to %q", d.Label)
		}
		for _, p := range []string{"/domain/999999", "/domain/abc", "/domain/0"} {
			if r := c.get(p); r.Status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", p, r.Status)
			}
		}
		if r := s.client(t).get(fmt.Sprintf("/domain/%d", id)); r.Status != http.StatusSeeOther && r.Status != http.StatusUnauthorized && r.Status != http.StatusNotFound {
			t.Errorf("domain page signed out: %d", r.Status)
		}
	})
}

// TestDomainPageChart: the chart and its table are drawn from the counts
// the usage flush wrote.
func TestDomainPageChart(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		c := s.user(t, "cory@example.com")
		sec := c.register("cory.example.com", "premium")
		id := domainIDOf(t, s, "cory.example.com")
		for range 3 {
			s.issueToken(t, sec)
		}
		// A refusal: a browser on another origin.
		if r := s.call(t, apiReq{method: "POST", path: "/v1/token", ctype: "application/json",
			body: `{"clientSecret":"` + sec + `"}`, header: map[string]string{"Origin": "https://evil.example"}}); r.Status != http.StatusForbidden {
			t.Fatalf("wrong origin: %d", r.Status)
		}
		if err := s.app.tokenCounts.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		// An older hour, three days ago, written as the flush writes it.
		past := time.Now().UTC().Truncate(time.Hour).Add(-72 * time.Hour)
		if err := s.app.usageStats.Add(context.Background(), past, map[uint64]models.UsageDelta{id: {Issued: 40, Refused: 2, LastIssued: past, LastRefused: past}}); err != nil {
			t.Fatal(err)
		}
		// One older than the chart's week: left out.
		if err := s.app.usageStats.Add(context.Background(), past.Add(-6*24*time.Hour), map[uint64]models.UsageDelta{id: {Issued: 500}}); err != nil {
			t.Fatal(err)
		}
		r := c.get(fmt.Sprintf("/domain/%d", id))
		if r.Status != http.StatusOK {
			t.Fatalf("domain page: %d", r.Status)
		}
		mustContain(t, "domain page", r.Body, "cory.example.com", `role="img"`, `aria-labelledby="usage-heading usage-summary"`,
			"43 tokens issued and 3 refused in the last 7 days",
			`data-hour="`+past.Format(time.RFC3339)+`" data-issued="40"`,
			`data-hour="`+past.Format(time.RFC3339)+`" data-refused="2"`,
			`data-issued="3"`, `data-refused="1"`, "Tallest bar: 42 requests in an hour",
			"<td>40</td><td>2</td>")
		mustNotContain(t, "domain page", r.Body, `data-issued="500"`)
		if i, j := strings.Index(r.Body, `<figure class="usage-chart">`), strings.Index(r.Body, "</figure>"); i < 0 || j < i {
			t.Error("no chart figure")
		} else if chart := r.Body[i:j]; !strings.Contains(chart, "<svg") || strings.Contains(chart, "<script") {
			t.Error("the chart is not an inline SVG without script")
		}
		if n := strings.Count(r.Body, `class="chart-issued"`); n != 2 {
			t.Errorf("%d issued bars, want 2", n)
		}
		if n := strings.Count(r.Body, "<tr><th scope=\"row\">"); n < 7 || n > 8 {
			t.Errorf("%d days in the table, want 7 or 8", n)
		}
		// The dashboard links the page.
		mustContain(t, "dashboard", c.get("/").Body, fmt.Sprintf(`href="/domain/%d"`, id))
	})
}
