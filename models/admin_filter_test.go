package models_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// TestAdminFilterWithNULMatchesNothing: no stored email, nick or host
// holds a NUL (or another control character), so a filter text with one
// matches no row, on SQLite (whose LIKE would stop reading the pattern at
// the NUL and match everything) as on MariaDB, with the id lists and past
// them.
func TestAdminFilterWithNULMatchesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		for i := range 3 {
			u, err := users.Insert(ctx, fmt.Sprintf("own%d@example.com", i), fmt.Sprintf("nick%d", i), "password123")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := domains.Insert(ctx, u.ID, fmt.Sprintf("site%d.example.com", i), models.PlanFree); err != nil {
				t.Fatal(err)
			}
		}
		count := func(f models.DomainFilter) int {
			rows, _, err := admin.ListDomains(ctx, f, 50, 0)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			return len(rows)
		}
		if n := count(models.DomainFilter{Owner: "own", Host: "site"}); n != 3 {
			t.Fatalf("plain filters: %d rows, want 3", n)
		}
		filters := []models.DomainFilter{
			{Owner: "\x00"}, {Owner: "own\x00"}, {Owner: "\x00own"}, {Owner: "nick\x00"},
			{Host: "\x00"}, {Host: "site\x00"}, {Host: "\x00.example.com"},
			{Owner: "own", Host: "\x00"}, {Owner: "\x00", Host: "site"},
			{Owner: "own\x01"}, {Host: "site\x1f"}, {Owner: "own\t"},
		}
		check := func(how string) {
			for _, f := range filters {
				if n := count(f); n != 0 {
					t.Errorf("%s: filter owner %+q host %+q: %d rows, want none", how, f.Owner, f.Host, n)
				}
			}
		}
		check("with id lists")
		oldOwners, oldHosts := *models.MaxOwnerIDs, *models.MaxHostIDs
		*models.MaxOwnerIDs, *models.MaxHostIDs = 0, 0 // the filters stay conditions of the page's query
		defer func() { *models.MaxOwnerIDs, *models.MaxHostIDs = oldOwners, oldHosts }()
		check("past the id lists")
	})
}
