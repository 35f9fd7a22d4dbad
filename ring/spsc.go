// Package ring provides the lock-free queue of mad's data plane: a bounded
// single-producer single-consumer ring that carries batches from ingest
// loops to shards and snapshots from shards to the emitter.
//
// It has exactly one writer goroutine and one reader goroutine, and takes
// no lock. All cross-goroutine state is in typed atomics (Go's atomics
// are sequentially consistent, which subsumes the acquire/release pairs the
// algorithms need).
package ring

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// SPSC is a bounded single-producer single-consumer FIFO of T (Lamport's
// ring, "Proving the Correctness of Multiprocess Programs", 1977), with each
// side caching the other's cursor so that it touches the other's cache line
// only when the cached value says the ring looks full or empty (the
// FastForward/"cached index" refinement; Giacomoni et al., PPoPP 2008).
//
//	consumer line: head (next to read)  tailCache
//	producer line: tail (next to write) headCache
//	shared, read-only: buf (len a power of two), mask
//
// Invariant: head <= tail <= head + len(buf). Slot i%len(buf) is written
// only by the producer while tail <= i < head + len(buf), and read only by
// the consumer while head <= i < tail, so publishing tail after writing and
// head after reading orders every slot access.
//
// Push/PushN may be called only from one goroutine at a time (the producer)
// and Pop/PopN only from one goroutine at a time (the consumer); a producer
// slot may be handed from one goroutine to another if the hand-off itself
// synchronizes (a mutex or channel), which is how request handlers borrow a
// producer.
type SPSC[T any] struct {
	_         cpu.CacheLinePad
	head      atomic.Uint64
	tailCache uint64
	_         [cacheLine - 16]byte
	tail      atomic.Uint64
	headCache uint64
	_         [cacheLine - 16]byte
	mask      uint64
	buf       []T
	bell      atomic.Pointer[Bell] // rung by every push (SetBell)
	_         cpu.CacheLinePad
}

// SetBell makes every later push ring b (nil: none), so that a consumer
// sleeping on b wakes. Any goroutine.
func (r *SPSC[T]) SetBell(b *Bell) { r.bell.Store(b) }

// ring rings the ring's bell, if it has one.
func (r *SPSC[T]) ring() {
	if b := r.bell.Load(); b != nil {
		b.Ring()
	}
}

const cacheLine = int(unsafe.Sizeof(cpu.CacheLinePad{}))

// NewSPSC returns a ring holding up to capacity items; capacity is rounded up
// to a power of two (minimum 2).
func NewSPSC[T any](capacity int) *SPSC[T] {
	n := 2
	for n < capacity {
		n <<= 1
	}
	return &SPSC[T]{mask: uint64(n - 1), buf: make([]T, n)}
}

// Cap returns the ring's capacity.
func (r *SPSC[T]) Cap() int { return len(r.buf) }

// Len returns the number of items queued. Exact only when called by the
// producer or consumer while the other side is idle; otherwise a snapshot.
func (r *SPSC[T]) Len() int { return int(r.tail.Load() - r.head.Load()) }

// Pushed returns how many items were ever pushed (monotonic). Safe from any
// goroutine.
func (r *SPSC[T]) Pushed() uint64 { return r.tail.Load() }

// Popped returns how many items were ever popped (monotonic): an item pushed
// as the n-th (Pushed() == n after its Push) has been taken once Popped() >=
// n. Safe from any goroutine.
func (r *SPSC[T]) Popped() uint64 { return r.head.Load() }

// Push appends v; it reports false, without blocking, if the ring is full.
// Producer only.
func (r *SPSC[T]) Push(v T) bool {
	t := r.tail.Load()
	if t-r.headCache >= uint64(len(r.buf)) {
		r.headCache = r.head.Load()
		if t-r.headCache >= uint64(len(r.buf)) {
			return false
		}
	}
	r.buf[t&r.mask] = v
	r.tail.Store(t + 1)
	r.ring()
	return true
}

// PushN appends as many items of vs as fit, publishing them all at once, and
// returns how many it appended. Producer only.
func (r *SPSC[T]) PushN(vs []T) int {
	t := r.tail.Load()
	free := uint64(len(r.buf)) - (t - r.headCache)
	if free < uint64(len(vs)) {
		r.headCache = r.head.Load()
		free = uint64(len(r.buf)) - (t - r.headCache)
	}
	n := min(uint64(len(vs)), free)
	if n == 0 {
		return 0
	}
	i := t & r.mask
	c := copy(r.buf[i:], vs[:n])
	copy(r.buf, vs[c:n])
	r.tail.Store(t + n)
	r.ring()
	return int(n)
}

// Pop removes and returns the oldest item; ok is false if the ring is empty.
// Consumer only.
func (r *SPSC[T]) Pop() (v T, ok bool) {
	h := r.head.Load()
	if h == r.tailCache {
		r.tailCache = r.tail.Load()
		if h == r.tailCache {
			return v, false
		}
	}
	i := h & r.mask
	v = r.buf[i]
	var zero T
	r.buf[i] = zero // drop the ring's reference for the garbage collector
	r.head.Store(h + 1)
	return v, true
}

// PopN removes up to len(dst) of the oldest items into dst, in order, and
// returns how many. Consumer only.
func (r *SPSC[T]) PopN(dst []T) int {
	h := r.head.Load()
	avail := r.tailCache - h
	if avail < uint64(len(dst)) {
		r.tailCache = r.tail.Load()
		avail = r.tailCache - h
	}
	n := min(uint64(len(dst)), avail)
	if n == 0 {
		return 0
	}
	i := h & r.mask
	c := copy(dst[:n], r.buf[i:])
	copy(dst[c:n], r.buf)
	end := min(i+n, uint64(len(r.buf)))
	clear(r.buf[i:end])
	clear(r.buf[:n-(end-i)])
	r.head.Store(h + n)
	return int(n)
}
