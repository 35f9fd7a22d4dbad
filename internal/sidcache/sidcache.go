// Package sidcache is a producer's cache of the series it has seen: what a
// line names a series by (its kind, and its name and tags as the line
// writes them: its identity) mapped to the series' canonical key, the key's
// hash and, once the series' shard has answered an ask, the series' handle
// (see package shard, handle.go). A decoder that finds a line's series here sends the
// sample with the handle: it builds, hashes and copies no key, and the
// shard neither looks the series up nor compares keys.
//
// The cache is exact: a line finds a series only if its kind and identity
// are the series', byte for byte, so a hash collision never merges two
// series. The identity must decide the series' key: lines of equal kinds
// and identities have the same key (the decoder's rule; lines with tags in
// different orders are different identities of one series, each cached).
// It is bounded: at most MaxSeries series in MaxBytes bytes of records;
// when either is reached, it is cleared (counted) and fills again.
//
// A series is a record in one array, its header and its key together, so
// that a hit reads the index's line and the record's (often one line), no
// more; the index holds the identity's hash's low 32 bits and the record's
// place. It belongs to its producer's goroutine: the decoder looks lines
// up, the producer gives it the answers of the batches the shards gave
// back.
package sidcache

import (
	"bytes"
	"hash/maphash"
	"unsafe"

	"github.com/gomad/mad/internal/prefetch"
	"github.com/gomad/mad/internal/sample"
)

// Bounds of a cache: 131 072 series and 8 MiB of records (with an index of
// at most 2 MiB); a record is about 64 bytes for a 30-byte name, and the
// index 8 to 32 bytes a series.
const (
	MaxSeries = 1 << 17
	MaxBytes  = 8 << 20
	minIndex  = 64
	minWords  = 256
)

// AheadFrom is the size of a cache's records from which its lookups are
// worth hinting ahead (Ahead): about 65 000 series of 30-byte names. Below
// it the index and the records miss the core's caches less, and putting
// lookups off cost more than the misses it hid, by up to 4 % at 35 000 to
// 50 000 series on a quiet host (BENCHMARKS.md, "The series cache's
// lookups put off").
const AheadFrom = 4 << 20

// Cache maps a series' kind and identity to its key, hash and handle.
type Cache struct {
	index []uint64 // tag << 32 | record's word + 1; 0: empty
	words []uint64 // the records (Record, then the key, in whole words)
	ahead int      // AheadFrom, in words (tests lower it)
	used  int
	seq   uint32 // the last ticket's sequence number
	first uint32 // the first sequence number given (or to give) since the last clear
	// Clears counts the times the cache was full and was cleared.
	Clears uint64
}

// Record is a series' header; its canonical key (whose first byte is its
// kind, which Find compares) follows it, then its identity unless the key
// holds it.
type Record struct {
	// Hash is the series' canonical key's hash (sample.Hash).
	Hash uint64
	// Handle is the series' handle, good in batches of Epoch; 0 if none
	// yet.
	Handle uint64
	Epoch  uint32
	ticket uint32 // the sequence number of the ask outstanding; 0: none
	klen   uint16 // the key's length
	rawAt  uint16 // the identity's offset from the key's start: in the key, or after it
	rawLen uint16 // the identity's first part's length
	tagLen uint16 // its second part's, right after the first
}

const headerWords = int(unsafe.Sizeof(Record{})) / 8

var _ [unsafe.Sizeof(Record{}) % 8]struct{} // whole words

var seed = maphash.MakeSeed()

// New returns an empty cache.
func New() *Cache {
	return &Cache{index: make([]uint64, minIndex), words: make([]uint64, 0, minWords), ahead: AheadFrom / 8}
}

// Hash returns the hash Find and Insert take for a line's kind and
// identity (ident, then tags, which may be nil).
//
// Find compares an identity's bytes, but cannot tell empty tags from none
// by them (`a:1|c|#`, refused, from `a:1|c`): the hashes do. The tags'
// term is odd, so an identity with tags, even empty ones, differs from the
// same identity without in the lowest bit of the tag Find compares.
func Hash(kind uint8, ident, tags []byte) uint64 {
	h := maphash.Bytes(seed, ident) ^ uint64(kind)*0x9E3779B97F4A7C15
	if tags != nil {
		h ^= (maphash.Bytes(seed, tags) | 1) * 0xD6E8FEB86659FD93
	}
	return h
}

