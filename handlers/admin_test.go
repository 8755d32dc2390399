package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/models"
)

// userID looks up the id of the account with email.
func userID(t *testing.T, s *testServer, email string) uint64 {
	t.Helper()
	u, err := s.app.users.GetByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u.ID
}

func TestAdminAccess(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "olive@example.com")
		owner.register("olive.example.com", "free")
		id := owner.domainIDs()[0]
		uid := strconv.FormatUint(userID(t, s, "olive@example.com"), 10)
		member := s.user(t, "member@example.com")
		visitor := s.client(t)

		cases := []struct {
			method, path string
			admin        int // what the admin gets
		}{
			{"GET", "/admin", http.StatusSeeOther},
			{"GET", "/admin/domains", http.StatusOK},
			{"GET", "/admin/domains?owner=olive&plan=free&status=active", http.StatusOK},
			{"GET", "/admin/users/" + uid, http.StatusOK},
			{"GET", "/admin/domains/" + id, http.StatusOK},
			{"GET", "/admin/domains/999999", http.StatusNotFound},
			{"GET", "/admin/audit", http.StatusOK},
			{"GET", "/admin/no/such/page", http.StatusNotFound},
			{"POST", "/admin/domains/" + id + "/plan", http.StatusUnprocessableEntity}, // no plan given
		}
		for _, tc := range cases {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				r := visitor.do(tc.method, tc.path, nil, nil)
				if tc.method == "POST" {
					r = visitor.post(tc.path, nil)
				}
				// To log in, and back here after (a page; a form cannot be replayed).
				want := "/auth/login?next=" + url.QueryEscape(tc.path)
				if tc.method == "POST" {
					want = "/"
				}
				if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
					t.Errorf("signed out: %d %q, want 303 to %q", r.Status, r.Header.Get("Location"), want)
				}
				r = member.get(tc.path)
				if tc.method == "POST" {
					r = member.post(tc.path, nil)
				}
				if r.Status != http.StatusForbidden {
					t.Errorf("non-admin: %d, want 403", r.Status)
				}
				mustContain(t, "403 page", r.Body, "You do not have access to this page.")
				mustNotContain(t, "403 page", r.Body, "olive.example.com", "olive@example.com", `data-testid="admin-link"`)
				if got := admin.status(tc.method, tc.path); got != tc.admin {
					t.Errorf("admin: %d, want %d", got, tc.admin)
				}
			})
		}
		if r := admin.get("/admin"); r.Header.Get("Location") != "/admin/domains" {
			t.Errorf("/admin redirects to %q", r.Header.Get("Location"))
		}

		// Neither the member nor the visitor changed anything.
		for _, action := range []string{"revoke", "restore"} {
			member.post("/admin/domains/"+id+"/"+action, nil)
			visitor.post("/admin/domains/"+id+"/"+action, nil)
		}
		member.post("/admin/domains/"+id+"/plan", url.Values{"type": {"premium"}})
		if d := domainByHost(t, s, "olive.example.com"); d.Status != models.StatusActive || d.Plan != models.PlanFree {
			t.Fatalf("a non-admin changed the domain: %s/%s", d.Status, d.Plan)
		}
		if n := auditCount(t, s); n != 0 { // looking, the admin's included, is not an action
			t.Fatalf("audit has %d entries, want none", n)
		}
	})
}

