package shard

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/hugepage"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/vmem"
)

// benchKeys builds n distinct series keys of a realistic shape: a metric
// name and three dimensions (≈ 74-byte canonical keys): 1 000 names on 100
// hosts in clusters of 100 000 series, so series share names and dimension
// sets as they do on a MAD host.
func benchKeys(n int, kind sample.Kind) *sample.Batch { return benchKeysShaped(n, kind, false) }

// benchKeysShaped is benchKeys; with unique, every series has a dimension
// set of its own (a per-series tag value), the worst case for interning.
func benchKeysShaped(n int, kind sample.Kind, unique bool) *sample.Batch {
	b := &sample.Batch{}
	for i := 0; i < n; i++ {
		name := fmt.Appendf(nil, "service.endpoint_%d.latency", i%1000)
		host := fmt.Appendf(nil, "host-%04d", i/1000%100)
		if unique {
			host = fmt.Appendf(nil, "host-%07d", i)
		}
		ds := []sample.Dim{
			{Key: []byte("host"), Value: host},
			{Key: []byte("service"), Value: []byte("checkout")},
			{Key: []byte("cluster"), Value: fmt.Appendf(nil, "c%d", i/100000)},
		}
		sample.SortDims(ds)
		k, err := b.PutKey(kind, name, ds)
		if err != nil {
			panic(err)
		}
		b.AddValue(k, 0, 0, 0, sample.UnitNone)
	}
	return b
}

// benchBatch returns a batch of size samples drawn uniformly from the series
// of keys, with values spread over a few hundred histogram buckets, all in
// the bucket of time at. Like a parser's batch, it holds its own keys.
func benchBatch(keys *sample.Batch, size int, at int64, seed uint64) *sample.Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	b := &sample.Batch{}
	for i := 0; i < size; i++ {
		s := keys.Samples[r.IntN(len(keys.Samples))]
		key := keys.Key(&s)
		s.KeyOff = uint32(len(b.Keys))
		b.Keys = append(b.Keys, key...)
		s.Time = at
		s.Value = float64(r.IntN(5000)) * 0.37
		b.Samples = append(b.Samples, s)
	}
	return b
}

// BenchmarkApply measures the shard's update of existing series: ns per
// sample, for a timer with MAD's default statistics (histogram, sum, count)
// and a counter (sum, count), with MAD's default periods (PT1S and PT1M:
// every sample updates two rows) and with one period.
func BenchmarkApply(b *testing.B) { benchmarkApply(b, false) }

// BenchmarkApplyUniqueDims is BenchmarkApply with a dimension set per
// series (benchKeysShaped), where interning key parts shares nothing.
func BenchmarkApplyUniqueDims(b *testing.B) { benchmarkApply(b, true) }

func benchmarkApply(b *testing.B, unique bool) {
	for _, periods := range [][]time.Duration{{time.Second, time.Minute}, {time.Minute}} {
		for _, kind := range []sample.Kind{sample.KindTimer, sample.KindCounter} {
			for _, n := range []int{10_000, 100_000, 1_000_000} {
				name := fmt.Sprintf("periods=%d/%v/series=%d", len(periods), kind, n)
				b.Run(name, func(b *testing.B) {
					s, err := New(0, Config{Periods: periods})
					if err != nil {
						b.Fatal(err)
					}
					keys := benchKeysShaped(n, kind, unique)
					now := t0 + 100
					// Create every series and row, then warm up.
					for i := range keys.Samples {
						keys.Samples[i].Time = now
					}
					s.Apply(keys, now)
					batches := make([]*sample.Batch, 16)
					for i := range batches {
						batches[i] = benchBatch(keys, 4096, now, uint64(i))
						s.Apply(batches[i], now)
					}
					b.ReportAllocs()
					b.ResetTimer()
					samples := 0
					for i := 0; samples < b.N; i++ {
						bt := batches[i%len(batches)]
						s.Apply(bt, now)
						samples += len(bt.Samples)
					}
					b.StopTimer()
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(samples), "ns/sample")
				})
			}
		}
	}
}

// BenchmarkNewRows measures the cost of a sample that opens its series' row
// in a new bucket (the first sample of every series in every period).
func BenchmarkNewRows(b *testing.B) {
	const n = 100_000
	s, err := New(0, Config{Periods: []time.Duration{time.Second}})
	if err != nil {
		b.Fatal(err)
	}
	keys := benchKeys(n, sample.KindCounter)
	now := t0
	s.Apply(keys, now)
	b.ReportAllocs()
	b.ResetTimer()
	samples := 0
	for samples < b.N {
		now += 1000
		for i := range keys.Samples {
			keys.Samples[i].Time = now
		}
		s.Apply(keys, now)
		samples += n
		b.StopTimer()
		s.Tick(now + 2001)
		for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
			snap.Release()
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(samples), "ns/sample")
}

