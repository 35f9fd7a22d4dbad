package hist

import (
	"math"
	"math/bits"
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
// The sort compares keys inline (sortBuckets): slices.SortFunc calls its
// comparison function for every pair it looks at, and sorting a timer row
// of 16 buckets was half of what emitting the row cost. Up to 64 buckets
// (and the quicksort's parts from there down) it sorts without branches,
// by networks and merges (sortSmall, sortMerged).
func SortBuckets(b []Bucket) []Bucket {
	switch {
	case len(b) <= 1:
		return b
	case len(b) <= netMax:
		return b[:sortSmall(b, true)]
	case len(b) <= mergeMax:
		return b[:sortMerged(b, true)]
	}
	sortBuckets(b, 2*bits.Len(uint(len(b))))
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

// sortBuckets sorts b by Key.order: by a sorting network up to netMax
// buckets (sortSmall), by networks and merges up to mergeMax (sortMerged),
// otherwise by quicksort (the median of three as the pivot, the smaller
// side first) down to parts of mergeMax, and by heapsort once depth
// partitions have not brought it there (n log n at worst).
func sortBuckets(b []Bucket, depth int) {
	for len(b) > mergeMax {
		if depth == 0 {
			heapSortBuckets(b)
			return
		}
		depth--
		p := partitionBuckets(b)
		if p < len(b)-p {
			sortBuckets(b[:p], depth)
			b = b[p+1:]
		} else {
			sortBuckets(b[p+1:], depth)
			b = b[:p]
		}
	}
	if len(b) > netMax {
		sortMerged(b, false)
		return
	}
	sortSmall(b, false)
}

// partitionBuckets puts the median of b's first, middle and last buckets at
// its place p, the buckets that order before it below and the others
// above, and returns p.
func partitionBuckets(b []Bucket) int {
	last, mid := len(b)-1, len(b)/2
	if b[mid].Key.order() < b[0].Key.order() {
		b[mid], b[0] = b[0], b[mid]
	}
	if b[last].Key.order() < b[mid].Key.order() {
		b[last], b[mid] = b[mid], b[last]
		if b[mid].Key.order() < b[0].Key.order() {
			b[mid], b[0] = b[0], b[mid]
		}
	}
	// b[0] ≤ b[mid] ≤ b[last]: the pivot goes to last-1, and the scans
	// stop at b[0] and b[last] without bounds checks of their own.
	b[mid], b[last-1] = b[last-1], b[mid]
	pivot := b[last-1].Key.order()
	i, j := 0, last-1
	for {
		for i++; b[i].Key.order() < pivot; i++ {
		}
		for j--; b[j].Key.order() > pivot; j-- {
		}
		if i >= j {
			break
		}
		b[i], b[j] = b[j], b[i]
	}
	b[i], b[last-1] = b[last-1], b[i]
	return i
}

// heapSortBuckets sorts b by Key.order in place.
func heapSortBuckets(b []Bucket) {
	for i := len(b)/2 - 1; i >= 0; i-- {
		siftBuckets(b, i, len(b))
	}
	for end := len(b) - 1; end > 0; end-- {
		b[0], b[end] = b[end], b[0]
		siftBuckets(b, 0, end)
	}
}

func siftBuckets(b []Bucket, root, end int) {
	for {
		c := 2*root + 1
		if c >= end {
			return
		}
		if c+1 < end && b[c].Key.order() < b[c+1].Key.order() {
			c++
		}
		if b[root].Key.order() >= b[c].Key.order() {
			return
		}
		b[root], b[c] = b[c], b[root]
		root = c
	}
}

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
	return percentileOf(sorted, EntriesCount(sorted), p)
}

// percentileOf is Percentile of a histogram of the given EntriesCount. The
// builtin min gives what math.Min would (a call): neither operand can be
// NaN or infinite, and javaInt drops the sign of a zero.
func percentileOf(sorted []Bucket, entries int64, p float64) float64 {
	if len(sorted) == 1 && entries > 0 {
		// One bucket holds every entry: the target is at most entries,
		// so it is every percentile (a series of one sample in the
		// bucket, as most are where each line opens a series).
		return sorted[0].Key.Value()
	}
	target := int64(javaInt(min(math.Ceil(float64(entries)*p/100.0), float64(entries))))
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