func TestAdminListsEveryDomain(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		alice := s.user(t, "alice@example.com")
		aliceSecret := alice.register("alice.example.com", "free")
		bob := s.user(t, "bob@example.org")
		bobSecret := bob.register("bob.example.org", "premium")
		bob.register("gone.example.org", "free")
		gone := domainByHost(t, s, "gone.example.org")
		if r := bob.post(fmt.Sprintf("/domain/%d/delete", gone.ID), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d", r.Status)
		}
		for range 3 {
			if st := tokenStatus(t, s, aliceSecret); st != http.StatusOK {
				t.Fatalf("token: %d", st)
			}
		}
		if err := s.app.tokenCounts.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}

		r := admin.get("/admin/domains")
		if r.Status != http.StatusOK {
			t.Fatalf("admin list: %d\n%s", r.Status, r.Body)
		}
		rows := adminDetails(t, admin, r.Body)
		if got, want := hostsOf(rows), []string{"gone.example.org", "bob.example.org", "alice.example.com"}; !slices.Equal(got, want) {
			t.Fatalf("rows %v, want %v (every user's domains, deleted too, newest first)", got, want)
		}
		want := []adminRow{
			{Host: "gone.example.org", Owner: "bob@example.org", Plan: "free", Status: "deleted", Issued: "0", LastToken: "Never", LastFail: "Never"},
			{Host: "bob.example.org", Owner: "bob@example.org", Plan: "premium", Status: "active", Issued: "0", LastToken: "Never", LastFail: "Never"},
			{Host: "alice.example.com", Owner: "alice@example.com", Plan: "free", Status: "active", Issued: "3", LastFail: "Never"},
		}
		for i, w := range want {
			g := rows[i]
			w.ID = g.ID
			if w.LastToken == "" { // a time, in UTC
				if !strings.HasSuffix(g.LastToken, " UTC") {
					t.Errorf("%s: last token %q, want a time", g.Host, g.LastToken)
				}
				w.LastToken = g.LastToken
			}
			if g != w {
				t.Errorf("row %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
		mustContain(t, "admin list", r.Body, ">alice<", ">bob<", `href="/admin/users/`, `data-testid="admin-link"`)
		aliceRow := domainByHost(t, s, "alice.example.com")
		bobRow := domainByHost(t, s, "bob.example.org")
		mustNotContain(t, "admin list", r.Body, aliceSecret, bobSecret, aliceRow.SecretHash, "$2a$", `<form method="post"`)
		alicePage := admin.get(fmt.Sprintf("/admin/domains/%d", aliceRow.ID)).Body
		bobPage := admin.get(fmt.Sprintf("/admin/domains/%d", bobRow.ID)).Body
		gonePage := admin.get(fmt.Sprintf("/admin/domains/%d", gone.ID)).Body
		mustContain(t, "alice's domain page", alicePage, ">alice<", "…"+secret.Last4(aliceSecret), `href="/admin/users/`)
		mustContain(t, "bob's domain page", bobPage, ">bob<", "…"+secret.Last4(bobSecret))
		for what, body := range map[string]string{"alice's": alicePage, "bob's": bobPage, "the deleted": gonePage} {
			mustNotContain(t, what+" domain page", body, aliceSecret, bobSecret, aliceRow.SecretHash, bobRow.SecretHash, "$2a$")
		}
		// Only domains that can change offer actions: the deleted one has none.
		mustContain(t, "alice's domain page", alicePage, fmt.Sprintf(`action="/admin/domains/%d/revoke"`, aliceRow.ID))
		mustNotContain(t, "the deleted domain's page", gonePage, fmt.Sprintf(`action="/admin/domains/%d/`, gone.ID))
		mustContain(t, "the deleted domain's page", gonePage, `data-testid="admin-domain-final"`)

		ko := admin.do("GET", "/admin/domains", nil, map[string]string{"Accept-Language": "ko"})
		mustContain(t, "Korean admin list", ko.Body, "발급된 모든 도메인", "소유자")
	})
}

