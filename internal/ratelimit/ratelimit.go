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
	"maps"
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
	id  uint64
	now func() time.Time
	// start is now() when the limiter was made: windows end at a time
	// since start, so that they hold no pointer (a time.Time does).
	start   time.Time
	perShrd int
	seed    maphash.Seed
	shards  [shards]shard[K]
}

type shard[K comparable] struct {
	mu sync.Mutex
	// windows are held by value: no allocation a key, and with a key of
	// no pointer, nothing in the map for the collector to scan.
	windows map[K]window
	// dropped counts the keys evict dropped since it last copied windows.
	dropped int
}

// window is a key's count in the window that ends at end (since the
// limiter's start).
type window struct {
	end   time.Duration
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
	l := &Memory[K]{id: lastID.Add(1), now: now, start: now(), perShrd: max(1, maxKeys/shards), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].windows = map[K]window{}
	}
	return l
}

// since is the time from the limiter's start to now (on the monotonic
// clock when both readings have it, as time.Time's comparisons are).
func (l *Memory[K]) since() time.Duration { return l.now().Sub(l.start) }

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
		s.windows[key] = w
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
	now := l.since()
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 {
		if w, ok := s.windows[key]; !ok || now >= w.end {
			return Result{Allowed: limit > 0, Limit: limit, Remaining: limit, Reset: per}
		}
	}
	w := s.current(key, now, per, l.perShrd)
	res := Result{Limit: limit, Reset: w.end - now}
	if w.count+max(n, 1) <= limit { // Peek asks whether one more would pass
		w.count += n
		res.Allowed = true
	}
	if n > 0 { // a Peek found a running window and changed nothing
		s.windows[key] = w
	}
	res.Remaining = max(0, limit-w.count)
	return res
}

// current is key's window at now, started afresh when it has ended or
// the key is new (evicting first when the shard holds perShrd keys), for
// the caller to store back. The shard's lock is held.
func (s *shard[K]) current(key K, now, per time.Duration, perShrd int) window {
	w, ok := s.windows[key]
	if ok && now < w.end {
		return w
	}
	if !ok && len(s.windows) >= perShrd {
		s.evict(now)
	}
	return window{end: now + per}
}

// evict drops the windows that have ended; if none has, an arbitrary
// tenth of the shard (map iteration order is random), so that the shard
// stays bounded and the scan is paid once per many insertions.
//
// Once it has dropped half as many keys as the shard holds, it copies
// the shard into a fresh map: a Go map never shrinks, and one that is
// only deleted from and inserted into grows past its keys (measured: 3.4
// to 3.5 times the bytes a key after a million keys went through
// 100,000; 1.2 to 1.3 times with the copies).
func (s *shard[K]) evict(now time.Duration) {
	dropped := 0
	for k, w := range s.windows {
		if now >= w.end {
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
	if s.dropped += dropped; s.dropped >= len(s.windows)/2 {
		fresh := make(map[K]window, len(s.windows)+dropped)
		maps.Copy(fresh, s.windows)
		s.windows, s.dropped = fresh, 0
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
