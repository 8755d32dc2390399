package models_test

import (
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// TestUsageHourlyAndPrune: Hourly reads one domain's hours from a time on,
// oldest first; Prune deletes the hours older than it is given, in
// batches, and leaves the rest.
func TestUsageHourlyAndPrune(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		usage := models.NewUsageModel(db, 2*time.Second)
		now := time.Now().UTC().Truncate(time.Hour)
		for h := range 10 * 24 {
			at := now.Add(-time.Duration(h) * time.Hour)
			err := usage.Add(ctx, at, map[uint64]models.UsageDelta{
				1: {Issued: int64(h), Refused: 1, LastIssued: at, LastRefused: at}, 2: {Issued: 5, LastIssued: at},
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		rows, err := usage.Hourly(ctx, 1, now.Add(-2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || !rows[0].Hour.Equal(now.Add(-2*time.Hour)) || rows[0].Issued != 2 || rows[2].Issued != 0 || rows[2].Refused != 1 {
			t.Fatalf("hourly: %+v", rows)
		}

		defer func(n int) { *models.PruneBatch = n }(*models.PruneBatch)
		*models.PruneBatch = 7 // several statements
		n, err := usage.Prune(ctx, now.Add(-models.UsageKept))
		if err != nil {
			t.Fatal(err)
		}
		// Hours 0..239 ago were written; those more than 192 hours ago go.
		if n != 2*(240-193) {
			t.Errorf("pruned %d rows, want %d", n, 2*(240-193))
		}
		var left []models.DomainUsage
		db.Order("hour").Find(&left)
		if len(left) != 2*193 || left[0].Hour.Before(now.Add(-models.UsageKept)) {
			t.Errorf("%d rows left, the oldest at %v", len(left), left[0].Hour)
		}
		if n, err := usage.Prune(ctx, now.Add(-models.UsageKept)); err != nil || n != 0 {
			t.Errorf("pruning again: %d %v", n, err)
		}
	})
}