// rec returns the record at word w.
func (c *Cache) rec(w int) *Record { return (*Record)(unsafe.Pointer(&c.words[w])) }

// key returns the key of the record at word w.
func (c *Cache) key(w int, r *Record) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&c.words[w+headerWords])), int(r.klen))
}

// bytes returns the key and identity bytes of the record at word w.
func (c *Cache) bytes(w int, r *Record) []byte {
	n := max(int(r.klen), int(r.rawAt)+int(r.rawLen)+int(r.tagLen))
	return unsafe.Slice((*byte)(unsafe.Pointer(&c.words[w+headerWords])), n)
}

// Find returns the record of kind and identity ident and tags (h is
// Hash(kind, ident, tags)), or -1.
func (c *Cache) Find(kind uint8, ident, tags []byte, h uint64) int {
	tag := uint32(h)
	mask := uint32(len(c.index) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		e := c.index[i]
		if e == 0 {
			return -1
		}
		if uint32(e>>32) != tag {
			continue
		}
		w := int(uint32(e)) - 1
		r := c.rec(w)
		if int(r.rawLen) != len(ident) || int(r.tagLen) != len(tags) {
			continue
		}
		// The record's bytes, which Insert wrote: its key (kind first),
		// the identity at rawAt.
		base := unsafe.Pointer(&c.words[w+headerWords])
		raw := unsafe.Add(base, r.rawAt)
		if *(*uint8)(base) == kind && bytes.Equal(unsafe.Slice((*byte)(raw), len(ident)), ident) &&
			(len(tags) == 0 || bytes.Equal(unsafe.Slice((*byte)(unsafe.Add(raw, len(ident))), len(tags)), tags)) {
			return w
		}
	}
}

// Ahead reports whether a decoder should hint its lookups ahead: the
// records are AheadFrom bytes or more.
func (c *Cache) Ahead() bool { return len(c.words) >= c.ahead }

// SetAheadFrom sets the size of the records (bytes) from which Ahead
// reports true: for tests, which lower it.
func (c *Cache) SetAheadFrom(n int) { c.ahead = n / 8 }

// Hint hints the index slot a lookup of hash h starts at, and the record
// a lookup of hash r would compare first: the record of the first of the
// four index slots from r's on with r's tag (an index line hinted a while
// before, by Hint(r, …)); r = h hints no record. h and r are
// Hash(kind, ident, tags) of two lines; hints change nothing.
func (c *Cache) Hint(h, r uint64) {
	mask := uint32(len(c.index) - 1)
	at := &c.index[uint32(h)&mask]
	rec := unsafe.Pointer(at)
	tag := uint32(r)
	for i, n := tag&mask, 0; n < 4 && r != h; i, n = (i+1)&mask, n+1 {
		e := c.index[i]
		if e == 0 {
			break
		}
		if uint32(e>>32) == tag {
			rec = unsafe.Pointer(&c.words[int(uint32(e))-1])
			break
		}
	}
	prefetch.Lines2(uintptr(unsafe.Pointer(at)), uintptr(rec))
}

