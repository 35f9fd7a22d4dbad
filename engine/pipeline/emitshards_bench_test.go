package pipeline

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks/jsonlines"
)

// BenchmarkEmitShards is BenchmarkEmit's untagged and tagged cases with the
// series spread over several shards by their keys' hashes, as the daemon
// routes them: a group merges one snapshot a shard.
func BenchmarkEmitShards(b *testing.B) {
	const n = 100_000
	for _, tagged := range []bool{false, true} {
		for _, ns := range []int{1, 4, 16} {
			name := "untagged"
			if tagged {
				name = "tagged"
			}
			b.Run(fmt.Sprintf("%s/shards=%d", name, ns), func(b *testing.B) {
				cfg := shard.Config{
					Periods:           []time.Duration{time.Second},
					CounterStatistics: shard.DefaultCounterStatistics,
					GaugeStatistics:   shard.DefaultGaugeStatistics,
					TimerStatistics:   shard.DefaultTimerStatistics,
				}
				shards := make([]*shard.Shard, ns)
				batches := make([]sample.Batch, ns)
				for i := range shards {
					s, err := shard.New(i, cfg)
					if err != nil {
						b.Fatal(err)
					}
					shards[i] = s
				}
				sink := jsonlines.NewWriter("json", io.Discard)
				defer sink.Close()
				e := NewEmitter(shards, sink)
				var one sample.Batch
				for i := range n {
					kind := sample.KindCounter
					if i%2 == 1 {
						kind = sample.KindTimer
					}
					var dims []string
					name := fmt.Sprintf("service.metric_%06d", i)
					if tagged {
						dims = []string{"host", fmt.Sprintf("host-%03d", i%100), "endpoint", fmt.Sprintf("/api/v1/%05d", i/100), "env", "prod"}
						name = fmt.Sprintf("service.metric_%02d", i%50)
					}
					one.Reset()
					addSample(&one, kind, name, t0+100, 0, float64(i%1000), sample.UnitNone, dims...)
					smp := one.Samples[0]
					s := int(smp.Hash % uint64(ns))
					addSample(&batches[s], kind, name, t0+100, 0, float64(i%1000), sample.UnitNone, dims...)
				}
				at := t0
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					for s := range shards {
						for j := range batches[s].Samples {
							batches[s].Samples[j].Time = at + 100
						}
						shards[s].Apply(&batches[s], at+100)
					}
					at += 1000
					for s := range shards {
						shards[s].Tick(at + 1001)
					}
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
