//go:build linux

package hugepage

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Advise advises the huge-page-aligned interior of b. Call it right after
// allocating b, before writing to it.
func Advise(b []byte) {
	if len(b) < Threshold {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	start := uintptr(p)
	const huge = Threshold
	first := (start+huge-1)&^(huge-1) - start // offsets into b
	last := (start+uintptr(len(b)))&^(huge-1) - start
	if last <= first {
		return
	}
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, first)), last-first), unix.MADV_HUGEPAGE)
}
