package shard

import (
	"unsafe"

	"github.com/gomad/mad/internal/hugepage"
)

// keySlab is the memory the key parts of a shard's series live in (the
// stringPool's slots). A key never moves while it is allocated, so records
// refer to it by keyRef, and readers holding a snapshot can read it while the
// shard keeps allocating.
//
// Keys are rounded up to size classes (steps of 8 bytes from 16 to 128,
// then steps of 1/4 of a power of two) and carved from chunks, each chunk
// for one class. A freed slot goes back to its chunk, and a key takes a
// free slot of the lowest-numbered chunk of its class that has one (a
// min-heap of them a class), so that keys gather in the low chunks: a
// chunk all of whose slots are free is given back (left to the collector)
// and its number reused for a later chunk. After a burst of series is
// reaped, the chunks its keys filled go, but for those still holding a key
// that stayed. Nothing is compacted, so a slot's bytes are stable until it
// is freed; the shard frees a key only after every snapshot that could
// reference it has been released, and so no reader reads a chunk given
// back.
//
// A keyRef packs the location and length of a key:
//
//	 63         40 39          16 15          0
//	+-------------+--------------+-------------+
//	| chunk (24)  | offset (24)  | length (16) |
//	+-------------+--------------+-------------+
type keySlab struct {
	chunks [][]byte                 // nil: a chunk given back, its number in spare
	meta   []chunkMeta              // by chunk
	spare  []int32                  // numbers of chunks given back, for new chunks
	avail  [numKeyClasses]chunkHeap // per class: its chunks with free slots
	// per class: the chunk being carved and its fill offset.
	cur  [numKeyClasses]int32
	fill [numKeyClasses]int32
	// live and slots count bytes in use and bytes of allocated slots;
	// given counts the bytes of chunks given back, for tests.
	live, slots, total, given int64
	// maxChunks bounds the chunks (what the owner's references can
	// address); 0: no bound.
	maxChunks int
}

// chunkMeta is what a keySlab knows of a chunk.
type chunkMeta struct {
	free   []uint32 // offsets of its free slots
	used   int32    // slots in use
	carved int32    // bytes of slots carved from it
	class  int8
}

// chunkHeap is a min-heap of chunk numbers.
type chunkHeap []int32

func (h *chunkHeap) push(c int32) {
	*h = append(*h, c)
	h.up(len(*h) - 1)
}

