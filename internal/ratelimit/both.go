package ratelimit

import "time"

// AllowBoth counts one request against two limits at once: key a of la
// against limitA, and key b of lb against limitB, in windows of per (on
// la's clock). The request is counted in both when both have room, and in
// neither otherwise, so that a request one limit refuses spends nothing of
// the other. Both counts are decided under both keys' locks: concurrent
// requests are counted exactly.
//
// Each Result tells its own limit's state: Allowed says whether that limit
// had room (the request passed only when both did), Remaining what is left
// after this request. la and lb must be two different limiters (each kind
// of key in its own table, so that flooding one cannot evict the other);
// AllowBoth panics otherwise.
func AllowBoth[A, B comparable](la *Limiter[A], a A, limitA int, lb *Limiter[B], b B, limitB int, per time.Duration) (ra, rb Result) {
	if la.id == lb.id {
		panic("ratelimit: AllowBoth needs two different limiters")
	}
	now := la.now()
	sa, sb := la.shard(a), lb.shard(b)
	// Locks are always taken in the order of the limiters' ids, so that
	// two AllowBoth calls naming the same limiters in either order cannot
	// wait on each other.
	if la.id < lb.id {
		sa.mu.Lock()
		sb.mu.Lock()
	} else {
		sb.mu.Lock()
		sa.mu.Lock()
	}
	wa := sa.current(a, now, per, la.perShrd)
	wb := sb.current(b, now, per, lb.perShrd)
	ra = Result{Allowed: wa.count < limitA, Limit: limitA, Reset: wa.end.Sub(now)}
	rb = Result{Allowed: wb.count < limitB, Limit: limitB, Reset: wb.end.Sub(now)}
	if ra.Allowed && rb.Allowed {
		wa.count++
		wb.count++
	}
	ra.Remaining, rb.Remaining = max(0, limitA-wa.count), max(0, limitB-wb.count)
	sb.mu.Unlock()
	sa.mu.Unlock()
	return ra, rb
}
