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
// table, the arrays grown as they fill.
func BenchmarkNewSeries(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			keys := benchKeysShaped(n, sample.KindCounter, true)
			for i := range keys.Samples {
				keys.Samples[i].Time = t0
				keys.Samples[i].Value = 1
			}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				s, err := New(0, Config{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				s.Apply(keys, t0)
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
