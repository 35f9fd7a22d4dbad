package kafka

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/sinks"
)

// cpuTime is the process's user and system time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRound is one emission round: sets dimension sets of ten metrics
// each, S1 workload A's mix (60 % counters, 20 % gauges, 20 % timers with
// 20 histogram buckets), every statistic a tier needs.
func benchRound(sets int) []*sinks.PeriodicData {
	start := time.UnixMilli(1_700_000_040_000).UTC()
	var pds []*sinks.PeriodicData
	var buckets []hist.Bucket
	for i := range 20 {
		buckets = append(buckets, hist.Bucket{Key: hist.Pack(float64(i+1) * 0.013), Count: uint64(i%3 + 1)})
	}
	for s := range sets {
		pd := &sinks.PeriodicData{Period: time.Minute, Start: start, Dimensions: []sinks.Dimension{
			{Key: []byte("host"), Value: fmt.Appendf(nil, "web-%04d.prod.example.com", s)},
			{Key: []byte("service"), Value: []byte("checkout")}}}
		for m := range 10 {
			st := []sinks.Statistic{stat(hist.Count, 20), stat(hist.Sum, 118.5), stat(hist.Min, 0.013), stat(hist.Max, 0.26), stat(hist.Mean, 5.9)}
			met := sinks.Metric{Name: fmt.Appendf(nil, "app.request.metric_%d", m), PopulationSize: 20, Statistics: st}
			switch {
			case m < 6:
				met.Type = "counter"
			case m < 8:
				met.Type = "gauge"
			default:
				met.Type, met.Unit, met.Histogram = "timer", "SECOND", buckets
				met.Statistics = append(st, stat(hist.TP99, 0.26))
			}
			pd.Metrics = append(pd.Metrics, met)
		}
		pds = append(pds, pd)
	}
	return pds
}

// BenchmarkSink: emission rounds of 10,000 rows through the sink into
// kfake (in this process: rows/CPU-s counts the broker's work too, so it is
// a lower bound of the sink's own rate).
func BenchmarkSink(b *testing.B) {
	pds := benchRound(1000)
	for _, comp := range []string{"lz4", "zstd", "none"} {
		b.Run("compression="+comp, func(b *testing.B) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(16, "p"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			s, err := New(Config{Name: "k", Topic: "p", Period: time.Minute,
				Props: [][2]string{{"bootstrap.servers", c.ListenAddrs()[0]}, {"compression.type", comp}, {"linger.ms", "5"}}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for s.parts.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			b.ResetTimer()
			cpu0 := cpuTime(b)
			for range b.N {
				for _, pd := range pds {
					s.Record(pd)
				}
				s.Flush()
			}
			if err := s.cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			st := s.Stats()
			if st.DeliveredRows != st.Rows || st.Rows != uint64(b.N)*10000 {
				b.Fatalf("stats %+v", st)
			}
			b.ReportMetric(float64(st.Rows)/cpu.Seconds(), "rows/CPU-s")
			b.ReportMetric(float64(st.Bytes)/float64(st.Rows), "B/row")
			b.ReportMetric(float64(st.Rows)/float64(st.Messages), "rows/msg")
		})
	}
}
