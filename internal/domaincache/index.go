package domaincache

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
)

// index finds records by a key: an open-addressing hash table of slot
// numbers, 4 bytes a cell, kept at most half full (so 8 to 16 bytes an
// entry, where a Go map of the same costs 30 to 50). The keys are not
// stored: key reads a slot's key from its record, and a lookup compares
// the key of each slot it meets with the one it looks for. Collisions go
// to the next cell (linear probing); a removal moves the cells after it
// back (backward-shift deletion), so no cell is ever marked deleted.
//
// An index holds at most one slot per key. It is not safe for concurrent
// use: the Cache's mutex guards it.
type index[K comparable] struct {
	cells  []uint32 // 1 + a slot; 0: an empty cell. A power of two of them.
	mapped bool     // cells are outside the Go heap (offheap.go)
	shift  uint     // 64 - log2(len(cells)): home takes the hash's top bits
	n      int
	key    func(slot int32) K
	hash   func(K) uint64
}

// fib spreads a hash over the cells (Fibonacci hashing): sequential ids
// and other keys whose low bits alone would collide land far apart.
const fib = 0x9E3779B97F4A7C15

// home is the cell where a key of hash h is looked for first.
func (x *index[K]) home(h uint64) int { return int((h * fib) >> x.shift) }

// Len is the number of slots indexed.
func (x *index[K]) Len() int { return x.n }

// get returns the slot indexed under k.
func (x *index[K]) get(k K) (slot int32, ok bool) {
	if p, ok := x.find(k); ok {
		return int32(x.cells[p] - 1), true
	}
	return -1, false
}

// find returns the cell holding k's slot.
func (x *index[K]) find(k K) (cell int, ok bool) {
	if x.n == 0 {
		return -1, false
	}
	mask := len(x.cells) - 1
	for p := x.home(x.hash(k)); ; p = (p + 1) & mask {
		c := x.cells[p]
		if c == 0 {
			return -1, false
		}
		if x.key(int32(c-1)) == k {
			return p, true
		}
	}
}

// put indexes slot under its key, in place of the slot indexed under the
// same key if any.
func (x *index[K]) put(slot int32) {
	k := x.key(slot)
	if p, ok := x.find(k); ok {
		x.cells[p] = uint32(slot) + 1
		return
	}
	if 2*(x.n+1) > len(x.cells) {
		x.grow()
	}
	x.insert(k, slot)
	x.n++
}

// insert puts slot in the first empty cell from k's home on.
func (x *index[K]) insert(k K, slot int32) {
	mask := len(x.cells) - 1
	p := x.home(x.hash(k))
	for x.cells[p] != 0 {
		p = (p + 1) & mask
	}
	x.cells[p] = uint32(slot) + 1
}

// grow doubles the cells (16 at first) and indexes every slot anew. The
// old cells are unmapped once the new ones are filled: the caller holds
// the Cache's write lock, so no reader is using them.
func (x *index[K]) grow() {
	old, oldMapped := x.cells, x.mapped
	size := max(16, 2*len(old))
	x.cells, x.mapped = newCells(size)
	x.shift = uint(64 - bits.TrailingZeros(uint(size)))
	for _, c := range old {
		if c != 0 {
			x.insert(x.key(int32(c-1)), int32(c-1))
		}
	}
	if oldMapped {
		freeCells(old)
	}
}

// remove takes slot out of the index if it is the one indexed under k.
func (x *index[K]) remove(k K, slot int32) {
	if p, ok := x.find(k); ok && x.cells[p] == uint32(slot)+1 {
		x.clear(p)
	}
}

// removeAny takes an arbitrary slot out of the index (the first found from
// a random cell): the eviction of a full index. It does nothing if empty.
func (x *index[K]) removeAny() {
	if x.n == 0 {
		return
	}
	mask := len(x.cells) - 1
	p := rand.IntN(len(x.cells))
	for x.cells[p] == 0 {
		p = (p + 1) & mask
	}
	x.clear(p)
}

// clear empties cell p, then moves back each cell of the run after it
// whose home is not between p and the cell itself, so that every key stays
// reachable from its home without crossing an empty cell.
func (x *index[K]) clear(p int) {
	mask := len(x.cells) - 1
	for q := (p + 1) & mask; x.cells[q] != 0; q = (q + 1) & mask {
		h := x.home(x.hash(x.key(int32(x.cells[q] - 1))))
		// The cell at q may move to p unless its home lies cyclically in (p, q].
		if (q-h)&mask >= (q-p)&mask {
			x.cells[p] = x.cells[q]
			p = q
		}
	}
	x.cells[p] = 0
	x.n--
}

// all calls f with every slot indexed (tests).
func (x *index[K]) all(f func(slot int32)) {
	for _, c := range x.cells {
		if c != 0 {
			f(int32(c - 1))
		}
	}
}

// intern numbers the distinct values of K that records share (hosts,
// owners): a record names its value by a number (4 bytes, no pointer)
// and every record with the same value shares one copy. A value is kept
// while a record refers to it; its number is then reused.
type intern[K comparable] struct {
	vals  []K
	refs  []int32 // records that refer to each value; 0: a free number
	free  []int32
	index index[K]
}

func newIntern[K comparable]() *intern[K] {
	t := &intern[K]{}
	seed := maphash.MakeSeed()
	t.index.key = func(i int32) K { return t.vals[i] }
	t.index.hash = func(k K) uint64 { return maphash.Comparable(seed, k) }
	return t
}

// lookup returns the number of k, if a record refers to it.
func (t *intern[K]) lookup(k K) (int32, bool) { return t.index.get(k) }

// ref returns the number of k, adding k if new, and counts one more record
// referring to it.
func (t *intern[K]) ref(k K) int32 {
	i, ok := t.index.get(k)
	if !ok {
		if n := len(t.free); n > 0 {
			i, t.free = t.free[n-1], t.free[:n-1]
			t.vals[i] = k
		} else {
			i = int32(len(t.vals))
			t.vals, t.refs = append(t.vals, k), append(t.refs, 0)
		}
		t.index.put(i)
	}
	t.refs[i]++
	return i
}

// unref counts one record fewer referring to value i, and frees the value
// when none is left.
func (t *intern[K]) unref(i int32) {
	if t.refs[i]--; t.refs[i] > 0 {
		return
	}
	t.index.remove(t.vals[i], i)
	var zero K
	t.vals[i] = zero // for the collector
	t.free = append(t.free, i)
}
