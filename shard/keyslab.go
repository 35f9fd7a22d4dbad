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
// then steps of 1/4 of a power of two) and carved from chunks; a freed slot
// goes to its class's free list and is reused by the next key of that
// class. Nothing is compacted, so a slot's bytes are stable until it is
// freed; the shard frees a key only after every snapshot that could
// reference it has been released.
//
// A keyRef packs the location and length of a key:
//
//	 63         40 39          16 15          0
//	+-------------+--------------+-------------+
//	| chunk (24)  | offset (24)  | length (16) |
//	+-------------+--------------+-------------+
type keySlab struct {
	chunks [][]byte
	// per class: the chunk being carved, its fill offset, and free slots
	// (keyRefs with length 0).
	cur   [numKeyClasses]int32
	fill  [numKeyClasses]int32
	freed [numKeyClasses][]keyRef
	// live and slots count bytes in use and bytes of allocated slots.
	live, slots, total int64
	// maxChunks bounds the chunks (what the owner's references can
	// address); 0: no bound.
	maxChunks int
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
	if n := len(s.freed[cl]); n > 0 {
		ref = s.freed[cl][n-1]
		s.freed[cl] = s.freed[cl][:n-1]
	} else {
		if s.cur[cl] < 0 || int(s.fill[cl])+size > len(s.chunks[s.cur[cl]]) {
			if s.maxChunks > 0 && len(s.chunks) >= s.maxChunks {
				return 0, false
			}
			// Chunks grow with the slab, up to one huge page, so that a
			// big slab is few pages and a small one stays small.
			chunkSize := max(keyChunkMin, 16*size, min(hugepage.Threshold, int(s.total/8)))
			s.chunks = append(s.chunks, hugepage.Make[byte](chunkSize, chunkSize))
			s.total += int64(chunkSize)
			s.cur[cl] = int32(len(s.chunks) - 1)
			s.fill[cl] = 0
		}
		ref = slotRef(uint32(s.cur[cl]), uint32(s.fill[cl]))
		s.fill[cl] += int32(size)
		s.slots += int64(size)
	}
	copy(s.chunks[ref.chunk()][ref.off():], key)
	s.live += int64(len(key))
	return ref | keyRef(len(key)), true
}

// free returns a key's slot to its class. The caller guarantees nobody reads
// the key any more.
func (s *keySlab) free(ref keyRef) {
	cl := keyClass(ref.len())
	s.live -= int64(ref.len())
	s.freed[cl] = append(s.freed[cl], ref&^0xFFFF)
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
