package hist

// The histograms of one table live in its Arena. Each histogram is a small
// open-addressing hash table (linear probing, power-of-two capacity, load
// factor ≤ 3/4) of packed entries, in one of two widths. A histogram starts
// narrow, with 32-bit entries:
//
//	 31  30         12 11          0
//	+---+-------------+-------------+
//	| 1 |  key (19)   | count (12)  |
//	+---+-------------+-------------+
//
// and is widened, once, to 64-bit entries when a count would pass 4095:
//
//	 63  62  61         43 42                              0
//	+---+---+-------------+---------------------------------+
//	| 1 | h |  key (19)   |           count (43)            |
//	+---+---+-------------+---------------------------------+
//
// Most histograms never are: a bucket of a period rarely takes 4 096 samples
// of one series, and a timer's 600-odd distinct buckets then fit 4 KiB, not
// 8 (a timer sample's update is a random read of that block in each
// period, so the blocks' total is the working set of a timer-heavy load).
//
// An all-zero word is an empty slot, so a freshly cleared block is an empty
// table, and a bucket with count 0 (which pre-aggregated data may carry) is
// still a present key. A wide bucket's count is split in two entries: the
// low 43 bits (h = 0) and, only once a count has carried past 2^43, the high
// part (h = 1, in units of 2^43). Recording any uint64 count therefore
// touches at most two entries, and reading sums them modulo 2^64, which is
// MAD's Java long arithmetic.
//
// A set's members (AddMember) are 64-bit entries in blocks of the same kind.
//
// A histogram handle (Hist) is one uint64 held in the table's hist column:
//
//	 63        32 31        8  7  6  5      0
//	+------------+-----------+---+--+--------+
//	|    loc     |   used    | n |  | logCap |     0 = no histogram yet
//	+------------+-----------+---+--+--------+
//
// n: the entries are narrow. loc = chunk index << 16 | offset in chunk, in
// 64-bit words. Blocks are carved from chunks that grow geometrically (so a
// table with a few rows stays small), blocks never straddle chunks, and a
// block larger than a chunk gets a dedicated chunk at offset 0. Growing or
// widening a histogram moves it to a block twice the size; the old block is
// garbage until the arena is reset, which bounds the waste to the live size.

import (
	"slices"
	"unsafe"
)

const (
	countBits               = 43
	countMask        uint64 = 1<<countBits - 1
	entryHigh        uint64 = 1 << 62
	entryUsed        uint64 = 1 << 63
	narrowCountBits         = 12
	narrowCountMask  uint32 = 1<<narrowCountBits - 1
	narrowUsed       uint32 = 1 << 31
	minLogCap               = 2 // 4 slots
	firstChunk              = 1 << 9
	maxChunk                = 1 << 16 // offsets fit in 16 bits
	loadNum, loadDen        = 3, 4
	fibonacci32      uint32 = 0x9E3779B1

	handleNarrow = 1 << 7
	handleLogCap = 1<<6 - 1
)

func entryKey(e uint64) Key                      { return Key(e >> countBits & keyMask) }
func narrowKey(e uint32) Key                     { return Key(e >> narrowCountBits & keyMask) }
func narrowTag(k Key) uint32                     { return narrowUsed | uint32(k&keyMask)<<narrowCountBits }
func wideTag(k Key) uint64                       { return entryUsed | uint64(k&keyMask)<<countBits }
func widened(e uint32) uint64                    { return wideTag(narrowKey(e)) | uint64(e&narrowCountMask) }
func narrowPlace(e uint32, logCap uint32) uint32 { return slot(narrowKey(e), logCap) }

// Hist is a handle to one histogram in an Arena; 0 is the empty histogram.
type Hist uint64

func (h Hist) loc() uint32    { return uint32(h >> 32) }
func (h Hist) used() uint32   { return uint32(h) >> 8 }
func (h Hist) logCap() uint32 { return uint32(h) & handleLogCap }
func (h Hist) narrow() bool   { return uint32(h)&handleNarrow != 0 }

// words is the size of h's block in 64-bit words.
func (h Hist) words() int { return 1 << h.logCap() >> (uint32(h) >> 7 & 1) }

