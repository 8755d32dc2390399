// Package ratelimit counts requests per key in fixed windows: a key's
// window starts with its first request and lasts the policy's window; the
// count starts over when it ends.
//
// A fixed window maps directly onto the IETF RateLimit header fields
// (quota, remaining, seconds until reset). Two implementations of Limiter
// apply that rule: Memory (New) counts in this process, with a hard bound
// on the number of keys it keeps, so that with N instances behind a
// balancer the effective limit is up to N times the configured one; Redis
// (NewRedis) counts in Redis, shared by every instance, and falls back to
// its own Memory while Redis does not answer (see Store).
package ratelimit

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

const shards = 32

// Policy is one limit: Quota requests per Window, named in the
// RateLimit-Policy header field.
type Policy struct {
	Name   string
	Quota  int
	Window time.Duration
}

// Limiter counts requests per key of type K against a limit per window.
// Implementations are safe for concurrent use and never fail: a Redis
// limiter that cannot reach Redis counts locally instead. AllowBoth counts
// one request against two limiters of the same implementation at once.
type Limiter[K comparable] interface {
	// Allow counts one request for key against limit per window.
	Allow(key K, limit int, per time.Duration) Result
	// Peek reports whether one more request would be allowed, without counting it.
	Peek(key K, limit int, per time.Duration) Result
	// Release gives back one request counted by Allow in key's current
	// window (an attempt that turned out not to count, such as a login
	// that succeeded).
	Release(key K)
	// Reset forgets key (for example after a successful login).
	Reset(key K)
}

// Memory is a Limiter counting in this process, per key of type K (a
// string, or a small struct that needs no formatting).
type Memory[K comparable] struct {
	// id orders the locks AllowBoth takes across two limiters.
	id      uint64
	now     func() time.Time
	perShrd int
	seed    maphash.Seed
	shards  [shards]shard[K]
}

type shard[K comparable] struct {
	mu      sync.Mutex
	windows map[K]*window
}

type window struct {
	end   time.Time
	count int
}

// Result is the outcome of one check.
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int
	// Reset is the time until the window ends (and the count starts over).
	Reset time.Duration
}

// ResetSeconds is Reset rounded up to whole seconds, at least 1.
func (r Result) ResetSeconds() int {
	return max(1, int(math.Ceil(r.Reset.Seconds())))
}

// New returns a Memory limiter keeping at most maxKeys keys. now may be nil.
func New[K comparable](maxKeys int, now func() time.Time) *Memory[K] {
	if now == nil {
		now = time.Now
	}
	l := &Memory[K]{id: lastID.Add(1), now: now, perShrd: max(1, maxKeys/shards), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].windows = map[K]*window{}
	}
	return l
}

// lastID numbers the limiters.
var lastID atomic.Uint64

func (l *Memory[K]) shard(key K) *shard[K] {
	return &l.shards[maphash.Comparable(l.seed, key)%shards]
}

// Allow counts one request for key against limit per window.
func (l *Memory[K]) Allow(key K, limit int, per time.Duration) Result {
	return l.take(key, limit, per, 1)
}

// Peek reports whether one more request would be allowed, without counting it.
func (l *Memory[K]) Peek(key K, limit int, per time.Duration) Result {
	return l.take(key, limit, per, 0)
}

// Release gives back one request counted by Allow in key's current window
// (an attempt that turned out not to count, such as a login that succeeded).
func (l *Memory[K]) Release(key K) {
	s := l.shard(key)
	s.mu.Lock()
	if w, ok := s.windows[key]; ok && w.count > 0 {
		w.count--
	}
	s.mu.Unlock()
}

// Reset forgets key (for example after a successful login).
func (l *Memory[K]) Reset(key K) {
	s := l.shard(key)
	s.mu.Lock()
	delete(s.windows, key)
	s.mu.Unlock()
}

func (l *Memory[K]) take(key K, limit int, per time.Duration, n int) Result {
	now := l.now()
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 {
		if w, ok := s.windows[key]; !ok || !now.Before(w.end) {
			return Result{Allowed: limit > 0, Limit: limit, Remaining: limit, Reset: per}
		}
	}
	w := s.current(key, now, per, l.perShrd)
	res := Result{Limit: limit, Reset: w.end.Sub(now)}
	if w.count+max(n, 1) > limit { // Peek asks whether one more would pass
		res.Remaining = max(0, limit-w.count)
		return res
	}
	w.count += n
	res.Allowed = true
	res.Remaining = limit - w.count
	return res
}

// current is key's window at now, started afresh when it has ended or
// the key is new (evicting first when the shard holds perShrd keys). The
// shard's lock is held.
func (s *shard[K]) current(key K, now time.Time, per time.Duration, perShrd int) *window {
	w, ok := s.windows[key]
	if ok && now.Before(w.end) {
		return w
	}
	if !ok {
		if len(s.windows) >= perShrd {
			s.evict(now)
		}
		w = &window{}
		s.windows[key] = w
	}
	w.end, w.count = now.Add(per), 0
	return w
}

// evict drops the windows that have ended; if none has, an arbitrary
// tenth of the shard (map iteration order is random), so that the shard
// stays bounded and the scan is paid once per many insertions.
func (s *shard[K]) evict(now time.Time) {
	dropped := 0
	for k, w := range s.windows {
		if !now.Before(w.end) {
			delete(s.windows, k)
			dropped++
		}
	}
	for k := range s.windows {
		if dropped >= max(1, len(s.windows)/10) {
			break
		}
		delete(s.windows, k)
		dropped++
	}
}

// Len is the number of keys held.
func (l *Memory[K]) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.windows)
		s.mu.Unlock()
	}
	return n
}
