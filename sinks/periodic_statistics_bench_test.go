package sinks

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
)

// BenchmarkPeriodicStatisticsRecord measures PeriodicStatisticsSink.Record
// as the emitter calls it, ns a metric: "untagged" is 10 000 metrics of one
// dimension set in parts of 4 096 (S1's shape); "tagged" 100 000 metrics
// each in a dimension set of its own (a PeriodicData each, S2's shape).
// Each op is one emission of every metric; the sink's flush runs between
// ops as its ticker would (every 500 ms: once a PT1S emission or more).
func BenchmarkPeriodicStatisticsRecord(b *testing.B) {
	stats := func() []Statistic {
		var st []Statistic
		for _, s := range []hist.Stat{hist.Count, hist.Sum, hist.Mean} {
			st = append(st, Statistic{Stat: s, Value: 1, HasValue: true, Specified: true})
		}
		return st
	}()
	for _, tc := range []struct {
		name        string
		sets, per   int
		partMetrics int
	}{{"untagged", 1, 10_000, 4096}, {"tagged", 100_000, 1, 1}} {
		b.Run(tc.name, func(b *testing.B) {
			var pds []PeriodicData
			for s := range tc.sets {
				dims := []Dimension{{Key: []byte("host"), Value: fmt.Appendf(nil, "host-%03d", s%100)},
					{Key: []byte("service"), Value: []byte("checkout")}}
				if tc.sets > 1 {
					dims = append(dims, Dimension{Key: []byte("endpoint"), Value: fmt.Appendf(nil, "/api/v1/%05d", s/100)})
				}
				var ms []Metric
				for m := range tc.per {
					ms = append(ms, Metric{Name: fmt.Appendf(nil, "service.metric_%06d", m+s%50), Type: "counter", PopulationSize: 1, Statistics: stats})
				}
				for at := 0; at < len(ms); at += tc.partMetrics {
					pds = append(pds, PeriodicData{Period: time.Second, Start: time.UnixMilli(1_700_000_000_000), Dimensions: dims,
						Metrics: ms[at:min(at+tc.partMetrics, len(ms))]})
				}
			}
			s := NewPeriodicStatisticsSink(PeriodicStatisticsConfig{Name: "stats", Interval: time.Hour, Dimensions: []string{"service"}})
			defer s.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i := range pds {
					s.Record(&pds[i])
				}
				b.StopTimer()
				s.FlushStatistics()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.sets*tc.per), "ns/metric")
		})
	}
}
