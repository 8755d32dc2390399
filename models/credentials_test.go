package models_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// The queries the domain view is loaded with: pages by id of every domain
// in every status, the newest change, one domain by id.
func TestCredentialPages(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)

		if last, err := domains.LastChange(ctx); err != nil || !last.IsZero() {
			t.Fatalf("LastChange of an empty table: %v %v, want the zero time", last, err)
		}
		if page, err := domains.CredentialsAfter(ctx, 0, 10); err != nil || len(page) != 0 {
			t.Fatalf("a page of an empty table: %v %v", page, err)
		}

		var ids []uint64
		for u := 0; u < 3; u++ {
			user, err := users.Insert(ctx, fmt.Sprintf("pages%d@example.com", u), fmt.Sprint("페이지", u), "password123")
			if err != nil {
				t.Fatal(err)
			}
			for d := 0; d < 4; d++ {
				dom, _, err := domains.Insert(ctx, user.ID, fmt.Sprintf("p%d-%d.example.com", u, d), models.PlanFree)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, dom.ID)
			}
			if err := domains.Delete(ctx, ids[len(ids)-1], user.ID); err != nil {
				t.Fatal(err)
			}
		}
		deleted := ids[3]

		// A walk in pages of 5 returns every row once, by id, deleted ones too.
		var seen []uint64
		var statuses = map[string]int{}
		for after, pages := uint64(0), 0; ; pages++ {
			page, err := domains.CredentialsAfter(ctx, after, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 5 || pages > 5 {
				t.Fatalf("page %d has %d rows (limit 5)", pages, len(page))
			}
			for _, cr := range page {
				seen = append(seen, cr.ID)
				statuses[cr.Status]++
				if cr.Nick == "" || cr.Host == "" || cr.Plan != models.PlanFree || len(cr.SecretHash) != 64 ||
					cr.SecretVersion != 1 || cr.UpdatedAt.IsZero() {
					t.Errorf("row %+v: a column is missing", cr)
				}
			}
			if len(page) < 5 {
				break
			}
			after = page[len(page)-1].ID
		}
		if fmt.Sprint(seen) != fmt.Sprint(ids) {
			t.Errorf("rows %v, want %v", seen, ids)
		}
		if statuses[models.StatusDeleted] != 3 || statuses[models.StatusActive] != 9 {
			t.Errorf("statuses %v, want 9 active and 3 deleted", statuses)
		}

		// The newest change is the deletion of the last domain.
		all, err := domains.CredentialsChangedSince(ctx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		last, err := domains.LastChange(ctx)
		if newest := all[len(all)-1].UpdatedAt; err != nil || !last.Equal(newest) {
			t.Errorf("LastChange = %v %v, want %v", last, err, newest)
		}

		// One domain by id, whatever its status.
		if cr, err := domains.CredentialByID(ctx, deleted); err != nil || cr.ID != deleted || cr.Status != models.StatusDeleted {
			t.Errorf("CredentialByID(deleted) = %+v %v", cr, err)
		}
		if cr, err := domains.CredentialByID(ctx, ids[0]); err != nil || cr.Status != models.StatusActive || cr.Nick != "페이지0" {
			t.Errorf("CredentialByID(active) = %+v %v", cr, err)
		}
		for _, id := range []uint64{ids[len(ids)-1] + 1, 1 << 63} {
			if cr, err := domains.CredentialByID(ctx, id); !errors.Is(err, models.ErrNoRecord) {
				t.Errorf("CredentialByID(%d) = %+v %v, want ErrNoRecord", id, cr, err)
			}
		}

		// A domain whose owner is gone (deleted by hand, or between a
		// page's two queries) comes back as deleted, and the page stays full.
		orphans := ids[4:8]
		err = db.Connection(func(tx *gorm.DB) error {
			off, on := "SET foreign_key_checks = 0", "SET foreign_key_checks = 1"
			if driver == "sqlite" {
				off, on = "PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON"
			}
			if err := tx.Exec(off).Error; err != nil {
				return err
			}
			defer tx.Exec(on)
			return tx.Exec("DELETE FROM users WHERE email = ?", "pages1@example.com").Error
		})
		if err != nil {
			t.Fatal(err)
		}
		page, err := domains.CredentialsAfter(ctx, ids[1], 8)
		if err != nil || len(page) != 8 {
			t.Fatalf("a page with orphans: %d rows, %v; want 8", len(page), err)
		}
		for _, cr := range page {
			if orphan := slices.Contains(orphans, cr.ID); orphan != (cr.Status == models.StatusDeleted) && cr.ID != deleted {
				t.Errorf("row %d: status %s (orphan: %v)", cr.ID, cr.Status, orphan)
			}
		}

		// A page is bounded by its context only, not by the per-query
		// timeout that bounds every other query.
		hurried := models.NewDomainModel(db, time.Nanosecond)
		if _, err := hurried.CredentialsChangedSince(ctx, time.Time{}); !errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("a query under a 1 ns timeout: %v, want ErrUnavailable", err)
		}
		if page, err := hurried.CredentialsAfter(ctx, 0, 100); err != nil || len(page) != len(ids) {
			t.Errorf("a page under a 1 ns per-query timeout: %d rows, %v; want every row", len(page), err)
		}
	})
}
