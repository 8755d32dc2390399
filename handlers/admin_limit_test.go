package handlers

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

// An admin raises one account's domain limit from its page in the
// console: the owner may register that many, every change is in the
// audit log (before → after), and emptying the field gives the account
// the default again.
func TestAdminRaisesDomainLimit(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver, maxDomains(2))
		admin := s.user(t, rootEmail)
		s.app.config.AdminEmails = []string{rootEmail}
		markVerified(t, s.app.db, rootEmail)
		owner := s.user(t, "grow@example.com")
		uid := userID(t, s, "grow@example.com")
		page := "/admin/users/" + strconv.FormatUint(uid, 10)
		action := page // the page's form posts to the page
		owner.register("a.example.com", "free")
		owner.register("b.example.com", "free")
		if r := owner.post("/domain", url.Values{"host": {"c.example.com"}, "type": {"free"}}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("third domain at the default limit: %d", r.Status)
		}

		body := admin.get(page).Body
		mustContain(t, "user page", body, `data-testid="admin-user-domains">2<`,
			`data-testid="admin-user-limit">`+html.EscapeString(i18n.T("en", "admin.user.limit.default", "2"))+`<`,
			`action="`+action+`"`, `name="max_domains"`, `name="_csrf"`)

		set := func(v string) response {
			t.Helper()
			return admin.post(action, url.Values{"max_domains": {v}})
		}
		entries := auditCount(t, s)
		r := set("4")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page {
			t.Fatalf("set 4: %d to %q", r.Status, r.Header.Get("Location"))
		}
		body = admin.get(page).Body
		mustContain(t, "raised", body, i18n.T("en", "admin.flash.limit"), `value="4"`,
			`data-testid="admin-user-limit">`+html.EscapeString(i18n.T("en", "admin.user.limit.own", "4"))+`<`)
		owner.register("c.example.com", "free")
		owner.register("d.example.com", "free")
		mustContain(t, "owner's dashboard", owner.get("/").Body, i18n.T("en", "dash.limit", "4", "4"))
		if r := owner.post("/domain", url.Values{"host": {"e.example.com"}, "type": {"free"}}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("fifth domain at the raised limit: %d", r.Status)
		}

		// Audited: who, on whom, before and after; the same value again writes nothing.
		if n := auditCount(t, s); n != entries+1 {
			t.Fatalf("%d audit entries written, want 1", n-entries)
		}
		if r := set(" 4 "); r.Status != http.StatusSeeOther {
			t.Fatalf("set 4 again: %d", r.Status)
		}
		mustContain(t, "same", admin.get(page).Body, i18n.T("en", "admin.flash.limit.same"))
		if n := auditCount(t, s); n != entries+1 {
			t.Errorf("setting the same limit wrote %d entries", n-entries-1)
		}
		if r := set(""); r.Status != http.StatusSeeOther {
			t.Fatalf("back to the default: %d", r.Status)
		}
		got := auditEntries(t, admin.get("/admin/audit?user="+strconv.FormatUint(uid, 10)).Body)
		want := []auditEntry{
			{Action: models.ActionDomainLimit, User: uid, Actor: rootEmail, Before: "4", After: "default"},
			{Action: models.ActionDomainLimit, User: uid, Actor: rootEmail, Before: "default", After: "4"},
		}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("audit entries:\n got %+v\nwant %+v", got, want)
		}
		mustContain(t, "audit page", admin.get("/admin/audit").Body, html.EscapeString(i18n.T("en", "admin.audit.action.user.max_domains")))
		// Back at the default (2), the owner's four stay and a fifth is refused.
		if n := liveDomains(t, s, uid); n != 4 {
			t.Errorf("%d domains after lowering the limit, want the 4 kept", n)
		}
		if r := owner.post("/domain", url.Values{"host": {"e.example.com"}, "type": {"free"}}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("a domain past the default again: %d", r.Status)
		}
	})
}

// What the limit form refuses, and who may not use it.
func TestDomainLimitFormRefusals(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "someone@example.com")
		uid := strconv.FormatUint(userID(t, s, "someone@example.com"), 10)
		action := "/admin/users/" + uid
		entries := auditCount(t, s)
		for _, v := range []string{"0", "-1", "abc", "1.5", "1000001", "99999999999999999999", "1e3"} {
			r := admin.post(action, url.Values{"max_domains": {v}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Errorf("max_domains=%q: %d, want 422", v, r.Status)
			}
			mustContain(t, "max_domains="+v, r.Body, i18n.T("en", "admin.err.limit.invalid"))
		}
		if r := admin.post(action, url.Values{"other": {"5"}}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("no max_domains field: %d, want 422", r.Status)
		}
		if r := admin.post("/admin/users/999999", url.Values{"max_domains": {"5"}}); r.Status != http.StatusNotFound {
			t.Errorf("unknown user: %d, want 404", r.Status)
		}
		if r := admin.post("/admin/users/abc", url.Values{"max_domains": {"5"}}); r.Status != http.StatusNotFound {
			t.Errorf("user abc: %d, want 404", r.Status)
		}
		if r := owner.post(action, url.Values{"max_domains": {"500"}}); r.Status != http.StatusForbidden {
			t.Errorf("a user setting their own limit: %d, want 403", r.Status)
		}
		r := admin.do("POST", action, strings.NewReader(url.Values{"max_domains": {"500"}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.Status != http.StatusForbidden {
			t.Errorf("without a CSRF token: %d, want 403", r.Status)
		}
		if n := auditCount(t, s); n != entries {
			t.Errorf("refused changes wrote %d audit entries", n-entries)
		}
		u, err := s.app.users.GetByEmail(t.Context(), "someone@example.com")
		if err != nil || u.MaxDomains != nil {
			t.Errorf("limit after refused changes: %v %v", u.MaxDomains, err)
		}
	})
}