// Insert adds kind and identity ident and tags (h is Hash(kind, ident,
// tags)), which Find did not find, with the series' canonical key (whose
// first byte is kind) and its hash. If the identity is untagged (tags nil)
// and ident is at identAt in key, the record keeps only the key; else
// (identAt < 0) the identity follows it. It returns the new record, or -1
// if the key or the identity is too long to cache. It may clear the cache
// first (it is full), and may move the records: the records Find or Insert
// returned before are not valid after.
func (c *Cache) Insert(kind uint8, ident, tags []byte, h uint64, key []byte, identAt int, hash uint64) int {
	if len(key) == 0 || key[0] != kind || len(key) > 1<<12 || len(ident)+len(tags) > 1<<12 {
		return -1
	}
	raw := len(key)
	if identAt >= 0 && tags == nil && identAt+len(ident) <= len(key) && bytes.Equal(key[identAt:identAt+len(ident)], ident) {
		raw = identAt
	}
	size := max(len(key), raw+len(ident)+len(tags))
	n := headerWords + (size+7)/8
	if (len(c.words)+n)*8 > MaxBytes || c.used >= MaxSeries {
		c.Clear()
		c.Clears++
	}
	if (c.used+1)*2 > len(c.index) {
		c.grow()
	}
	w := len(c.words)
	if w+n > cap(c.words) {
		words := make([]uint64, w, max(2*cap(c.words), w+n))
		copy(words, c.words)
		c.words = words
	}
	c.words = c.words[:w+n]
	clear(c.words[w : w+n])
	r := c.rec(w)
	*r = Record{Hash: hash, klen: uint16(len(key)), rawAt: uint16(raw), rawLen: uint16(len(ident)), tagLen: uint16(len(tags))}
	b := c.bytes(w, r)
	copy(b, key)
	if raw == len(key) {
		copy(b[raw+copy(b[raw:], ident):], tags)
	}
	c.place(uint32(h), w)
	c.used++
	return w
}

// place files the record at word w under tag.
func (c *Cache) place(tag uint32, w int) {
	mask := uint32(len(c.index) - 1)
	i := tag & mask
	for c.index[i] != 0 {
		i = (i + 1) & mask
	}
	c.index[i] = uint64(tag)<<32 | uint64(w+1)
}

// grow doubles the index.
func (c *Cache) grow() {
	old := c.index
	c.index = make([]uint64, 2*len(old))
	for _, e := range old {
		if e != 0 {
			c.place(uint32(e>>32), int(uint32(e))-1)
		}
	}
}

// Clear empties the cache (it keeps its memory). Answers to the asks made
// before are ignored.
func (c *Cache) Clear() {
	clear(c.index)
	c.words = c.words[:0]
	c.used = 0
	if c.first = c.seq + 1; c.first == 0 {
		c.first = 1
	}
}

// Len returns the series cached.
func (c *Cache) Len() int { return c.used }

// Record returns record i (from Find or Insert).
func (c *Cache) Record(i int) *Record { return c.rec(i) }

// Key returns the canonical key of record i.
func (c *Cache) Key(i int) []byte { return c.key(i, c.rec(i)) }

// Send adds a plain sample (AddHandle's fields) of record i's series to the
// batch route picks for its hash: by the series' handle if the record has
// one good in the batch's epoch, else by its key, asking for the handle. It
// reports whether it sent the handle. route may take answers into the
// cache (the producer's Route gives it the batches the shards gave back),
// which moves no record. (The StatsD decoder writes this out in its own
// hot path, which the inliner does not take Send into.)
func (c *Cache) Send(i int, route sample.Route, t int64, v float64, u sample.Unit, flags uint8) bool {
	r := c.rec(i)
	b := route(r.Hash)
	if r.Handle != 0 && r.Epoch == b.Epoch {
		b.AddHandle(r.Handle, t, v, u, flags)
		return true
	}
	b.AddAsking(b.PutKeyBytes(c.key(i, r), r.Hash), t, v, u, flags, c.Ticket(i))
	return false
}

// Ticket returns the ticket of an ask for record i's handle: the ask
// outstanding, or a new one.
func (c *Cache) Ticket(i int) uint64 {
	r := c.rec(i)
	if r.ticket == 0 {
		if c.seq++; c.seq == 0 {
			c.seq = 1
		}
		r.ticket = c.seq
	}
	return uint64(r.ticket)<<32 | uint64(i)
}

// Answer takes the answers of asks a shard gave back: each one that
// answers the ask outstanding of its record gives the record its handle.
func (c *Cache) Answer(asks []sample.Ask) {
	for i := range asks {
		a := &asks[i]
		seq, w := uint32(a.Ticket>>32), int(uint32(a.Ticket))
		// Only a ticket given since the last clear names a record (w is
		// one's first word): there were c.seq+1-c.first of them, none
		// right after the clear (all counts wrap around together).
		if a.Handle == 0 || seq-c.first >= c.seq+1-c.first || w+headerWords > len(c.words) {
			continue
		}
		if r := c.rec(w); r.ticket == seq {
			r.Handle, r.Epoch, r.ticket = a.Handle, a.Epoch, 0
		}
	}
}
