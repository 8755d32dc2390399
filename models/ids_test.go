package models_test

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// An id that names no row is ErrNoRecord (or an empty list) on every
// database, whether the database could hold it (MaxID) or not (above
// MaxID: SQLite's integers are signed 64-bit, and database/sql refuses a
// uint64 with its high bit set), and nothing is changed or audited.
func TestIDsThatNameNoRow(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		audit := models.NewAuditModel(db, 2*time.Second)
		u, err := users.Insert(ctx, "ids@example.com", "ids", "password123")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := domains.Insert(ctx, u.ID, "ids.example.com", models.PlanFree); err != nil {
			t.Fatal(err)
		}
		actor := models.Actor{ID: u.ID, Email: u.Email}
		auditEntries := func() int64 {
			var n int64
			if err := db.Model(&models.AuditEntry{}).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := auditEntries()

		for _, id := range []uint64{models.MaxID, models.MaxID + 1, math.MaxUint64} {
			t.Run(strconv.FormatUint(id, 10), func(t *testing.T) {
				noRecord := func(what string, err error) {
					t.Helper()
					if !errors.Is(err, models.ErrNoRecord) {
						t.Errorf("%s: %v, want ErrNoRecord", what, err)
					}
				}
				_, err := users.Get(ctx, id)
				noRecord("Users.Get", err)
				_, err = domains.GetForUser(ctx, id, u.ID)
				noRecord("Domains.GetForUser", err)
				_, _, err = domains.Rotate(ctx, id, u.ID)
				noRecord("Domains.Rotate", err)
				noRecord("Domains.Delete", domains.Delete(ctx, id, u.ID))
				noRecord("Admin.Revoke", admin.Revoke(ctx, actor, id, "abuse"))
				_, err = admin.Restore(ctx, actor, id)
				noRecord("Admin.Restore", err)
				noRecord("Admin.SetPlan", admin.SetPlan(ctx, actor, id, models.PlanPremium))
				if err := users.EndSessions(ctx, id); err != nil {
					t.Errorf("Users.EndSessions: %v, want nil (no such user, no sessions)", err)
				}
				for name, f := range map[string]models.AuditFilter{"domain": {DomainID: id}, "user": {UserID: id}} {
					if rows, more, err := audit.List(ctx, f, 10, 0); err != nil || len(rows) != 0 || more {
						t.Errorf("Audit.List by %s: %d rows, more %v, %v; want none", name, len(rows), more, err)
					}
				}
				if rows, more, err := admin.ListDomains(ctx, models.DomainFilter{OwnerID: id}, 10, 0); err != nil || len(rows) != 0 || more {
					t.Errorf("Admin.ListDomains by owner: %d rows, more %v, %v; want none", len(rows), more, err)
				}
			})
		}
		if n := auditEntries(); n != before {
			t.Errorf("%d audit entries written for ids that name no row", n-before)
		}
		if got, err := users.Get(ctx, u.ID); err != nil || got.SessionVersion != u.SessionVersion {
			t.Errorf("the real user changed: %+v %v", got, err)
		}
	})
}
