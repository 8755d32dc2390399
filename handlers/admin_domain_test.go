package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

// TestAdminDomainPage: the console's page of one domain (GET
// /admin/domains/:id) shows its details, its usage chart and its history
// (its own audit entries only), and its actions each return to it with a
// 303. Admins only, as the rest of the console; an unknown id is a 404.
func TestAdminDomainPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		ctx := context.Background()
		owner := s.user(t, "ona@example.com")
		sec := owner.register("ona.example.com", "free")
		owner.register("ona-blog.example.com", "premium")
		id, other := domainIDOf(t, s, "ona.example.com"), domainIDOf(t, s, "ona-blog.example.com")
		uid := userID(t, s, "ona@example.com")
		page := fmt.Sprintf("/admin/domains/%d", id)

		// Another domain's history is not this one's.
		if r := admin.post(fmt.Sprintf("/admin/domains/%d/revoke", other), revokeReason()); r.Status != http.StatusSeeOther {
			t.Fatalf("revoking the other domain: %d", r.Status)
		}
		// Some use, in the chart.
		s.issueToken(t, sec)
		if err := s.app.tokenCounts.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		past := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
		if err := s.app.usageStats.Add(ctx, past, map[uint64]models.UsageDelta{id: {Issued: 7, Refused: 2, LastIssued: past, LastRefused: past}}); err != nil {
			t.Fatal(err)
		}

		r := admin.get(page)
		if r.Status != http.StatusOK {
			t.Fatalf("domain page: %d\n%s", r.Status, r.Body)
		}
		d := adminDetail(t, admin, id)
		if want := (adminRow{ID: id, Host: "ona.example.com", Owner: "ona@example.com", Plan: "free", Status: "active",
			Issued: "8", LastToken: d.LastToken, LastFail: past.Format("2006-01-02 15:04 UTC")}); d != want || !strings.HasSuffix(d.LastToken, " UTC") {
			t.Fatalf("domain page says %+v, want %+v", d, want)
		}
		mustContain(t, "domain page", r.Body, "<title>Domain ona.example.com",
			fmt.Sprintf(`href="/admin/users/%d"`, uid), ">ona<",
			`data-testid="usage-chart"`, "8 tokens issued and 2 refused in the last 7 days",
			`data-hour="`+past.Format(time.RFC3339)+`" data-issued="7"`,
			`data-testid="history-empty"`, fmt.Sprintf(`action="%s/revoke"`, page), fmt.Sprintf(`action="%s/plan"`, page))
		mustNotContain(t, "domain page", r.Body, sec, fmt.Sprintf(`action="%s/restore"`, page), `data-testid="audit-row"`)
		// Every form carries the session's CSRF token, returns here, and
		// confirms with a Cancel.
		csrf := admin.csrf()
		actions := r.Body[strings.Index(r.Body, `data-testid="admin-domain-actions"`):]
		actions = actions[:strings.Index(actions, "</section>")]
		forms := strings.Count(actions, `<form method="post"`)
		if forms != 2 || strings.Count(actions, `name="_csrf" value="`+csrf+`"`) != forms ||
			strings.Count(actions, `name="next" value="`+page+`"`) != forms ||
			strings.Count(actions, `<details class="confirm">`) != forms || strings.Count(actions, "data-close hidden>Cancel</button>") != forms {
			t.Errorf("%d forms: each wants the CSRF token, next=%s, a confirmation and a Cancel:\n%s", forms, page, actions)
		}
		mustContain(t, "Korean domain page", admin.do("GET", page, nil, map[string]string{"Accept-Language": "ko"}).Body,
			"도메인 ona.example.com", "최근 7일 사용량", "작업")

		// Each action returns to the page, which then shows its result.
		steps := []struct {
			action string
			form   url.Values
			flash  string
			status string
			plan   string
		}{
			{"revoke", url.Values{"reason": {"Sends spam"}}, "Domain revoked", "revoked", "free"},
			{"plan", url.Values{"type": {"premium"}}, "Plan changed", "revoked", "premium"},
			{"restore", nil, "Domain restored", "active", "premium"},
		}
		for _, step := range steps {
			form := step.form
			if form == nil {
				form = url.Values{}
			}
			form.Set("next", page)
			r := admin.post(page+"/"+step.action, form)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page {
				t.Fatalf("%s: %d %q, want 303 to %s", step.action, r.Status, r.Header.Get("Location"), page)
			}
			r = admin.get(page)
			mustContain(t, "page after "+step.action, r.Body, step.flash)
			if d := adminDetail(t, admin, id); d.Status != step.status || d.Plan != step.plan {
				t.Fatalf("after %s: %s/%s, want %s/%s", step.action, d.Status, d.Plan, step.status, step.plan)
			}
			if step.action == "revoke" {
				mustContain(t, "revoked domain's page", r.Body, `data-testid="revoke-reason-shown">Sends spam<`,
					fmt.Sprintf(`action="%s/restore"`, page), `Restore <span class="host">ona.example.com</span>?`)
				mustNotContain(t, "revoked domain's page", r.Body, fmt.Sprintf(`action="%s/revoke"`, page))
			}
		}
		// The history: this domain's entries, newest first, and a link to
		// the audit log filtered by it.
		r = admin.get(page)
		entries := auditEntries(t, r.Body)
		want := []auditEntry{
			{models.ActionRestore, id, uid, rootEmail, "revoked", "active"},
			{models.ActionPlan, id, uid, rootEmail, "free", "premium"},
			{models.ActionRevoke, id, uid, rootEmail, "active", "revoked"},
		}
		if !slices.Equal(entries, want) {
			t.Fatalf("history:\n got %+v\nwant %+v", entries, want)
		}
		mustContain(t, "history", r.Body, fmt.Sprintf(`href="/admin/audit?domain=%d" data-testid="history-all"`, id), "Sends spam")

		// A long history shows its newest adminHistorySize entries.
		for i := range adminHistorySize {
			e := models.AuditEntry{ActorID: 1, ActorEmail: rootEmail, Action: models.ActionPlan, DomainID: id, UserID: uid,
				Before: "free", After: fmt.Sprintf("step%d", i)}
			if err := s.app.db.Create(&e).Error; err != nil {
				t.Fatal(err)
			}
		}
		entries = auditEntries(t, admin.get(page).Body)
		if len(entries) != adminHistorySize || entries[0].After != fmt.Sprintf("step%d", adminHistorySize-1) {
			t.Fatalf("a long history shows %d entries, the first %+v", len(entries), entries[0])
		}

		// Only admins; unknown ids are 404s.
		member := s.user(t, "pia@example.com")
		if r := member.get(page); r.Status != http.StatusForbidden {
			t.Errorf("a member: %d, want 403", r.Status)
		}
		if r := s.client(t).get(page); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/login?next="+url.QueryEscape(page) {
			t.Errorf("signed out: %d %q", r.Status, r.Header.Get("Location"))
		}
		for _, p := range []string{"/admin/domains/999999", "/admin/domains/0", "/admin/domains/abc", "/admin/domains/-1",
			"/admin/domains/99999999999999999999999"} {
			if r := admin.get(p); r.Status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", p, r.Status)
			}
		}
	})
}

