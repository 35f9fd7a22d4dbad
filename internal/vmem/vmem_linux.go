//go:build linux

package vmem

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const pageSize = 4096

func roundUp(n uintptr) uintptr { return (n + pageSize - 1) &^ (pageSize - 1) }

// newRegion maps size bytes (rounded up to pages), zeroed and untouched.
// MAP_NORESERVE: the address space is not charged against the commit limit
// until pages are written (under vm.overcommit_memory=2 it is, and mapping
// more than the limit fails: the caller falls back to the heap).
func newRegion(size uintptr) (*region, bool) {
	size = roundUp(size)
	p, err := unix.MmapPtr(-1, 0, nil, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, false
	}
	r := &region{addr: p, size: size}
	advise(r)
	track(r)
	return r, true
}

// advise asks for huge pages for the whole mapping; the advice goes with it
// through mremap.
func advise(r *region) {
	_ = unix.Madvise(unsafe.Slice((*byte)(r.addr), r.size), unix.MADV_HUGEPAGE)
}

func (r *region) unmap() {
	untrack(r)
	_ = unix.MunmapPtr(r.addr, r.size)
}

func keep(r *region) *Keep {
	k := &Keep{r: r}
	runtime.AddCleanup(k, (*region).unmap, r)
	return k
}

// Reserve maps room for n elements of T that never moves. The elements
// start zeroed and cost memory only once written. ok is false if the
// mapping could not be made.
func Reserve[T any](n int) (s []T, k *Keep, ok bool) {
	size, ok := bytesOf[T](n)
	if !ok {
		return nil, nil, false
	}
	r, ok := newRegion(size)
	if !ok {
		return nil, nil, false
	}
	return sliceOf[T](r, n), keep(r), true
}

// Map returns a zeroed array of n elements and capacity c in a mapping of
// its own, to be grown with Grow. ok is false if the mapping could not be
// made.
func Map[T any](n, c int) (s []T, k *Keep, ok bool) {
	size, ok := bytesOf[T](c)
	if !ok || n > c {
		return nil, nil, false
	}
	r, ok := newRegion(size)
	if !ok {
		return nil, nil, false
	}
	return sliceOf[T](r, c)[:n], keep(r), true
}

// Grow returns s (an array from Map, k its Keep) with capacity c at least,
// its contents kept and the rest zeroed: the mapping is extended in place if
// the address space after it is free, else moved. Anything that still
// points into the old s must not be used afterwards. ok is false, with s
// unchanged, if the mapping could not grow.
func Grow[T any](s []T, k *Keep, c int) ([]T, bool) {
	r := k.r
	size, ok := bytesOf[T](c)
	if !ok {
		return s, false
	}
	one, _ := bytesOf[T](1)
	if size = roundUp(size); size <= r.size { // within the last page's slack
		return sliceOf[T](r, int(r.size/one))[:len(s)], true
	}
	// Under mu: Stats must not read the range while it moves.
	mu.Lock()
	p, err := unix.MremapPtr(r.addr, r.size, nil, size, unix.MREMAP_MAYMOVE)
	if err == nil {
		r.addr, r.size = p, size
	}
	mu.Unlock()
	if err != nil {
		return s, false
	}
	return sliceOf[T](r, int(size/one))[:len(s)], true
}

// residentBytes counts r's resident pages; mu is held.
func residentBytes(r *region) int64 {
	n := int(r.size / pageSize)
	if cap(scratch) < n {
		scratch = make([]byte, n)
	}
	vec := scratch[:n]
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(r.addr), r.size, uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); errno != 0 {
		return 0
	}
	pages := int64(0)
	for _, v := range vec {
		pages += int64(v & 1)
	}
	return pages * pageSize
}
