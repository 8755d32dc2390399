package handlers

import (
	"context"
	"net/http"
	"strconv"
	"testing"
)

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
		if r := admin.post("/admin/domains/"+id+"/revoke", nil); r.Status != http.StatusSeeOther {
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
