package models

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// default. On MySQL a chunk is one JSON parameter per statement, and
// each chunk's transaction holds its rows' locks for about a tenth of a
// second. (TestUsageAddInChunks flushes more than two chunks on each
// database.)
//
// usageWritersMySQL is how many chunks are written at once on MySQL
// (SQLite has one writer): at a million domains a chunk's rows are
// spread over pages the buffer pool rarely holds, so a chunk mostly
// waits on the disk, and four at once took about half the time of one
// after another (docs/performance.md). They take four connections of
// the pool for the length of a flush.
var (
	usageChunk        = 500
	usageChunkMySQL   = 2000
	usageWritersMySQL = 4
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
// domain, each chunk in its own transaction, its rows taken in id order
// (so that instances flushing at once lock rows in the same order), up
// to usageWritersMySQL chunks at once on MySQL. A transaction per chunk
// holds its rows' locks for a fraction of a second, where one for the
// whole flush held the locks of every domain used in the interval
// (100,000 of them: seconds) and made a rotation or an admin's change of
// any of them wait past its query timeout. Once a chunk fails no other
// starts; on failure Add returns an *UnwrittenError naming the domains
// whose counts it did not write (in id order), so that the caller puts
// back those counts only. ctx bounds the whole flush (the flush
// interval, from usage.Counter), not the per-request query timeout.
func (m *UsageModel) Add(ctx context.Context, hour time.Time, deltas map[uint64]UsageDelta) error {
	hour = hour.UTC().Truncate(time.Hour)
	ids := slices.Sorted(maps.Keys(deltas))
	db := m.db.WithContext(ctx)
	size, writers := chunkSize(db), 1
	if db.Dialector.Name() == "mysql" {
		writers = usageWritersMySQL
	}
	chunks := slices.Collect(slices.Chunk(ids, size))
	written := make([]bool, len(chunks)) // each set by its chunk's writer only
	var (
		wg     sync.WaitGroup
		slots  = make(chan struct{}, writers)
		mu     sync.Mutex
		failed error // the first failure; no chunk starts after it
	)
	for c, chunk := range chunks {
		slots <- struct{}{} // a writer is free: the chunks before it are written, failed or under way
		mu.Lock()
		stop := failed != nil
		mu.Unlock()
		if stop {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			err := db.Transaction(func(tx *gorm.DB) error { return addChunk(tx, hour, chunk, deltas) })
			mu.Lock()
			defer mu.Unlock()
			written[c] = err == nil
			failed = cmp.Or(failed, err)
		})
	}
	wg.Wait()
	if failed == nil {
		return nil
	}
	var unwritten []uint64
	for c, chunk := range chunks {
		if !written[c] {
			unwritten = append(unwritten, chunk...)
		}
	}
	return &UnwrittenError{Unwritten: unwritten, Err: translate(failed)}
}

