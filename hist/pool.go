package hist

import (
	"bytes"
	"hash/maphash"

	"github.com/gomad/mad/internal/hugepage"
)

// StringPool interns the parts of a shard's series keys: metric names and
// dimension sets. A canonical key is kind | name | dimensions (see package
// sample), and series share these parts heavily (every metric of a host has
// the host's dimensions; a metric name recurs on every host), so a series
// record holds two 32-bit ids instead of its key bytes, and comparing a
// sample's key with a series' reads two strings that are usually hot in
// cache.
//
// Ids are reference counted. A string stays at its id and its bytes never
// move until its last reference is released, which the shard does only once
// every snapshot that could read it has been released; snapshots read the
// pool through a View taken when the table was sealed.
//
// Everything is pointer-free at any size: the bytes live in a KeySlab, the
// id → location map and the counts in flat slices, the hash index in a
// TagIndex.
type StringPool struct {
	slab   *KeySlab
	refs   []KeyRef // by id
	counts []uint32 // references by id; 0: the id is free
	free   []uint32
	index  TagIndex
	live   int
}

var poolSeed = maphash.MakeSeed()

func poolHash(b []byte) uint64 { return maphash.Bytes(poolSeed, b) }

// NewStringPool returns an empty pool.
func NewStringPool() *StringPool {
	return &StringPool{slab: NewKeySlab(), index: NewTagIndex()}
}

// Acquire returns the id of b, interning a copy of it if it is new, and
// counts one reference to it. len(b) must be at most 65535.
func (p *StringPool) Acquire(b []byte) uint32 {
	h := poolHash(b)
	tag := Tag(h)
	mask := p.index.Mask()
	for i := p.index.Home(tag); ; i = (i + 1) & mask {
		e := p.index.Entries[i]
		if e == 0 {
			break
		}
		if uint32(e>>32) == tag {
			if id := uint32(e) - 1; bytes.Equal(p.Bytes(id), b) {
				p.counts[id]++
				return id
			}
		}
	}
	var id uint32
	if n := len(p.free); n > 0 {
		id = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		id = uint32(len(p.refs))
		p.refs = append(hugepage.Grow(p.refs, 1), 0)
		p.counts = append(hugepage.Grow(p.counts, 1), 0)
	}
	p.refs[id] = p.slab.Alloc(b)
	p.counts[id] = 1
	p.index.Insert(tag, id)
	p.live++
	return id
}

// Release drops one reference to id; the last one frees the string and its
// id. The caller guarantees that nobody reads the string any more.
func (p *StringPool) Release(id uint32) {
	if p.counts[id] == 0 {
		panic("BUG: hist: releasing a free string")
	}
	p.counts[id]--
	if p.counts[id] > 0 {
		return
	}
	p.index.Delete(Tag(poolHash(p.Bytes(id))), id)
	p.slab.Free(p.refs[id])
	p.free = append(p.free, id)
	p.live--
}

// Bytes returns the string of id; the slice aliases the pool.
func (p *StringPool) Bytes(id uint32) []byte { return p.slab.Bytes(p.refs[id]) }

// Addr returns the address of the string of id, for prefetch hints; 0 if id
// is out of range.
func (p *StringPool) Addr(id uint32) uintptr {
	if int(id) >= len(p.refs) {
		return 0
	}
	return p.slab.Addr(p.refs[id])
}

// View returns a read-only view of the strings interned so far, valid for
// them while the pool keeps interning.
func (p *StringPool) View() PoolView { return PoolView{keys: p.slab.View(), refs: p.refs} }

// Stats returns the number of interned strings and their bytes.
func (p *StringPool) Stats() (strings int, bytes int64) {
	live, _, _ := p.slab.Stats()
	return p.live, live
}

// PoolView reads the strings of a StringPool as of the time it was taken.
type PoolView struct {
	keys KeyView
	refs []KeyRef
}

// Bytes returns the string of id; the slice aliases the pool.
func (v PoolView) Bytes(id uint32) []byte { return v.keys.Bytes(v.refs[id]) }
