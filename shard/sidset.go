package shard

import "math/bits"

// sidSet is the set of free sids (below the shard's nRecs): a bitmap, a
// bit a sid, with a summary bit a bitmap word telling whether the word has
// a free sid. A new series takes the lowest free sid, so that the live
// series gather at the low sids: after a burst of series is reaped, what
// the burst used is whole pages of free records at the top (and between
// the series that stayed), which the shard gives back (Shard.trimRecs).
// (It replaces a stack, which handed out the last freed sid first: after a
// reap, which walks the sids upwards, the highest, so that new series
// spread over a burst's pages and kept them all.) The bitmap also costs an
// eighth of a byte a record instead of four bytes a free sid.
type sidSet struct {
	words []uint64 // bit i%64 of words[i/64]: sid i is free
	sum   []uint64 // bit j%64 of sum[j/64]: words[j] != 0
	low   int      // sum[:low] is all zero
	n     int      // free sids
}

// len returns the number of free sids.
func (f *sidSet) len() int { return f.n }

// has reports whether sid is free.
func (f *sidSet) has(sid uint32) bool {
	w := int(sid >> 6)
	return w < len(f.words) && f.words[w]&(1<<(sid&63)) != 0
}

// add frees sid, which must not be free.
func (f *sidSet) add(sid uint32) {
	w := int(sid >> 6)
	if w >= len(f.words) {
		f.words = append(f.words, make([]uint64, w+1-len(f.words))...)
		if need := (len(f.words) + 63) >> 6; need > len(f.sum) {
			f.sum = append(f.sum, make([]uint64, need-len(f.sum))...)
		}
	}
	bit := uint64(1) << (sid & 63)
	if f.words[w]&bit != 0 {
		panic("BUG: shard: a sid freed twice")
	}
	if f.words[w] == 0 {
		f.sum[w>>6] |= 1 << (w & 63)
	}
	f.words[w] |= bit
	f.n++
	f.low = min(f.low, w>>6)
}

// take removes the lowest free sid from the set and returns it; ok is
// false if there is none.
func (f *sidSet) take() (sid uint32, ok bool) {
	if f.n == 0 {
		return 0, false
	}
	for f.sum[f.low] == 0 {
		f.low++
	}
	w := f.low<<6 + bits.TrailingZeros64(f.sum[f.low])
	b := bits.TrailingZeros64(f.words[w])
	f.words[w] &^= 1 << b
	if f.words[w] == 0 {
		f.sum[w>>6] &^= 1 << (w & 63)
	}
	f.n--
	return uint32(w<<6 + b), true
}

// allFree reports whether every sid from lo up to hi (excluded) is free.
func (f *sidSet) allFree(lo, hi int) bool {
	for lo < hi {
		w := lo >> 6
		if w >= len(f.words) {
			return false
		}
		// The bits of word w from lo's up to hi's (or the word's end).
		n := min(hi-lo, 64-lo&63)
		m := (^uint64(0) >> (64 - n)) << (lo & 63)
		if f.words[w]&m != m {
			return false
		}
		lo += n
	}
	return true
}

// trim takes the free sids at the top of [0, n) out of the set and returns
// one past the highest sid below n that is not free (0 if none is).
func (f *sidSet) trim(n int) int {
	for n > 0 {
		w := (n - 1) >> 6
		if w >= len(f.words) {
			break
		}
		k := (n-1)&63 + 1           // the word's bits of sids below n: 0 to k-1
		m := ^uint64(0) >> (64 - k) // those bits
		free := f.words[w] & m
		kept := uint64(0) // the bits that stay: up to the highest sid in use
		if free != m {
			kept = ^uint64(0) >> bits.LeadingZeros64(^free&m)
		}
		f.words[w] &^= m &^ kept
		f.n -= bits.OnesCount64(free &^ kept)
		if f.words[w] == 0 {
			f.sum[w>>6] &^= 1 << (w & 63)
		}
		n = w<<6 + bits.Len64(kept)
		if kept != 0 {
			break
		}
	}
	// The bitmap shrinks with the sids, so that it does not keep a
	// burst's size either.
	if words := (n + 63) >> 6; words < len(f.words) {
		f.words = f.words[:words]
		f.sum = f.sum[:(words+63)>>6]
		if cap(f.words) > 1024 && cap(f.words) > 4*words {
			f.words = append([]uint64(nil), f.words...)
			f.sum = append([]uint64(nil), f.sum...)
		}
		f.low = min(f.low, len(f.sum))
	}
	return n
}