func TestAdminFiltersSortAndPagination(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		ctx := context.Background()
		s.user(t, "carol@example.com")
		s.user(t, "dan@example.net")
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var carol []string // carol-00 .. carol-59, oldest first
		for i := range 60 {
			carol = append(carol, fmt.Sprintf("carol-%02d.example.com", i))
		}
		cid, did := userID(t, s, "carol@example.com"), userID(t, s, "dan@example.net")
		for i, h := range carol {
			d, _, err := s.app.domains.Insert(ctx, cid, h, models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			s.app.db.Model(&models.Domain{}).Where("id = ?", d.ID).UpdateColumn("created_at", t0.Add(time.Duration(i)*time.Minute))
		}
		dan := seedDomains(t, s, did, "dan-", 3, t0.Add(100*time.Minute)) // dan-0 .. dan-2
		set := func(host string, cols map[string]any) {
			if err := s.app.db.Model(&models.Domain{}).Where("host = ?", host).UpdateColumns(cols).Error; err != nil {
				t.Fatal(err)
			}
		}
		set("dan-0.example.com", map[string]any{"type": "premium"})
		set("dan-1.example.com", map[string]any{"type": "premium", "status": "revoked"})
		set("dan-2.example.com", map[string]any{"last_token_at": t0.Add(2000 * time.Minute)})
		set("carol-10.example.com", map[string]any{"last_token_at": t0.Add(1000 * time.Minute)})

		rev := func(hs []string) []string { out := slices.Clone(hs); slices.Reverse(out); return out }
		newest := append(rev(dan), rev(carol)...) // 63 domains, newest first

		cases := []struct {
			name, query string
			want        []string // exactly these rows, in this order
			next        string   // the "Next" link, or "" for none
		}{
			{"first page: 50 newest", "", newest[:50], "/admin/domains?page=2"},
			{"second page: the rest", "page=2", newest[50:], ""},
			{"a page past the end is empty", "page=9", nil, ""},
			{"owner by nick", "owner=dan", rev(dan), ""},
			{"owner by the start of the email, any case", "owner=+DAN@EXAMPLE+", rev(dan), ""},
			{"owner text from the middle of the email", "owner=example.net", nil, ""},
			{"owner with no match", "owner=nobody", nil, ""},
			{"host text", "host=dan-", rev(dan), ""},
			{"host text from the middle of the host", "host=example.com", nil, ""},
			{"host text within owner", "owner=carol&host=carol-5", rev(carol[50:]), ""},
			{"host % is literal", "host=%25", nil, ""},
			{"host _ is literal", "host=_", nil, ""},
			{"plan", "plan=premium", []string{"dan-1.example.com", "dan-0.example.com"}, ""},
			{"plan and status", "plan=premium&status=active", []string{"dan-0.example.com"}, ""},
			{"status", "status=revoked", []string{"dan-1.example.com"}, ""},
			{"oldest first", "dir=asc", carol[:50], "/admin/domains?dir=asc&page=2"},
			{"owner, page 2", "owner=carol&page=2", rev(carol)[50:], ""},
			{"owner, page 1 links to page 2 with the filter", "owner=carol", rev(carol)[:50], "/admin/domains?owner=carol&page=2"},
			{"last used first", "sort=last_used&plan=free&status=active",
				append([]string{"dan-2.example.com", "carol-10.example.com"}, slices.DeleteFunc(rev(carol), func(h string) bool { return h == "carol-10.example.com" })[:48]...),
				"/admin/domains?page=2&plan=free&sort=last_used&status=active"},
		}
		nextRe := regexp.MustCompile(`href="([^"]*)" rel="next"`)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := admin.get("/admin/domains?" + tc.query)
				if r.Status != http.StatusOK {
					t.Fatalf("%d\n%s", r.Status, r.Body)
				}
				if got := hostsOf(adminRows(t, r.Body)); !slices.Equal(got, tc.want) {
					t.Errorf("rows (%d):\n got %v\nwant %v", len(got), got, tc.want)
				}
				next := ""
				if m := nextRe.FindStringSubmatch(r.Body); m != nil {
					next = strings.ReplaceAll(m[1], "&amp;", "&")
				}
				if next != tc.next {
					t.Errorf("next link %q, want %q", next, tc.next)
				}
				if tc.want == nil {
					mustContain(t, "empty list", r.Body, `data-testid="admin-empty"`, "No domain matches these filters.")
				}
			})
		}

		bad := []struct{ query, message string }{
			{"plan=gold", "Unknown plan"},
			{"status=gone", "Unknown status"},
			{"sort=name", "Unknown sort"},
			{"dir=up", "Unknown order"},
			{"page=0", "The page must be"},
			{"page=-1", "The page must be"},
			{"page=abc", "The page must be"},
			{"page=100001", "The page must be"},
			{"owner=" + strings.Repeat("x", 255), "owner filter is too long"},
			{"host=" + strings.Repeat("x", 400), "host filter is too long"},
		}
		for _, tc := range bad {
			r := admin.get("/admin/domains?" + tc.query)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%.40s: %d, want 400", tc.query, r.Status)
			}
			mustContain(t, tc.query, r.Body, tc.message)
		}
	})
}

