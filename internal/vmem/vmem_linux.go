//go:build linux

package vmem

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const pageSize = 4096

func roundUp(n uintptr) uintptr { return (n + pageSize - 1) &^ (pageSize - 1) }

// hugeSize is a transparent huge page.
const hugeSize = 2 << 20

// roundSize rounds a mapping's length up to pages, and from a huge page up
// to huge pages. The kernel backs with a huge page only a 2 MiB extent
// aligned in the address space and wholly inside the mapping: a mapping
// made here starts aligned (newRegion), and Linux (since 6.7) places an
// anonymous mapping whose length is a multiple of 2 MiB at an aligned
// address, mremap moving one included. A mapping of 3 MiB (131 072 rows
// of 24 bytes) was placed anywhere, then written on 4 KiB pages, each a
// fault of its own (BENCHMARKS.md, twelfth sitting). The rounding is
// address space, which costs nothing until written.
func roundSize(n uintptr) uintptr {
	n = roundUp(n)
	if n >= hugeSize {
		n = (n + hugeSize - 1) &^ (hugeSize - 1)
	}
	return n
}

// newRegion maps size bytes (roundSize), zeroed and untouched, from an
// address aligned to a huge page if it is one or more. MAP_NORESERVE: the
// address space is not charged against the commit limit until pages are
// written (under vm.overcommit_memory=2 it is, and mapping more than the
// limit fails: the caller falls back to the heap).
func newRegion(size uintptr) (*region, bool) {
	size = roundSize(size)
	extra := uintptr(0)
	if size >= hugeSize {
		extra = hugeSize // room to align the start; what is left over is unmapped
	}
	p, err := unix.MmapPtr(-1, 0, nil, size+extra, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, false
	}
	if extra != 0 {
		head := (hugeSize - uintptr(p)%hugeSize) % hugeSize
		if head != 0 {
			_ = unix.MunmapPtr(p, head)
		}
		if tail := extra - head; tail != 0 {
			_ = unix.MunmapPtr(unsafe.Add(p, head+size), tail)
		}
		p = unsafe.Add(p, head)
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

// Map returns a zeroed array of n elements and capacity c at least (what
// the mapping's rounded length holds) in a mapping of its own, to be grown
// with Grow. ok is false if the mapping could not be made.
func Map[T any](n, c int) (s []T, k *Keep, ok bool) {
	size, ok := bytesOf[T](c)
	if !ok || n > c {
		return nil, nil, false
	}
	r, ok := newRegion(size)
	if !ok {
		return nil, nil, false
	}
	one, _ := bytesOf[T](1) // not 0: a mapping of no bytes is refused
	return sliceOf[T](r, int(r.size/one))[:n], keep(r), true
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
	if size = roundSize(size); size <= r.size { // within the mapping's slack
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

// Resident returns the bytes of the pages s (an array of a mapping) spans
// that are resident: for tests and diagnostics.
func Resident[T any](s []T) int64 {
	one, _ := bytesOf[T](1)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	start, end := base&^(pageSize-1), roundUp(base+uintptr(len(s))*one)
	if end <= start {
		return 0
	}
	return resident(start, end-start, make([]byte, (end-start)/pageSize))
}

// residentBytes counts r's resident pages; mu is held.
func residentBytes(r *region) int64 {
	n := int(r.size / pageSize)
	if cap(scratch) < n {
		scratch = make([]byte, n)
	}
	return resident(uintptr(r.addr), r.size, scratch[:n])
}

// resident counts the resident pages of the size bytes from start (both
// page-aligned) with mincore, vec holding a byte a page.
func resident(start, size uintptr, vec []byte) int64 {
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, start, size, uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); errno != 0 {
		return 0
	}
	pages := int64(0)
	for _, v := range vec {
		pages += int64(v & 1)
	}
	return pages * pageSize
}

// ReleaseUnit is the extent Release gives back: a huge page, so that
// giving memory back never splits one.
const ReleaseUnit = 2 << 20

// Extent returns the elements of s (an array of a mapping) that the
// ReleaseUnit extent holding element i overlaps: from lo up to hi, clamped
// to s.
func Extent[T any](s []T, i int) (lo, hi int) {
	one, _ := bytesOf[T](1)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	start := (base + uintptr(i)*one) &^ (ReleaseUnit - 1)
	if start > base {
		lo = int((start - base) / one)
	}
	hi = min(len(s), int((start+ReleaseUnit-base+one-1)/one))
	return lo, hi
}

// Release gives back the memory of the ReleaseUnit extents (aligned in the
// address space) that lie wholly within s[lo:hi], s an array of k's
// mapping: their elements read as zero from then on, and cost memory again
// once written. It returns the bytes given back (resident or not). Nobody
// may be reading or writing those elements meanwhile.
func Release[T any](s []T, k *Keep, lo, hi int) int64 {
	if k == nil || lo >= hi || lo < 0 || hi > len(s) {
		return 0
	}
	one, _ := bytesOf[T](1)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	if r := k.r; base < uintptr(r.addr) || base+uintptr(hi)*one > uintptr(r.addr)+r.size {
		panic("BUG: vmem: releasing memory outside the mapping")
	}
	start := (base + uintptr(lo)*one + ReleaseUnit - 1) &^ (ReleaseUnit - 1)
	end := (base + uintptr(hi)*one) &^ (ReleaseUnit - 1)
	if end <= start {
		return 0
	}
	b := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s)), start-base)), end-start)
	if unix.Madvise(b, unix.MADV_DONTNEED) != nil {
		return 0
	}
	return int64(end - start)
}
