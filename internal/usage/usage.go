// Package usage counts tokens issued and refused per domain in memory and
// writes the counts to the database in batches, off the request path.
package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
)

// Store is where counts are written (models.UsageModel).
type Store interface {
	Add(ctx context.Context, hour time.Time, deltas map[uint64]models.UsageDelta) error
}

// Pruner is a Store that also deletes old counts (models.UsageModel).
type Pruner interface {
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// Counter is safe for concurrent use. Counts are kept by domain in
// shards, each a map of plain values under its own lock; a flush swaps
// each shard's map for an empty one, so a domain's entry lives until the
// next flush, not for the life of the process.
type Counter struct {
	store Store
	log   *slog.Logger
	now   func() time.Time

	shards  [shards]shard
	flushMu sync.Mutex
	// pruned is the hour Run last pruned in (it prunes once an hour).
	pruned time.Time
	// shared, when set, keeps the counts in Redis (Share).
	shared *Shared
}

// shards spreads the counting over this many locks.
const shards = 32

type shard struct {
	mu     sync.Mutex
	counts map[uint64]counts
}

// counts are one domain's counts since the last flush, and the times of
// its last issued and refused token (Unix nanoseconds, 0 for none).
type counts struct {
	issued, refused         int64
	lastIssued, lastRefused int64
}

// New returns a Counter writing to store.
func New(store Store, log *slog.Logger) *Counter {
	c := &Counter{store: store, log: log, now: time.Now}
	for i := range c.shards {
		c.shards[i].counts = map[uint64]counts{}
	}
	return c
}

// add adds d to domain id's counts; a last use moves only forward (a
// goroutine delayed between reading the clock and counting would
// otherwise move it back).
func (c *Counter) add(id uint64, d counts) {
	s := &c.shards[id%shards]
	s.mu.Lock()
	e := s.counts[id]
	e.issued += d.issued
	e.refused += d.refused
	e.lastIssued = max(e.lastIssued, d.lastIssued)
	e.lastRefused = max(e.lastRefused, d.lastRefused)
	s.counts[id] = e
	s.mu.Unlock()
}

// take swaps shard i's counts for an empty map and returns them (nil
// when there are none).
func (c *Counter) take(i int) map[uint64]counts {
	s := &c.shards[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.counts
	if len(m) == 0 {
		return nil
	}
	s.counts = map[uint64]counts{}
	return m
}

// Share makes the counter keep its counts in Redis while Redis answers,
// and move them to the database when it holds the lease.
func (c *Counter) Share(s *Shared) { c.shared = s }

// Tally is domain id's count for the limits' script to make with a token
// request (no round trip of its own), or nil without Redis. When the
// script did not make it (Tally.Done false), Issued or Refused must.
func (c *Counter) Tally(id uint64) *ratelimit.Tally {
	if c.shared == nil {
		return nil
	}
	return c.shared.Tally(id, c.now())
}

// Issued counts a token issued for domain id.
func (c *Counter) Issued(id uint64) {
	if c.shared != nil && c.shared.add(id, true, c.now()) {
		return
	}
	c.add(id, counts{issued: 1, lastIssued: c.now().UnixNano()})
}

// Refused counts a refused token request for domain id.
func (c *Counter) Refused(id uint64) {
	if c.shared != nil && c.shared.add(id, false, c.now()) {
		return
	}
	c.add(id, counts{refused: 1, lastRefused: c.now().UnixNano()})
}

// Flush writes what was counted since the last flush. On failure the
// counts not written are put back (all of them, unless the store says
// which with a *models.UnwrittenError), so a database outage loses
// nothing and counts nothing twice. With Redis (Share) it also moves the
// counts kept there, when this instance gets the lease.
func (c *Counter) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	err := c.flushLocal(ctx)
	if c.shared != nil {
		if _, serr := c.shared.flush(ctx, c.now()); serr != nil {
			err = errors.Join(err, fmt.Errorf("the counts kept in Redis: %w", serr))
		}
	}
	return err
}

// flushLocal writes the counts kept in memory.
func (c *Counter) flushLocal(ctx context.Context) error {
	batch := map[uint64]models.UsageDelta{}
	for i := range c.shards { // what is counted after a shard is taken is flushed next time
		for id, e := range c.take(i) {
			d := models.UsageDelta{Issued: e.issued, Refused: e.refused}
			if e.issued > 0 {
				d.LastIssued = time.Unix(0, e.lastIssued)
			}
			if e.refused > 0 {
				d.LastRefused = time.Unix(0, e.lastRefused)
			}
			batch[id] = d
		}
	}
	if len(batch) == 0 {
		return nil
	}
	err := c.store.Add(ctx, c.now(), batch)
	if err != nil {
		back := slices.Collect(maps.Keys(batch))
		var ue *models.UnwrittenError
		if errors.As(err, &ue) {
			back = ue.Unwritten
		}
		for _, id := range back {
			d, ok := batch[id]
			if !ok {
				continue
			}
			e := counts{issued: d.Issued, refused: d.Refused}
			if d.Issued > 0 {
				e.lastIssued = d.LastIssued.UnixNano()
			}
			if d.Refused > 0 {
				e.lastRefused = d.LastRefused.UnixNano()
			}
			c.add(id, e)
		}
	}
	return err
}

// prune deletes the counts older than models.UsageKept, once an hour at
// most: the first flush of each hour, not every one, pays for it.
func (c *Counter) prune(ctx context.Context) {
	p, ok := c.store.(Pruner)
	hour := c.now().Truncate(time.Hour)
	if !ok || hour.Equal(c.pruned) {
		return
	}
	if _, err := p.Prune(ctx, c.now().Add(-models.UsageKept)); err != nil {
		c.log.Warn("pruning old usage counts", "err", err)
		return
	}
	c.pruned = hour
}

// Run flushes every interval until ctx ends, then flushes once more. Once
// an hour it also prunes old counts (Pruner).
func (c *Counter) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := c.Flush(fctx); err != nil {
				c.log.Warn("flushing usage counts at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, every)
			switch err := c.Flush(fctx); {
			case err != nil && ctx.Err() != nil:
				// Cut short by the shutdown: the counts are back, and the
				// shutdown's flush writes them.
			case err != nil:
				c.log.Warn("flushing usage counts", "err", err)
			default:
				c.prune(fctx)
			}
			cancel()
		}
	}
}
