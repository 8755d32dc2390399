package domaincache

import (
	"sync/atomic"
	"unsafe"
)

// The record blocks and the large index cells are mapped outside the Go
// heap (anonymous mmap, as VictoriaMetrics' fastcache does): they hold no
// pointer, so the collector has nothing to find in them, yet on the heap
// they would count in the pacer's goal, and with GOGC=100 the heap grows to
// about twice its live size before each collection: every byte of them
// would cost about two of peak RSS.
//
// Pointer-free only: the GC does not see this memory. A pointer stored in
// it would not keep its target alive (TestRecordHasNoPointers guards the
// records; cells are uint32). Mapped memory is zeroed by the kernel, as
// new and make zero theirs. Where mmap is missing or fails, the Go heap
// serves instead.
//
// Blocks are never freed: the app's Cache lives as long as the process;
// a Cache dropped earlier (in tests) keeps its mapping until exit. Cells an
// index replaces as it grows are unmapped once the new ones are filled,
// under the Cache's write lock: every reader of cells holds the read lock
// and keeps no reference to them past it.

// mapped counts the bytes mapped outside the Go heap (tests).
var mapped atomic.Int64

// minMappedCells is the smallest index mapped outside the heap (64 KiB):
// below, a page or a system call per index is not worth it.
const minMappedCells = 16 << 10

type block = [1 << slotBits]record

// newBlock returns a zeroed block of records, and whether it is mapped
// outside the Go heap.
func newBlock() (*block, bool) {
	if b := mapAnon(int(unsafe.Sizeof(block{}))); b != nil {
		mapped.Add(int64(len(b)))
		return (*block)(unsafe.Pointer(&b[0])), true
	}
	return new(block), false
}

// newCells returns n zeroed cells, and whether they are mapped outside the
// Go heap (then freeCells must release them).
func newCells(n int) ([]uint32, bool) {
	if n >= minMappedCells {
		if b := mapAnon(4 * n); b != nil {
			mapped.Add(int64(len(b)))
			return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n), true
		}
	}
	return make([]uint32, n), false
}

// freeCells unmaps cells newCells mapped. Nothing may use them after.
func freeCells(cells []uint32) {
	unmap(unsafe.Slice((*byte)(unsafe.Pointer(&cells[0])), 4*len(cells)))
	mapped.Add(-4 * int64(len(cells)))
}
