package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/models"
)

const teamPassword = "correct horse battery" // what s.user signs up with

func userPath(t *testing.T, s *testServer, email, action string) string {
	t.Helper()
	p := fmt.Sprintf("/admin/users/%d", userID(t, s, email))
	if action != "" {
		p += "/" + action
	}
	return p
}

// lastAudit is the newest audit entry.
func lastAudit(t *testing.T, s *testServer) models.AuditEntry {
	t.Helper()
	var e models.AuditEntry
	if err := s.app.db.Order("id DESC").Take(&e).Error; err != nil {
		t.Fatal(err)
	}
	return e
}

// Suspending a user ends their sessions, refuses their login with a clear
// message, and stops their domains at once (this instance) and at the
// next refresh (another); unsuspending brings the secret back (tokens
// issued before stay refused). Each is audited.
func TestSuspendUser(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "sue@example.com")
		sec := owner.register("sue.example.com", "free")
		tok := s.issueToken(t, sec)
		other := s.client(t) // a second session of the owner
		if r := other.login("sue@example.com", teamPassword); r.Status != http.StatusSeeOther {
			t.Fatalf("second login: %d", r.Status)
		}
		peer := instanceOn(t, s.app.db) // another instance on the same database
		if peer.tokenStatusOn(t, sec) != http.StatusOK {
			t.Fatal("the peer refuses the secret before the suspension")
		}
		id := domainIDOf(t, s, "sue.example.com")
		domainPage := fmt.Sprintf("/domain/%d", id)

		r := admin.post(userPath(t, s, "sue@example.com", "suspend"), nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != userPath(t, s, "sue@example.com", "") {
			t.Fatalf("suspend: %d %s", r.Status, r.Header.Get("Location"))
		}
		page := admin.get(userPath(t, s, "sue@example.com", "")).Body
		mustContain(t, "user page", page, "Account suspended", `data-testid="confirm-unsuspend"`)
		for _, c := range []*client{owner, other} {
			if r := c.get(domainPage); r.Status != http.StatusSeeOther {
				t.Errorf("a session of the suspended user still opens its domain page: %d", r.Status)
			}
		}
		if got := s.tokenStatusOn(t, sec); got != http.StatusUnauthorized {
			t.Errorf("/v1/token with the suspended user's secret: %d, want 401", got)
		}
		if got := s.verifyStatus(t, tok); got != http.StatusUnauthorized {
			t.Errorf("/v1/test with a token issued before: %d, want 401", got)
		}
		if err := peer.app.cache.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := peer.tokenStatusOn(t, sec); got != http.StatusUnauthorized {
			t.Errorf("another instance after its refresh: %d, want 401", got)
		}
		r = s.client(t).login("sue@example.com", teamPassword)
		if r.Status != http.StatusForbidden {
			t.Errorf("login of a suspended user: %d, want 403", r.Status)
		}
		mustContain(t, "login refused", r.Body, "This account is suspended by an administrator")
		r = s.client(t).login("sue@example.com", "wrong password here")
		mustNotContain(t, "wrong password", r.Body, "suspended")
		if e := lastAudit(t, s); e.Action != models.ActionSuspend || e.Before != "active" || e.After != "suspended" ||
			e.UserID != userID(t, s, "sue@example.com") || e.ActorEmail != rootEmail {
			t.Errorf("audit: %+v", e)
		}
		if r := admin.post(userPath(t, s, "sue@example.com", "suspend"), nil); r.Status != http.StatusSeeOther {
			t.Errorf("suspending again: %d", r.Status)
		}
		n := auditCount(t, s)

		if r := admin.post(userPath(t, s, "sue@example.com", "unsuspend"), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("unsuspend: %d", r.Status)
		}
		if auditCount(t, s) != n+1 {
			t.Error("unsuspend wrote no audit entry (or suspending again wrote one)")
		}
		if e := lastAudit(t, s); e.Action != models.ActionUnsuspend || e.Before != "suspended" || e.After != "active" {
			t.Errorf("audit: %+v", e)
		}
		if got := s.tokenStatusOn(t, sec); got != http.StatusOK {
			t.Errorf("/v1/token after unsuspend: %d, want 200", got)
		}
		if got := s.verifyStatus(t, tok); got != http.StatusUnauthorized {
			t.Errorf("a token issued before the suspension: %d after unsuspend, want 401", got)
		}
		if err := peer.app.cache.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := peer.tokenStatusOn(t, sec); got != http.StatusOK {
			t.Errorf("another instance after unsuspend and a refresh: %d, want 200", got)
		}
		if r := s.client(t).login("sue@example.com", teamPassword); r.Status != http.StatusSeeOther {
			t.Errorf("login after unsuspend: %d", r.Status)
		}

		// An admin cannot suspend themselves.
		if r := admin.post(userPath(t, s, rootEmail, "suspend"), nil); r.Status != http.StatusConflict ||
			!strings.Contains(r.Body, "You cannot suspend your own account") {
			t.Errorf("self-suspension: %d", r.Status)
		}
	})
}

