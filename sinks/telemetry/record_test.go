package telemetry

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/sinks"
)

// TestOneNewMetricTakesLittle: nobody subscribes; in a bucket of 4 096
// known metrics the first is new, so its five reports are dispatched. The
// batch that carries them is their size: a batch reserved for the rest of
// the bucket took 694 kB a Record (a review's finding), now a few kB.
func TestOneNewMetricTakesLittle(t *testing.T) {
	h := NewHub(HubConfig{MaxPending: 1 << 30, MaxMetrics: 1 << 30})
	defer h.Close()
	s := NewSink("t", h)
	var stats []sinks.Statistic
	for _, st := range []hist.Stat{hist.Count, hist.Sum, hist.Mean, hist.Min, hist.Max} {
		stats = append(stats, sinks.Statistic{Stat: st, Value: 1, HasValue: true, Specified: true})
	}
	const n = 4096
	metrics := make([]sinks.Metric, n)
	for i := range metrics {
		metrics[i] = sinks.Metric{Name: fmt.Appendf(nil, "s1.service.requests_%08d", i), Type: "counter", PopulationSize: 1, Statistics: stats}
	}
	pd := sinks.PeriodicData{Period: time.Second, Start: time.UnixMilli(1_700_000_000_000),
		Dimensions: []sinks.Dimension{{Key: []byte("host"), Value: []byte("h1")}}, Metrics: metrics}
	s.Record(&pd)
	waitDispatched(h, 5*n)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if q := h.quietFor(); len(q) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("quiet set not published")
		}
		time.Sleep(time.Millisecond)
	}
	// The median round: the dispatcher, woken by a Record, may copy its
	// published registry (200 kB) inside a round's window now and then.
	const rounds = 21
	var per []uint64
	for r := range rounds {
		runtime.GC()
		runtime.GC() // empty the pool (and its victim cache)
		metrics[0].Name = fmt.Appendf(nil, "new_%d", r)
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		s.Record(&pd)
		runtime.ReadMemStats(&b)
		per = append(per, b.TotalAlloc-a.TotalAlloc)
		waitDispatched(h, 5*n+uint64(5*(r+1)))
	}
	slices.Sort(per)
	if m := per[rounds/2]; m > 32<<10 {
		t.Errorf("%d bytes allocated by the median Record of one new metric of five statistics (all: %v)", m, per)
	}
}
