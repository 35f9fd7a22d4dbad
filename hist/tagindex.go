package hist

import "github.com/gomad/mad/internal/hugepage"

// TagIndex is a pointer-free open-addressing hash index with linear probing
// of 8-byte entries:
//
//	 63        32 31         0
//	+------------+------------+
//	|    tag     |  value + 1 |      0 = empty
//	+------------+------------+
//
// The tag is the top 32 bits of the key's 64-bit hash. An entry's home slot
// is the top Log bits of its tag, so growing and deleting (backward-shift
// deletion, no tombstones) never need the key. A tag match only nominates a
// value: the owner of the index confirms it by comparing the keys, so a hash
// collision never merges two keys. Lookups probe Entries directly (see
// Home), which keeps the hot loops of the shard free of calls.
type TagIndex struct {
	Entries []uint64
	Log     uint
	n       int
}

const minTagIndexLog = 10

// NewTagIndex returns an empty index.
func NewTagIndex() TagIndex {
	return TagIndex{Entries: hugepage.Make[uint64](1<<minTagIndexLog, 1<<minTagIndexLog), Log: minTagIndexLog}
}

// Tag returns the tag of hash h.
func Tag(h uint64) uint32 { return uint32(h >> 32) }

// Home returns the home slot of tag.
func (x *TagIndex) Home(tag uint32) uint64 { return uint64(tag >> (32 - x.Log)) }

// Mask returns the probe wrap-around mask.
func (x *TagIndex) Mask() uint64 { return uint64(len(x.Entries) - 1) }

// Len returns the number of entries.
func (x *TagIndex) Len() int { return x.n }

// Insert adds value v under tag; v must not be ^0. Duplicates are the
// caller's concern.
func (x *TagIndex) Insert(tag, v uint32) {
	if (x.n+1)*4 > len(x.Entries)*3 {
		x.grow()
	}
	x.place(uint64(tag)<<32 | uint64(v+1))
	x.n++
}

func (x *TagIndex) place(e uint64) {
	mask := x.Mask()
	i := x.Home(uint32(e >> 32))
	for x.Entries[i] != 0 {
		i = (i + 1) & mask
	}
	x.Entries[i] = e
}

func (x *TagIndex) grow() {
	old := x.Entries
	x.Log++
	x.Entries = hugepage.Make[uint64](1<<x.Log, 1<<x.Log)
	for _, e := range old {
		if e != 0 {
			x.place(e)
		}
	}
}

// Delete removes value v stored under tag, with backward-shift deletion
// (Knuth, TAOCP vol. 3, 6.4 Algorithm R). It panics if v is not there.
func (x *TagIndex) Delete(tag, v uint32) {
	mask := x.Mask()
	want := uint64(tag)<<32 | uint64(v+1)
	i := x.Home(tag)
	for x.Entries[i] != want {
		if x.Entries[i] == 0 {
			panic("BUG: hist: deleting a value that is not in the index")
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		e := x.Entries[j]
		if e == 0 {
			break
		}
		k := x.Home(uint32(e >> 32))
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			x.Entries[i] = e
			i = j
		}
	}
	x.Entries[i] = 0
	x.n--
}
