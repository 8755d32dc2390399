package domaincache

import "slices"

// SetPageSize sets how many domains one query of the load reads.
func SetPageSize(c *Cache, n int) { c.pageSize = n }

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
	for id, i := range c.byID {
		v.Live[id] = c.recs.at(i).entry()
		v.Updated[id] = c.recs.at(i).updated
	}
	for k, i := range c.byHash {
		if hashKey(c.recs.at(i).hash) != k {
			panic("a secret indexed under another hash's key")
		}
		v.Secrets[c.recs.at(i).id] = c.recs.at(i).hash
	}
	for id, at := range c.gone {
		v.Gone[id] = at
	}
	for h, n := range c.hosts {
		v.Hosts[h] = n
	}
	// Every slot is either free (and zero) or some domain's.
	used := 0
	for i := range c.recs.n {
		if *c.recs.at(i) == (record{}) {
			continue
		}
		used++
		if j, ok := c.byID[c.recs.at(i).id]; !ok || j != i {
			panic("a record no id points to")
		}
	}
	if used != len(c.byID) || int(c.recs.n) != used+len(c.free) || slices.ContainsFunc(c.free, func(i int32) bool { return *c.recs.at(i) != (record{}) }) {
		panic("slots out of step")
	}
	return v
}