// withUsed returns h counting used entries.
func (h Hist) withUsed(used uint32) Hist {
	return h&^(1<<32-1) | Hist(used<<8|uint32(h)&0xFF)
}

func makeHist(loc, used, logCap uint32, narrow bool) Hist {
	if narrow {
		logCap |= handleNarrow
	}
	return Hist(uint64(loc)<<32 | uint64(used)<<8 | uint64(logCap))
}

// maxArenaChunks is how many chunks a Hist's loc addresses (16 bits of
// chunk index): 32 GiB of regular chunks, the bound of one table's
// histograms. Callers ask Table.HistRoom before updating histograms, and
// refuse the update when there is no room; alloc panics rather than wrap.
const maxArenaChunks = 1 << 16

// Arena owns the histogram blocks of one table. The zero value is ready.
type Arena struct {
	chunks [][]uint64
	cur    int // chunk being carved
	off    int // next free offset in chunks[cur]
	bytes  int64
	live   int64 // bytes of the histograms' current blocks
	slots  int64 // slots of the histograms' current blocks
	limit  int   // chunks at most; 0: maxArenaChunks (tests lower it)
}

// room reports whether the arena can make n more allocations (each adds at
// most one chunk) within its limit.
func (a *Arena) room(n int) bool {
	lim := a.limit
	if lim <= 0 || lim > maxArenaChunks {
		lim = maxArenaChunks
	}
	return len(a.chunks)+n <= lim
}

// addChunk appends a chunk, refusing to pass what a loc addresses.
func (a *Arena) addChunk(c []uint64) {
	if len(a.chunks) >= maxArenaChunks {
		panic("BUG: hist: a table's histograms outgrew what their handles address (callers check Table.HistRoom)")
	}
	a.chunks = append(a.chunks, c)
}

// Reset forgets every histogram. Regular chunks are kept for reuse; chunks
// dedicated to one big block are dropped.
func (a *Arena) Reset() {
	n := 0
	for _, c := range a.chunks {
		if len(c) <= maxChunk {
			a.chunks[n] = c
			n++
		}
	}
	clear(a.chunks[n:])
	a.chunks = a.chunks[:n]
	a.cur, a.off = 0, 0
	a.bytes, a.live, a.slots = 0, 0, 0
	for _, c := range a.chunks {
		a.bytes += int64(len(c)) * 8
	}
}

// Bytes returns the memory the arena holds.
func (a *Arena) Bytes() int64 { return a.bytes }

// LiveBytes returns the bytes of the histograms' current blocks: what
// updating them touches (blocks left behind by growth are not).
func (a *Arena) LiveBytes() int64 { return a.live }

// LiveSlots returns the slots of the histograms' current blocks.
func (a *Arena) LiveSlots() int64 { return a.slots }

// alloc returns a zeroed block of n words (n a power of two) and its loc.
func (a *Arena) alloc(n int) (uint32, []uint64) {
	a.live += int64(n) * 8
	if n > maxChunk {
		c := make([]uint64, n)
		a.addChunk(c)
		a.bytes += int64(n) * 8
		return uint32(len(a.chunks)-1) << 16, c
	}
	for {
		if a.cur < len(a.chunks) {
			c := a.chunks[a.cur]
			if len(c) <= maxChunk && a.off+n <= len(c) {
				b := c[a.off : a.off+n : a.off+n]
				loc := uint32(a.cur)<<16 | uint32(a.off)
				a.off += n
				clear(b)
				return loc, b
			}
			a.cur++
			a.off = 0
			continue
		}
		size := firstChunk
		if len(a.chunks) > 0 {
			size = min(len(a.chunks[len(a.chunks)-1])*2, maxChunk)
			if size < firstChunk {
				size = firstChunk
			}
		}
		size = max(size, n)
		a.addChunk(make([]uint64, size))
		a.bytes += int64(size) * 8
		a.cur = len(a.chunks) - 1
		a.off = 0
	}
}

// block returns h's block as 64-bit words, whatever its entries' width.
func (a *Arena) block(h Hist) []uint64 {
	loc := h.loc()
	c := a.chunks[loc>>16]
	off := int(loc & 0xFFFF)
	n := h.words()
	return c[off : off+n : off+n]
}

