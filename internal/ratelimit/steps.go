package ratelimit

import "time"

// Step is one limit AllowSteps counts a request against: Key of L, Limit
// requests per Per. A Step with Spill does not refuse a request it has no
// room for: the next Step counts it instead (a slower lane past a
// ceiling); when the Spill step has room, the next one is not looked at.
// The last Step must not spill.
type Step[K comparable] struct {
	L     Limiter[K]
	Key   K
	Limit int
	Per   time.Duration
	Spill bool
}

// AllowSteps counts one request against steps as Allow would one after
// the other, giving the counts back when one refuses: it looks at each
// step in turn and stops at the first without room (unless it spills);
// the request is then counted in none, and otherwise in every step looked
// at that had room. Only the steps looked at start a window.
//
// rs[i] is steps[i]'s Result as AllowBoth tells it (Allowed: the step had
// room; Remaining: what is left after this request), the zero Result for a
// step not looked at; refused is the index of the step that refused, or -1
// when the request passed. When every step is a Redis limiter of one
// Store, AllowSteps is one script, one round trip; otherwise the steps
// are counted one by one.
func AllowSteps[K comparable](steps ...Step[K]) (rs []Result, refused int) {
	if s, rl := redisSteps(steps); s != nil {
		cs, spill := make([]check, len(steps)), make([]bool, len(steps))
		for i, st := range steps {
			cs[i], spill[i] = rl[i].check(st.Key, st.Limit, st.Per, true), st.Spill
		}
		if rs, refused, ok := s.allowSteps(cs, spill); ok {
			return rs, refused
		}
		local := make([]Step[K], len(steps))
		for i, st := range steps {
			st.L = rl[i].local
			local[i] = st
		}
		steps = local
	}
	return allowStepsOneByOne(steps)
}

func allowStepsOneByOne[K comparable](steps []Step[K]) (rs []Result, refused int) {
	rs = make([]Result, len(steps))
	for i := 0; i < len(steps); i++ {
		st := steps[i]
		rs[i] = st.L.Allow(st.Key, st.Limit, st.Per)
		switch {
		case rs[i].Allowed && st.Spill:
			i++ // the slower lane is not needed
		case !rs[i].Allowed && !st.Spill:
			for j := range i {
				if rs[j].Allowed {
					steps[j].L.Release(steps[j].Key)
					rs[j].Remaining++
				}
			}
			return rs, i
		}
	}
	return rs, -1
}

// Undo is a count GiveBack gives back: one request of Key in L (as
// Release), or with Forget its whole window (as Reset).
type Undo[K comparable] struct {
	L      Limiter[K]
	Key    K
	Forget bool
}

// GiveBack gives back each of us. When every one is a Redis limiter of
// one Store, it is one script, one round trip.
func GiveBack[K comparable](us ...Undo[K]) {
	steps := make([]Step[K], len(us))
	for i, u := range us {
		steps[i] = Step[K]{L: u.L}
	}
	if s, rl := redisSteps(steps); s != nil {
		keys, forget := make([]string, len(us)), make([]bool, len(us))
		for i, u := range us {
			keys[i], forget[i] = rl[i].table+rl[i].key(u.Key), u.Forget
		}
		if s.release(keys, forget) {
			return
		}
		for i := range us {
			us[i].L = rl[i].local
		}
	}
	for _, u := range us {
		if u.Forget {
			u.L.Reset(u.Key)
		} else {
			u.L.Release(u.Key)
		}
	}
}

// redisSteps is the Store and the Redis limiters of steps when every one
// is a Redis limiter of one Store, else nil.
func redisSteps[K comparable](steps []Step[K]) (*Store, []*Redis[K]) {
	rl := make([]*Redis[K], len(steps))
	var s *Store
	for i, st := range steps {
		r, ok := st.L.(*Redis[K])
		if !ok || s != nil && r.store != s {
			return nil, nil
		}
		s, rl[i] = r.store, r
	}
	return s, rl
}
