package ingest

import (
	"sync"
	"testing"
)

// TestCountersLatest: a reader that reads while the loop publishes sees no
// counter go backwards, and once the loop's last publication is done, every
// counter's last value, however rarely it read in between.
func TestCountersLatest(t *testing.T) {
	const n, rounds = 21, 20000
	c := newCounters(n)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		prev := make([]uint64, n)
		for {
			select {
			case <-done:
				return
			default:
			}
			for i, v := range c.read() {
				if v < prev[i] {
					t.Errorf("counter %d went from %d to %d", i, prev[i], v)
					return
				}
				prev[i] = v
			}
		}
	})
	for k := 1; k <= rounds; k++ {
		for i := range c.vals {
			if (k+i)%3 != 0 { // some counters do not move every round
				c.vals[i]++
			}
		}
		c.publish(int64(k), k%7 == 0)
	}
	c.publish(rounds, true)
	close(done)
	wg.Wait()
	for i, v := range c.read() {
		if v != c.vals[i] {
			t.Fatalf("counter %d read %d; the loop has %d", i, v, c.vals[i])
		}
	}
}
