package hist

import (
	"math"
	"slices"
)

// Bucket is one histogram bucket: Count entries whose values truncate to
// Key. A Count may be 0 (pre-aggregated data can carry empty buckets, and MAD
// keeps them as keys of its map).
type Bucket struct {
	Key   Key
	Count uint64
}

// SortBuckets sorts buckets in ascending numeric order of their values and
// merges buckets with equal keys. It returns the shortened slice.
//
// Up to insertionMax buckets (a timer's row, mostly) are sorted by
// insertion with the comparison inline: slices.SortFunc calls its
// comparison function for every pair it looks at, and sorting a timer row
// of 16 buckets was half of what emitting the row cost.
func SortBuckets(b []Bucket) []Bucket {
	if len(b) <= insertionMax {
		for i := 1; i < len(b); i++ {
			e := b[i]
			o := e.Key.order()
			j := i
			for ; j > 0 && b[j-1].Key.order() > o; j-- {
				b[j] = b[j-1]
			}
			b[j] = e
		}
	} else {
		slices.SortFunc(b, func(x, y Bucket) int {
			ox, oy := x.Key.order(), y.Key.order()
			switch {
			case ox < oy:
				return -1
			case ox > oy:
				return 1
			}
			return 0
		})
	}
	out := b[:0]
	for _, e := range b {
		if n := len(out); n > 0 && out[n-1].Key == e.Key {
			out[n-1].Count += e.Count
			continue
		}
		out = append(out, e)
	}
	return out
}

// insertionMax is the most buckets SortBuckets sorts by insertion (its
// quadratic cost passes slices.SortFunc's between 32 and 64 buckets).
const insertionMax = 32

// EntriesCount returns MAD's _entriesCount of a histogram: the sum of its
// counts, in Java long (two's complement, wrapping) arithmetic.
func EntriesCount(sorted []Bucket) int64 {
	var n int64
	for _, e := range sorted {
		n += int64(e.Count)
	}
	return n
}

// Percentile returns the bucket value at percentile p (0..100) of a histogram
// whose buckets are sorted by SortBuckets, exactly as MAD's
// HistogramSnapshot.getValueAtPercentile computes it:
//
//	target = (int) Math.min(Math.ceil(entries * p / 100.0), entries)
//
// then the first bucket at which the running (long) count is >= target. An
// empty histogram gives 0.
func Percentile(sorted []Bucket, p float64) float64 {
	entries := EntriesCount(sorted)
	target := int64(javaInt(math.Min(math.Ceil(float64(entries)*p/100.0), float64(entries))))
	var acc int64
	for _, e := range sorted {
		acc += int64(e.Count)
		if acc >= target {
			return e.Key.Value()
		}
	}
	return 0
}

// javaInt is Java's (int) narrowing of a double: NaN is 0, values beyond the
// int range saturate, everything else truncates toward zero.
func javaInt(f float64) int32 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int32(f)
}

// JavaLong is Java's (long) narrowing of a double: NaN is 0, values beyond
// the long range saturate, everything else truncates toward zero. MAD's count
// statistic merges pre-aggregated counts with it.
func JavaLong(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}
