package models_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

func TestAdminFiltersPastTheirIDLists(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		for i, email := range []string{"own1@example.com", "own2@example.com", "own3@example.com", "other@example.com"} {
			u, err := users.Insert(ctx, email, fmt.Sprintf("n%d", i), "password123")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := domains.Insert(ctx, u.ID, fmt.Sprintf("site%d.example.com", i), models.PlanFree); err != nil {
				t.Fatal(err)
			}
		}
		hosts := func(f models.DomainFilter) []string {
			rows, more, err := admin.ListDomains(ctx, f, 50, 0)
			if err != nil || more {
				t.Fatalf("list: %v (more %v)", err, more)
			}
			var out []string
			for _, r := range rows {
				if r.OwnerEmail == "" || r.OwnerNick == "" {
					t.Errorf("row without its owner: %+v", r)
				}
				out = append(out, r.Host)
			}
			return out
		}
		cases := []struct {
			name string
			f    models.DomainFilter
			want []string
		}{
			{"owner", models.DomainFilter{Owner: "own"}, []string{"site2.example.com", "site1.example.com", "site0.example.com"}},
			{"host", models.DomainFilter{Host: "site", Asc: true}, []string{"site0.example.com", "site1.example.com", "site2.example.com", "site3.example.com"}},
			{"owner and host", models.DomainFilter{Owner: "own", Host: "site1."}, []string{"site1.example.com"}},
		}
		check := func(how string) {
			for _, tc := range cases {
				if got := hosts(tc.f); !slices.Equal(got, tc.want) {
					t.Errorf("%s filter %s: %v, want %v", tc.name, how, got, tc.want)
				}
			}
		}
		check("with id lists")
		oldOwners, oldHosts := *models.MaxOwnerIDs, *models.MaxHostIDs
		*models.MaxOwnerIDs, *models.MaxHostIDs = 2, 1 // more match: the filters stay conditions
		defer func() { *models.MaxOwnerIDs, *models.MaxHostIDs = oldOwners, oldHosts }()
		check("past the id lists")
	})
}

func TestAdminChangeAndItsAuditEntryAreOne(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		u, err := models.NewUserModel(db, 2*time.Second, 4).Insert(ctx, "pat@example.com", "pat", "password123")
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := models.NewDomainModel(db, 2*time.Second).Insert(ctx, u.ID, "pat.example.com", models.PlanFree)
		if err != nil {
			t.Fatal(err)
		}
		admin := models.NewAdminModel(db, 2*time.Second)
		actor := models.Actor{ID: 99, Email: "root@example.com"}
		status := func() string {
			var got models.Domain
			if err := db.Take(&got, d.ID).Error; err != nil {
				t.Fatal(err)
			}
			return got.Status
		}

		// With no audit table the change cannot be recorded, so it is not made.
		if err := db.Migrator().DropTable(&models.AuditEntry{}); err != nil {
			t.Fatal(err)
		}
		if err := admin.Revoke(ctx, actor, d.ID, "abuse"); err == nil {
			t.Fatal("revoke succeeded without its audit entry")
		}
		if s := status(); s != models.StatusActive {
			t.Fatalf("status %s after a failed revoke: the change outlived its audit entry", s)
		}
		if err := models.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := admin.Revoke(ctx, actor, d.ID, "abuse"); err != nil {
			t.Fatal(err)
		}
		if s := status(); s != models.StatusRevoked {
			t.Fatalf("status %s after revoke", s)
		}

		// Refusals say which state stood in the way.
		err = admin.Revoke(ctx, actor, d.ID, "abuse")
		var se *models.StateError
		if !errors.Is(err, models.ErrWrongState) || !errors.As(err, &se) || se.Status != models.StatusRevoked ||
			se.Action != models.ActionRevoke || se.Reason != models.AlreadyRevoked {
			t.Fatalf("revoking twice: %v", err)
		}
		if err := admin.Revoke(ctx, actor, 424242, "abuse"); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("revoking an unknown domain: %v", err)
		}
		if err := admin.SetPlan(ctx, actor, d.ID, "gold"); err == nil {
			t.Fatal("an unknown plan was accepted")
		}
		entries, more, err := models.NewAuditModel(db, 2*time.Second).List(ctx, models.AuditFilter{DomainID: d.ID}, 10, 0)
		if err != nil || more || len(entries) != 1 {
			t.Fatalf("audit: %d entries (%v, more %v), want the one revoke", len(entries), err, more)
		}
		e := entries[0]
		if e.Action != models.ActionRevoke || e.ActorID != 99 || e.ActorEmail != "root@example.com" || e.UserID != u.ID ||
			e.Before != models.StatusActive || e.After != models.StatusRevoked || e.Host != "pat.example.com" || e.UserEmail != "pat@example.com" {
			t.Fatalf("audit entry: %+v", e)
		}
	})
}

// TestAdminDomainReadsAnyUsersDomain: the console's domain page reads one
// domain of any user, deleted ones too, with its owner and whether the
// owner is suspended (which the list marks too).
func TestAdminDomainReadsAnyUsersDomain(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		u, err := users.Insert(ctx, "quinn@example.com", "퀸", "password123")
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := domains.Insert(ctx, u.ID, "quinn.example.com", models.PlanPremium)
		if err != nil {
			t.Fatal(err)
		}
		actor := models.Actor{ID: 99, Email: "root@example.com"}
		if err := admin.Revoke(ctx, actor, d.ID, "spam"); err != nil {
			t.Fatal(err)
		}
		got, err := admin.Domain(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != d.ID || got.Host != "quinn.example.com" || got.OwnerEmail != "quinn@example.com" || got.OwnerNick != "퀸" ||
			got.Plan != models.PlanPremium || got.Status != models.StatusRevoked || got.RevokeReason != "spam" || got.OwnerSuspended {
			t.Fatalf("domain: %+v", got)
		}
		if _, _, err := admin.SetSuspended(ctx, actor, u.ID, true, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := admin.Domain(ctx, d.ID); err != nil || !got.OwnerSuspended {
			t.Fatalf("after suspending the owner: %+v %v", got, err)
		}
		rows, _, err := admin.ListDomains(ctx, models.DomainFilter{}, 50, 0)
		if err != nil || len(rows) != 1 || !rows[0].OwnerSuspended {
			t.Fatalf("the list after suspending the owner: %+v %v", rows, err)
		}
		for _, id := range []uint64{0, d.ID + 1000, models.MaxID + 1} {
			if _, err := admin.Domain(ctx, id); !errors.Is(err, models.ErrNoRecord) {
				t.Errorf("domain %d: %v, want ErrNoRecord", id, err)
			}
		}
	})
}
