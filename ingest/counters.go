package ingest

import "sync/atomic"

// counters carries a data-plane loop's counters to the control plane. The
// loop increments plain words (vals) and publishes them, at most every
// publishEvery ms and whenever it is forced to (before the loop idles, on
// ticks, retargets and stops), by storing each one that changed into its
// typed atomic (pub), the only words a reader reads. Each counter has one
// writer and is cumulative, so a reader sees each counter's latest
// published value and never one going backwards; nothing is queued, so
// nothing can be lost however rarely the counters are read.
//
// (They went through a drop-oldest telemetry ring once: every publication
// queued every counter, and a reader that came every second found most of
// them overwritten by later values of the same counters. Those superseded
// values were reported as mad_source_telemetry_lost_total, some 70,000 a
// minute at a few dozen datagrams a second, while nothing was lost.)
type counters struct {
	vals    []uint64 // loop-owned
	lastPub int64    // loop-owned
	pub     []atomic.Uint64
}

const publishEvery = 50 // ms

func newCounters(n int) *counters {
	return &counters{vals: make([]uint64, n), pub: make([]atomic.Uint64, n)}
}

// publish stores the counters that changed if publishEvery ms passed since
// the last time (always if force). Loop only.
func (c *counters) publish(now int64, force bool) {
	if !force && now-c.lastPub < publishEvery {
		return
	}
	c.lastPub = now
	for i, v := range c.vals {
		// Only the loop stores: the load reads its own last store, and
		// spares a locked store for every counter that did not move.
		if c.pub[i].Load() != v {
			c.pub[i].Store(v)
		}
	}
}

// read returns the latest published values. Any goroutine.
func (c *counters) read() []uint64 {
	v := make([]uint64, len(c.pub))
	for i := range c.pub {
		v[i] = c.pub[i].Load()
	}
	return v
}
