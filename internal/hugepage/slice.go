package hugepage

import "unsafe"

// Make returns a zeroed slice of n elements of T with capacity c (an
// ordinary Go allocation), advised for huge pages when it is large.
func Make[T any](n, c int) []T {
	s := make([]T, n, c)
	if c > 0 {
		var zero T
		Advise(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), uintptr(c)*unsafe.Sizeof(zero)))
	}
	return s
}

// Grow returns s with room for at least extra more elements, doubling its
// capacity, and advises a newly allocated array.
func Grow[T any](s []T, extra int) []T {
	if cap(s)-len(s) >= extra {
		return s
	}
	n := Make[T](len(s), max(2*cap(s), len(s)+extra, 16))
	copy(n, s)
	return n
}
