package ring

import "sync/atomic"

// ItemWords is the size of a telemetry item in 64-bit words.
const ItemWords = 4

// Item is one telemetry record: a small fixed set of words whose meaning the
// writer and reader agree on (a counter id and its values, say). Items are
// copied word by word through atomics, so the ring is race-free without
// locks even when the writer overwrites a slot the reader is reading.
type Item [ItemWords]uint64

// Telemetry is a drop-oldest ring with one writer and one reader. The writer
// never blocks and never waits for the reader: when the ring is full it
// overwrites the oldest item. The reader detects overwritten items itself and
// counts them (Lost); the writer never touches the reader's cursor, which
// would be a data race.
//
// Each slot carries a sequence word, a per-slot seqlock (Lamport,
// "Concurrent Reading and Writing", 1977): the writer of item s stores
// 2s+1 before writing the words and 2s+2 after. A reader that wants item s
// reads the sequence, the words, and the sequence again, and accepts the item
// only if both reads are 2s+2; anything else means the slot was overwritten
// by a later lap, and item s is counted lost.
type Telemetry struct {
	_     [cacheLine]byte
	tail  atomic.Uint64 // next item the writer writes
	_     [cacheLine - 8]byte
	head  uint64 // next item the reader wants; reader only
	lost  atomic.Uint64
	_     [cacheLine - 16]byte
	mask  uint64
	slots []telemetrySlot
}

type telemetrySlot struct {
	seq atomic.Uint64
	w   [ItemWords]atomic.Uint64
}

// NewTelemetry returns a ring of capacity items, rounded up to a power of two.
func NewTelemetry(capacity int) *Telemetry {
	n := 2
	for n < capacity {
		n <<= 1
	}
	return &Telemetry{mask: uint64(n - 1), slots: make([]telemetrySlot, n)}
}

// Put appends it, overwriting the oldest item if the ring is full. Writer only.
func (r *Telemetry) Put(it Item) {
	s := r.tail.Load()
	slot := &r.slots[s&r.mask]
	slot.seq.Store(2*s + 1)
	for i := range it {
		slot.w[i].Store(it[i])
	}
	slot.seq.Store(2*s + 2)
	r.tail.Store(s + 1)
}

// Get returns the oldest item not yet read; ok is false when there is none.
// Items the writer overwrote before they were read are skipped and counted
// in Lost. Reader only.
func (r *Telemetry) Get() (it Item, ok bool) {
	for {
		t := r.tail.Load()
		if r.head >= t {
			return it, false
		}
		if n := uint64(len(r.slots)); t-r.head > n {
			r.lost.Add(t - r.head - n)
			r.head = t - n
		}
		slot := &r.slots[r.head&r.mask]
		want := 2*r.head + 2
		if slot.seq.Load() != want {
			// Overwritten (or being overwritten) by a later lap.
			r.lost.Add(1)
			r.head++
			continue
		}
		for i := range it {
			it[i] = slot.w[i].Load()
		}
		if slot.seq.Load() != want {
			r.lost.Add(1)
			r.head++
			continue
		}
		r.head++
		return it, true
	}
}

// Lost returns how many items were overwritten before the reader got them.
// Safe from any goroutine.
func (r *Telemetry) Lost() uint64 { return r.lost.Load() }

// Written returns how many items the writer has put. Safe from any goroutine.
func (r *Telemetry) Written() uint64 { return r.tail.Load() }