// Every new console form is for admins only and needs the CSRF token;
// GETs of the new pages are refused to others as the console's are.
func TestTeamFormsAdminOnlyWithCSRF(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		user := s.user(t, "ned@example.com")
		user.register("ned.example.com", "free")
		d := domainIDOf(t, s, "ned.example.com")
		ned := userPath(t, s, "ned@example.com", "")
		posts := map[string]url.Values{
			ned + "/suspend":   nil,
			ned + "/unsuspend": nil,
			ned + "/role":      {"role": {"admin"}},
			fmt.Sprintf("/admin/domains/%d/premium/approve", d): nil,
			fmt.Sprintf("/admin/domains/%d/premium/decline", d): nil,
		}
		before := auditCount(t, s)
		for path, form := range posts {
			with := func(csrf string) url.Values { // a fresh copy: post sets _csrf in the map it is given
				v := url.Values{}
				for k, vs := range form {
					v[k] = vs
				}
				if csrf != "" {
					v.Set("_csrf", csrf)
				}
				return v
			}
			if r := user.post(path, with("")); r.Status != http.StatusForbidden {
				t.Errorf("POST %s as a user: %d, want 403", path, r.Status)
			}
			if r := s.client(t).post(path, with("")); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
				t.Errorf("POST %s signed out: %d, want 303 to /", path, r.Status)
			}
			if r := admin.post(path, with("wrong")); r.Status != http.StatusForbidden {
				t.Errorf("POST %s without the CSRF token: %d, want 403", path, r.Status)
			}
		}
		for _, path := range []string{"/admin/premium", "/admin/domains.csv", "/admin/audit.csv", "/admin/audit?action=user.role"} {
			if r := user.get(path); r.Status != http.StatusForbidden {
				t.Errorf("GET %s as a user: %d, want 403", path, r.Status)
			}
			if r := admin.get(path); r.Status != http.StatusOK {
				t.Errorf("GET %s as admin: %d", path, r.Status)
			}
		}
		if auditCount(t, s) != before {
			t.Error("a refused request wrote to the audit log")
		}
		if r := user.get("/"); !strings.Contains(r.Body, "ned.example.com") {
			t.Error("the user is no longer signed in")
		}
		// Every confirmation of the console has a Cancel.
		admin.register("root.example.com", "free")
		rootDomain := domainIDOf(t, s, "root.example.com")
		admin.post(fmt.Sprintf("/admin/domains/%d/revoke", rootDomain), revokeReason())
		for _, path := range []string{fmt.Sprintf("/admin/domains/%d", rootDomain), fmt.Sprintf("/admin/domains/%d", domainIDOf(t, s, "ned.example.com")), ned} {
			body := admin.get(path).Body
			if n, m := strings.Count(body, `<details class="confirm">`), strings.Count(body, "data-close hidden>Cancel</button>"); n == 0 || n != m {
				t.Errorf("%s: %d confirmations, %d Cancel buttons", path, n, m)
			}
		}
	})
}

