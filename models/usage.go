package models

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DomainUsage counts a domain's token requests per hour.
type DomainUsage struct {
	DomainID uint64 `gorm:"primaryKey;autoIncrement:false"`
	// The hour index serves Prune: a range of old hours across domains.
	Hour    time.Time `gorm:"primaryKey;index"`
	Issued  int64     `gorm:"not null;default:0"`
	Refused int64     `gorm:"not null;default:0"`
}

// UsageDelta is what one instance counted for a domain since its last flush.
type UsageDelta struct {
	Issued, Refused int64
	LastIssued      time.Time
	LastRefused     time.Time
}

// UsageModel stores token counts, written in batches off the request path.
type UsageModel struct{ conn }

// NewUsageModel returns a UsageModel.
func NewUsageModel(db *gorm.DB, timeout time.Duration) *UsageModel {
	return &UsageModel{conn{db, timeout}}
}

// usageChunk bounds the domains one statement of a flush covers on SQLite.
// It must stay at most 500: the UPDATE joins a UNION of one SELECT per
// domain, and SQLite refuses a compound SELECT of more than 500 terms by
// default. MySQL has no such limit; usageChunkMySQL domains make 4 x 2,000
// placeholders a statement, far from its 65,535, and each chunk's
// transaction holds its rows' locks for about a tenth of a second.
// (TestUsageAddInChunks flushes more than two chunks on each database.)
var (
	usageChunk      = 500
	usageChunkMySQL = 2000
)

// chunkSize is how many domains one statement of a flush covers on db.
func chunkSize(db *gorm.DB) int {
	if db.Dialector.Name() == "mysql" {
		return usageChunkMySQL
	}
	return usageChunk
}

// UnwrittenError is what Add returns when it stops part way: the counts of
// the domains Unwritten were not written; those of the others were, and
// stay written. Err says why.
type UnwrittenError struct {
	Unwritten []uint64
	Err       error
}

func (e *UnwrittenError) Error() string {
	return fmt.Sprintf("models: the counts of %d domains were not written: %v", len(e.Unwritten), e.Err)
}

// Unwrap makes errors.Is(err, ErrUnavailable) and the like see Err.
func (e *UnwrittenError) Unwrap() error { return e.Err }

// Add folds the counts of one flush into the domains and their hourly
// rows: two statements per chunk of domains (chunkSize), not two per
// domain, each chunk in its own transaction, taken in id order (so that
// instances flushing at once lock rows in the same order). A transaction
// per chunk holds its rows' locks for a fraction of a second, where one
// for the whole flush held the locks of every domain used in the interval
// (100,000 of them: seconds) and made a rotation or an admin's change of
// any of them wait past its query timeout. On failure Add returns an
// *UnwrittenError naming the domains whose counts it did not write, so
// that the caller puts back those counts only. ctx bounds the whole
// flush (the flush interval, from usage.Counter), not the per-request
// query timeout: on MariaDB, 100,000 domains take about 3 s (README).
func (m *UsageModel) Add(ctx context.Context, hour time.Time, deltas map[uint64]UsageDelta) error {
	hour = hour.UTC().Truncate(time.Hour)
	ids := slices.Sorted(maps.Keys(deltas))
	db := m.db.WithContext(ctx)
	size := chunkSize(db)
	for i := 0; i < len(ids); i += size {
		chunk := ids[i:min(i+size, len(ids))]
		err := db.Transaction(func(tx *gorm.DB) error { return addChunk(tx, hour, chunk, deltas) })
		if err != nil {
			return &UnwrittenError{Unwritten: ids[i:], Err: translate(err)}
		}
	}
	return nil
}

