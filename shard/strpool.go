package shard

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"
	"unsafe"

	"github.com/gomad/mad/internal/hugepage"
	"github.com/gomad/mad/internal/prefetch"
)

// stringPool interns the parts of a shard's series keys: metric names and
// dimension sets. A canonical key is kind | name | dimensions (see package
// sample), and series share these parts heavily (every metric of a host has
// the host's dimensions; a metric name recurs on every host), so a series
// record holds two 32-bit ids instead of its key bytes (keyWord), and
// comparing a sample's key with a series' reads two strings that are usually
// hot in cache.
//
// An id is where the string lives: its slot in a keySlab, chunk and offset
// in 8-byte units (keyAlign). The slot starts with an 8-byte header
// (reference count, length, flags), so reading a string takes no other
// memory than its own lines:
//
//	 31        18 17             0
//	+------------+----------------+       slot: count u32 | len u16 | flags u16 | bytes
//	| chunk (14) | offset/8 (18)  |
//	+------------+----------------+
//
// The one flag, poolPlain, notes that the text a key part holds (a name, a
// dimension set's keys and values) is plain JSON text (jsonstr.Plain): the
// emitter passes it on to the sinks, and a sink writing JSON copies the
// text as it is instead of checking every byte of it at every emission.
// It is worked out once, when the string is interned, by the caller's
// function, and is only ever read after that.
//
// Ids are reference counted. A string stays in its slot until its last
// reference is released, which the shard does only once every snapshot that
// could read it has been released; snapshots read the pool through a
// poolView taken when the table was sealed. Every series holds one
// reference to each of its key's parts until then, so a dimension set an
// emitter reads a count of 1 for is no other series' of its snapshot
// (poolView.readDims): the count is read and written atomically, as the
// shard updates it while emitters read it.
//
// Everything is pointer-free at any size: the strings live in a keySlab,
// the hash index is a tagIndex.
type stringPool struct {
	slab    *keySlab
	index   tagIndex
	live    int
	scratch []byte
}

const (
	poolHeader   = 8
	poolPlain    = 1  // flags (header byte 6): the part's text is plain JSON text
	poolOffShift = 18 // a chunk is at most 2 MiB (hugepage.Threshold)
	poolOffMask  = 1<<poolOffShift - 1
	poolMaxChunk = 1<<(32-poolOffShift) - 1
)

var poolSeed = maphash.MakeSeed()

func poolHash(b []byte) uint64 { return maphash.Bytes(poolSeed, b) }

func newStringPool() *stringPool {
	slab := newKeySlab()
	slab.maxChunks = poolMaxChunk + 1
	return &stringPool{slab: slab, index: newTagIndex()}
}

// An id addresses every offset of the largest chunk keySlab.alloc makes:
// one huge page, or 16 slots of the largest class.
var (
	_ [(poolOffMask+1)*keyAlign - hugepage.Threshold]struct{}
	_ [(poolOffMask+1)*keyAlign - 16*65536]struct{}
)

// poolRef is the slab location of id (its length left 0).
func poolRef(id uint32) keyRef {
	return slotRef(id>>poolOffShift, id&poolOffMask*keyAlign)
}

func poolID(ref keyRef) uint32 {
	if ref.chunk() > poolMaxChunk || ref.off()%keyAlign != 0 || ref.off()/keyAlign > poolOffMask {
		panic("BUG: shard: a pool slot beyond what an id can address")
	}
	return uint32(ref.chunk())<<poolOffShift | uint32(ref.off()/keyAlign)
}

// poolSlot returns the header and bytes of id in chunks.
func poolSlot(chunks [][]byte, id uint32) (hdr, b []byte) {
	c := chunks[id>>poolOffShift]
	off := int(id&poolOffMask) * keyAlign
	hdr = c[off : off+poolHeader : off+poolHeader]
	n := int(binary.LittleEndian.Uint16(hdr[4:]))
	return hdr, c[off+poolHeader : off+poolHeader+n : off+poolHeader+n]
}

// poolCount is the reference count in a slot's header (hdr, poolSlot's):
// its first 4 bytes, 8-byte aligned (slots are keyAlign apart from a chunk's
// start, which keySlab.newChunk checks). Only the shard's goroutine writes
// it (a slot's first count is copied in with its bytes, before its id is
// published); emitters read it (poolView.readDims).
func poolCount(hdr []byte) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(unsafe.SliceData(hdr)))
}

