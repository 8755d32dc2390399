package models_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// Two admins, each removing the other's role (or suspending the other) at
// the same moment: the admins' rows are locked first, so one change waits
// for the other and finds itself the last admin; one admin always remains.
func TestLastAdminUnderConcurrency(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		for _, how := range []string{"role", "suspend"} {
			t.Run(how, func(t *testing.T) {
				db := testdb.Fresh(t, driver)
				users := models.NewUserModel(db, 5*time.Second, 4)
				admin := models.NewAdminModel(db, 5*time.Second)
				var us [2]*models.User
				for i, email := range []string{"a@example.com", "b@example.com"} {
					u, err := users.Insert(ctx, email, email[:1], "password123")
					if err != nil {
						t.Fatal(err)
					}
					if err := users.SetAdmin(ctx, email, true); err != nil {
						t.Fatal(err)
					}
					us[i] = u
				}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i := range 2 {
					wg.Go(func() {
						me, other := us[i], us[1-i]
						actor := models.Actor{ID: me.ID, Email: me.Email}
						if how == "role" {
							_, errs[i] = admin.SetRole(ctx, actor, other.ID, false, nil)
						} else {
							_, _, errs[i] = admin.SetSuspended(ctx, actor, other.ID, true, nil)
						}
					})
				}
				wg.Wait()
				ok, last := 0, 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case errors.Is(err, models.ErrLastAdmin):
						last++
					case errors.Is(err, models.ErrUnavailable): // a deadlock MySQL broke: refused, nothing changed
					default:
						t.Fatal(err)
					}
				}
				var admins int64
				if err := db.Model(&models.User{}).Where("is_admin = ? AND suspended_at IS NULL", true).Count(&admins).Error; err != nil {
					t.Fatal(err)
				}
				if admins < 1 || ok > 1 {
					t.Fatalf("%d changes made, %d refused as the last admin: %d admins left", ok, last, admins)
				}
			})
		}
	})
}

// The audit filter's indexes exist after Migrate.
func TestAuditFilterIndexes(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		for _, name := range []string{"idx_audit_entries_action", "idx_audit_entries_actor_email", "idx_audit_entries_created_at"} {
			if !db.Migrator().HasIndex(&models.AuditEntry{}, name) {
				t.Errorf("no index %s", name)
			}
		}
		if !db.Migrator().HasIndex(&models.Domain{}, "idx_domains_premium_created") {
			t.Error("no index for the premium queue")
		}
	})
}
