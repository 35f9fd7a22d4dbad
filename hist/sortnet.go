package hist

import "math"

// Small sorts by sorting network. Emission sorts every histogram row's
// buckets to read its percentiles, and a timer row has a few to a few dozen
// of them, each row in an order of its own: a comparison sort's branches
// then mispredict about once per element (16 buckets by insertion took 185
// ns, half of what writing the row cost). A sorting network does the same
// compare-exchanges whatever the order, and each is branch-free (min and max
// of integers compile to conditional moves), so it costs the same for every
// order.
//
// A bucket goes into the network as one word, its order (19 bits) above its
// index, so that the words are distinct and sort as the buckets must; the
// buckets are then gathered by index. The networks are Batcher's odd-even
// merge sorts for 4, 8, 16 and 32 inputs, written out in the order of the
// sort's recursive definition (each half sorted, then the halves merged). A 64-input
// one, 543 compare-exchanges, was slower than two of 32 and a merge; calling
// the network of half the size for each half, instead of writing it out,
// cost 7-12 % from 24 to 64 buckets. TestSortNetworks checks that each is
// Batcher's, comparator for comparator, and runs those up to 16 inputs on
// every input of zeros and ones, which by the 0-1 principle shows that they
// sort every input.

// netMax is the most buckets sortSmall sorts.
const netMax = 32

// sortSmall sorts b, at most netMax buckets, by Key.order, equal keys in
// their order in b; if merge, it also merges buckets of equal keys as
// SortBuckets does. It returns the number of buckets kept.
func sortSmall(b []Bucket, merge bool) int {
	switch n := len(b); {
	case n <= 1:
		return n
	case n <= 4:
		var w [4]uint64
		var c [4]Bucket
		pack(w[:], b)
		net4(&w)
		return gather(b, w[:], c[:], merge)
	case n <= 8:
		var w [8]uint64
		var c [8]Bucket
		pack(w[:], b)
		net8(&w)
		return gather(b, w[:], c[:], merge)
	case n <= 16:
		var w [16]uint64
		var c [16]Bucket
		pack(w[:], b)
		net16(&w)
		return gather(b, w[:], c[:], merge)
	default:
		var w [32]uint64
		var c [32]Bucket
		pack(w[:], b)
		net32(&w)
		return gather(b, w[:], c[:], merge)
	}
}

// pack writes the word of each bucket of b into w, and pads the rest of w
// with words that sort after every bucket.
func pack(w []uint64, b []Bucket) {
	for i, e := range b[:min(len(b), len(w))] {
		w[i] = uint64(e.Key.order())<<32 | uint64(i)
	}
	for i := len(b); i < len(w); i++ {
		w[i] = math.MaxUint64
	}
}

// gather puts b's buckets in the order of the sorted words w: it writes
// them to c (a power of two long, no shorter than b), then copies them back.
// If merge, a bucket whose key is the previous one's is added into it. It
// returns the buckets kept.
func gather(b []Bucket, w []uint64, c []Bucket, merge bool) int {
	n := 0
	for i := range b {
		e := b[uint32(w[i])&uint32(len(c)-1)]
		if merge && n > 0 && w[i]>>32 == w[i-1]>>32 {
			c[n-1].Count += e.Count
			continue
		}
		c[n] = e
		n++
	}
	return copy(b, c[:n])
}

// mergeMax is the most buckets sortMerged sorts.
const mergeMax = 64

// sortMerged is sortSmall for netMax to mergeMax buckets: runs of netMax
// sorted by the network, then merged pairwise without branches.
func sortMerged(b []Bucket, merge bool) int {
	var w, t [mergeMax]uint64
	m := (len(b) + netMax - 1) / netMax * netMax
	pack(w[:m], b)
	for k := 0; k < m; k += netMax {
		net32((*[netMax]uint64)(w[k : k+netMax]))
	}
	src, dst := w[:m], t[:m]
	for width := netMax; width < m; width *= 2 {
		for lo := 0; lo < m; lo += 2 * width {
			mid, hi := min(lo+width, m), min(lo+2*width, m)
			mergeWords(dst[lo:hi], src[lo:mid], src[mid:hi])
		}
		src, dst = dst, src
	}
	var c [mergeMax]Bucket
	return gather(b, src, c[:], merge)
}