// addChunk writes the counts of the domains ids: their hourly rows in one
// upsert, their totals in one UPDATE joined to the chunk's counts by
// primary key (a CASE per column, evaluating every WHEN for every row,
// took the database twice the time). UPDATE leaves updated_at alone:
// usage is not a change of the domain.
//
// On MySQL both statements read the counts from one JSON parameter
// (JSON_TABLE, MySQL 8 and MariaDB 10.6): a derived table of one SELECT
// per domain (UNION ALL), as on SQLite, cost MariaDB a tenth of a second
// a chunk of 2,000 just to prepare, and 8,000 placeholders a statement.
// SQLite keeps the UNION ALL: its json_each would read times back in a
// format of our making rather than the driver's.
func addChunk(tx *gorm.DB, hour time.Time, ids []uint64, deltas map[uint64]UsageDelta) error {
	const set = "tokens_issued = domains.tokens_issued + v.issued, " +
		"last_token_at = COALESCE(v.last_issued, domains.last_token_at), " +
		"last_failed_at = COALESCE(v.last_refused, domains.last_failed_at)"
	if tx.Dialector.Name() == "mysql" {
		counts := countsJSON(ids, deltas)
		err := tx.Exec("INSERT INTO domain_usages (domain_id, hour, issued, refused) "+
			"SELECT v.id, ?, v.issued, v.refused FROM "+countsTable+
			" ON DUPLICATE KEY UPDATE issued = domain_usages.issued + v.issued, refused = domain_usages.refused + v.refused",
			hour, counts).Error
		if err != nil {
			return err
		}
		return tx.Exec("UPDATE domains JOIN "+countsTable+" ON domains.id = v.id SET "+set, counts).Error
	}
	rows := make([]DomainUsage, len(ids))
	var counts strings.Builder // SELECT ? AS id, ... UNION ALL SELECT ?, ...: one row per domain
	vars := make([]any, 0, 4*len(ids))
	for i, id := range ids {
		d := deltas[id]
		rows[i] = DomainUsage{DomainID: id, Hour: hour, Issued: d.Issued, Refused: d.Refused}
		lastIssued, lastRefused := lastTimes(d)
		if i == 0 {
			counts.WriteString("SELECT ? AS id, ? AS issued, ? AS last_issued, ? AS last_refused")
		} else {
			counts.WriteString(" UNION ALL SELECT ?, ?, ?, ?")
		}
		vars = append(vars, id, d.Issued, lastIssued, lastRefused)
	}
	err := tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "domain_id"}, {Name: "hour"}},
		DoUpdates: clause.Assignments(map[string]any{
			"issued":  gorm.Expr("domain_usages.issued + excluded.issued"),
			"refused": gorm.Expr("domain_usages.refused + excluded.refused"),
		}),
	}).Create(&rows).Error
	if err != nil {
		return err
	}
	return tx.Exec("UPDATE domains SET "+set+" FROM ("+counts.String()+") AS v WHERE domains.id = v.id", vars...).Error
}

// lastTimes are the times a flush sets a domain's last token and last
// refusal to: nil (the time stays as it is) where it counted none.
func lastTimes(d UsageDelta) (lastIssued, lastRefused *time.Time) {
	if d.Issued > 0 {
		t := d.LastIssued.UTC()
		lastIssued = &t
	}
	if d.Refused > 0 {
		t := d.LastRefused.UTC()
		lastRefused = &t
	}
	return lastIssued, lastRefused
}

// countsTable is the table of a chunk's counts, v, read on MySQL from the
// JSON countsJSON makes. A member left out (a time not to set) is NULL.
const countsTable = "JSON_TABLE(?, '$[*]' COLUMNS (" +
	"id BIGINT UNSIGNED PATH '$.id', issued BIGINT PATH '$.i', refused BIGINT PATH '$.r', " +
	"last_issued DATETIME(6) PATH '$.li', last_refused DATETIME(6) PATH '$.lr')) AS v"

// countsJSON is the JSON array of the counts of ids, one object each, for
// countsTable; times in UTC to the microsecond, as the driver sends them.
func countsJSON(ids []uint64, deltas map[uint64]UsageDelta) string {
	const layout = "2006-01-02 15:04:05.000000"
	b := make([]byte, 0, 80*len(ids))
	b = append(b, '[')
	for i, id := range ids {
		d := deltas[id]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, `,"i":`...)
		b = strconv.AppendInt(b, d.Issued, 10)
		b = append(b, `,"r":`...)
		b = strconv.AppendInt(b, d.Refused, 10)
		lastIssued, lastRefused := lastTimes(d)
		if lastIssued != nil {
			b = append(b, `,"li":"`...)
			b = append(lastIssued.AppendFormat(b, layout), '"')
		}
		if lastRefused != nil {
			b = append(b, `,"lr":"`...)
			b = append(lastRefused.AppendFormat(b, layout), '"')
		}
		b = append(b, '}')
	}
	return string(append(b, ']'))
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
