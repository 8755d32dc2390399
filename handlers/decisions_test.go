package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/models"
)

// An admin's decisions stick (issue 15, point 5): what an admin revoked or
// the plan an admin set is not undone by deleting the domain and
// registering the host again.

const hostRevokedMsg = "An administrator revoked this host"

// heldRe finds the admin list's mark on a deleted domain whose revocation
// still holds, with the domain's id.
var heldRe = regexp.MustCompile(`data-testid="revocation-held" data-id="(\d+)"`)

func heldIDs(body string) []string {
	var out []string
	for _, m := range heldRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestRevokedHostStaysRefusedToItsOwner(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "mia@example.com")
		other := s.user(t, "ned@example.com")
		sec := owner.register("mia.example.com", "free")
		id := domainIDOf(t, s, "mia.example.com")
		sid := strconv.FormatUint(id, 10)
		uid := userID(t, s, "mia@example.com")

		if r := admin.post("/admin/domains/"+sid+"/revoke", revokeReason()); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.Status)
		}
		// While the revoked domain exists, registering the host again says why.
		r := owner.post("/domain", url.Values{"host": {"mia.example.com"}, "type": {"free"}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("registering a revoked host: %d, want 422", r.Status)
		}
		mustContain(t, "registering a revoked host", r.Body, hostRevokedMsg)
		mustNotContain(t, "registering a revoked host", r.Body, `data-testid="client-secret"`)

		// The owner deletes the revoked domain: the host stays refused to
		// them, however it is spelled, on whatever port.
		mustContain(t, "dashboard of a revoked domain", owner.get("/").Body, "deleting it does not free its host")
		if r := owner.post("/domain/"+sid+"/delete", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("owner's delete: %d", r.Status)
		}
		for _, host := range []string{"mia.example.com", "MIA.Example.COM.", " mia.example.com:443", "mia.example.com:8443"} {
			for _, plan := range []string{"free", "premium"} {
				r := owner.post("/domain", url.Values{"host": {host}, "type": {plan}})
				if r.Status != http.StatusUnprocessableEntity {
					t.Errorf("re-registering %q (%s) after deleting it revoked: %d, want 422", host, plan, r.Status)
				}
				mustContain(t, "re-registering "+host, r.Body, hostRevokedMsg)
				mustNotContain(t, "re-registering "+host, r.Body, `data-testid="client-secret"`)
			}
		}
		if st := tokenStatus(t, s, sec); st != http.StatusUnauthorized {
			t.Fatalf("the deleted domain's secret: %d", st)
		}
		if ids := owner.domainIDs(); len(ids) != 0 {
			t.Fatalf("the owner has domains %v after the refusals", ids)
		}
		// The decision is about that owner: anyone else may register the host.
		if sec := other.register("mia.example.com", "free"); tokenStatus(t, s, sec) != http.StatusOK {
			t.Fatal("another owner's registration of the host does not work")
		}
		// Another host of the owner is not affected.
		owner.register("mia-blog.example.com", "free")

		// The console shows the revocation still holding on the deleted
		// domain, with a way to restore it.
		list := admin.get("/admin/users/" + strconv.FormatUint(uid, 10))
		if got := heldIDs(list.Body); !slices.Equal(got, []string{sid}) {
			t.Fatalf("held revocations on the owner's page: %v, want [%s]", got, sid)
		}
		mustContain(t, "owner's page", list.Body, `href="/admin/domains/`+sid+`" data-testid="manage"`)
		page := admin.get("/admin/domains/" + sid).Body
		if got := heldIDs(page); !slices.Equal(got, []string{sid}) {
			t.Fatalf("held revocation on the domain's page: %v, want [%s]", got, sid)
		}
		mustContain(t, "the domain's page", page, `action="/admin/domains/`+sid+`/restore"`, `Lift the revocation of <span class="host">mia.example.com</span>?`)

		// The admin restores it: the domain stays deleted (its owner chose
		// that), its old secret stays refused, and the owner may register
		// the host again with a new secret.
		before := auditCount(t, s)
		r = admin.post("/admin/domains/"+sid+"/restore", url.Values{"next": {"/admin/domains?status=deleted"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/domains?status=deleted" {
			t.Fatalf("restore of the deleted revoked domain: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		after := admin.get("/admin/domains?status=deleted")
		mustContain(t, "list after lifting", after.Body, "Revocation lifted")
		if got := heldIDs(after.Body); len(got) != 0 {
			t.Fatalf("held revocations after the restore: %v", got)
		}
		if d := domainByHost(t, s, "mia.example.com"); d.ID != id && d.UserID == uid {
			t.Fatalf("restore made a domain for the owner: %+v", d)
		}
		var d models.Domain
		s.app.db.Take(&d, id)
		if d.Status != models.StatusDeleted {
			t.Fatalf("the restored deleted domain is %s, want it still deleted", d.Status)
		}
		if st := tokenStatus(t, s, sec); st != http.StatusUnauthorized {
			t.Fatalf("the deleted domain's secret after the restore: %d", st)
		}
		if n := auditCount(t, s); n != before+1 {
			t.Fatalf("audit rows %d -> %d, want one more", before, n)
		}
		entries := auditEntries(t, admin.get("/admin/audit?domain="+sid).Body)
		if len(entries) != 2 || entries[0] != (auditEntry{models.ActionRestore, id, uid, rootEmail, "revoked", "deleted"}) {
			t.Fatalf("audit of the domain: %+v", entries)
		}
		// Restoring it again is refused: nothing holds any more.
		if r := admin.post("/admin/domains/"+sid+"/restore", nil); r.Status != http.StatusConflict {
			t.Fatalf("second restore: %d, want 409", r.Status)
		}
		newSec := owner.register("mia.example.com", "free")
		if st := tokenStatus(t, s, newSec); st != http.StatusOK {
			t.Fatalf("the new secret after the restore: %d", st)
		}
	})
}

// Restoring a revoked domain does not bring back the tokens issued before
// the revocation (issue 15, point 5): on this instance, nor on another that
// learns of the changes only by refreshing its view.
func TestRestoreDoesNotBringBackOlderTokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "oda@example.com")
		sec := owner.register("oda.example.com", "free")
		id := strconv.FormatUint(domainIDOf(t, s, "oda.example.com"), 10)
		// Another instance on the same database, which learns of the
		// changes only by refreshing its view.
		replica := instanceOn(t, s.app.db)

		old := s.issueToken(t, sec)
		for _, srv := range []*testServer{s, replica} {
			if st := srv.verifyStatus(t, old); st != http.StatusOK {
				t.Fatalf("token before the revocation: %d", st)
			}
		}
		if r := admin.post("/admin/domains/"+id+"/revoke", revokeReason()); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.Status)
		}
		if st := s.verifyStatus(t, old); st != http.StatusUnauthorized {
			t.Fatalf("token after the revocation: %d, want 401", st)
		}
		if r := admin.post("/admin/domains/"+id+"/restore", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("restore: %d", r.Status)
		}
		if err := replica.app.cache.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		fresh := s.issueToken(t, sec) // the secret works again...
		for name, srv := range map[string]*testServer{"this instance": s, "another instance": replica} {
			// ...but not the tokens issued before the revocation.
			if st := srv.verifyStatus(t, old); st != http.StatusUnauthorized {
				t.Errorf("%s: token issued before the revocation, after the restore: %d, want 401", name, st)
			}
			if st := srv.verifyStatus(t, fresh); st != http.StatusOK {
				t.Errorf("%s: token issued after the restore: %d, want 200", name, st)
			}
		}
		if a, b := jwtPayload(t, old)["sv"], jwtPayload(t, fresh)["sv"]; a == b {
			t.Fatalf("the restored domain's tokens carry the old secret version %v", a)
		}
	})
}