func TestAdminRevokeRestoreAndPlan(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		ctx := context.Background()
		owner := s.user(t, "erin@example.com")
		sec := owner.register("erin.example.com", "free")
		id := owner.domainIDs()[0]
		did, _ := strconv.ParseUint(id, 10, 64)
		uid := userID(t, s, "erin@example.com")
		path := func(action string) string { return "/admin/domains/" + id + "/" + action }

		if st := tokenStatus(t, s, sec); st != http.StatusOK {
			t.Fatalf("token before revocation: %d", st)
		}

		// Revoke: the page asked for comes back with a message, and the secret is refused at once.
		r := admin.post(path("revoke"), url.Values{"next": {"/admin/domains?owner=erin"}, "reason": {"Phishing pages"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/domains?owner=erin" {
			t.Fatalf("revoke: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		list := admin.get("/admin/domains?owner=erin")
		mustContain(t, "list after revoke", list.Body, "Domain revoked")
		if rows := adminRows(t, list.Body); len(rows) != 1 || rows[0].Status != "revoked" {
			t.Fatalf("list after revoke: %+v", rows)
		}
		if st := tokenStatus(t, s, sec); st != http.StatusUnauthorized {
			t.Fatalf("token after revocation: %d, want 401", st)
		}
		mustContain(t, "owner's dashboard", owner.get("/").Body, "Revoked")
		if err := s.app.tokenCounts.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		row := adminDetails(t, admin, admin.get("/admin/domains?owner=erin").Body)[0]
		if row.Issued != "1" || !strings.HasSuffix(row.LastFail, " UTC") || !strings.HasSuffix(row.LastToken, " UTC") {
			t.Fatalf("usage after one token and one refusal: %+v", row)
		}

		// Restore: the secret works again.
		if r := admin.post(path("restore"), nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/domains" {
			t.Fatalf("restore: %d %q", r.Status, r.Header.Get("Location"))
		}
		if st := tokenStatus(t, s, sec); st != http.StatusOK {
			t.Fatalf("token after restore: %d, want 200", st)
		}

		// Plan change shows in the console, on the owner's dashboard and in the API's view.
		if r := admin.post(path("plan"), url.Values{"type": {"premium"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("plan: %d\n%s", r.Status, r.Body)
		}
		if rows := adminRows(t, admin.get("/admin/domains?owner=erin").Body); rows[0].Plan != "premium" {
			t.Fatalf("plan after change: %+v", rows[0])
		}
		mustContain(t, "owner's dashboard", owner.get("/").Body, `badge-premium`)
		if e, err := s.app.cache.Lookup(ctx, secret.Sum(sec)); err != nil || e.Plan != models.PlanPremium {
			t.Fatalf("API's view after the plan change: %+v %v", e, err)
		}

		// Changes that do not apply are refused, said why, and not recorded.
		refused := []struct {
			action string
			form   url.Values
			status int
			msg    string
		}{
			{"restore", nil, http.StatusConflict, "only a revoked domain can be restored"},
			{"plan", url.Values{"type": {"premium"}}, http.StatusConflict, "already on that plan"},
			{"plan", url.Values{"type": {"gold"}}, http.StatusUnprocessableEntity, "Choose the free or the premium plan"},
			{"plan", url.Values{"type": {""}}, http.StatusUnprocessableEntity, "Choose the free or the premium plan"},
		}
		for _, tc := range refused {
			r := admin.post(path(tc.action), tc.form)
			if r.Status != tc.status {
				t.Errorf("%s %v: %d, want %d", tc.action, tc.form, r.Status, tc.status)
			}
			mustContain(t, tc.action, r.Body, tc.msg)
		}
		admin.post(path("revoke"), revokeReason())
		if r := admin.post(path("revoke"), revokeReason()); r.Status != http.StatusConflict || !strings.Contains(r.Body, "already revoked") {
			t.Errorf("revoking twice: %d", r.Status)
		}

		// Every change is in the audit log, newest first, with before and after.
		entries := auditEntries(t, admin.get("/admin/audit").Body)
		wantEntries := []auditEntry{
			{models.ActionRevoke, did, uid, rootEmail, "active", "revoked"},
			{models.ActionPlan, did, uid, rootEmail, "free", "premium"},
			{models.ActionRestore, did, uid, rootEmail, "revoked", "active"},
			{models.ActionRevoke, did, uid, rootEmail, "active", "revoked"},
		}
		if !slices.Equal(entries, wantEntries) {
			t.Fatalf("audit:\n got %+v\nwant %+v", entries, wantEntries)
		}
		if n := auditCount(t, s); n != 4 {
			t.Fatalf("%d audit rows, want 4: a refused change was recorded", n)
		}
		rootID := userID(t, s, rootEmail)
		var stored []models.AuditEntry
		s.app.db.Order("id").Find(&stored)
		for _, e := range stored {
			if e.ActorID != rootID || e.CreatedAt.IsZero() {
				t.Errorf("audit entry without its actor id or time: %+v", e)
			}
		}

		// A deleted domain can be neither revoked, restored nor moved.
		admin.post(path("restore"), nil)
		if r := owner.post("/domain/"+id+"/delete", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("owner's delete: %d", r.Status)
		}
		before := auditCount(t, s)
		for _, tc := range []struct {
			action string
			form   url.Values
			msg    string
		}{
			{"revoke", revokeReason(), "a deleted domain cannot be revoked"},
			{"restore", nil, "a deleted domain cannot be restored"},
			{"plan", url.Values{"type": {"free"}}, "its plan cannot be changed"},
		} {
			r := admin.post(path(tc.action), tc.form)
			if r.Status != http.StatusConflict {
				t.Errorf("%s of a deleted domain: %d, want 409", tc.action, r.Status)
			}
			mustContain(t, tc.action+" deleted", r.Body, tc.msg)
		}
		if n := auditCount(t, s); n != before {
			t.Fatalf("refusals were recorded: %d -> %d", before, n)
		}
		if st := tokenStatus(t, s, sec); st != http.StatusUnauthorized {
			t.Fatalf("deleted domain's token: %d", st)
		}

		// Unknown domains, and where an action may send the admin back.
		for _, p := range []string{"/admin/domains/999999/revoke", "/admin/domains/abc/restore", "/admin/domains/0/revoke"} {
			if r := admin.post(p, revokeReason()); r.Status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", p, r.Status)
			}
		}
		other := s.user(t, "fay@example.com")
		other.register("fay.example.com", "free")
		fid := other.domainIDs()[0]
		for _, next := range []string{"https://evil.example/", "//evil.example/admin/", "/\\evil.example", "/elsewhere", "javascript:alert(1)"} {
			r := admin.post("/admin/domains/"+fid+"/plan", url.Values{"type": {"premium"}, "next": {next}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/domains" {
				t.Errorf("next=%q: %d %q, want 303 to /admin/domains", next, r.Status, r.Header.Get("Location"))
			}
			admin.post("/admin/domains/"+fid+"/plan", url.Values{"type": {"free"}})
		}
	})
}

func TestAdminCSRF(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "gus@example.com")
		owner.register("gus.example.com", "free")
		id := owner.domainIDs()[0]
		other := s.client(t).csrf() // a real token, of another session
		form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for _, action := range []string{"revoke", "restore", "plan"} {
			for name, body := range map[string]string{
				"no token":              "type=premium",
				"a forged token":        "type=premium&_csrf=forged",
				"another session token": "type=premium&_csrf=" + url.QueryEscape(other),
			} {
				r := admin.do("POST", "/admin/domains/"+id+"/"+action, strings.NewReader(body), form)
				if r.Status != http.StatusForbidden {
					t.Errorf("%s with %s: %d, want 403", action, name, r.Status)
				}
				mustContain(t, action+" "+name, r.Body, "This form has expired")
			}
		}
		if d := domainByHost(t, s, "gus.example.com"); d.Status != models.StatusActive || d.Plan != models.PlanFree {
			t.Fatalf("a refused POST changed the domain: %s/%s", d.Status, d.Plan)
		}
		if n := auditCount(t, s); n != 0 {
			t.Fatalf("refused POSTs wrote %d audit entries", n)
		}
		// The same requests with the session's token go through.
		if r := admin.post("/admin/domains/"+id+"/revoke", revokeReason()); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke with the token: %d", r.Status)
		}
	})
}

