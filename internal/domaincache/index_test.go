package domaincache

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"
)

// TestRecordSize: a record is 64 bytes, spare bytes included, and holds no
// pointer (the collector then never scans the blocks of records).
func TestRecordSize(t *testing.T) {
	if s := unsafe.Sizeof(record{}); s != 64 {
		t.Errorf("a record is %d bytes, want 64", s)
	}
	if s := unsafe.Sizeof([2]byte{}); unsafe.Offsetof(record{}.state)+1+s > 64 {
		t.Error("no spare bytes left after state")
	}
}

// TestRecordHasNoPointers: records may live outside the Go heap, where the
// collector does not look (offheap.go), so no field of a record may hold a
// pointer, a slice, a string, a map, a channel, a function or an interface.
func TestRecordHasNoPointers(t *testing.T) {
	var walk func(path string, ty reflect.Type)
	walk = func(path string, ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		case reflect.Array:
			walk(path+"[]", ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(path+"."+ty.Field(i).Name, ty.Field(i).Type)
			}
		default:
			t.Errorf("%s is a %s: a record must hold no pointer", path, ty.Kind())
		}
	}
	walk("record", reflect.TypeFor[record]())
	walk("block", reflect.TypeFor[block]())
}

// keyed is an index over a slice of keys standing in for the records: the
// key of slot i is keys[i].
type keyed struct {
	keys []uint64
	x    index[uint64]
}

func newKeyed(hash func(uint64) uint64) *keyed {
	k := &keyed{}
	k.x.key = func(i int32) uint64 { return k.keys[i] }
	k.x.hash = hash
	return k
}

// check fails unless the index holds exactly want (key -> slot), each
// found from its key, and no key of absent.
func (k *keyed) check(t *testing.T, step string, want map[uint64]int32, absent []uint64) {
	t.Helper()
	if k.x.Len() != len(want) {
		t.Fatalf("%s: Len %d, want %d", step, k.x.Len(), len(want))
	}
	for key, slot := range want {
		if got, ok := k.x.get(key); !ok || got != slot {
			t.Fatalf("%s: get(%d) = %d %v, want %d", step, key, got, ok, slot)
		}
	}
	for _, key := range absent {
		if _, held := want[key]; held {
			continue
		}
		if got, ok := k.x.get(key); ok {
			t.Fatalf("%s: get(%d) = %d, want none", step, key, got)
		}
	}
	n := 0
	k.x.all(func(int32) { n++ })
	if n != len(want) || 2*n > len(k.x.cells) {
		t.Fatalf("%s: %d cells used of %d, want %d and at most half", step, n, len(k.x.cells), len(want))
	}
}

// TestIndexAgainstAMap puts, replaces and removes keys at random (ids far
// apart, sequential ids, and hashes that collide on purpose, so that runs
// of cells wrap around the table's end and removals shift them back) and
// compares the index with a map after every step.
func TestIndexAgainstAMap(t *testing.T) {
	hashes := []struct {
		name string
		hash func(uint64) uint64
	}{
		{"identity", func(k uint64) uint64 { return k }},
		{"every key in one run", func(uint64) uint64 { return 0 }},
		{"four runs", func(k uint64) uint64 { return k % 4 }},
	}
	keySets := []struct {
		name string
		key  func(r *rand.Rand, i int) uint64
	}{
		{"sequential ids", func(_ *rand.Rand, i int) uint64 { return uint64(i + 1) }},
		{"ids far apart", func(r *rand.Rand, _ int) uint64 { return r.Uint64() }},
		{"powers of two", func(_ *rand.Rand, i int) uint64 { return 1 << (i % 64) }},
	}
	for _, h := range hashes {
		for _, ks := range keySets {
			t.Run(h.name+", "+ks.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, 2))
				k := newKeyed(h.hash)
				want := map[uint64]int32{}
				var seen []uint64
				ops := 3000
				if h.name != "identity" {
					ops = 600 // every lookup walks a long run
				}
				for i := range ops {
					switch op := r.IntN(10); {
					case op < 6 || len(want) == 0: // a new key, in a new slot
						key := ks.key(r, i)
						if _, ok := want[key]; ok {
							continue
						}
						k.keys = append(k.keys, key)
						slot := int32(len(k.keys) - 1)
						k.x.put(slot)
						want[key] = slot
						seen = append(seen, key)
					case op < 7: // a key moved to another slot (put replaces)
						key := seen[r.IntN(len(seen))]
						if _, ok := want[key]; !ok {
							continue
						}
						k.keys = append(k.keys, key)
						slot := int32(len(k.keys) - 1)
						k.x.put(slot)
						want[key] = slot
					case op < 9: // a removal, sometimes of a slot no longer the key's
						key := seen[r.IntN(len(seen))]
						slot, ok := want[key]
						if !ok {
							continue
						}
						k.x.remove(key, slot+1) // not the slot indexed: nothing happens
						k.check(t, fmt.Sprintf("step %d: remove(%d) of another slot", i, key), want, nil)
						k.x.remove(key, slot)
						delete(want, key)
					default: // an eviction
						k.x.removeAny()
						for key, slot := range want {
							if got, ok := k.x.get(key); !ok || got != slot {
								delete(want, key)
								break
							}
						}
					}
					k.check(t, fmt.Sprintf("step %d", i), want, seen)
				}
			})
		}
	}
}