// entries returns block b as entries of type E.
func entries[E uint32 | uint64](b []uint64) []E {
	var e E
	return unsafe.Slice((*E)(unsafe.Pointer(unsafe.SliceData(b))), len(b)*8/int(unsafe.Sizeof(e)))
}

func slot(k Key, logCap uint32) uint32 {
	return (uint32(k) * fibonacci32) >> (32 - logCap)
}

// slotAddr returns the address of the slot that recording key k into h
// starts probing at (h not 0), for prefetch hints.
func (a *Arena) slotAddr(h Hist, k Key) uintptr {
	b := a.block(h)
	i := slot(k, h.logCap())
	if h.narrow() {
		return uintptr(unsafe.Pointer(&entries[uint32](b)[i]))
	}
	return uintptr(unsafe.Pointer(&b[i]))
}

// Touch makes *h a (possibly empty) histogram, so that it reads as fed.
func (a *Arena) Touch(h *Hist) {
	if *h == 0 {
		*h = a.fresh(true)
	}
}

// fresh returns a new empty histogram of the smallest size, narrow or wide.
func (a *Arena) fresh(narrow bool) Hist {
	h := makeHist(0, 0, minLogCap, narrow)
	loc, _ := a.alloc(h.words())
	a.slots += 1 << minLogCap
	return h | Hist(loc)<<32
}

// Record adds count entries of bucket k to the histogram *h.
func (a *Arena) Record(h *Hist, k Key, count uint64) {
	a.Touch(h)
	if h.narrow() {
		if count <= uint64(narrowCountMask) {
			e := probeInsert(a, h, k, narrowTag(k), narrowCountMask)
			if c := *e&narrowCountMask + uint32(count); c <= narrowCountMask {
				*e = *e&^narrowCountMask | c
				return
			}
		}
		a.widen(h)
	}
	tag := wideTag(k)
	e := probeInsert(a, h, k, tag, countMask)
	low := *e&countMask + count&countMask
	*e = tag | low&countMask
	if carry := low>>countBits + count>>countBits; carry != 0 {
		e = probeInsert(a, h, k, tag|entryHigh, countMask)
		*e = tag | entryHigh | (*e+carry)&countMask
	}
}

// probeInsert returns the entry of key k in *h (whose entries are of type
// E) whose bits outside free are tag, inserting it with those bits 0 (and
// growing the table) if absent.
func probeInsert[E uint32 | uint64](a *Arena, h *Hist, k Key, tag, free E) *E {
	for {
		hh := *h
		b := entries[E](a.block(hh))
		mask := uint32(len(b) - 1)
		i := slot(k, hh.logCap())
		for b[i] != 0 {
			if b[i]&^free == tag {
				return &b[i]
			}
			i = (i + 1) & mask
		}
		used := hh.used()
		if (used+1)*loadDen > uint32(len(b))*loadNum {
			rehash[E, E](a, h, hh.logCap()+1, hh.narrow(), false)
			continue
		}
		b[i] = tag
		*h = hh.withUsed(used + 1)
		return &b[i]
	}
}

// rehash moves *h, whose entries are of type E, to a new block of 1<<logCap
// entries of type F (narrow: 32-bit), a narrow entry made wide if F is
// wider, each placed by its key, or by its member hash for members.
func rehash[E, F uint32 | uint64](a *Arena, h *Hist, logCap uint32, narrow, members bool) {
	old := a.block(*h)
	a.live -= int64(len(old)) * 8
	a.slots += 1<<logCap - 1<<h.logCap()
	nh := makeHist(0, h.used(), logCap, narrow)
	loc, w := a.alloc(nh.words())
	nh |= Hist(loc) << 32
	b := entries[F](w)
	mask := uint32(len(b) - 1)
	for _, e := range entries[E](old) {
		if e == 0 {
			continue
		}
		var f F
		if unsafe.Sizeof(f) > unsafe.Sizeof(e) {
			f = F(widened(uint32(e)))
		} else {
			f = F(e)
		}
		var i uint32
		switch {
		case members:
			i = memberSlot(uint64(f), logCap)
		case unsafe.Sizeof(f) == 4:
			i = narrowPlace(uint32(f), logCap)
		default:
			i = histPlace(uint64(f), logCap)
		}
		for b[i] != 0 {
			i = (i + 1) & mask
		}
		b[i] = f
	}
	*h = nh
}