// The admin role from the console: granted and revoked (audited, taking
// effect at the next request), never from the last admin who can sign in
// (themselves or another), never for an ADMIN_EMAILS admin.
func TestAdminRole(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		ann := s.user(t, "ann@example.com")
		bob := s.user(t, "bob@example.com")
		if err := s.app.users.SetAdmin(context.Background(), "ann@example.com", true); err != nil {
			t.Fatal(err)
		}
		role := func(c *client, email, r string) response {
			return c.post(userPath(t, s, email, "role"), url.Values{"role": {r}})
		}
		if r := role(ann, "ann@example.com", "user"); r.Status != http.StatusConflict || !strings.Contains(r.Body, "last admin") {
			t.Errorf("the last admin removing their own role: %d", r.Status)
		}
		if r := ann.post(userPath(t, s, "ann@example.com", "suspend"), nil); r.Status != http.StatusConflict {
			t.Errorf("the last admin suspending themselves: %d", r.Status)
		}
		if r := role(ann, "bob@example.com", "boss"); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("role=boss: %d", r.Status)
		}
		if bob.get("/admin/domains").Status != http.StatusForbidden {
			t.Fatal("bob is admin before the grant")
		}
		if r := role(ann, "bob@example.com", "admin"); r.Status != http.StatusSeeOther {
			t.Fatalf("grant: %d", r.Status)
		}
		if e := lastAudit(t, s); e.Action != models.ActionRole || e.Before != "user" || e.After != "admin" {
			t.Errorf("audit of the grant: %+v", e)
		}
		if bob.get("/admin/domains").Status != http.StatusOK {
			t.Error("bob is not admin after the grant")
		}
		// Bob removes Ann's role: she loses the console at her next request.
		if r := role(bob, "ann@example.com", "user"); r.Status != http.StatusSeeOther {
			t.Fatalf("bob revoking ann: %d", r.Status)
		}
		if ann.get("/admin/domains").Status != http.StatusForbidden {
			t.Error("ann still opens the console")
		}
		if e := lastAudit(t, s); e.Action != models.ActionRole || e.Before != "admin" || e.After != "user" {
			t.Errorf("audit of the revocation: %+v", e)
		}
		// Now bob is the last one.
		if r := role(bob, "bob@example.com", "user"); r.Status != http.StatusConflict {
			t.Errorf("the last admin (bob) removing their own role: %d", r.Status)
		}

		// An admin by ADMIN_EMAILS: shown as such, not revocable here;
		// with them, bob is not the last admin any more.
		root := s.user(t, rootEmail)
		s.app.config.AdminEmails = []string{rootEmail}
		markVerified(t, s.app.db, rootEmail) // listed addresses are admins once verified
		page := bob.get(userPath(t, s, rootEmail, "")).Body
		mustContain(t, "the root's page", page, `data-testid="admin-role-config"`, "cannot be revoked here")
		mustNotContain(t, "the root's page", page, `data-testid="confirm-role-revoke"`)
		if r := role(bob, rootEmail, "user"); r.Status != http.StatusConflict || !strings.Contains(r.Body, "ADMIN_EMAILS") {
			t.Errorf("revoking an ADMIN_EMAILS admin: %d", r.Status)
		}
		r := role(bob, "bob@example.com", "user")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Errorf("bob removing his own role with another admin left: %d %s", r.Status, r.Header.Get("Location"))
		}
		// The last admin who can sign in cannot be suspended by another.
		if r := role(root, "ann@example.com", "admin"); r.Status != http.StatusSeeOther {
			t.Fatal(r.Status)
		}
		if r := ann.post(userPath(t, s, rootEmail, "suspend"), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("ann suspending root with both admins: %d", r.Status)
		}
		if r := s.client(t).login(rootEmail, teamPassword); r.Status != http.StatusForbidden {
			t.Errorf("a suspended ADMIN_EMAILS admin signs in: %d", r.Status)
		}
		if r := role(ann, "ann@example.com", "user"); r.Status != http.StatusConflict {
			t.Errorf("ann, the last admin who can sign in (root is suspended), removing her role: %d", r.Status)
		}
	})
}

