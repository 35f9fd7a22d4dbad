package ring

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestBellNoLostWakeup: a consumer that sleeps (for an hour at a time) on
// its ring's bell whenever the ring is empty takes every item a producer
// pushes at irregular moments: a push between the consumer's last look and
// its sleep still wakes it. A lost wake-up would leave it asleep for the
// hour; the watchdog fails the test long before.
func TestBellNoLostWakeup(t *testing.T) {
	const items = 20000
	r := NewSPSC[int](8)
	b := NewBell()
	r.SetBell(b)
	got := make(chan int, 1)
	go func() {
		n := 0
		for n < items {
			if _, ok := r.Pop(); ok {
				n++
				continue
			}
			b.Sleep(time.Hour, nil, func() bool { return r.Len() > 0 })
		}
		got <- n
	}()
	// The watchdog covers the producer too: with a wake-up lost, the ring
	// stays full and the producer would retry for ever.
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for i := range items {
			for !r.Push(i) {
				if time.Now().After(deadline) {
					return
				}
				runtime.Gosched()
			}
			if i%7 == 0 {
				runtime.Gosched() // let the consumer reach its sleep
			}
		}
	})
	select {
	case n := <-got:
		if n != items {
			t.Fatalf("took %d of %d", n, items)
		}
	case <-time.After(time.Until(deadline)):
		t.Fatalf("the consumer is still asleep with %d items in its ring: a wake-up was lost", r.Len())
	}
}

// TestBellSleepReturns: Sleep returns at once when there is work, when the
// bell rang before it (a spurious wake-up), when stop is closed, and after
// its duration.
func TestBellSleepReturns(t *testing.T) {
	b := NewBell()
	done := make(chan struct{})
	go func() {
		b.Sleep(time.Hour, nil, func() bool { return true })
		close(done)
	}()
	waitClosed(t, done, "ready")

	stop := make(chan struct{})
	done = make(chan struct{})
	go func() {
		b.Sleep(time.Hour, stop, func() bool { return false })
		close(done)
	}()
	close(stop)
	waitClosed(t, done, "stop")

	b.Sleep(time.Millisecond, nil, func() bool { return false })

	r := NewSPSC[int](2)
	r.SetBell(b)
	done = make(chan struct{})
	go func() {
		b.Sleep(time.Hour, nil, func() bool { return r.Len() > 0 })
		close(done)
	}()
	for !b.asleep.Load() {
		runtime.Gosched()
	}
	r.Push(1)
	waitClosed(t, done, "a push")
}

func waitClosed(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(60 * time.Second):
		t.Fatalf("Sleep did not return on %s", what)
	}
}

// TestBellPushDuringLook: a push made after the consumer's last look at its
// ring, before it waits (here from inside that look, on another
// goroutine), wakes it: the sleep is announced before the look.
func TestBellPushDuringLook(t *testing.T) {
	r := NewSPSC[int](2)
	b := NewBell()
	r.SetBell(b)
	done := make(chan struct{})
	go func() {
		b.Sleep(time.Hour, nil, func() bool {
			empty := r.Len() == 0
			pushed := make(chan struct{})
			go func() { r.Push(1); close(pushed) }()
			<-pushed
			return !empty
		})
		close(done)
	}()
	waitClosed(t, done, "a push made during the last look")
}
