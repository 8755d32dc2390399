// Package usage counts tokens issued and refused per domain in memory and
// writes the counts to the database in batches, off the request path.
package usage

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

// Store is where counts are written (models.UsageModel).
type Store interface {
	Add(ctx context.Context, hour time.Time, deltas map[uint64]models.UsageDelta) error
}

// Counter is safe for concurrent use.
type Counter struct {
	store Store
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	pending map[uint64]models.UsageDelta
}

// New returns a Counter writing to store.
func New(store Store, log *slog.Logger) *Counter {
	return &Counter{store: store, log: log, now: time.Now, pending: map[uint64]models.UsageDelta{}}
}

// Issued counts a token issued for domain id.
func (c *Counter) Issued(id uint64) {
	now := c.now()
	c.mu.Lock()
	d := c.pending[id]
	d.Issued++
	d.LastIssued = now
	c.pending[id] = d
	c.mu.Unlock()
}

// Refused counts a refused token request for domain id.
func (c *Counter) Refused(id uint64) {
	now := c.now()
	c.mu.Lock()
	d := c.pending[id]
	d.Refused++
	d.LastRefused = now
	c.pending[id] = d
	c.mu.Unlock()
}

// Flush writes what was counted since the last flush. On failure the
// counts are put back, so a database outage loses nothing.
func (c *Counter) Flush(ctx context.Context) error {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return nil
	}
	batch := c.pending
	c.pending = map[uint64]models.UsageDelta{}
	c.mu.Unlock()
	err := c.store.Add(ctx, c.now(), batch)
	if err != nil {
		c.mu.Lock()
		for id, d := range batch {
			p := c.pending[id]
			p.Issued += d.Issued
			p.Refused += d.Refused
			if d.LastIssued.After(p.LastIssued) {
				p.LastIssued = d.LastIssued
			}
			if d.LastRefused.After(p.LastRefused) {
				p.LastRefused = d.LastRefused
			}
			c.pending[id] = p
		}
		c.mu.Unlock()
	}
	return err
}

// Run flushes every interval until ctx ends, then flushes once more.
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
			if err := c.Flush(fctx); err != nil {
				c.log.Warn("flushing usage counts", "err", err)
			}
			cancel()
		}
	}
}