// memInUse returns the heap in use once the garbage is collected, and the
// resident bytes of the vmem mappings (the arrays kept off the heap).
func memInUse() (heap, mapped uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	_, resident := vmem.Stats()
	return ms.HeapAlloc, uint64(resident)
}

// BenchmarkMemoryPerSeries reports the memory per active series: the series
// record, key parts, index entry and slots, and one row in each open table
// of MAD's default periods (PT1S and PT1M), histograms included; with
// dimension sets shared as on a MAD host, and unique to every series.
// B/series is the heap in use plus the resident pages of the arrays kept
// off the heap (internal/vmem), mappedB/series the latter alone.
func BenchmarkMemoryPerSeries(b *testing.B) {
	for _, dims := range []string{"shared", "unique"} {
		for _, kind := range []sample.Kind{sample.KindCounter, sample.KindTimer} {
			for _, n := range []int{100_000, 1_000_000} {
				b.Run(fmt.Sprintf("dims=%s/%v/series=%d", dims, kind, n), func(b *testing.B) {
					for range b.N {
						keys := benchKeysShaped(n, kind, dims == "unique")
						for i := range keys.Samples {
							keys.Samples[i].Time = t0
							keys.Samples[i].Value = float64(i % 100)
						}
						heap0, mapped0 := memInUse()
						s, _ := New(0, Config{})
						s.Apply(keys, t0)
						heap1, mapped1 := memInUse()
						b.ReportMetric(float64(heap1+mapped1-heap0-mapped0)/float64(n), "B/series")
						b.ReportMetric(float64(mapped1-mapped0)/float64(n), "mappedB/series")
						_, live := s.keys.stats()
						b.ReportMetric(float64(live)/float64(n), "keyB/series")
						runtime.KeepAlive(s)
						runtime.KeepAlive(keys)
					}
				})
			}
		}
	}
}

