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

// Grow returns s with room for at least extra more elements and advises a
// newly allocated array. Capacity doubles while the array is small and grows
// by a quarter once it reaches Threshold bytes: the big arrays (series
// records, table rows) are sized by cardinality, and a quarter bounds their
// slack at 25 % instead of 100 % for at most four copies per element
// (amortised) instead of two; they grow only when series are created.
func Grow[T any](s []T, extra int) []T {
	if cap(s)-len(s) >= extra {
		return s
	}
	var zero T
	c := 2 * cap(s)
	if uintptr(cap(s))*unsafe.Sizeof(zero) >= Threshold {
		c = cap(s) + cap(s)/4
	}
	n := Make[T](len(s), max(c, len(s)+extra, 16))
	copy(n, s)
	return n
}