func TestAdminPlanSurvivesDeleteAndRecreate(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		ctx := context.Background()
		owner := s.user(t, "pia@example.com")
		other := s.user(t, "quinn@example.com")

		cases := []struct {
			host, registered, adminPlan, asked, note string
		}{
			{"down.example.com", "premium", "free", "premium", "An administrator put this host on the free plan"},
			{"up.example.com", "free", "premium", "free", "An administrator put this host on the premium plan"},
			{"same.example.com", "premium", "free", "free", ""},
		}
		for _, tc := range cases {
			owner.register(tc.host, tc.registered)
			id := strconv.FormatUint(domainIDOf(t, s, tc.host), 10)
			if r := admin.post("/admin/domains/"+id+"/plan", url.Values{"type": {tc.adminPlan}}); r.Status != http.StatusSeeOther {
				t.Fatalf("%s: plan: %d", tc.host, r.Status)
			}
			if r := owner.post("/domain/"+id+"/delete", nil); r.Status != http.StatusSeeOther {
				t.Fatalf("%s: delete: %d", tc.host, r.Status)
			}
			r := owner.post("/domain", url.Values{"host": {tc.host}, "type": {tc.asked}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("%s: re-registering: %d\n%s", tc.host, r.Status, r.Body)
			}
			r = owner.thenGet(r)
			mustContain(t, tc.host, r.Body, `data-testid="client-secret"`)
			if tc.note != "" {
				mustContain(t, tc.host, r.Body, tc.note)
			} else {
				mustNotContain(t, tc.host, r.Body, "An administrator put this host")
			}
			d := domainByHost(t, s, tc.host)
			if d.Plan != tc.adminPlan || d.Status != models.StatusActive {
				t.Errorf("%s re-registered as %s: %s/%s, want the admin's plan %s", tc.host, tc.asked, d.Status, d.Plan, tc.adminPlan)
			}
			sec := secretRe.FindStringSubmatch(r.Body)[1]
			if e, err := s.app.cache.Lookup(ctx, secret.Sum(sec)); err != nil || e.Plan != tc.adminPlan {
				t.Errorf("%s: the API's view: %+v %v, want plan %s", tc.host, e, err, tc.adminPlan)
			}
			// Again, on another port of the same host name.
			if err := s.app.domains.Delete(ctx, d.ID, d.UserID); err != nil {
				t.Fatal(err)
			}
			owner.post("/domain", url.Values{"host": {tc.host + ":8080"}, "type": {tc.asked}})
			if d := domainByHost(t, s, tc.host+":8080"); d.Plan != tc.adminPlan {
				t.Errorf("%s:8080 re-registered as %s: %s, want the admin's plan %s", tc.host, tc.asked, d.Plan, tc.adminPlan)
			}
			// Another owner's registration of the host is theirs to choose.
			other.register(tc.host, tc.asked)
			var od models.Domain
			s.app.db.Where("host = ? AND user_id = ?", tc.host, userID(t, s, "quinn@example.com")).Take(&od)
			if od.Plan != tc.asked {
				t.Errorf("%s: another owner asked %s and got %s", tc.host, tc.asked, od.Plan)
			}
		}

		// The latest decision counts: the admin moves the re-created domain
		// back, and that sticks in turn.
		id := domainIDOf(t, s, "down.example.com:8080")
		admin.post(fmt.Sprintf("/admin/domains/%d/plan", id), url.Values{"type": {"premium"}})
		owner.post(fmt.Sprintf("/domain/%d/delete", id), nil)
		owner.post("/domain", url.Values{"host": {"down.example.com"}, "type": {"free"}})
		if d := domainByHost(t, s, "down.example.com"); d.UserID != userID(t, s, "pia@example.com") || d.Plan != models.PlanPremium {
			t.Errorf("after the admin's second decision: %+v, want premium", d)
		}
	})
}
