package models_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// The audit log pages newest first, by domain or user, with each entry's
// host and owner: the page's ids are read alone, then joined.
func TestAuditListPages(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		audit := models.NewAuditModel(db, 2*time.Second)
		actor := models.Actor{ID: 1, Email: "root@example.com"}
		var ds []*models.Domain
		for i, email := range []string{"ann@example.com", "bob@example.com"} {
			u, err := users.Insert(ctx, email, fmt.Sprintf("n%d", i), "password123")
			if err != nil {
				t.Fatal(err)
			}
			d, _, err := domains.Insert(ctx, u.ID, email[:3]+".example", models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		// ann: revoke, restore, revoke; bob: premium, free.
		steps := []func() error{
			func() error { return admin.Revoke(ctx, actor, ds[0].ID, "abuse") },
			func() error { return admin.SetPlan(ctx, actor, ds[1].ID, models.PlanPremium) },
			func() error { _, err := admin.Restore(ctx, actor, ds[0].ID); return err },
			func() error { return admin.SetPlan(ctx, actor, ds[1].ID, models.PlanFree) },
			func() error { return admin.Revoke(ctx, actor, ds[0].ID, "abuse") },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		type line struct{ action, after, host, email string }
		list := func(f models.AuditFilter, limit, offset int) ([]line, bool) {
			rows, more, err := audit.List(ctx, f, limit, offset)
			if err != nil {
				t.Fatal(err)
			}
			var out []line
			for _, r := range rows {
				out = append(out, line{r.Action, r.After, r.Host, r.UserEmail})
			}
			return out, more
		}
		ann := func(action, after string) line { return line{action, after, "ann.example", "ann@example.com"} }
		bob := func(after string) line { return line{models.ActionPlan, after, "bob.example", "bob@example.com"} }
		cases := []struct {
			name          string
			f             models.AuditFilter
			limit, offset int
			want          []line
			more          bool
		}{
			{"all, first page", models.AuditFilter{}, 2, 0, []line{ann(models.ActionRevoke, models.StatusRevoked), bob(models.PlanFree)}, true},
			{"all, second page", models.AuditFilter{}, 2, 2, []line{ann(models.ActionRestore, models.StatusActive), bob(models.PlanPremium)}, true},
			{"all, last page", models.AuditFilter{}, 2, 4, []line{ann(models.ActionRevoke, models.StatusRevoked)}, false},
			{"one domain, paged", models.AuditFilter{DomainID: ds[1].ID}, 1, 1, []line{bob(models.PlanPremium)}, false},
			{"one user", models.AuditFilter{UserID: ds[0].UserID}, 10, 1, []line{ann(models.ActionRestore, models.StatusActive), ann(models.ActionRevoke, models.StatusRevoked)}, false},
			{"past the end", models.AuditFilter{}, 2, 10, nil, false},
		}
		for _, tc := range cases {
			got, more := list(tc.f, tc.limit, tc.offset)
			if !slices.Equal(got, tc.want) || more != tc.more {
				t.Errorf("%s: %v (more %v), want %v (more %v)", tc.name, got, more, tc.want, tc.more)
			}
		}
	})
}