// TestIndexGrowsFromEmpty: an index starts with no cells, finds nothing,
// and grows as it fills, past any size, keeping every key.
func TestIndexGrowsFromEmpty(t *testing.T) {
	k := newKeyed(func(k uint64) uint64 { return k })
	if _, ok := k.x.get(1); ok || k.x.Len() != 0 {
		t.Fatal("an empty index found something")
	}
	k.x.remove(1, 0)
	k.x.removeAny()
	want := map[uint64]int32{}
	for i := range 5000 {
		key := uint64(i)*1_000_003 + 7
		k.keys = append(k.keys, key)
		k.x.put(int32(i))
		want[key] = int32(i)
		if i&(i+1) == 0 || i == 4999 { // at each power of two, around growth
			k.check(t, fmt.Sprint(i+1, " keys"), want, []uint64{0, 8, 1 << 62})
		}
	}
	if len(k.x.cells) != 16384 {
		t.Errorf("%d cells for 5,000 keys, want 16,384", len(k.x.cells))
	}
}

// TestIndexGrowsOffHeap: an index grown many times past the size mapped
// outside the Go heap still finds every key, and the cells each growth
// replaced are unmapped: what is mapped comes back to the live cells.
func TestIndexGrowsOffHeap(t *testing.T) {
	before := mapped.Load()
	k := newKeyed(func(k uint64) uint64 { return k })
	want := map[uint64]int32{}
	const n = 300000 // 1<<20 cells at the end: seven growths mapped
	for i := range n {
		key := uint64(i)*1_000_003 + 7
		k.keys = append(k.keys, key)
		k.x.put(int32(i))
		want[key] = int32(i)
		if len(k.x.cells) >= minMappedCells && k.x.Len() == len(k.x.cells)/2 { // full: it grows at the next put
			k.check(t, fmt.Sprint(i+1, " keys"), want, []uint64{0, 8, 1 << 62})
		}
	}
	k.check(t, fmt.Sprint(n, " keys"), want, []uint64{0, 8, 1 << 62})
	if len(k.x.cells) != 1<<20 {
		t.Fatalf("%d cells for %d keys, want %d", len(k.x.cells), n, 1<<20)
	}
	if canMap && !k.x.mapped {
		t.Error("the cells are on the Go heap, want them mapped")
	}
	if got, want := mapped.Load()-before, mappedCells(&k.x); got != want {
		t.Errorf("%d bytes mapped, want %d (the live cells only)", got, want)
	}
}

// mappedCells is the bytes of x's cells mapped outside the Go heap.
func mappedCells[K comparable](x *index[K]) int64 {
	if !x.mapped {
		return 0
	}
	return 4 * int64(len(x.cells))
}

// TestIntern: a value is numbered once however many records refer to it,
// freed with its last reference, and its number is reused.
func TestIntern(t *testing.T) {
	s := newIntern[string]()
	a := s.ref("a.example")
	if b := s.ref("a.example"); b != a {
		t.Fatalf("the same value numbered %d and %d", a, b)
	}
	b := s.ref("b.example")
	if a == b || s.vals[a] != "a.example" || s.vals[b] != "b.example" {
		t.Fatalf("numbers %d, %d: %q", a, b, s.vals)
	}
	s.unref(a)
	if i, ok := s.lookup("a.example"); !ok || i != a {
		t.Fatal("freed with a reference left")
	}
	s.unref(a)
	if _, ok := s.lookup("a.example"); ok || s.vals[a] != "" {
		t.Fatal("kept with no reference left")
	}
	if c := s.ref("c.example"); c != a {
		t.Errorf("a new value numbered %d, want the free number %d", c, a)
	}
	if i, ok := s.lookup("b.example"); !ok || i != b || s.index.Len() != 2 {
		t.Errorf("b.example: %d %v; %d values", i, ok, s.index.Len())
	}

	o := newIntern[owner]()
	x, y := o.ref(owner{1, "nick"}), o.ref(owner{1, "renamed"}) // a nick changed: two values for a while
	if x == y || o.ref(owner{1, "nick"}) != x {
		t.Errorf("owners %d, %d", x, y)
	}
}

// BenchmarkIndexGet looks up random keys among a million sequential ids.
func BenchmarkIndexGet(b *testing.B) {
	const n = 1 << 20
	k := newKeyed(func(k uint64) uint64 { return k })
	for i := range n {
		k.keys = append(k.keys, uint64(i+1))
		k.x.put(int32(i))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		if _, ok := k.x.get(r.Uint64N(n) + 1); !ok {
			b.Fatal("not found")
		}
	}
}