// The audit log filters by date range, actor and action, from a
// bookmarkable query; the pages' links and the CSV link keep the filters.
func TestAuditFilters(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		db := s.app.db
		at := func(day string) time.Time {
			d, err := time.Parse(time.DateOnly, day)
			if err != nil {
				t.Fatal(err)
			}
			return d.Add(12 * time.Hour)
		}
		entries := []struct {
			actor, action, day string
		}{
			{"root@example.com", models.ActionRevoke, "2025-03-01"},
			{"root@example.com", models.ActionPlan, "2025-03-02"},
			{"ops@example.com", models.ActionRevoke, "2025-03-03"},
			{"ops@example.com", models.ActionSuspend, "2025-03-04"},
			{"root@example.com", models.ActionRevoke, "2025-03-05"},
		}
		for i, e := range entries {
			err := db.Exec("INSERT INTO audit_entries (actor_id, actor_email, action, domain_id, user_id, `before`, `after`, note, created_at) VALUES (?, ?, ?, ?, 0, 'a', 'b', '', ?)",
				1, e.actor, e.action, i+1, at(e.day)).Error
			if err != nil {
				t.Fatal(err)
			}
		}
		domainsOf := func(q string) []uint64 {
			t.Helper()
			r := admin.get("/admin/audit" + q)
			if r.Status != http.StatusOK {
				t.Fatalf("%s: %d\n%s", q, r.Status, r.Body)
			}
			var out []uint64
			for _, e := range auditEntries(t, r.Body) {
				out = append(out, e.Domain)
			}
			return out
		}
		for _, c := range []struct {
			q    string
			want []uint64
		}{
			{"", []uint64{5, 4, 3, 2, 1}},
			{"?action=domain.revoke", []uint64{5, 3, 1}},
			{"?actor=ops@example.com", []uint64{4, 3}},
			{"?actor=OPS@example.com&action=domain.revoke", []uint64{3}},
			{"?from=2025-03-02&to=2025-03-04", []uint64{4, 3, 2}},
			{"?from=2025-03-04", []uint64{5, 4}},
			{"?to=2025-03-01", []uint64{1}},
			{"?from=2025-03-06", nil},
			{"?to=2025-02-28", nil},
			{"?from=2025-03-02&to=2025-03-05&action=domain.revoke&actor=root@example.com", []uint64{5}},
		} {
			if got := domainsOf(c.q); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("%s: domains %v, want %v", c.q, got, c.want)
			}
		}
		for _, q := range []string{"?action=domain.explode", "?from=yesterday", "?to=2025-13-01", "?from=2025-03-05&to=2025-03-01"} {
			if r := admin.get("/admin/audit" + q); r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", q, r.Status)
			}
		}
		// The form shows the filters; pages and the CSV keep them.
		old := adminMaxPage
		t.Cleanup(func() { adminMaxPage = old })
		body := admin.get("/admin/audit?action=domain.revoke&from=2025-03-01").Body
		mustContain(t, "filtered page", body, `name="from" type="date" value="2025-03-01"`,
			`<option value="domain.revoke" selected>`, `href="/admin/audit.csv?action=domain.revoke&amp;from=2025-03-01"`)
	})
}

