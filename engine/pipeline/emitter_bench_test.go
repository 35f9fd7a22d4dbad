package pipeline

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks/jsonlines"
)

// BenchmarkEmit measures the emission of one sealed PT1S bucket of n
// series, from snapshots to JSON lines written to io.Discard, per row: the
// work the control plane does every period for every active series. Series
// are counters (MAD's counter statistics) and timers (count, sum, mean,
// median, tp90, tp99 and the histogram), either untagged (all in one
// dimension set) or each with its own tags (S2-like: one PeriodicData per
// series). "timers" are untagged timers of 16 samples a bucket, each a
// histogram bucket of its own, as a timed operation reports them: what
// reading a histogram and its percentiles costs a row. "latencies" are the
// same with fractional values (milliseconds with microseconds), as real
// latencies are: their mean and percentiles are not whole numbers, and
// writing them is what a JSON row's numbers cost. "shuffled" is "tagged"
// with each bucket's samples in an order of their own, unrelated to the
// order the series were made in, as a steady load's are: a bucket's rows
// (in the order of their first sample) then read the series' records and
// keys at random, where the other cases read them in memory order.
func BenchmarkEmit(b *testing.B) {
	for _, tc := range []struct {
		name       string
		tagged     bool
		timers     int  // samples a timer series; 0: one a series, counters and timers alternating
		fractional bool // values with a fraction
		shuffled   bool // each bucket's samples in a random order
	}{{"untagged", false, 0, false, false}, {"tagged", true, 0, false, false}, {"shuffled", true, 0, false, true},
		{"timers", false, 16, false, false}, {"latencies", false, 16, true, false}} {
		for _, n := range []int{10_000, 100_000, 1_000_000} {
			if n > 100_000 && (!tc.tagged || tc.shuffled) {
				continue // S2's case only: a million series, each its own set
			}
			b.Run(fmt.Sprintf("%s/series=%d", tc.name, n), func(b *testing.B) {
				cfg := shard.Config{
					Periods:           []time.Duration{time.Second},
					CounterStatistics: shard.DefaultCounterStatistics,
					GaugeStatistics:   shard.DefaultGaugeStatistics,
					TimerStatistics:   shard.DefaultTimerStatistics,
				}
				s, err := shard.New(0, cfg)
				if err != nil {
					b.Fatal(err)
				}
				sink := jsonlines.NewWriter("json", io.Discard)
				defer sink.Close()
				e := NewEmitter([]*shard.Shard{s}, sink)
				var batch sample.Batch
				for i := range n {
					kind := sample.KindCounter
					if i%2 == 1 || tc.timers > 0 {
						kind = sample.KindTimer
					}
					var dims []string
					if tc.tagged {
						dims = []string{"host", fmt.Sprintf("host-%03d", i%100), "endpoint", fmt.Sprintf("/api/v1/%05d", i/100), "env", "prod"}
					}
					name := fmt.Sprintf("service.metric_%06d", i)
					if tc.tagged {
						name = fmt.Sprintf("service.metric_%02d", i%50)
					}
					value := func(j int) float64 {
						if tc.fractional {
							return float64((i%1000+37*j)*1013%100000) / 1000 // 0 to 99.999 ms
						}
						return float64(i%1000 + 37*j)
					}
					addSample(&batch, kind, name, t0+100, 0, value(0), sample.UnitNone, dims...)
					for j := 1; j < tc.timers; j++ {
						addSample(&batch, kind, name, t0+100, 0, value(j), sample.UnitNone, dims...)
					}
				}
				at := t0
				if tc.shuffled {
					// The series are made in order, in a bucket emitted
					// before the timing; later buckets take the samples
					// in a random order of their own.
					s.Apply(&batch, at+100)
					at += 1000
					s.Tick(at + 1001)
					e.Poll()
					rand.New(rand.NewPCG(1, 2)).Shuffle(len(batch.Samples), func(i, j int) {
						batch.Samples[i], batch.Samples[j] = batch.Samples[j], batch.Samples[i]
					})
				}
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					for j := range batch.Samples {
						batch.Samples[j].Time = at + 100
					}
					s.Apply(&batch, at+100)
					at += 1000
					s.Tick(at + 1001)
					b.StartTimer()
					if !e.Poll() {
						b.Fatal("nothing emitted")
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
			})
		}
	}
}

// BenchmarkEmitFirst measures the first emission of a bucket of n counter
// series by a new emitter, its scratch memory included: what a stop
// (SIGTERM) costs when every series' bucket is emitted at once. The series
// are in one dimension set, or each in its own ("sets=each", S2's case:
// the emitter's scratch grows to a bucket a series). B/op is what the
// emission allocated.
func BenchmarkEmitFirst(b *testing.B) {
	for _, tc := range []struct {
		n    int
		each bool
	}{{100_000, false}, {1_000_000, false}, {1_000_000, true}} {
		name, sets := fmt.Sprintf("series=%d", tc.n), 1
		if tc.each {
			name, sets = name+"/sets=each", tc.n
		}
		n := tc.n
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				s := sealedBucket(b, n, sets)
				sink := jsonlines.NewWriter("json", io.Discard)
				e := NewEmitter([]*shard.Shard{s}, sink)
				runtime.GC()
				b.StartTimer()
				if !e.Poll() {
					b.Fatal("nothing emitted")
				}
				b.StopTimer()
				sink.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
