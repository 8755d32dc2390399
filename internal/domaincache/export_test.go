package domaincache

import (
	"fmt"
	"slices"
	"unsafe"
)

// SetPageSize sets how many domains one query of the load reads.
func SetPageSize(c *Cache, n int) { c.pageSize = n }

// Mapped is the bytes mapped outside the Go heap by every Cache.
func Mapped() int64 { return mapped.Load() }

// CacheMapped is the bytes c holds mapped outside the Go heap: its blocks
// of records and its indexes' cells.
func CacheMapped(c *Cache) int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return int64(c.recs.mapped)*int64(unsafe.Sizeof(block{})) + mappedCells(&c.byID) + mappedCells(&c.byHash) +
		mappedCells(&c.hosts.index) + mappedCells(&c.owners.index)
}

// View is everything a Cache holds, for comparing two of them.
type View struct {
	Live    map[uint64]Entry    // the domains not deleted
	Updated map[uint64]int64    // their updated_at
	Gone    map[uint64]int64    // deleted domains and when
	Secrets map[uint64][32]byte // the secrets indexed, by domain
	Hosts   map[string]int32
	// Previous are the previous secrets held, by domain, with their end.
	Previous map[uint64]Previous
}

// Previous is a domain's previous secret as the view holds it.
type Previous struct {
	Sum     [32]byte
	Version int
	Until   int64
}

// Dump returns what c holds.
func Dump(c *Cache) View {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v := View{Live: map[uint64]Entry{}, Updated: map[uint64]int64{}, Gone: map[uint64]int64{},
		Secrets: map[uint64][32]byte{}, Hosts: map[string]int32{}, Previous: map[uint64]Previous{}}
	for id, p := range c.prev {
		if c.prevByHash[hashKey(p.sum)] != id {
			panic("a previous secret not indexed")
		}
		v.Previous[id] = Previous{Sum: p.sum, Version: int(p.version), Until: p.until}
	}
	if len(c.prevByHash) != len(c.prev) {
		panic("previous secrets out of step")
	}
	c.byID.all(func(i int32) {
		id := c.recs.at(i).id
		if j, ok := c.byID.get(id); !ok || j != i {
			panic("a domain its id does not find")
		}
		v.Live[id] = c.entryLocked(i)
		v.Updated[id] = c.recs.at(i).updated
	})
	c.byHash.all(func(i int32) {
		r := c.recs.at(i)
		if j, ok := c.byHash.get(r.hash); !ok || j != i {
			panic("a secret its hash does not find")
		}
		v.Secrets[r.id] = r.hash
	})
	for id, at := range c.gone {
		v.Gone[id] = at
	}
	// Every slot is either free (and zero) or some domain's; the interned
	// hosts and owners are exactly those records refer to, and each host
	// counts its active domains.
	used := 0
	hostRefs, ownerRefs, live := map[int32]int32{}, map[int32]int32{}, map[int32]int32{}
	for i := range c.recs.n {
		r := c.recs.at(i)
		if *r == (record{}) {
			continue
		}
		used++
		if j, ok := c.byID.get(r.id); !ok || j != i {
			panic("a record no id points to")
		}
		hostRefs[r.host]++
		ownerRefs[r.owner]++
		if r.active() {
			live[r.host]++
			v.Hosts[c.hosts.vals[r.host]]++
		}
	}
	if used != c.byID.Len() || int(c.recs.n) != used+len(c.free) || slices.ContainsFunc(c.free, func(i int32) bool { return *c.recs.at(i) != (record{}) }) {
		panic("slots out of step")
	}
	checkIntern(c.hosts, hostRefs)
	checkIntern(c.owners, ownerRefs)
	for h, n := range c.live {
		if n != live[int32(h)] {
			panic("a host's count of active domains is wrong")
		}
	}
	return v
}

// checkIntern panics unless t holds exactly the values refs counts, each
// findable, with those counts; every other number is free.
func checkIntern[K comparable](t *intern[K], refs map[int32]int32) {
	var zero K
	for i := range t.vals {
		n := refs[int32(i)]
		if t.refs[i] != n {
			panic(fmt.Sprintf("value %d: %d references counted, %d records", i, t.refs[i], n))
		}
		j, ok := t.lookup(t.vals[i])
		if n > 0 && (!ok || j != int32(i)) || n == 0 && (t.vals[i] != zero || !slices.Contains(t.free, int32(i))) {
			panic(fmt.Sprintf("value %d (%v) out of step", i, t.vals[i]))
		}
	}
	if t.index.Len() != len(refs) || len(t.free)+len(refs) != len(t.vals) {
		panic("interned values out of step")
	}
}
