//go:build !linux

package vmem

import "unsafe"

// Reserve reports that this platform maps nothing: the caller keeps its
// arrays on the heap.
func Reserve[T any](n int) (s []T, k *Keep, ok bool) { return nil, nil, false }

// Map reports that this platform maps nothing.
func Map[T any](n, c int) (s []T, k *Keep, ok bool) { return nil, nil, false }

// Grow reports that this platform maps nothing.
func Grow[T any](s []T, k *Keep, c int) ([]T, bool) { return s, false }

func residentBytes(r *region) int64 { return 0 }

// ReleaseUnit is the extent Release gives back.
const ReleaseUnit = 2 << 20

// Release gives nothing back: this platform maps nothing.
func Release[T any](s []T, k *Keep, lo, hi int) int64 { return 0 }

// Extent returns the elements of s that the ReleaseUnit extent holding
// element i overlaps, as on Linux.
func Extent[T any](s []T, i int) (lo, hi int) {
	var zero T
	one := int(unsafe.Sizeof(zero))
	base := int(uintptr(unsafe.Pointer(unsafe.SliceData(s))))
	start := (base + i*one) &^ (ReleaseUnit - 1)
	return max(0, (start-base)/one), min(len(s), (start+ReleaseUnit-base+one-1)/one)
}

// Resident returns 0: this platform maps nothing.
func Resident[T any](s []T) int64 { return 0 }
