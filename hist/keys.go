package hist

import (
	"unsafe"

	"github.com/gomad/mad/internal/hugepage"
)

// KeySlab stores the canonical keys of a shard's series. A key never moves
// while it is allocated, so tables and snapshots refer to it by KeyRef, and
// readers holding a snapshot can read it while the shard keeps allocating.
//
// Keys are rounded up to size classes (16 bytes, then steps of ~1/4 of a
// power of two) and carved from chunks; a freed slot goes to its class's free
// list and is reused by the next key of that class. Nothing is compacted, so
// a slot's bytes are stable until it is freed; the shard frees a key only
// after every snapshot that could reference it has been released.
//
// A KeyRef packs the location and length of a key:
//
//	 63         40 39          16 15          0
//	+-------------+--------------+-------------+
//	| chunk (24)  | offset (24)  | length (16) |
//	+-------------+--------------+-------------+
type KeySlab struct {
	chunks [][]byte
	// per class: the chunk being carved, its fill offset, and free slots
	// (KeyRefs with length 0).
	cur  [numKeyClasses]int32
	fill [numKeyClasses]int32
	free [numKeyClasses][]KeyRef
	// live and slots count bytes in use and bytes of allocated slots.
	live, slots, total int64
}

// KeyRef locates a key in a KeySlab.
type KeyRef uint64

// Len returns the key length.
func (r KeyRef) Len() int { return int(r & 0xFFFF) }

func (r KeyRef) chunk() int { return int(r >> 40) }
func (r KeyRef) off() int   { return int(r >> 16 & 0xFFFFFF) }

const (
	numKeyClasses = 44
	keyChunkMin   = 64 << 10 // bytes per chunk, at least
)

// keyClasses are the slot sizes: 16, 32, 48, 64, then four steps per power
// of two up to 64 KiB.
var keyClasses = func() [numKeyClasses]int32 {
	var c [numKeyClasses]int32
	i := 0
	for _, s := range []int32{16, 32, 48, 64} {
		c[i] = s
		i++
	}
	for p := int32(64); i < numKeyClasses; p *= 2 {
		for _, q := range []int32{5, 6, 7, 8} {
			if i < numKeyClasses {
				c[i] = p * q / 4
				i++
			}
		}
	}
	return c
}()

func keyClass(n int) int {
	// Linear over 44 entries is fine: this runs once per new series.
	for i, s := range keyClasses {
		if int(s) >= n {
			return i
		}
	}
	panic("BUG: key longer than the largest slot class")
}

// NewKeySlab returns an empty slab.
func NewKeySlab() *KeySlab {
	s := &KeySlab{}
	for i := range s.cur {
		s.cur[i] = -1
	}
	return s
}

// Alloc copies key into the slab and returns its reference. len(key) must be
// at most 65535 (sample.MaxKeyLen).
func (s *KeySlab) Alloc(key []byte) KeyRef {
	cl := keyClass(len(key))
	size := int(keyClasses[cl])
	var ref KeyRef
	if n := len(s.free[cl]); n > 0 {
		ref = s.free[cl][n-1]
		s.free[cl] = s.free[cl][:n-1]
	} else {
		if s.cur[cl] < 0 || int(s.fill[cl])+size > len(s.chunks[s.cur[cl]]) {
			// Chunks grow with the slab, up to one huge page, so that a
			// big slab is few pages and a small one stays small.
			chunkSize := max(keyChunkMin, 16*size, min(hugepage.Threshold, int(s.total/8)))
			s.chunks = append(s.chunks, hugepage.Make[byte](chunkSize, chunkSize))
			s.total += int64(chunkSize)
			s.cur[cl] = int32(len(s.chunks) - 1)
			s.fill[cl] = 0
		}
		ref = KeyRef(uint64(s.cur[cl])<<40 | uint64(s.fill[cl])<<16)
		s.fill[cl] += int32(size)
		s.slots += int64(size)
	}
	copy(s.chunks[ref.chunk()][ref.off():], key)
	s.live += int64(len(key))
	return ref | KeyRef(len(key))
}

// Free returns a key's slot to its class. The caller guarantees nobody reads
// the key any more.
func (s *KeySlab) Free(ref KeyRef) {
	cl := keyClass(ref.Len())
	s.live -= int64(ref.Len())
	s.free[cl] = append(s.free[cl], ref&^0xFFFF)
}

// Bytes returns the key of ref. The slice aliases the slab.
func (s *KeySlab) Bytes(ref KeyRef) []byte { return s.View().Bytes(ref) }

// Addr returns the address of the key of ref, for prefetch hints; 0 if ref
// is not in the slab.
func (s *KeySlab) Addr(ref KeyRef) uintptr {
	c := ref.chunk()
	if c >= len(s.chunks) || ref.off() >= len(s.chunks[c]) {
		return 0
	}
	return uintptr(unsafe.Pointer(&s.chunks[c][ref.off()]))
}

// View returns a read-only view of the keys allocated so far. It stays valid
// for those keys while the slab keeps allocating.
func (s *KeySlab) View() KeyView { return KeyView{chunks: s.chunks} }

// Stats returns the bytes of live keys, of allocated slots (including free
// ones) and of chunks.
func (s *KeySlab) Stats() (live, slots, total int64) { return s.live, s.slots, s.total }

// KeyView reads keys of a KeySlab as of the time the view was taken.
type KeyView struct {
	chunks [][]byte
}

// Bytes returns the key of ref; the slice aliases the slab.
func (v KeyView) Bytes(ref KeyRef) []byte {
	c := v.chunks[ref.chunk()]
	o := ref.off()
	return c[o : o+ref.Len() : o+ref.Len()]
}
