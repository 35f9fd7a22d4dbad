package shard

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// BenchmarkNewSeries measures the new-series path on its own: an empty
// shard with MAD's default periods (PT1S and PT1M) given one sample of each
// of n series, every series with a dimension set of its own (S2's case,
// where nearly every line opens a series). ns per new series: the key
// parts interned, the index entries, the record, and a row in each period's
// table, the arrays grown as they fill. The samples go in one batch, which
// Apply gives an empty shard applies one by one, or, with batch=1024, in
// batches of 1 024 as a StatsD producer publishes them, here always
// through the prefetch pipeline. (Left to itself, Apply would time a trial
// of both ways once past pipelineFrom and keep the faster; with every
// batch at the same time, that one trial, on a noisy machine, would decide
// the whole run, which then measured one way or the other from run to
// run.)
func BenchmarkNewSeries(b *testing.B) {
	for _, c := range []struct{ n, batch int }{{100_000, 0}, {1_000_000, 0}, {100_000, 1024}, {1_000_000, 1024}} {
		name := fmt.Sprintf("series=%d", c.n)
		if c.batch > 0 {
			name += fmt.Sprintf(",batch=%d", c.batch)
		}
		n := c.n
		b.Run(name, func(b *testing.B) {
			keys := benchKeysShaped(n, sample.KindCounter, true)
			for i := range keys.Samples {
				keys.Samples[i].Time = t0
				keys.Samples[i].Value = 1
			}
			parts := []*sample.Batch{keys}
			if c.batch > 0 {
				parts = nil
				for i := 0; i < n; i += c.batch {
					part := *keys // the keys are shared; only the samples are cut
					part.Samples = keys.Samples[i:min(i+c.batch, n)]
					parts = append(parts, &part)
				}
			}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				s, err := New(0, Config{})
				if err != nil {
					b.Fatal(err)
				}
				if c.batch > 0 {
					s.pipelineFrom = 0
				}
				b.StartTimer()
				for _, part := range parts {
					s.Apply(part, t0)
				}
				b.StopTimer()
				if s.nSeries != n || s.stats.Refused != [len(s.stats.Refused)]uint64{} {
					b.Fatalf("%d series of %d, refused %v", s.nSeries, n, s.stats.Refused)
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/series")
		})
	}
}