func TestAdminRoles(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		ctx := context.Background()
		const link = `data-testid="admin-link"`

		// ADMIN_EMAILS is read at every request: removing the email ends the role at once.
		if r := admin.get("/admin/domains"); r.Status != http.StatusOK {
			t.Fatalf("admin by ADMIN_EMAILS: %d", r.Status)
		}
		mustContain(t, "admin's dashboard", admin.get("/").Body, link)
		s.app.config.AdminEmails = []string{"someone-else@example.com"}
		if r := admin.get("/admin/domains"); r.Status != http.StatusForbidden {
			t.Fatalf("after removal from ADMIN_EMAILS: %d, want 403", r.Status)
		}
		mustNotContain(t, "dashboard after removal", admin.get("/").Body, link)
		s.app.config.AdminEmails = []string{rootEmail}
		if r := admin.get("/admin/domains"); r.Status != http.StatusOK {
			t.Fatalf("after adding back: %d", r.Status)
		}

		// The stored role, granted and revoked.
		member := s.user(t, "hal@example.com")
		if r := member.get("/admin/domains"); r.Status != http.StatusForbidden {
			t.Fatalf("member: %d", r.Status)
		}
		mustNotContain(t, "member's dashboard", member.get("/").Body, link, "Admin console")
		if err := s.app.users.SetAdmin(ctx, "hal@example.com", true); err != nil {
			t.Fatal(err)
		}
		if r := member.get("/admin/domains"); r.Status != http.StatusOK {
			t.Fatalf("after grant: %d", r.Status)
		}
		mustContain(t, "granted member's dashboard", member.get("/").Body, link)
		uid := strconv.FormatUint(userID(t, s, "hal@example.com"), 10)
		mustContain(t, "user page of a granted admin", admin.get("/admin/users/"+uid).Body, "Admin (granted by command)")
		if err := s.app.users.SetAdmin(ctx, "hal@example.com", false); err != nil {
			t.Fatal(err)
		}
		if r := member.get("/admin/domains"); r.Status != http.StatusForbidden {
			t.Fatalf("after revoke: %d, want 403", r.Status)
		}
		if err := s.app.users.SetAdmin(ctx, "nobody@example.com", true); err != models.ErrNoRecord {
			t.Fatalf("SetAdmin of an unknown email: %v, want ErrNoRecord", err)
		}
	})
}

