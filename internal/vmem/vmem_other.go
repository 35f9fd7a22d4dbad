//go:build !linux

package vmem

// Reserve reports that this platform maps nothing: the caller keeps its
// arrays on the heap.
func Reserve[T any](n int) (s []T, k *Keep, ok bool) { return nil, nil, false }

// Map reports that this platform maps nothing.
func Map[T any](n, c int) (s []T, k *Keep, ok bool) { return nil, nil, false }

// Grow reports that this platform maps nothing.
func Grow[T any](s []T, k *Keep, c int) ([]T, bool) { return s, false }

func residentBytes(r *region) int64 { return 0 }
