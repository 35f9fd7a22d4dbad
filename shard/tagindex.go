package shard

import "github.com/gomad/mad/internal/hugepage"

// tagIndex is a pointer-free open-addressing hash index with linear probing
// of 8-byte entries (tagEntry):
//
//	 63        32 31         0
//	+------------+------------+
//	|    tag     |  value + 1 |      0 = empty
//	+------------+------------+
//
// The tag is the top 32 bits of the key's 64-bit hash. An entry's home slot
// is its tag scaled to the number of home slots (tag·homes / 2^32, Lemire's
// multiply-shift range reduction), so homes need not be a power of two and
// the index grows by half at a time: at most three quarters of the homes
// are used, and from a half to three quarters as it fills, about 13 bytes
// an entry on average (15.4 when doubling, 12 when growing by a quarter).
// Growing rewrites every entry into a new array, memory touched for the
// first time; a quarter at a time cost five times the final index in such
// writes, half at a time costs three, and the new-series path at a million
// series took about a third less time (BENCHMARKS.md). Home order is tag order,
// so growing and deleting (backward-shift deletion, no tombstones) never
// need the key.
//
// Probes run forward and never wrap: past the homes there is a tail of
// slots that only runs spill into, and the last slot is always empty, so a
// probe ends at an empty slot within the array. An insertion that would
// fill the last slot grows the index instead (at three quarters' load a run
// that long at the end is rare; it costs an early growth, never a result).
//
// A tag match only nominates a value: the owner of the index confirms it by
// comparing the keys, so a hash collision never merges two keys. The shard
// keeps two: the series index (value: sid) and its stringPool's (value:
// string id). Lookups probe entries directly (see home), which keeps the hot
// loops free of calls.
type tagIndex struct {
	entries     []tagEntry // homes, then tagIndexTail slots
	homes       uint64
	n           int
	shrinkBelow int // half of n at the last rebuild: delete shrinks only under it
}

// tagEntry is an entry of a tagIndex; 0 is an empty slot.
type tagEntry uint64

func newTagEntry(tag, v uint32) tagEntry { return tagEntry(uint64(tag)<<32 | uint64(v+1)) }

// tag returns the entry's tag.
func (e tagEntry) tag() uint32 { return uint32(e >> 32) }

// value returns the value stored in a non-empty entry.
func (e tagEntry) value() uint32 { return uint32(e) - 1 }

const (
	minTagIndexHomes = 1024
	tagIndexTail     = 128
)

func newTagIndex() tagIndex { return makeTagIndex(minTagIndexHomes) }

func makeTagIndex(homes uint64) tagIndex {
	n := int(homes) + tagIndexTail
	return tagIndex{entries: hugepage.Make[tagEntry](n, n), homes: homes}
}

// tagOf returns the tag of hash h.
func tagOf(h uint64) uint32 { return uint32(h >> 32) }

// home returns the home slot of tag.
func (x *tagIndex) home(tag uint32) uint64 { return uint64(tag) * x.homes >> 32 }

// len returns the number of entries.
func (x *tagIndex) len() int { return x.n }

// insert adds value v under tag; v must not be ^0. Duplicates are the
// caller's concern.
func (x *tagIndex) insert(tag, v uint32) {
	if uint64(x.n+1)*4 > x.homes*3 {
		x.grow()
	}
	for !x.place(newTagEntry(tag, v)) {
		x.grow()
	}
	x.n++
}

// place puts e in the first empty slot from its home, unless that is the
// last slot, which must stay empty (it reports false, changing nothing).
func (x *tagIndex) place(e tagEntry) bool {
	i := x.home(e.tag())
	for x.entries[i] != 0 {
		i++
	}
	if i == uint64(len(x.entries)-1) {
		return false
	}
	x.entries[i] = e
	return true
}

// grow rebuilds the index with half as many homes again.
func (x *tagIndex) grow() { x.rebuild(x.homes + x.homes/2) }

// rebuild rebuilds the index with homes homes (a quarter more again in the
// rare case that a run reaches the last slot on the way).
func (x *tagIndex) rebuild(homes uint64) {
	old, n := x.entries, x.n
	for ; ; homes += homes / 4 {
		*x = makeTagIndex(homes)
		x.n, x.shrinkBelow = n, n/2
		ok := true
		for _, e := range old {
			if e != 0 && !x.place(e) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
	}
}

// delete removes value v stored under tag, with backward-shift deletion
// (Knuth, TAOCP vol. 3, 6.4 Algorithm R, without the wrap-around), and
// shrinks the index once it is under an eighth full. It panics if v is not
// there.
func (x *tagIndex) delete(tag, v uint32) {
	want := newTagEntry(tag, v)
	i := x.home(tag)
	for x.entries[i] != want {
		if x.entries[i] == 0 {
			panic("BUG: shard: deleting a value that is not in the index")
		}
		i++
	}
	// An entry after the hole may move into it if its home is at or
	// before the hole; the run ends at the first empty slot.
	for j := i + 1; x.entries[j] != 0; j++ {
		if e := x.entries[j]; x.home(e.tag()) <= i {
			x.entries[i] = e
			i = j
		}
	}
	x.entries[i] = 0
	x.n--
	if x.homes > minTagIndexHomes && uint64(x.n)*8 < x.homes && x.n < x.shrinkBelow {
		// A burst of series reaped: the index lets go of its size. Half
		// full again, it grows at three quarters and shrinks at an eighth;
		// and never before half its entries at the last rebuild are gone
		// (an index grown early by a long run is under an eighth full
		// from the start), so a rebuild follows as many deletions as half
		// the entries it moved.
		x.rebuild(max(minTagIndexHomes, uint64(x.n)*2))
	}
}
