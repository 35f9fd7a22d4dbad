package ingest

import (
	"hash/maphash"
	"runtime"
	"sync/atomic"
)

// slotPool lends an HTTP source's slots. A request waits for a token, one
// a free slot, from a channel: first come first served, with its deadline
// and its client's cancellation, and the channel closed once the source
// stops, as it waited for the slots themselves before. With a token it
// then claims a slot (claim): the one its connection prefers if that is
// free and would not make it wait, else the next such one, else the first
// free one.
//
// A connection prefers one slot (prefOf its address), so that the
// requests of a kept-alive connection go to one slot while it can take
// them: a slot's producer has caches of its own (a rewriting source's
// cache of its input series), and a client that sends the same series
// request after request (collectd, an application's client) then fills
// one slot's cache, not each slot's in turn.
//
// Tokens in the channel and tokens taken but not yet used for a claim are
// never more than the free slots (put frees the slot before it gives its
// token back), so a claim always finds one.
type slotPool struct {
	tokens chan struct{}
	all    []*httpSlot
	busy   []atomic.Bool
}

func newSlotPool(all []*httpSlot) *slotPool {
	p := &slotPool{tokens: make(chan struct{}, len(all)), all: all, busy: make([]atomic.Bool, len(all))}
	for i, sl := range all {
		sl.idx = i
		p.tokens <- struct{}{}
	}
	return p
}

// claim takes a free slot for a token taken: the first free one, from
// pref on (pref < 0: from the first), that would not make the request
// wait (ready), else the first free one. So a connection keeps its slot
// while the slot can take its requests at once, and a request never waits
// on a slot whose rings are full, or whose last request the shards have
// not taken yet, while another free slot could serve it. A claim holds
// one slot at a time (a slot it looks at and passes over is let go before
// the next), so that with a token a claim always finds a free slot; it
// yields between passes that found none (other claims were looking at
// them).
func (p *slotPool) claim(pref int) *httpSlot {
	n := len(p.all)
	start := max(pref, 0)
	for {
		for k := range n {
			i := (start + k) % n
			if p.busy[i].Load() || !p.busy[i].CompareAndSwap(false, true) {
				continue
			}
			if p.all[i].ready() {
				return p.all[i]
			}
			p.busy[i].Store(false)
		}
		for k := range n {
			i := (start + k) % n
			if !p.busy[i].Load() && p.busy[i].CompareAndSwap(false, true) {
				return p.all[i]
			}
		}
		runtime.Gosched()
	}
}

// ready reports whether a request on the slot would start at once: the
// shards have taken its last request if that was large (settle), and each
// of its rings has room. Read only by the slot's claim, which holds it.
func (sl *httpSlot) ready() bool {
	if sl.queued {
		return false
	}
	for _, r := range sl.prod.lanes.To {
		if r.Len() >= r.Cap() {
			return false
		}
	}
	return true
}

// put gives back a slot claimed.
func (p *slotPool) put(sl *httpSlot) {
	p.busy[sl.idx].Store(false)
	p.tokens <- struct{}{}
}

// prefSeed keys the slot a connection's address prefers.
var prefSeed = maphash.MakeSeed()

// prefOf returns the slot of n a connection of address addr prefers, or
// -1 for none (no address).
func prefOf(addr string, n int) int {
	if addr == "" || n <= 0 {
		return -1
	}
	return int(maphash.String(prefSeed, addr) % uint64(n))
}
