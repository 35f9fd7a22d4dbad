// Package vmem keeps mad's largest pointer-free arrays (a shard's series
// records, the rows of a big table) outside the Go heap, each in an
// anonymous private mapping of its own.
//
// On the heap, an array that grows with its cardinality is copied at each
// step, and its spare capacity (a quarter, see hugepage.Grow) counts as heap
// whether it is used or not. In a mapping of its own, a page costs memory
// only once it is written: spare capacity costs address space, not memory.
// Growing needs no copy either: a Reserve'd array is mapped at the largest
// size it may reach and never moves (its readers may hold it while it grows),
// and an array with a single user (a table's rows while the table is open)
// is grown with mremap, which moves page tables, not bytes.
//
// A mapping lives as long as its Keep: the owner of an array, and every
// reader that may outlive the owner's hold on it, keeps the Keep that came
// with it; once none does, a cleanup unmaps it (runtime.AddCleanup). Each
// mapping is one or two kernel mappings (vm.max_map_count is 65 530 by
// default), so callers map only arrays of at least MinBytes.
//
// Where a mapping cannot be made (a strict overcommit policy refusing the
// address space, or a platform without mmap), the functions report it and
// the caller keeps its array on the heap.
//
// Huge pages: every mapping is advised for transparent huge pages, as the
// heap arrays it replaces were (hugepage.Advise): the arrays are read at
// random, and with 4 KiB pages nearly every access also misses the TLB. A
// touched 2 MiB extent is resident whole, so a mapping holds at most 2 MiB
// more than it uses (MinBytes keeps small arrays on the heap).
package vmem

import (
	"sync"
	"unsafe"
)

// MinBytes is the smallest array worth a mapping of its own.
const MinBytes = 2 << 20

// region is one mapping: its address and length in bytes. The owner's
// goroutine changes it (Grow); the cleanup reads it once nothing else can.
type region struct {
	addr unsafe.Pointer // outside the Go heap: the collector ignores it
	size uintptr
}

// Keep holds a mapping. Whoever may read an array keeps its Keep.
type Keep struct {
	r *region
}

var (
	mu      sync.Mutex
	live    = map[*region]struct{}{}
	scratch []byte // Stats' mincore vector, under mu
)

func track(r *region) {
	mu.Lock()
	live[r] = struct{}{}
	mu.Unlock()
}

func untrack(r *region) {
	mu.Lock()
	delete(live, r)
	mu.Unlock()
}

// Stats returns the bytes of address space mapped and, of them, the bytes
// resident (mincore): what the arrays cost in memory. It walks every
// mapping's page table: for diagnostics and benchmarks, not hot paths.
func Stats() (mapped, resident int64) {
	mu.Lock()
	defer mu.Unlock()
	for r := range live {
		mapped += int64(r.size)
		resident += residentBytes(r)
	}
	return mapped, resident
}

// Mapped reports whether address p lies in a live mapping: for tests of
// who holds a mapping, which must not hold its Keep to ask (nor a pointer
// that could outlive the mapping: p is an address, not a pointer).
func Mapped(p uintptr) bool {
	mu.Lock()
	defer mu.Unlock()
	for r := range live {
		if p >= uintptr(r.addr) && p-uintptr(r.addr) < r.size {
			return true
		}
	}
	return false
}

// bytesOf returns the bytes of n elements of T; ok is false if they do not
// fit the address space (a 32-bit one).
func bytesOf[T any](n int) (size uintptr, ok bool) {
	var zero T
	sz := unsafe.Sizeof(zero)
	if n < 0 || sz != 0 && uintptr(n) > ^uintptr(0)/2/sz {
		return 0, false
	}
	return uintptr(n) * sz, true
}

func sliceOf[T any](r *region, n int) []T {
	return unsafe.Slice((*T)(r.addr), n)
}
