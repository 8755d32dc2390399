package models

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DomainUsage counts a domain's token requests per hour.
type DomainUsage struct {
	DomainID uint64    `gorm:"primaryKey;autoIncrement:false"`
	Hour     time.Time `gorm:"primaryKey"`
	Issued   int64     `gorm:"not null;default:0"`
	Refused  int64     `gorm:"not null;default:0"`
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

// usageChunk bounds the domains one statement of a flush covers. It must
// stay at most 500: the UPDATE joins a UNION of one SELECT per domain, and
// SQLite refuses a compound SELECT of more than 500 terms by default
// (TestUsageAddInChunks flushes more than two chunks on SQLite).
const usageChunk = 500

// Add folds the counts of one flush into the domains and their hourly
// rows: two statements per usageChunk domains, not two per domain, in one
// transaction (taken in id order, so that instances flushing at once lock
// rows in the same order). ctx bounds the whole flush (the flush interval,
// from usage.Counter), not the per-request query timeout: a flush of 10,000
// domains takes 0.3 to 0.6 s on MariaDB, more on a busy machine.
func (m *UsageModel) Add(ctx context.Context, hour time.Time, deltas map[uint64]UsageDelta) error {
	hour = hour.UTC().Truncate(time.Hour)
	ids := slices.Sorted(maps.Keys(deltas))
	return translate(m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for chunk := range slices.Chunk(ids, usageChunk) {
			if err := addChunk(tx, hour, chunk, deltas); err != nil {
				return err
			}
		}
		return nil
	}))
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
