package telemetry

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/sinks"
)

// BenchmarkRecord measures a TelemetrySink's cost per metric when nobody
// subscribes (the daemon's usual case: the default configuration has a
// PT1S TelemetrySink): S2-like buckets of one counter metric each, with
// MAD's counter statistics, 10 metric names over a host dimension; the
// hub's dispatcher runs beside it (pin to one CPU to count both). ns per
// metric; the run fails if the hub dropped anything, which would flatter
// it.
func BenchmarkRecord(b *testing.B) {
	h := NewHub(HubConfig{MaxPending: 1 << 30})
	defer h.Close()
	s := NewSink("t", h)
	const sets = 4096
	pds := make([]sinks.PeriodicData, sets)
	for i := range pds {
		var stats []sinks.Statistic
		for _, st := range []hist.Stat{hist.Count, hist.Sum, hist.Mean, hist.Min, hist.Max} {
			stats = append(stats, sinks.Statistic{Stat: st, Value: float64(i), HasValue: true, Specified: true})
		}
		pds[i] = sinks.PeriodicData{
			Period:     time.Second,
			Start:      time.UnixMilli(1_700_000_000_000),
			Dimensions: []sinks.Dimension{{Key: []byte("host"), Value: fmt.Appendf(nil, "host-%04d", i)}},
			Metrics: []sinks.Metric{{
				Name: fmt.Appendf(nil, "s2.service_%02d.requests", i%10), Type: "counter",
				PopulationSize: 1, Statistics: stats,
			}},
		}
	}
	for i := range pds { // registered, as after the first period
		s.Record(&pds[i])
	}
	waitDispatched(h, uint64(5*sets))
	b.ResetTimer()
	for i := range b.N {
		s.Record(&pds[i%sets])
	}
	waitDispatched(h, uint64(5*(sets+b.N)))
	b.StopTimer()
	if _, dropped, _ := s.Stats(); dropped != 0 {
		b.Fatalf("%d reports dropped", dropped)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/metric")
}

// waitDispatched waits until the hub has dispatched n reports.
func waitDispatched(h *Hub, n uint64) {
	for h.Stats().Reports < n {
		time.Sleep(10 * time.Microsecond)
	}
}

// BenchmarkRegister measures what a new metric costs the telemetry path
// when nobody is connected (a daemon's first periods, or new metrics
// appearing): buckets of one counter metric each, every metric new, with
// five statistics, through the sink and the hub's dispatcher, which
// registers each (service, metric, statistic) and publishes the quiet set.
// ns per new metric; pin to one CPU to count both goroutines.
func BenchmarkRegister(b *testing.B) {
	h, s, stats := newRegistering(b)
	pds := make([]sinks.PeriodicData, b.N)
	for i := range pds {
		pds[i] = sinks.PeriodicData{
			Period:     time.Second,
			Start:      time.UnixMilli(1_700_000_000_000),
			Dimensions: []sinks.Dimension{{Key: []byte("service"), Value: []byte("checkout")}},
			Metrics: []sinks.Metric{{
				Name: fmt.Appendf(nil, "s2.service.requests_%08d", i), Type: "counter",
				PopulationSize: 1, Statistics: stats,
			}},
		}
	}
	b.ResetTimer()
	for i := range b.N {
		s.Record(&pds[i])
	}
	registered(b, h, s)
}

// BenchmarkRegisterBucket is BenchmarkRegister in S1's shape: every metric
// new, in buckets of 4 096 metrics (the emitter's largest part) of one
// dimension set, five statistics each. ns per new metric; pin to one CPU.
func BenchmarkRegisterBucket(b *testing.B) {
	const perBucket = 4096
	h, s, stats := newRegistering(b)
	metrics := make([]sinks.Metric, b.N)
	for i := range metrics {
		metrics[i] = sinks.Metric{Name: fmt.Appendf(nil, "s1.service.requests_%08d", i), Type: "counter", PopulationSize: 1, Statistics: stats}
	}
	var pds []sinks.PeriodicData
	for at := 0; at < b.N; at += perBucket {
		pds = append(pds, sinks.PeriodicData{
			Period:     time.Second,
			Start:      time.UnixMilli(1_700_000_000_000),
			Dimensions: []sinks.Dimension{{Key: []byte("host"), Value: []byte("h1")}},
			Metrics:    metrics[at:min(at+perBucket, b.N)],
		})
	}
	b.ResetTimer()
	for i := range pds {
		s.Record(&pds[i])
	}
	registered(b, h, s)
}

// registered waits until the hub has dispatched the b.N metrics of five
// statistics the sink recorded, stops the timer, checks that every one was
// registered and none dropped, and reports ns per metric.
func registered(b *testing.B, h *Hub, s *Sink) {
	waitDispatched(h, uint64(5*b.N))
	b.StopTimer()
	if _, dropped, _ := s.Stats(); dropped != 0 {
		b.Fatalf("%d reports dropped", dropped)
	}
	if st := h.Stats(); st.Metrics != 5*b.N || st.RegistryFull != 0 {
		b.Fatalf("%d registered, %d refused; want %d", st.Metrics, st.RegistryFull, 5*b.N)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/metric")
}

// newRegistering returns a hub without a bound on its metrics (closed when
// b ends), a sink feeding it, and five statistics with values.
func newRegistering(b *testing.B) (*Hub, *Sink, []sinks.Statistic) {
	h := NewHub(HubConfig{MaxPending: 1 << 30, MaxMetrics: 1 << 30})
	b.Cleanup(func() { h.Close() })
	var stats []sinks.Statistic
	for _, st := range []hist.Stat{hist.Count, hist.Sum, hist.Mean, hist.Min, hist.Max} {
		stats = append(stats, sinks.Statistic{Stat: st, Value: 1, HasValue: true, Specified: true})
	}
	return h, NewSink("t", h), stats
}