// TestAdminListMarksSuspendedOwners: the list marks the domains whose
// owner is suspended, and the domain's page says it too.
func TestAdminListMarksSuspendedOwners(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		s.user(t, "sid@example.com").register("sid.example.com", "free")
		s.user(t, "tea@example.com").register("tea.example.com", "free")
		if r := admin.post(userPath(t, s, "sid@example.com", "suspend"), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("suspend: %d", r.Status)
		}
		list := admin.get("/admin/domains").Body
		rows := adminRows(t, list)
		var marked []string
		for i, row := range strings.Split(list, `data-testid="admin-domain-row"`)[1:] {
			if row = row[:strings.Index(row, "</tr>")]; strings.Contains(row, `data-testid="owner-suspended"`) {
				marked = append(marked, rows[i].Host)
			}
		}
		if !slices.Equal(marked, []string{"sid.example.com"}) {
			t.Fatalf("rows marked owner-suspended: %v, want [sid.example.com]", marked)
		}
		mustContain(t, "list", list, ">Owner suspended<")
		mustContain(t, "suspended owner's domain page", admin.get(fmt.Sprintf("/admin/domains/%d", domainIDOf(t, s, "sid.example.com"))).Body,
			`data-testid="owner-suspended"`)
		mustNotContain(t, "other domain page", admin.get(fmt.Sprintf("/admin/domains/%d", domainIDOf(t, s, "tea.example.com"))).Body,
			`data-testid="owner-suspended"`)
		mustContain(t, "Korean list", admin.do("GET", "/admin/domains", nil, map[string]string{"Accept-Language": "ko"}).Body, "소유자 정지됨")
		admin.post(userPath(t, s, "sid@example.com", "unsuspend"), nil)
		mustNotContain(t, "list after unsuspending", admin.get("/admin/domains").Body, `data-testid="owner-suspended"`)
	})
}