// BenchmarkSeal measures what sealing costs the shard's goroutine, i.e. how
// long ingestion pauses: sealing 1M-row tables (PT1S and PT1M) hands them
// over as snapshots without touching their rows.
func BenchmarkSeal(b *testing.B) {
	const n = 1_000_000
	keys := benchKeys(n, sample.KindTimer)
	for i := range keys.Samples {
		keys.Samples[i].Time = t0
	}
	s, _ := New(0, Config{})
	var worst time.Duration
	b.ResetTimer()
	for i := range b.N {
		now := t0 + int64(i)*60_000
		for j := range keys.Samples {
			keys.Samples[j].Time = now
		}
		b.StopTimer()
		s.Apply(keys, now)
		b.StartTimer()
		start := time.Now()
		s.Tick(now + 60_000 + 30_001) // both tables expired
		worst = max(worst, time.Since(start))
		b.StopTimer()
		rows := 0
		for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
			rows += snap.Len()
			snap.Release()
		}
		if rows != 2*n {
			b.Fatalf("sealed %d rows; want %d", rows, 2*n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
}

// BenchmarkReadSnapshot measures the emitter side of a 1M-row snapshot:
// reading every row and computing MAD's default timer statistics. This runs
// on the control plane, concurrently with ingestion.
func BenchmarkReadSnapshot(b *testing.B) {
	const n = 1_000_000
	keys := benchKeys(n, sample.KindTimer)
	s, _ := New(0, Config{Periods: []time.Duration{time.Minute}})
	for rep := 0; rep < 5; rep++ {
		for j := range keys.Samples {
			keys.Samples[j].Time = t0
			keys.Samples[j].Value = float64((j + rep*7) % 1000)
		}
		s.Apply(keys, t0)
	}
	s.Flush(t0)
	snap, _ := s.Output().Pop()
	var scratch []hist.Bucket
	b.ResetTimer()
	for range b.N {
		var sink float64
		for i := 0; i < snap.Len(); i++ {
			r := snap.Table.Row(i, scratch)
			scratch = r.Buckets
			for _, st := range snap.Specified(i).Closure().All() {
				v, _, _ := r.Value(st)
				sink += v
			}
			_, _, _ = snap.Key(i)
		}
		benchSink = sink
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

var benchSink float64

// BenchmarkGC reports the time of a forced full garbage collection with the
// shard's tables populated: with pointer-free storage it must not grow with
// the number of series.
func BenchmarkGC(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			keys := benchKeys(n, sample.KindTimer)
			for i := range keys.Samples {
				keys.Samples[i].Time = t0
			}
			s, _ := New(0, Config{})
			s.Apply(keys, t0)
			keys = nil
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ResetTimer()
			for range b.N {
				runtime.GC()
			}
			b.StopTimer()
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
			runtime.KeepAlive(s)
		})
	}
}

// BenchmarkApplyCached repeats one 4096-sample batch over few series, so
// they stay in cache: with 64 series in the L1 cache, the instruction cost
// of Apply alone; with 4096 in the L2 cache, plus its chain of dependent L2
// hits (index, record, key, row), which Apply does not prefetch below a
// working set of pipelineFrom bytes. pipeline=on forces the prefetch
// pipeline on anyway, which measures what its own instructions cost.
func BenchmarkApplyCached(b *testing.B) {
	for _, n := range []int{64, 4096} {
		for _, pipe := range []bool{false, true} {
			if pipe && n < 4096 {
				continue
			}
			for _, np := range []int{1, 2} {
				for _, kind := range []sample.Kind{sample.KindCounter, sample.KindTimer} {
					name := fmt.Sprintf("series=%d/periods=%d/%v", n, np, kind)
					if pipe {
						name = fmt.Sprintf("series=%d/pipeline=on/periods=%d/%v", n, np, kind)
					}
					b.Run(name, func(b *testing.B) {
						benchmarkApplyCached(b, n, np, kind, pipe)
					})
				}
			}
		}
	}
}

func benchmarkApplyCached(b *testing.B, n, np int, kind sample.Kind, pipeline bool) {
	s, _ := New(0, Config{Periods: []time.Duration{time.Second, time.Minute}[:np]})
	if pipeline {
		s.pipelineFrom = 0
	}
	keys := benchKeys(n, kind)
	now := t0 + 100
	for i := range keys.Samples {
		keys.Samples[i].Time = now
	}
	s.Apply(keys, now)
	bt := benchBatch(keys, 4096, now, 1)
	s.Apply(bt, now)
	b.ResetTimer()
	samples := 0
	for samples < b.N {
		s.Apply(bt, now)
		samples += len(bt.Samples)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(samples), "ns/sample")
}

// BenchmarkMemoryFloor measures what this machine can do at all: per
// "sample", k independent reads of random cache lines from a working set of
// ws MiB (huge-page advised, as the shard's large arrays are), in a loop
// with nothing else to do. A shard with n series has a working set of about
// 230 bytes per series (record, key, index entry, two rows), and an Apply of
// a sample touches 5 (counter, two periods) to 7 (timer, two periods) lines
// of it, 4 at the very least for any exact design (index, record, key, row),
// so this bounds how fast Apply can be at that cardinality.
func BenchmarkMemoryFloor(b *testing.B) {
	for _, ws := range []int{2, 4, 8, 16, 32, 256} {
		for _, k := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("ws=%dMiB/lines=%d", ws, k), func(b *testing.B) {
				lines := ws << 20 / 64
				mem := hugepage.Make[uint64](lines*8, lines*8)
				for i := range mem {
					mem[i] = uint64(i)
				}
				r := rand.New(rand.NewPCG(1, 2))
				idx := make([]uint32, 1<<20)
				for i := range idx {
					idx[i] = uint32(r.IntN(lines)) * 8
				}
				var sum uint64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					for j := 0; j < k; j++ {
						sum += mem[idx[(i*k+j)&(len(idx)-1)]]
					}
				}
				benchSink += float64(sum)
			})
		}
	}
}

// BenchmarkApplyAgg measures updating existing series with pre-aggregated
// samples (a V3 record's statistics, an OTLP histogram point, a tier's
// partials): count, sum, min, max and a histogram of four entries each.
func BenchmarkApplyAgg(b *testing.B) {
	const series = 10_000
	keys := benchKeys(series, sample.KindGauge)
	batch := &sample.Batch{}
	for i := range 4096 {
		s := keys.Samples[i%series]
		ref := batch.PutKeyBytes(keys.Key(&s), s.Hash)
		hist := []sample.HistEntry{{Value: 1, Count: 1}, {Value: 2.5, Count: 2}, {Value: float64(i % 100), Count: 1}, {Value: 40, Count: 3}}
		batch.AddAgg(ref, t0, 0, sample.Agg{Min: 1, Max: 100, Sum: 150, Count: 7, Has: sample.HasMin | sample.HasMax | sample.HasSum | sample.HasCount | sample.HasHist}, hist, sample.UnitNone)
	}
	sh, _ := New(0, Config{})
	sh.Apply(batch, t0) // the series and rows exist
	b.ResetTimer()
	for range b.N {
		sh.Apply(batch, t0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Samples)), "ns/sample")
}