func TestNonAdminPagesShowNoAdminData(t *testing.T) {
	s, admin := adminServer(t, "sqlite")
	admin.register("admins-own.example.com", "free")
	ivy := s.user(t, "ivy@example.com")
	ivy.register("ivy.example.com", "free")
	jon := s.user(t, "jon@example.org")
	jon.register("jon.example.org", "premium")
	admin.get("/admin/users/" + strconv.FormatUint(userID(t, s, "jon@example.org"), 10))

	for _, p := range []string{"/", "/docs", "/no/such/page"} {
		body := ivy.get(p).Body
		mustNotContain(t, "ivy's "+p, body, "jon.example.org", "jon@example.org", "admins-own.example.com", rootEmail,
			`data-testid="admin-link"`, "/admin/")
	}
	mustContain(t, "ivy's dashboard", ivy.get("/").Body, "ivy.example.com")
	// An admin's own dashboard is still only theirs: everyone's data stays in /admin.
	mustNotContain(t, "admin's dashboard", admin.get("/").Body, "ivy.example.com", "jon.example.org")
}

func TestAdminUserPageAndAudit(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		kim := s.user(t, "kim@example.com")
		kim.register("kim-a.example.com", "free")
		kim.register("kim-b.example.com", "premium")
		kimB := domainByHost(t, s, "kim-b.example.com")
		kim.post(fmt.Sprintf("/domain/%d/delete", kimB.ID), nil)
		s.user(t, "lee@example.com").register("lee.example.com", "free")
		kid := userID(t, s, "kim@example.com")
		page := "/admin/users/" + strconv.FormatUint(kid, 10)

		r := admin.get(page)
		if r.Status != http.StatusOK {
			t.Fatalf("user page: %d", r.Status)
		}
		if got := hostsOf(adminRows(t, r.Body)); !slices.Equal(got, []string{"kim-b.example.com", "kim-a.example.com"}) {
			t.Fatalf("user page rows %v: want kim's domains only, deleted one too", got)
		}
		mustContain(t, "user page", r.Body, "Domains of kim", "kim@example.com", `data-testid="admin-user-role">User<`)
		mustNotContain(t, "user page", r.Body, "lee.example.com")
		if got := hostsOf(adminRows(t, admin.get(page+"?status=deleted").Body)); !slices.Equal(got, []string{"kim-b.example.com"}) {
			t.Fatalf("user page filtered by status: %v", got)
		}
		// The owner filter cannot widen a user's page.
		if got := hostsOf(adminRows(t, admin.get(page+"?owner=lee").Body)); len(got) != 2 {
			t.Fatalf("owner filter on a user page: %v", got)
		}
		mustContain(t, "admin's own page", admin.get("/admin/users/"+strconv.FormatUint(userID(t, s, rootEmail), 10)).Body,
			"Admin (ADMIN_EMAILS)")
		for _, p := range []string{"/admin/users/999999", "/admin/users/abc", "/admin/users/0"} {
			if r := admin.get(p); r.Status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", p, r.Status)
			}
		}

		// Looking at a user's page is not on the record (GET changes
		// nothing), but entries written when it was still show, labelled.
		if n := auditCount(t, s); n != 0 {
			t.Fatalf("viewing user pages wrote %d audit entries", n)
		}
		rootID := userID(t, s, rootEmail)
		legacy := models.AuditEntry{ActorID: rootID, ActorEmail: rootEmail, Action: "user.view", UserID: kid}
		if err := s.app.db.Create(&legacy).Error; err != nil {
			t.Fatal(err)
		}
		r = admin.get("/admin/audit?user=" + strconv.FormatUint(kid, 10))
		if e := auditEntries(t, r.Body); len(e) != 1 || e[0] != (auditEntry{Action: "user.view", User: kid, Actor: rootEmail}) {
			t.Fatalf("audit for kim: %+v, want the old view entry", e)
		}
		mustContain(t, "old view entry", r.Body, "Viewed a user&#39;s domains", ">kim<")
		mustContain(t, "old view entry in Korean",
			admin.do("GET", "/admin/audit", nil, map[string]string{"Accept-Language": "ko"}).Body, "사용자의 도메인 조회")

		// The audit log pages 50 at a time, newest first, and filters by domain.
		for range 53 {
			e := legacy
			e.ID = 0
			if err := s.app.db.Create(&e).Error; err != nil {
				t.Fatal(err)
			}
		}
		r = admin.get("/admin/audit")
		if n := len(auditEntries(t, r.Body)); n != 50 {
			t.Fatalf("audit page 1: %d rows", n)
		}
		mustContain(t, "audit page 1", r.Body, `href="/admin/audit?page=2" rel="next"`)
		if n := len(auditEntries(t, admin.get("/admin/audit?page=2").Body)); n != 4 {
			t.Fatalf("audit page 2: %d rows, want 4", n)
		}
		kimA := domainByHost(t, s, "kim-a.example.com")
		admin.post(fmt.Sprintf("/admin/domains/%d/revoke", kimA.ID), revokeReason())
		r = admin.get(fmt.Sprintf("/admin/audit?domain=%d", kimA.ID))
		if e := auditEntries(t, r.Body); len(e) != 1 || e[0].Action != models.ActionRevoke || e[0].Domain != kimA.ID {
			t.Fatalf("audit for one domain: %+v", e)
		}
		mustContain(t, "audit for one domain", r.Body, "kim-a.example.com")
		for _, q := range []string{"domain=abc", "user=-1", "domain=0", "page=0"} {
			if r := admin.get("/admin/audit?" + q); r.Status != http.StatusBadRequest {
				t.Errorf("audit ?%s: %d, want 400", q, r.Status)
			}
		}
	})
}
