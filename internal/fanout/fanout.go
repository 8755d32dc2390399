// Package fanout tells every instance at once that a domain changed, over a
// Redis Pub/Sub channel: the instance that changed a domain publishes its
// id, and every instance subscribed re-reads that domain from the
// database. A message says only "domains N, M changed" (or "some domains
// changed": read what changed): what the domains now are comes from the
// database, never from the message, so whoever can publish on the channel
// can make instances read rows, nothing more.
//
// Pub/Sub delivers at most once, to the instances subscribed at that
// moment: the database poll (the domain view's refresh) stays the safety
// net for messages lost while Redis or the link to it was down, and for
// instances that were starting. After each (re)subscription the instance
// refreshes its view at once, so a change missed while the link was down
// is read then rather than at the next poll.
package fanout

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fanout publishes and receives domain changes on one channel.
type Fanout struct {
	client  *redis.Client
	channel string
	// timeout bounds a publish and each wait for Redis's answer to a
	// subscription or a ping; probe is how long a subscription may stay
	// silent before it is pinged, and the pause between two attempts to
	// subscribe.
	timeout, probe time.Duration
	log            *slog.Logger

	subscribed atomic.Bool
	received   atomic.Uint64
}

// New returns a Fanout on channel of client.
func New(client *redis.Client, channel string, timeout, probe time.Duration, log *slog.Logger) *Fanout {
	return &Fanout{client: client, channel: channel, timeout: timeout, probe: probe, log: log}
}

// Publish tells the other instances that domains ids changed (none: some
// domains changed, read what changed), waiting at most the timeout. An
// error is only logged by callers: the poll carries the change instead.
func (f *Fanout) Publish(ctx context.Context, ids ...uint64) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	b := make([]byte, 0, 8*len(ids)+1)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, id, 10)
	}
	if len(ids) == 0 {
		b = append(b, refreshAll...)
	}
	return f.client.Publish(ctx, f.channel, b).Err()
}

// refreshAll is the message of changes that name no domain.
const refreshAll = "*"

// maxNamed is the most domains a message makes an instance read one by
// one; past it the instance reads what changed (one query).
const maxNamed = 10

// Subscribed reports whether the instance listens on the channel now.
func (f *Fanout) Subscribed() bool { return f.subscribed.Load() }

// Received is the number of change messages received and applied.
func (f *Fanout) Received() uint64 { return f.received.Load() }

// Run listens on the channel until ctx ends: apply is called with the id of
// each domain another instance (or this one) changed, and resync each time
// the subscription is made, or made again after a fault, and for a
// message that names no domain or more than maxNamed. A subscription
// that breaks (the connection closes) or goes silent (a ping not answered
// within the timeout) is made again every probe interval until Redis
// answers, each outage logged once.
func (f *Fanout) Run(ctx context.Context, apply func(ctx context.Context, id uint64), resync func(ctx context.Context)) {
	down := false // logged as down
	for ctx.Err() == nil {
		err := f.listen(ctx, apply, resync, func() {
			if down {
				f.log.Info("redis answers again: domain changes are received at once again")
				down = false
			}
			resync(ctx)
		})
		f.subscribed.Store(false)
		if ctx.Err() != nil {
			return
		}
		if !down {
			f.log.Warn("redis does not answer: domain changes made on other instances reach this one at the next refresh", "err", err)
			down = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(f.probe):
		}
	}
}

// errSilent is a subscription whose ping got no answer.
var errSilent = errors.New("fanout: the subscription did not answer a ping")

// listen subscribes, calls ready once Redis confirms it, then applies the
// messages until the subscription fails.
func (f *Fanout) listen(ctx context.Context, apply func(context.Context, uint64), resync func(context.Context), ready func()) error {
	ps := f.client.Subscribe(ctx, f.channel)
	defer ps.Close()
	if _, err := ps.ReceiveTimeout(ctx, f.timeout); err != nil { // the subscription's confirmation
		return err
	}
	f.subscribed.Store(true)
	ready()
	pinged := false
	for {
		wait := f.probe
		if pinged {
			wait = f.timeout
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		var ne interface{ Timeout() bool }
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil:
			if pinged {
				return errSilent
			}
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			pinged = true
			continue
		case err != nil:
			return err
		}
		pinged = false
		if m, ok := msg.(*redis.Message); ok {
			f.received.Add(1)
			ids, ok := parseIDs(m.Payload)
			if !ok {
				resync(ctx)
				continue
			}
			for _, id := range ids {
				apply(ctx, id)
			}
		}
	}
}

// parseIDs reads a message: up to maxNamed domain ids, comma-separated;
// false for anything else (read what changed instead). Only ids are read
// from a message.
func parseIDs(payload string) ([]uint64, bool) {
	parts := strings.Split(payload, ",")
	if len(parts) > maxNamed {
		return nil, false
	}
	ids := make([]uint64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseUint(p, 10, 64)
		if err != nil || id == 0 {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
