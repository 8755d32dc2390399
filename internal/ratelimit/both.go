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
// after this request. Both counts are one atomic step: in Memory under
// both keys' locks, in Redis one script (one round trip).
//
// la and lb must be two different limiters of the same implementation
// (each kind of key in its own table, so that flooding one cannot evict
// the other; two Redis limiters of one Store); AllowBoth panics otherwise.
func AllowBoth[A, B comparable](la Limiter[A], a A, limitA int, lb Limiter[B], b B, limitB int, per time.Duration) (ra, rb Result) {
	switch la := la.(type) {
	case *Memory[A]:
		if lb, ok := lb.(*Memory[B]); ok {
			return allowBothMemory(la, a, limitA, lb, b, limitB, per)
		}
	case *Redis[A]:
		if lb, ok := lb.(*Redis[B]); ok && la.store == lb.store && la.table != lb.table {
			return allowBothRedis(la, a, limitA, lb, b, limitB, per)
		}
	}
	panic("ratelimit: AllowBoth needs two different limiters of one implementation")
}

func allowBothMemory[A, B comparable](la *Memory[A], a A, limitA int, lb *Memory[B], b B, limitB int, per time.Duration) (ra, rb Result) {
	if la.id == lb.id {
		panic("ratelimit: AllowBoth needs two different limiters")
	}
	now := la.now() // both on la's clock
	nowA, nowB := now.Sub(la.start), now.Sub(lb.start)
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
	wa := sa.current(a, nowA, per, la.perShrd)
	wb := sb.current(b, nowB, per, lb.perShrd)
	ra = Result{Allowed: wa.count < limitA, Limit: limitA, Reset: wa.end - nowA}
	rb = Result{Allowed: wb.count < limitB, Limit: limitB, Reset: wb.end - nowB}
	if ra.Allowed && rb.Allowed {
		wa.count++
		wb.count++
	}
	sa.windows[a], sb.windows[b] = wa, wb
	ra.Remaining, rb.Remaining = max(0, limitA-wa.count), max(0, limitB-wb.count)
	sb.mu.Unlock()
	sa.mu.Unlock()
	return ra, rb
}

// Gate is a limit a request must have room in without counting against it
// (as Peek tells): a client network's count of bad secrets, say, before a
// good secret of it is counted against a domain's quota.
type Gate[G comparable] struct {
	L     Limiter[G]
	Key   G
	Limit int
	Per   time.Duration
}

// AllowGated is la.Allow(a, limitA, per) when g has room: rg is g's Peek,
// and ra counts only when rg.Allowed (ra is the zero Result otherwise). In
// Redis both are one script, one round trip, which also makes the tally,
// if one is given (at most one). g.L and la must be of one
// implementation, as for AllowBoth.
func AllowGated[G, A comparable](g Gate[G], la Limiter[A], a A, limitA int, per time.Duration, tally ...*Tally) (rg, ra Result) {
	if gr, ok := g.L.(*Redis[G]); ok {
		if lr, ok := la.(*Redis[A]); ok && gr.store == lr.store {
			if rs, ok := gr.store.allow(first(tally), gr.check(g.Key, g.Limit, g.Per, false), lr.check(a, limitA, per, true)); ok {
				if !rs[0].Allowed {
					return rs[0], Result{}
				}
				return rs[0], rs[1]
			}
			g.L, la = gr.local, lr.local
		}
	}
	if rg = g.L.Peek(g.Key, g.Limit, g.Per); !rg.Allowed {
		return rg, Result{}
	}
	return rg, la.Allow(a, limitA, per)
}

// AllowBothGated is AllowBoth when g has room: rg is g's Peek, and ra and
// rb count only when rg.Allowed (they are zero Results otherwise). In Redis
// the three are one script, one round trip, which also makes the tally, if
// one is given (at most one). The limiters must be of one implementation,
// as for AllowBoth.
func AllowBothGated[G, A, B comparable](g Gate[G], la Limiter[A], a A, limitA int, lb Limiter[B], b B, limitB int, per time.Duration, tally ...*Tally) (rg, ra, rb Result) {
	if gr, ok := g.L.(*Redis[G]); ok {
		lra, okA := la.(*Redis[A])
		lrb, okB := lb.(*Redis[B])
		if okA && okB && gr.store == lra.store && lra.store == lrb.store && lra.table != lrb.table {
			rs, ok := gr.store.allow(first(tally), gr.check(g.Key, g.Limit, g.Per, false), lra.check(a, limitA, per, true), lrb.check(b, limitB, per, true))
			if ok {
				if !rs[0].Allowed {
					return rs[0], Result{}, Result{}
				}
				return rs[0], rs[1], rs[2]
			}
			g.L, la, lb = gr.local, lra.local, lrb.local
		}
	}
	if rg = g.L.Peek(g.Key, g.Limit, g.Per); !rg.Allowed {
		return rg, Result{}, Result{}
	}
	ra, rb = AllowBoth(la, a, limitA, lb, b, limitB, per)
	return rg, ra, rb
}

// first is the tally given, or nil.
func first(tally []*Tally) *Tally {
	if len(tally) == 0 {
		return nil
	}
	return tally[0]
}
