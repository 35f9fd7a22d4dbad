package hist

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkRecord: recording values into small histograms (the common case
// of a timer row in a short period) and into one large one.
func BenchmarkRecord(b *testing.B) {
	vals := make([]float64, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range vals {
		vals[i] = r.ExpFloat64() * 100
	}
	b.Run("rows=1024", func(b *testing.B) {
		var a Arena
		hs := make([]Hist, 1024)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			a.Record(&hs[i&1023], Pack(vals[i&4095]), 1)
		}
	})
	b.Run("rows=1", func(b *testing.B) {
		var a Arena
		var h Hist
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			a.Record(&h, Pack(vals[i&4095]), 1)
		}
	})
}

func BenchmarkAddValue(b *testing.B) {
	for _, tc := range []struct {
		name string
		need Need
	}{
		{"counter", SetOf(Mean, Sum, Count).Need()},
		{"timer", SetOf(Median, TP90, TP99, Mean, Count).Need()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var t Table
			var rows [1024]uint32
			for i := range rows {
				rows[i] = t.AddRow(uint32(i), tc.need)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				t.AddValue(rows[i&1023], float64(i&255), 0, tc.need)
			}
		})
	}
}

// BenchmarkAddRow: a series' first sample in a bucket adds its row (once
// a series and period); the table is emptied every 4096 rows, so its rows
// stay in cache and what is measured is the adding.
func BenchmarkAddRow(b *testing.B) {
	var t Table
	t.Reserve(4096, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i&4095 == 0 {
			t.acc = t.acc[:0]
		}
		t.AddRow(uint32(i), NeedSum)
	}
}

// BenchmarkPercentile: sorting a row's buckets and computing MAD's default
// timer percentiles (control plane, once per row per closed bucket).
func BenchmarkPercentile(b *testing.B) {
	for _, n := range []int{8, 16, 32, 64, 256} {
		b.Run(fmt.Sprintf("buckets=%d", n), func(b *testing.B) {
			var a Arena
			var h Hist
			for i := 0; i < n; i++ {
				a.Record(&h, Key(130944+i*7919%n), uint64(i%7+1)) // in no order
			}
			var scratch []Bucket
			b.ReportAllocs()
			for range b.N {
				scratch = SortBuckets(a.AppendBuckets(scratch[:0], h))
				for _, p := range []float64{50, 90, 99} {
					sinkF += Percentile(scratch, p)
				}
			}
		})
	}
}

var sinkF float64

// BenchmarkSortBuckets sorts the buckets of 4096 different histograms in
// turn, each in an order of its own, as emission meets them row after row:
// a benchmark sorting one histogram again and again lets the branch
// predictor learn its order, which no real row allows.
func BenchmarkSortBuckets(b *testing.B) {
	for _, n := range []int{1, 3, 8, 16, 24, 32, 48, 64, 100, 256} {
		b.Run(fmt.Sprintf("buckets=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(uint64(n), 3))
			const rows = 4096
			src := make([]Bucket, rows*n)
			for i := range src {
				src[i] = Bucket{Key(130944 + r.IntN(4*n)), uint64(r.IntN(9) + 1)}
			}
			scratch := make([]Bucket, n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				row := i % rows
				copy(scratch, src[row*n:(row+1)*n])
				sinkN += len(SortBuckets(scratch))
			}
		})
	}
}

var sinkN int