// addChunk writes the counts of the domains ids: their hourly rows in one
// upsert, their totals in one UPDATE joined to the chunk's counts (a CASE
// per column, evaluating every WHEN for every row, took the database twice
// the time). UPDATE leaves updated_at alone: usage is not a change of the
// domain.
func addChunk(tx *gorm.DB, hour time.Time, ids []uint64, deltas map[uint64]UsageDelta) error {
	rows := make([]DomainUsage, len(ids))
	var counts strings.Builder // SELECT ? AS id, ... UNION ALL SELECT ?, ...: one row per domain
	vars := make([]any, 0, 4*len(ids))
	for i, id := range ids {
		d := deltas[id]
		rows[i] = DomainUsage{DomainID: id, Hour: hour, Issued: d.Issued, Refused: d.Refused}
		var lastIssued, lastRefused *time.Time // NULL: the time stays as it is
		if d.Issued > 0 {
			t := d.LastIssued.UTC()
			lastIssued = &t
		}
		if d.Refused > 0 {
			t := d.LastRefused.UTC()
			lastRefused = &t
		}
		if i == 0 {
			counts.WriteString("SELECT ? AS id, ? AS issued, ? AS last_issued, ? AS last_refused")
		} else {
			counts.WriteString(" UNION ALL SELECT ?, ?, ?, ?")
		}
		vars = append(vars, id, d.Issued, lastIssued, lastRefused)
	}
	mysql := tx.Dialector.Name() == "mysql"
	added := func(col string) clause.Expr { // the row's count plus the one being inserted
		if mysql {
			return gorm.Expr("domain_usages." + col + " + VALUES(" + col + ")")
		}
		return gorm.Expr("domain_usages." + col + " + excluded." + col)
	}
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "domain_id"}, {Name: "hour"}},
		DoUpdates: clause.Assignments(map[string]any{"issued": added("issued"), "refused": added("refused")}),
	}).Create(&rows).Error
	if err != nil {
		return err
	}
	const set = "tokens_issued = domains.tokens_issued + v.issued, " +
		"last_token_at = COALESCE(v.last_issued, domains.last_token_at), " +
		"last_failed_at = COALESCE(v.last_refused, domains.last_failed_at)"
	update := "UPDATE domains SET " + set + " FROM (" + counts.String() + ") AS v WHERE domains.id = v.id"
	if mysql {
		update = "UPDATE domains JOIN (" + counts.String() + ") AS v ON domains.id = v.id SET " + set
	}
	return tx.Exec(update, vars...).Error
}

// Recent sums each of the user's domains' counts since since.
func (m *UsageModel) Recent(ctx context.Context, domainIDs []uint64, since time.Time) (map[uint64]UsageDelta, error) {
	out := map[uint64]UsageDelta{}
	if len(domainIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		DomainID        uint64
		Issued, Refused int64
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Model(&DomainUsage{}).Select("domain_id, SUM(issued) AS issued, SUM(refused) AS refused").
		Where("domain_id IN ? AND hour >= ?", domainIDs, since.UTC().Truncate(time.Hour)).
		Group("domain_id").Scan(&rows).Error
	for _, r := range rows {
		out[r.DomainID] = UsageDelta{Issued: r.Issued, Refused: r.Refused}
	}
	return out, translate(err)
}

// Hourly returns the domain's hourly counts from since on, oldest first:
// a range of the primary key.
func (m *UsageModel) Hourly(ctx context.Context, domainID uint64, since time.Time) ([]DomainUsage, error) {
	var rows []DomainUsage
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Where("domain_id = ? AND hour >= ?", domainID, since.UTC().Truncate(time.Hour)).
		Order("hour").Find(&rows).Error
	return rows, translate(err)
}

// pruneBatch bounds the rows one statement of Prune deletes, so that each
// holds its locks briefly.
var pruneBatch = 5000

// UsageKept is how long hourly counts are kept: the domain page charts
// the last seven days.
const UsageKept = 8 * 24 * time.Hour

// Prune deletes the hourly counts of hours before before, pruneBatch rows
// a statement (read from the hour index), and returns how many it deleted.
// ctx bounds the whole of it.
func (m *UsageModel) Prune(ctx context.Context, before time.Time) (int64, error) {
	db := m.db.WithContext(ctx)
	before = before.UTC()
	q := "DELETE FROM domain_usages WHERE rowid IN (SELECT rowid FROM domain_usages WHERE hour < ? LIMIT ?)"
	if db.Dialector.Name() == "mysql" {
		q = "DELETE FROM domain_usages WHERE hour < ? LIMIT ?"
	}
	var total int64
	for {
		res := db.Exec(q, before, pruneBatch)
		if res.Error != nil {
			return total, translate(res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < int64(pruneBatch) {
			return total, nil
		}
	}
}
