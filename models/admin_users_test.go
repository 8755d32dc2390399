package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// An admin's limit for one account: Insert follows it instead of the
// default, each change is one audit entry, and nil is the default again.
func TestSetDomainLimit(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		domains.MaxPerUser = 1
		admin := models.NewAdminModel(db, 2*time.Second)
		actor := models.Actor{ID: 99, Email: "root@example.com"}
		u, err := users.Insert(ctx, "limited@example.com", "lim", "password123")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := domains.Insert(ctx, u.ID, "one.example.com", models.PlanFree); err != nil {
			t.Fatal(err)
		}
		if _, _, err := domains.Insert(ctx, u.ID, "two.example.com", models.PlanFree); !errors.Is(err, models.ErrDomainLimit) {
			t.Fatalf("second domain at the default of 1: %v", err)
		}
		three := 3
		for i, want := range []bool{true, false} {
			changed, err := admin.SetDomainLimit(ctx, actor, u.ID, &three)
			if err != nil || changed != want {
				t.Fatalf("set 3, time %d: %v %v, want changed=%v", i+1, changed, err, want)
			}
		}
		if got, _ := users.Get(ctx, u.ID); got.MaxDomains == nil || *got.MaxDomains != 3 || got.DomainLimit(1) != 3 {
			t.Fatalf("stored limit: %v", got.MaxDomains)
		}
		for _, h := range []string{"two.example.com", "three.example.com"} {
			if _, _, err := domains.Insert(ctx, u.ID, h, models.PlanFree); err != nil {
				t.Fatalf("%s under the raised limit: %v", h, err)
			}
		}
		if _, _, err := domains.Insert(ctx, u.ID, "four.example.com", models.PlanFree); !errors.Is(err, models.ErrDomainLimit) {
			t.Fatalf("fourth domain at 3: %v", err)
		}
		if changed, err := admin.SetDomainLimit(ctx, actor, u.ID, nil); err != nil || !changed {
			t.Fatalf("back to the default: %v %v", changed, err)
		}
		if got, _ := users.Get(ctx, u.ID); got.MaxDomains != nil || got.DomainLimit(7) != 7 {
			t.Fatalf("limit after the default: %v", got.MaxDomains)
		}
		var entries []models.AuditEntry
		if err := db.Order("id").Find(&entries).Error; err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("%d audit entries, want 2: %+v", len(entries), entries)
		}
		for i, want := range [][2]string{{"default", "3"}, {"3", "default"}} {
			e := entries[i]
			if e.Action != models.ActionDomainLimit || e.UserID != u.ID || e.DomainID != 0 || e.ActorID != actor.ID ||
				e.ActorEmail != actor.Email || e.Before != want[0] || e.After != want[1] {
				t.Errorf("entry %d: %+v, want %s → %s", i, e, want[0], want[1])
			}
		}
		if _, err := admin.SetDomainLimit(ctx, actor, 424242, &three); !errors.Is(err, models.ErrNoRecord) {
			t.Errorf("unknown user: %v", err)
		}
		for _, bad := range []int{0, -1, models.MaxDomainLimit + 1} {
			if _, err := admin.SetDomainLimit(ctx, actor, u.ID, &bad); err == nil {
				t.Errorf("limit %d accepted", bad)
			}
		}
	})
}