// widen moves the narrow histogram *h to 64-bit entries, in a block of as
// many slots.
func (a *Arena) widen(h *Hist) {
	rehash[uint32, uint64](a, h, h.logCap(), false, false)
}

func histPlace(e uint64, logCap uint32) uint32 { return slot(entryKey(e), logCap) }

// A set (of a StatsD set metric) uses the same blocks with different
// entries: each is a member's 64-bit hash (0 is stored as 1, so that 0 can
// mark an empty slot).
func memberSlot(x uint64, logCap uint32) uint32 {
	return uint32((x * 0x9E3779B97F4A7C15) >> (64 - logCap))
}

// MaxSetMembers is the most members a set holds: what a handle's used
// field counts (24 bits). A member past it is refused.
const MaxSetMembers = 1<<24 - 1

// AddMember adds member hash x to the set *h and reports whether it was
// new; ok is false, with nothing changed, for a new member of a set that
// holds MaxSetMembers already. A set's entries are 64-bit: a set is made
// wide, and a histogram fed as a set is widened first.
func (a *Arena) AddMember(h *Hist, x uint64) (added, ok bool) {
	if x == 0 {
		x = 1
	}
	if *h == 0 {
		*h = a.fresh(false)
	} else if h.narrow() {
		a.widen(h)
	}
	for {
		hh := *h
		b := a.block(hh)
		mask := uint32(len(b) - 1)
		i := memberSlot(x, hh.logCap())
		for b[i] != 0 {
			if b[i] == x {
				return false, true
			}
			i = (i + 1) & mask
		}
		used := hh.used()
		if used >= MaxSetMembers {
			return false, false
		}
		if (used+1)*loadDen > uint32(len(b))*loadNum {
			rehash[uint64, uint64](a, h, hh.logCap()+1, false, true)
			continue
		}
		b[i] = x
		*h = hh.withUsed(used + 1)
		return true, true
	}
}

// Merge adds every bucket of src (a histogram of arena from) into *h.
func (a *Arena) Merge(h *Hist, from *Arena, src Hist) {
	if src == 0 {
		return
	}
	var buf [64]Bucket
	for _, b := range from.AppendBuckets(buf[:0], src) {
		a.Record(h, b.Key, b.Count)
	}
}

// entryCount is the count an entry contributes (high parts scaled back).
func entryCount(e uint64) uint64 {
	// Without a branch: a high part's count is scaled by a shift of
	// countBits, a low part's by a shift of 0 (AppendBuckets reads a
	// block's entries in no order a predictor learns).
	return (e & countMask) << ((e >> 62 & 1) * countBits) // bit 62: entryHigh
}

// AppendBuckets appends the buckets of h to dst, unsorted and possibly with
// a key twice (low and high part of a count beyond 2^43); SortBuckets orders
// and merges them. It reads the block without a branch on whether a slot is
// used (a quarter to a half of them are not, in no order a predictor learns:
// those branches were most of the read): every slot is written, and only a
// used one is kept.
func (a *Arena) AppendBuckets(dst []Bucket, h Hist) []Bucket {
	if h == 0 {
		return dst
	}
	blk := a.block(h)
	n := len(dst)
	if h.narrow() {
		nb := entries[uint32](blk)
		dst = slices.Grow(dst, len(nb))
		out := dst[n : n+len(nb)]
		k := 0
		for _, e := range nb {
			out[k] = Bucket{Key: narrowKey(e), Count: uint64(e & narrowCountMask)}
			k += int(e >> 31) // narrowUsed
		}
		return dst[:n+k]
	}
	dst = slices.Grow(dst, len(blk))
	out := dst[n : n+len(blk)]
	k := 0
	for _, e := range blk {
		out[k] = Bucket{Key: entryKey(e), Count: entryCount(e)}
		k += int(e >> 63) // entryUsed
	}
	return dst[:n+k]
}

// Len returns the number of entries of h: its distinct keys, plus one for
// each key whose count went beyond 2^43.
func (h Hist) Len() int { return int(h.used()) }
