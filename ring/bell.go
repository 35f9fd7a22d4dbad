package ring

import (
	"sync/atomic"
	"time"
)

// Bell lets a consumer sleep while its rings are empty and be woken by the
// next push, instead of waking on a timer to look: a ring with a bell
// (SPSC.SetBell) rings it on every push, which costs one atomic load when
// the consumer is awake.
//
// The consumer announces that it sleeps, looks at its rings again, and only
// then waits; a producer publishes its item, then looks whether the
// consumer sleeps. Go's atomics are sequentially consistent, so one of the
// two sees the other: the consumer finds the item, or the producer finds
// it asleep and wakes it (Dekker's pattern). A wake-up may be spurious.
type Bell struct {
	asleep atomic.Bool
	ch     chan struct{}
	timer  *time.Timer
}

// NewBell returns a bell.
func NewBell() *Bell { return &Bell{ch: make(chan struct{}, 1)} }

// Ring wakes the consumer if it sleeps. Any goroutine.
func (b *Bell) Ring() {
	if b.asleep.Load() && b.asleep.CompareAndSwap(true, false) {
		select {
		case b.ch <- struct{}{}:
		default:
		}
	}
}

// Sleep waits until the bell rings, d passes or stop is closed, unless
// ready, called once the sleep is announced, reports that there is work.
// Consumer only.
func (b *Bell) Sleep(d time.Duration, stop <-chan struct{}, ready func() bool) {
	b.asleep.Store(true)
	if ready() {
		// A producer that saw the announcement may still ring: its token
		// makes the next Sleep return at once.
		b.asleep.Store(false)
		return
	}
	if b.timer == nil {
		b.timer = time.NewTimer(d)
	} else {
		b.timer.Reset(d)
	}
	select {
	case <-b.ch:
	case <-b.timer.C:
	case <-stop:
	}
	b.timer.Stop()
	b.asleep.Store(false)
}