// acquire returns the id of b, interning a copy of it if it is new, and
// counts one reference to it. len(b) must be at most 65527 (sample.MaxKeyLen
// is lower). ok is false, with nothing changed, when b is new and the pool's
// ids can address no more chunks (2^14 of at most 2 MiB: about 32 GiB of
// strings). plain, called only when b is new, tells whether b's text is
// plain JSON text (poolPlain); it must answer the same for the same bytes.
func (p *stringPool) acquire(b []byte, plain func([]byte) bool) (id uint32, ok bool) {
	h := poolHash(b)
	tag := tagOf(h)
	for i := p.index.home(tag); ; i++ {
		e := p.index.entries[i]
		if e == 0 {
			break
		}
		if e.tag() == tag {
			id := e.value()
			if hdr, s := poolSlot(p.slab.chunks, id); bytes.Equal(s, b) {
				poolCount(hdr).Add(1)
				return id, true
			}
		}
	}
	var flags byte
	if plain(b) {
		flags = poolPlain
	}
	rec := append(p.scratch[:0], 1, 0, 0, 0, byte(len(b)), byte(len(b)>>8), flags, 0)
	rec = append(rec, b...)
	p.scratch = rec
	ref, ok := p.slab.alloc(rec)
	if !ok {
		return 0, false
	}
	id = poolID(ref)
	p.index.insert(tag, id)
	p.live++
	return id, true
}

// prefetch hints the index slot where acquire(b) starts its probe.
func (p *stringPool) prefetch(b []byte) {
	prefetch.Line(addr(&p.index.entries[p.index.home(tagOf(poolHash(b)))]))
}

// release drops one reference to id; the last one frees the string. The
// caller guarantees that nobody reads the string any more.
func (p *stringPool) release(id uint32) {
	hdr, b := poolSlot(p.slab.chunks, id)
	n := poolCount(hdr).Load()
	if n == 0 {
		panic("BUG: shard: releasing a free string")
	}
	poolCount(hdr).Store(n - 1) // the one writer: no read-modify-write needed
	if n > 1 {
		return
	}
	p.index.delete(tagOf(poolHash(b)), id)
	p.slab.free(poolRef(id) | keyRef(poolHeader+len(b)))
	p.live--
}

// bytes returns the string of id; the slice aliases the pool.
func (p *stringPool) bytes(id uint32) []byte {
	_, b := poolSlot(p.slab.chunks, id)
	return b
}

// addr returns the address of the slot of id, for prefetch hints; 0 if id
// is out of range.
func (p *stringPool) addr(id uint32) uintptr { return p.slab.addr(poolRef(id)) }

// view returns a read-only view of the strings interned so far, valid for
// them while the pool keeps interning.
func (p *stringPool) view() poolView { return poolView{p.slab.view()} }

// stats returns the number of interned strings and the bytes of their slots
// in use (headers included).
func (p *stringPool) stats() (strings int, bytes int64) {
	live, _, _ := p.slab.stats()
	return p.live, live
}

// poolView reads the strings of a stringPool as of the time it was taken.
type poolView struct {
	keys keyView
}

// bytes returns the string of id; the slice aliases the pool.
func (v poolView) bytes(id uint32) []byte {
	_, b := poolSlot(v.keys.chunks, id)
	return b
}

// slot returns the address of id's slot (its header, then the string),
// reading nothing there: for hints.
func (v poolView) slot(id uint32) uintptr {
	c := v.keys.chunks[id>>poolOffShift]
	return addr(&c[int(id&poolOffMask)*keyAlign])
}

// read returns the string of id and whether it is plain JSON text (bytes
// and plain in one read of the slot).
func (v poolView) read(id uint32) (b []byte, plain bool) {
	hdr, b := poolSlot(v.keys.chunks, id)
	return b, hdr[6]&poolPlain != 0
}

// readDims returns the string of id and whether no other series of the
// view's snapshot holds it: its reference count is 1. Each series of a
// snapshot holds a reference to its key's parts while the snapshot is
// outstanding, so two of them with this id would count 2 at least; a
// count read above 1 tells nothing (other series may hold it, in no
// snapshot; the empty name and the empty dimension section share an id).
func (v poolView) readDims(id uint32) (b []byte, alone bool) {
	hdr, b := poolSlot(v.keys.chunks, id)
	return b, poolCount(hdr).Load() == 1
}

// plain reports whether the string of id is plain JSON text (poolPlain).
// The flags are written before the string's id is published and never
// change, while the shard may update the count beside them: a reader
// reads the one byte.
func (v poolView) plain(id uint32) bool {
	hdr, _ := poolSlot(v.keys.chunks, id)
	return hdr[6]&poolPlain != 0
}
