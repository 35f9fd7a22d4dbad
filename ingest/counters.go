package ingest

import (
	"sync"

	"github.com/gomad/mad/ring"
)

// counters carries a data-plane loop's counters to the control plane. The
// loop increments plain fields (vals) and, at most every publishEvery ms,
// puts every counter into its telemetry ring as an item (id, value): one
// writer, drop-oldest, never blocking. The reader drains the ring and keeps
// the latest value of each counter; values are cumulative, so a dropped
// item only delays a value.
type counters struct {
	vals    []uint64 // loop-owned
	tel     *ring.Telemetry
	lastPub int64

	mu   sync.Mutex // reader side
	seen []uint64
}

const publishEvery = 50 // ms

func newCounters(n int) *counters {
	return &counters{vals: make([]uint64, n), seen: make([]uint64, n), tel: ring.NewTelemetry(4 * n)}
}

// publish puts every counter into the ring if publishEvery ms passed since
// the last time (always if force). Loop only.
func (c *counters) publish(now int64, force bool) {
	if !force && now-c.lastPub < publishEvery {
		return
	}
	c.lastPub = now
	for i, v := range c.vals {
		c.tel.Put(ring.Item{uint64(i), v})
	}
}

// read returns the latest published values (a copy). Any goroutine.
func (c *counters) read() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		it, ok := c.tel.Get()
		if !ok {
			break
		}
		if id := it[0]; id < uint64(len(c.seen)) && it[1] >= c.seen[id] {
			c.seen[id] = it[1]
		}
	}
	return append([]uint64(nil), c.seen...)
}

// lost returns how many telemetry items were overwritten before being read.
func (c *counters) lost() uint64 { return c.tel.Lost() }