// mergeWords merges the sorted words of a and b into dst, as long as both.
// Each step takes the smaller front without a branch; a side that is used
// up reads as the largest word.
func mergeWords(dst, a, b []uint64) {
	if len(a) == 0 || len(b) == 0 {
		copy(dst[copy(dst, a):], b)
		return
	}
	i, j := 0, 0
	for k := range dst {
		x := a[min(i, len(a)-1)] | uint64(int64(len(a)-1-i)>>63)
		y := b[min(j, len(b)-1)] | uint64(int64(len(b)-1-j)>>63)
		takeA := 0
		if x < y {
			takeA = 1
		}
		dst[k] = min(x, y)
		i += takeA
		j += 1 - takeA
	}
}

// cx puts the smaller of *a and *b in *a, the larger in *b.
func cx(a, b *uint64) {
	x, y := *a, *b
	*a, *b = min(x, y), max(x, y)
}

// net4 sorts w ascending: 5 compare-exchanges.
func net4(w *[4]uint64) {
	cx(&w[0], &w[1])
	cx(&w[2], &w[3])
	cx(&w[0], &w[2])
	cx(&w[1], &w[3])
	cx(&w[1], &w[2])
}

// net8 sorts w ascending: 19 compare-exchanges.
func net8(w *[8]uint64) {
	cx(&w[0], &w[1])
	cx(&w[2], &w[3])
	cx(&w[0], &w[2])
	cx(&w[1], &w[3])
	cx(&w[1], &w[2])
	cx(&w[4], &w[5])
	cx(&w[6], &w[7])
	cx(&w[4], &w[6])
	cx(&w[5], &w[7])
	cx(&w[5], &w[6])
	cx(&w[0], &w[4])
	cx(&w[2], &w[6])
	cx(&w[2], &w[4])
	cx(&w[1], &w[5])
	cx(&w[3], &w[7])
	cx(&w[3], &w[5])
	cx(&w[1], &w[2])
	cx(&w[3], &w[4])
	cx(&w[5], &w[6])
}

// net16 sorts w ascending: 63 compare-exchanges.
func net16(w *[16]uint64) {
	cx(&w[0], &w[1])
	cx(&w[2], &w[3])
	cx(&w[0], &w[2])
	cx(&w[1], &w[3])
	cx(&w[1], &w[2])
	cx(&w[4], &w[5])
	cx(&w[6], &w[7])
	cx(&w[4], &w[6])
	cx(&w[5], &w[7])
	cx(&w[5], &w[6])
	cx(&w[0], &w[4])
	cx(&w[2], &w[6])
	cx(&w[2], &w[4])
	cx(&w[1], &w[5])
	cx(&w[3], &w[7])
	cx(&w[3], &w[5])
	cx(&w[1], &w[2])
	cx(&w[3], &w[4])
	cx(&w[5], &w[6])
	cx(&w[8], &w[9])
	cx(&w[10], &w[11])
	cx(&w[8], &w[10])
	cx(&w[9], &w[11])
	cx(&w[9], &w[10])
	cx(&w[12], &w[13])
	cx(&w[14], &w[15])
	cx(&w[12], &w[14])
	cx(&w[13], &w[15])
	cx(&w[13], &w[14])
	cx(&w[8], &w[12])
	cx(&w[10], &w[14])
	cx(&w[10], &w[12])
	cx(&w[9], &w[13])
	cx(&w[11], &w[15])
	cx(&w[11], &w[13])
	cx(&w[9], &w[10])
	cx(&w[11], &w[12])
	cx(&w[13], &w[14])
	cx(&w[0], &w[8])
	cx(&w[4], &w[12])
	cx(&w[4], &w[8])
	cx(&w[2], &w[10])
	cx(&w[6], &w[14])
	cx(&w[6], &w[10])
	cx(&w[2], &w[4])
	cx(&w[6], &w[8])
	cx(&w[10], &w[12])
	cx(&w[1], &w[9])
	cx(&w[5], &w[13])
	cx(&w[5], &w[9])
	cx(&w[3], &w[11])
	cx(&w[7], &w[15])
	cx(&w[7], &w[11])
	cx(&w[3], &w[5])
	cx(&w[7], &w[9])
	cx(&w[11], &w[13])
	cx(&w[1], &w[2])
	cx(&w[3], &w[4])
	cx(&w[5], &w[6])
	cx(&w[7], &w[8])
	cx(&w[9], &w[10])
	cx(&w[11], &w[12])
	cx(&w[13], &w[14])
}