func (h chunkHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (h chunkHeap) down(i int) {
	for {
		m := i
		if l := 2*i + 1; l < len(h) && h[l] < h[m] {
			m = l
		}
		if r := 2*i + 2; r < len(h) && h[r] < h[m] {
			m = r
		}
		if m == i {
			return
		}
		h[m], h[i] = h[i], h[m]
		i = m
	}
}

// remove takes chunk c out of the heap, which holds it.
func (h *chunkHeap) remove(c int32) {
	s := *h
	i := 0
	for s[i] != c {
		i++
	}
	last := len(s) - 1
	s[i] = s[last]
	*h = s[:last]
	if i < last {
		s[:last].down(i)
		s[:last].up(i)
	}
}

// keyRef locates a key in a keySlab.
type keyRef uint64

// slotRef is the keyRef of the slot at offset off of chunk, its length 0.
func slotRef(chunk, off uint32) keyRef { return keyRef(uint64(chunk)<<40 | uint64(off)<<16) }

// len returns the key length.
func (r keyRef) len() int   { return int(r & 0xFFFF) }
func (r keyRef) chunk() int { return int(r >> 40) }
func (r keyRef) off() int   { return int(r >> 16 & 0xFFFFFF) }

const (
	numKeyClasses = 51
	keyChunkMin   = 64 << 10 // bytes per chunk, at least
	keyAlign      = 8        // every slot's size and offset are multiples of it
)

// keyClasses are the slot sizes: 16 to 128 in steps of 8 (short strings,
// the most common, waste at most 7 bytes), then four steps per power of two
// up to 64 KiB.
var keyClasses = func() [numKeyClasses]int32 {
	var c [numKeyClasses]int32
	i := 0
	for s := int32(16); s <= 128; s += keyAlign {
		c[i] = s
		i++
	}
	for p := int32(128); i < numKeyClasses; p *= 2 {
		for _, q := range []int32{5, 6, 7, 8} {
			c[i] = p * q / 4
			i++
		}
	}
	return c
}()

// keyClass returns the smallest class that holds n bytes.
func keyClass(n int) int {
	if n <= 128 {
		return max(0, (n+keyAlign-1)/keyAlign-2)
	}
	// Linear over the rest is fine: this runs once per new long key part.
	for i := 15; i < numKeyClasses; i++ {
		if int(keyClasses[i]) >= n {
			return i
		}
	}
	panic("BUG: shard: key longer than the largest slot class")
}

func newKeySlab() *keySlab {
	s := &keySlab{}
	for i := range s.cur {
		s.cur[i] = -1
	}
	return s
}

// alloc copies key into the slab and returns its reference. len(key) must be
// at most 65535 (sample.MaxKeyLen). ok is false, with nothing allocated,
// when the key needs a new chunk and the slab has maxChunks.
func (s *keySlab) alloc(key []byte) (ref keyRef, ok bool) {
	cl := keyClass(len(key))
	size := int(keyClasses[cl])
	var c int32
	if h := &s.avail[cl]; len(*h) > 0 {
		c = (*h)[0]
		m := &s.meta[c]
		n := len(m.free)
		ref = slotRef(uint32(c), m.free[n-1])
		m.free = m.free[:n-1]
		if n == 1 {
			h.remove(c)
			if cap(m.free) > 64 {
				m.free = nil // a burst's free list is not kept
			}
		}
	} else {
		if s.cur[cl] < 0 || int(s.fill[cl])+size > len(s.chunks[s.cur[cl]]) {
			// (The chunk carved so far is full, every slot in use: none
			// is free in avail.)
			if c, ok = s.newChunk(cl, size); !ok {
				return 0, false
			}
			s.cur[cl], s.fill[cl] = c, 0
		}
		c = s.cur[cl]
		ref = slotRef(uint32(c), uint32(s.fill[cl]))
		s.fill[cl] += int32(size)
		s.meta[c].carved += int32(size)
		s.slots += int64(size)
	}
	s.meta[c].used++
	copy(s.chunks[c][ref.off():], key)
	s.live += int64(len(key))
	return ref | keyRef(len(key)), true
}

// newChunk adds a chunk for class cl (slots of size bytes), numbered as a
// chunk given back if there is one; ok is false if the slab has maxChunks.
func (s *keySlab) newChunk(cl, size int) (c int32, ok bool) {
	n := len(s.spare)
	if n == 0 && s.maxChunks > 0 && len(s.chunks) >= s.maxChunks {
		return 0, false
	}
	// Chunks grow with the slab, up to one huge page, so that a big slab
	// is few pages and a small one stays small.
	chunkSize := max(keyChunkMin, 16*size, min(hugepage.Threshold, int(s.total/8)))
	chunk := hugepage.Make[byte](chunkSize, chunkSize)
	if addr(&chunk[0])%keyAlign != 0 {
		// Go's large allocations start on a page; the pool's counts
		// are read atomically in place (poolCount).
		panic("BUG: shard: a key chunk not aligned to keyAlign")
	}
	s.total += int64(chunkSize)
	if n > 0 {
		c = s.spare[n-1]
		s.spare = s.spare[:n-1]
		s.chunks[c] = chunk
		s.meta[c] = chunkMeta{class: int8(cl)}
		return c, true
	}
	s.chunks = append(s.chunks, chunk)
	s.meta = append(s.meta, chunkMeta{class: int8(cl)})
	return int32(len(s.chunks) - 1), true
}

// giveBack lets go of chunk c, none of whose slots is in use.
func (s *keySlab) giveBack(c int32) {
	m := &s.meta[c]
	if len(m.free) > 0 {
		s.avail[m.class].remove(c)
	}
	s.slots -= int64(m.carved)
	s.total -= int64(len(s.chunks[c]))
	s.given += int64(len(s.chunks[c]))
	s.chunks[c] = nil
	*m = chunkMeta{}
	s.spare = append(s.spare, c)
}

// free returns a key's slot to its chunk, and the chunk to the collector
// once none of its slots is in use (unless it is being carved). The caller
// guarantees nobody reads the key any more.
func (s *keySlab) free(ref keyRef) {
	c := int32(ref.chunk())
	m := &s.meta[c]
	s.live -= int64(ref.len())
	m.used--
	if m.used == 0 && s.cur[m.class] != c {
		s.giveBack(c)
		return
	}
	m.free = append(m.free, uint32(ref.off()))
	if len(m.free) == 1 {
		s.avail[m.class].push(c)
	}
}

// bytes returns the key of ref. The slice aliases the slab.
func (s *keySlab) bytes(ref keyRef) []byte { return s.view().bytes(ref) }

// addr returns the address of the key of ref, for prefetch hints; 0 if ref
// is not in the slab.
func (s *keySlab) addr(ref keyRef) uintptr {
	c, o := ref.chunk(), ref.off()
	if c >= len(s.chunks) || o >= len(s.chunks[c]) {
		return 0
	}
	return uintptr(unsafe.Pointer(&s.chunks[c][o]))
}

// view returns a read-only view of the keys allocated so far. It stays valid
// for those keys while the slab keeps allocating.
func (s *keySlab) view() keyView { return keyView{chunks: s.chunks} }

// stats returns the bytes of live keys, of allocated slots (including free
// ones) and of chunks.
func (s *keySlab) stats() (live, slots, total int64) { return s.live, s.slots, s.total }

// keyView reads keys of a keySlab as of the time the view was taken.
type keyView struct {
	chunks [][]byte
}

// bytes returns the key of ref; the slice aliases the slab.
func (v keyView) bytes(ref keyRef) []byte {
	c := v.chunks[ref.chunk()]
	o := ref.off()
	return c[o : o+ref.len() : o+ref.len()]
}