// PREMIUM=approval: a premium registration starts on free with a request,
// shown to its owner; the queue lists it; approve moves it to premium,
// decline keeps it on free; both audited and sticking to the host, so
// that a declined host registered again asks nothing (and gets free).
func TestPremiumQueue(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver, func(c *config.Config) { c.Premium = config.PremiumApproval })
		admin := s.user(t, rootEmail)
		s.app.config.AdminEmails = []string{rootEmail}
		markVerified(t, s.app.db, rootEmail)
		owner := s.user(t, "pia@example.com")
		r := owner.post("/domain", url.Values{"host": {"pia.example.com"}, "type": {"premium"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("register: %d", r.Status)
		}
		mustContain(t, "registered", owner.get("/").Body, "Premium requested: the domain works on the free plan")
		owner.register("pia2.example.com", "premium")
		owner.register("pia3.example.com", "free")
		d := domainByHost(t, s, "pia.example.com")
		if d.Plan != models.PlanFree || !d.PremiumRequested {
			t.Fatalf("premium asked under approval: plan %s, requested %v", d.Plan, d.PremiumRequested)
		}
		if d3 := domainByHost(t, s, "pia3.example.com"); d3.PremiumRequested {
			t.Error("a free registration made a request")
		}
		mustContain(t, "dashboard", owner.get("/").Body, `data-testid="premium-requested"`)
		mustContain(t, "domain page", owner.get(fmt.Sprintf("/domain/%d", d.ID)).Body, `data-testid="premium-requested"`)

		q := admin.get("/admin/premium").Body
		mustContain(t, "queue", q, `data-host="pia.example.com"`, `data-host="pia2.example.com"`, "2 waiting")
		mustNotContain(t, "queue", q, `data-host="pia3.example.com"`)
		if strings.Index(q, `data-host="pia.example.com"`) > strings.Index(q, `data-host="pia2.example.com"`) {
			t.Error("the queue is not oldest first")
		}

		// Approve.
		r = admin.post(fmt.Sprintf("/admin/domains/%d/premium/approve", d.ID), url.Values{"next": {"/admin/premium"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/premium" {
			t.Fatalf("approve: %d %s", r.Status, r.Header.Get("Location"))
		}
		if d := domainByHost(t, s, "pia.example.com"); d.Plan != models.PlanPremium || d.PremiumRequested {
			t.Errorf("approved: plan %s, requested %v", d.Plan, d.PremiumRequested)
		}
		if e := lastAudit(t, s); e.Action != models.ActionPremiumApprove || e.Before != "requested" || e.After != "premium" || e.DomainID != d.ID {
			t.Errorf("audit of the approval: %+v", e)
		}
		if r := admin.post(fmt.Sprintf("/admin/domains/%d/premium/decline", d.ID), nil); r.Status != http.StatusConflict {
			t.Errorf("answering an answered request: %d, want 409", r.Status)
		}

		// Decline, then delete and register again: no new request.
		d2 := domainByHost(t, s, "pia2.example.com")
		if r := admin.post(fmt.Sprintf("/admin/domains/%d/premium/decline", d2.ID), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("decline: %d", r.Status)
		}
		if d := domainByHost(t, s, "pia2.example.com"); d.Plan != models.PlanFree || d.PremiumRequested {
			t.Errorf("declined: plan %s, requested %v", d.Plan, d.PremiumRequested)
		}
		if e := lastAudit(t, s); e.Action != models.ActionPremiumDecline || e.Before != "requested" || e.After != "free" {
			t.Errorf("audit of the decline: %+v", e)
		}
		mustContain(t, "queue after", admin.get("/admin/premium").Body, `data-testid="premium-empty"`)
		for range 2 {
			id := domainByHost(t, s, "pia2.example.com").ID
			if r := owner.post(fmt.Sprintf("/domain/%d/delete", id), nil); r.Status >= 400 {
				t.Fatalf("delete: %d", r.Status)
			}
			r := owner.post("/domain", url.Values{"host": {"pia2.example.com"}, "type": {"premium"}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("register again: %d", r.Status)
			}
			mustContain(t, "registered again", owner.get("/").Body, "An administrator put this host on the free plan")
			if d := domainByHost(t, s, "pia2.example.com"); d.Plan != models.PlanFree || d.PremiumRequested {
				t.Errorf("a declined host registered again: plan %s, requested %v", d.Plan, d.PremiumRequested)
			}
		}
		mustContain(t, "queue after re-registering", admin.get("/admin/premium").Body, `data-testid="premium-empty"`)
		// The approved host registered again is premium at once.
		if r := owner.post(fmt.Sprintf("/domain/%d/delete", d.ID), nil); r.Status >= 400 {
			t.Fatal(r.Status)
		}
		owner.register("pia.example.com", "free")
		if d := domainByHost(t, s, "pia.example.com"); d.Plan != models.PlanPremium || d.PremiumRequested {
			t.Errorf("an approved host registered again: plan %s, requested %v", d.Plan, d.PremiumRequested)
		}
		// A deleted domain's request is void.
		owner.register("pia4.example.com", "premium")
		d4 := domainByHost(t, s, "pia4.example.com")
		owner.post(fmt.Sprintf("/domain/%d/delete", d4.ID), nil)
		if r := admin.post(fmt.Sprintf("/admin/domains/%d/premium/approve", d4.ID), nil); r.Status != http.StatusConflict {
			t.Errorf("approving a deleted domain's request: %d, want 409", r.Status)
		}
	})
}

// PREMIUM=open (the default): premium is picked, no request is made.
func TestPremiumOpen(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		admin.register("open.example.com", "premium")
		if d := domainByHost(t, s, "open.example.com"); d.Plan != models.PlanPremium || d.PremiumRequested {
			t.Errorf("PREMIUM=open: plan %s, requested %v", d.Plan, d.PremiumRequested)
		}
		mustContain(t, "queue", admin.get("/admin/premium").Body, "PREMIUM=open", `data-testid="premium-empty"`)
	})
}
