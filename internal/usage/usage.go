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
	"sync/atomic"
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

// Counter is safe for concurrent use. Counting a domain already counted
// before the last flush takes no lock: its atomic counters are found in
// read, a map nobody writes once it is published. A domain first counted
// since the last flush is found in added, under mu, until the next flush
// publishes a new read map with it. Entries are kept for the life of the
// process, one small entry per domain that was used.
type Counter struct {
	store Store
	log   *slog.Logger
	now   func() time.Time

	read    atomic.Pointer[map[uint64]*counts]
	mu      sync.Mutex
	added   map[uint64]*counts
	flushMu sync.Mutex
	// pruned is the hour Run last pruned in (it prunes once an hour).
	pruned time.Time
	// shared, when set, keeps the counts in Redis (Share).
	shared *Shared
}

// counts are one domain's counts since the last flush, and the times of
// its last issued and refused token (Unix nanoseconds, 0 for never).
type counts struct {
	issued, refused         atomic.Int64
	lastIssued, lastRefused atomic.Int64
}

// New returns a Counter writing to store.
func New(store Store, log *slog.Logger) *Counter {
	c := &Counter{store: store, log: log, now: time.Now, added: map[uint64]*counts{}}
	c.read.Store(&map[uint64]*counts{})
	return c
}

// of returns domain id's counts, the same ones every time.
func (c *Counter) of(id uint64) *counts {
	if e, ok := (*c.read.Load())[id]; ok {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := (*c.read.Load())[id]; ok { // published since the first look
		return e
	}
	e, ok := c.added[id]
	if !ok {
		e = new(counts)
		c.added[id] = e
	}
	return e
}

// publish moves the domains first counted since the last flush into a new
// read map: one copy of the map per flush, and only when there are any.
func (c *Counter) publish() map[uint64]*counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	read := *c.read.Load()
	if len(c.added) == 0 {
		return read
	}
	m := make(map[uint64]*counts, len(read)+len(c.added))
	maps.Copy(m, read)
	maps.Copy(m, c.added)
	c.read.Store(&m)
	c.added = map[uint64]*counts{}
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
	e := c.of(id)
	storeLater(&e.lastIssued, c.now().UnixNano()) // before the count: a flush that sees the count sees the time
	e.issued.Add(1)
}

// Refused counts a refused token request for domain id.
func (c *Counter) Refused(id uint64) {
	if c.shared != nil && c.shared.add(id, false, c.now()) {
		return
	}
	e := c.of(id)
	storeLater(&e.lastRefused, c.now().UnixNano())
	e.refused.Add(1)
}

// storeLater sets t to at unless it already holds a later time (a
// goroutine delayed between reading the clock and storing would otherwise
// move the last use back).
func storeLater(t *atomic.Int64, at int64) {
	for {
		old := t.Load()
		if old >= at || t.CompareAndSwap(old, at) {
			return
		}
	}
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
	for id, e := range c.publish() { // domains counted after this are flushed next time
		d := models.UsageDelta{Issued: e.issued.Swap(0), Refused: e.refused.Swap(0)}
		if d.Issued > 0 {
			d.LastIssued = time.Unix(0, e.lastIssued.Load())
		}
		if d.Refused > 0 {
			d.LastRefused = time.Unix(0, e.lastRefused.Load())
		}
		if d.Issued > 0 || d.Refused > 0 {
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
		for _, id := range back { // entries are never removed: of finds the same counts
			d := batch[id]
			e := c.of(id)
			e.issued.Add(d.Issued)
			e.refused.Add(d.Refused)
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
