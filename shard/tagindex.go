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
// is the top log bits of its tag, so growing and deleting (backward-shift
// deletion, no tombstones) never need the key. A tag match only nominates a
// value: the owner of the index confirms it by comparing the keys, so a hash
// collision never merges two keys. The shard keeps two: the series index
// (value: sid) and its stringPool's (value: string id). Lookups probe
// entries directly (see home), which keeps the hot loops free of calls.
type tagIndex struct {
	entries []tagEntry
	log     uint
	n       int
}

// tagEntry is an entry of a tagIndex; 0 is an empty slot.
type tagEntry uint64

func newTagEntry(tag, v uint32) tagEntry { return tagEntry(uint64(tag)<<32 | uint64(v+1)) }

// tag returns the entry's tag.
func (e tagEntry) tag() uint32 { return uint32(e >> 32) }

// value returns the value stored in a non-empty entry.
func (e tagEntry) value() uint32 { return uint32(e) - 1 }

const minTagIndexLog = 10

func newTagIndex() tagIndex {
	return tagIndex{entries: hugepage.Make[tagEntry](1<<minTagIndexLog, 1<<minTagIndexLog), log: minTagIndexLog}
}

// tagOf returns the tag of hash h.
func tagOf(h uint64) uint32 { return uint32(h >> 32) }

// home returns the home slot of tag.
func (x *tagIndex) home(tag uint32) uint64 { return uint64(tag >> (32 - x.log)) }

// mask returns the probe wrap-around mask.
func (x *tagIndex) mask() uint64 { return uint64(len(x.entries) - 1) }

// len returns the number of entries.
func (x *tagIndex) len() int { return x.n }

// insert adds value v under tag; v must not be ^0. Duplicates are the
// caller's concern.
func (x *tagIndex) insert(tag, v uint32) {
	if (x.n+1)*4 > len(x.entries)*3 {
		x.grow()
	}
	x.place(newTagEntry(tag, v))
	x.n++
}

func (x *tagIndex) place(e tagEntry) {
	mask := x.mask()
	i := x.home(e.tag())
	for x.entries[i] != 0 {
		i = (i + 1) & mask
	}
	x.entries[i] = e
}

func (x *tagIndex) grow() {
	old := x.entries
	x.log++
	x.entries = hugepage.Make[tagEntry](1<<x.log, 1<<x.log)
	for _, e := range old {
		if e != 0 {
			x.place(e)
		}
	}
}

// delete removes value v stored under tag, with backward-shift deletion
// (Knuth, TAOCP vol. 3, 6.4 Algorithm R). It panics if v is not there.
func (x *tagIndex) delete(tag, v uint32) {
	mask := x.mask()
	want := newTagEntry(tag, v)
	i := x.home(tag)
	for x.entries[i] != want {
		if x.entries[i] == 0 {
			panic("BUG: shard: deleting a value that is not in the index")
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		e := x.entries[j]
		if e == 0 {
			break
		}
		k := x.home(e.tag())
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			x.entries[i] = e
			i = j
		}
	}
	x.entries[i] = 0
	x.n--
}