// net32 sorts w ascending: 191 compare-exchanges.
func net32(w *[32]uint64) {
	cx(&w[0], &w[1])
	cx(&w[2], &w[3])
	cx(&w[0], &w[2])
	cx(&w[1], &w[3])
	cx(&w[1], &w[2])
	cx(&w[4], &w[5])
	cx(&w[6], &w[7])
	cx(&w[4], &w[6])
	cx(&w[5], &w[7])
	cx(&w[5], &w[6])
	cx(&w[0], &w[4])
	cx(&w[2], &w[6])
	cx(&w[2], &w[4])
	cx(&w[1], &w[5])
	cx(&w[3], &w[7])
	cx(&w[3], &w[5])
	cx(&w[1], &w[2])
	cx(&w[3], &w[4])
	cx(&w[5], &w[6])
	cx(&w[8], &w[9])
	cx(&w[10], &w[11])
	cx(&w[8], &w[10])
	cx(&w[9], &w[11])
	cx(&w[9], &w[10])
	cx(&w[12], &w[13])
	cx(&w[14], &w[15])
	cx(&w[12], &w[14])
	cx(&w[13], &w[15])
	cx(&w[13], &w[14])
	cx(&w[8], &w[12])
	cx(&w[10], &w[14])
	cx(&w[10], &w[12])
	cx(&w[9], &w[13])
	cx(&w[11], &w[15])
	cx(&w[11], &w[13])
	cx(&w[9], &w[10])
	cx(&w[11], &w[12])
	cx(&w[13], &w[14])
	cx(&w[0], &w[8])
	cx(&w[4], &w[12])
	cx(&w[4], &w[8])
	cx(&w[2], &w[10])
	cx(&w[6], &w[14])
	cx(&w[6], &w[10])
	cx(&w[2], &w[4])
	cx(&w[6], &w[8])
	cx(&w[10], &w[12])
	cx(&w[1], &w[9])
	cx(&w[5], &w[13])
	cx(&w[5], &w[9])
	cx(&w[3], &w[11])
	cx(&w[7], &w[15])
	cx(&w[7], &w[11])
	cx(&w[3], &w[5])
	cx(&w[7], &w[9])
	cx(&w[11], &w[13])
	cx(&w[1], &w[2])
	cx(&w[3], &w[4])
	cx(&w[5], &w[6])
	cx(&w[7], &w[8])
	cx(&w[9], &w[10])
	cx(&w[11], &w[12])
	cx(&w[13], &w[14])
	cx(&w[16], &w[17])
	cx(&w[18], &w[19])
	cx(&w[16], &w[18])
	cx(&w[17], &w[19])
	cx(&w[17], &w[18])
	cx(&w[20], &w[21])
	cx(&w[22], &w[23])
	cx(&w[20], &w[22])
	cx(&w[21], &w[23])
	cx(&w[21], &w[22])
	cx(&w[16], &w[20])
	cx(&w[18], &w[22])
	cx(&w[18], &w[20])
	cx(&w[17], &w[21])
	cx(&w[19], &w[23])
	cx(&w[19], &w[21])
	cx(&w[17], &w[18])
	cx(&w[19], &w[20])
	cx(&w[21], &w[22])
	cx(&w[24], &w[25])
	cx(&w[26], &w[27])
	cx(&w[24], &w[26])
	cx(&w[25], &w[27])
	cx(&w[25], &w[26])
	cx(&w[28], &w[29])
	cx(&w[30], &w[31])
	cx(&w[28], &w[30])
	cx(&w[29], &w[31])
	cx(&w[29], &w[30])
	cx(&w[24], &w[28])
	cx(&w[26], &w[30])
	cx(&w[26], &w[28])
	cx(&w[25], &w[29])
	cx(&w[27], &w[31])
	cx(&w[27], &w[29])
	cx(&w[25], &w[26])
	cx(&w[27], &w[28])
	cx(&w[29], &w[30])
	cx(&w[16], &w[24])
	cx(&w[20], &w[28])
	cx(&w[20], &w[24])
	cx(&w[18], &w[26])
	cx(&w[22], &w[30])
	cx(&w[22], &w[26])
	cx(&w[18], &w[20])
	cx(&w[22], &w[24])
	cx(&w[26], &w[28])
	cx(&w[17], &w[25])
	cx(&w[21], &w[29])
	cx(&w[21], &w[25])
	cx(&w[19], &w[27])
	cx(&w[23], &w[31])
	cx(&w[23], &w[27])
	cx(&w[19], &w[21])
	cx(&w[23], &w[25])
	cx(&w[27], &w[29])
	cx(&w[17], &w[18])
	cx(&w[19], &w[20])
	cx(&w[21], &w[22])
	cx(&w[23], &w[24])
	cx(&w[25], &w[26])
	cx(&w[27], &w[28])
	cx(&w[29], &w[30])
	cx(&w[0], &w[16])
	cx(&w[8], &w[24])
	cx(&w[8], &w[16])
	cx(&w[4], &w[20])
	cx(&w[12], &w[28])
	cx(&w[12], &w[20])
	cx(&w[4], &w[8])
	cx(&w[12], &w[16])
	cx(&w[20], &w[24])
	cx(&w[2], &w[18])
	cx(&w[10], &w[26])
	cx(&w[10], &w[18])
	cx(&w[6], &w[22])
	cx(&w[14], &w[30])
	cx(&w[14], &w[22])
	cx(&w[6], &w[10])
	cx(&w[14], &w[18])
	cx(&w[22], &w[26])
	cx(&w[2], &w[4])
	cx(&w[6], &w[8])
	cx(&w[10], &w[12])
	cx(&w[14], &w[16])
	cx(&w[18], &w[20])
	cx(&w[22], &w[24])
	cx(&w[26], &w[28])
	cx(&w[1], &w[17])
	cx(&w[9], &w[25])
	cx(&w[9], &w[17])
	cx(&w[5], &w[21])
	cx(&w[13], &w[29])
	cx(&w[13], &w[21])
	cx(&w[5], &w[9])
	cx(&w[13], &w[17])
	cx(&w[21], &w[25])
	cx(&w[3], &w[19])
	cx(&w[11], &w[27])
	cx(&w[11], &w[19])
	cx(&w[7], &w[23])
	cx(&w[15], &w[31])
	cx(&w[15], &w[23])
	cx(&w[7], &w[11])
	cx(&w[15], &w[19])
	cx(&w[23], &w[27])
	cx(&w[3], &w[5])
	cx(&w[7], &w[9])
	cx(&w[11], &w[13])
	cx(&w[15], &w[17])
	cx(&w[19], &w[21])
	cx(&w[23], &w[25])
	cx(&w[27], &w[29])
	cx(&w[1], &w[2])
	cx(&w[3], &w[4])
	cx(&w[5], &w[6])
	cx(&w[7], &w[8])
	cx(&w[9], &w[10])
	cx(&w[11], &w[12])
	cx(&w[13], &w[14])
	cx(&w[15], &w[16])
	cx(&w[17], &w[18])
	cx(&w[19], &w[20])
	cx(&w[21], &w[22])
	cx(&w[23], &w[24])
	cx(&w[25], &w[26])
	cx(&w[27], &w[28])
	cx(&w[29], &w[30])
}
