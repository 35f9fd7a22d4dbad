package ingest

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/transform"
)

// addSeries appends a sample of (kind, name, dims) with value v to b.
func addSeries(t testing.TB, b *sample.Batch, kind sample.Kind, name string, v float64, kv ...string) {
	t.Helper()
	var dims []sample.Dim
	for i := 0; i < len(kv); i += 2 {
		dims = append(dims, sample.Dim{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	sample.SortDims(dims)
	k, err := b.PutKey(kind, []byte(name), dims)
	if err != nil {
		t.Fatal(err)
	}
	b.AddValue(k, 1000, 1000, v, sample.UnitNone)
}

// keysOf renders the batch's samples as "key=value" with readable keys.
func keysOf(t testing.TB, b *sample.Batch) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for i := range b.Samples {
		s := &b.Samples[i]
		k := b.Key(s)
		if s.Hash != sample.Hash(k) {
			t.Fatalf("sample %d: hash is not the key's", i)
		}
		pk, err := sample.ParseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		str := pk.Kind.String() + ":" + string(pk.Name) + "{"
		it := pk.DimIter()
		for d, ok := it.Next(); ok; d, ok = it.Next() {
			str += string(d.Key) + "=" + string(d.Value) + ","
		}
		out[str+"}"] += s.Value
	}
	return out
}

func TestTagDroppingMerges(t *testing.T) {
	spec, err := NewTagDroppingSpec("drop", []transform.DropSet{{MetricPattern: "req.*", RemoveDimensions: []string{"host"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := spec.NewMapper()
	var src, out sample.Batch
	addSeries(t, &src, sample.KindCounter, "requests", 1, "host", "a", "service", "s")
	addSeries(t, &src, sample.KindCounter, "requests", 2, "host", "b", "service", "s")
	addSeries(t, &src, sample.KindCounter, "requests", 4, "host", "a", "service", "s")
	addSeries(t, &src, sample.KindCounter, "other", 8, "host", "a", "service", "s") // not matched: unchanged
	m.Map(&src, func(uint64) *sample.Batch { return &out })
	got := keysOf(t, &out)
	want := map[string]float64{"counter:requests{service=s,}": 7, "counter:other{host=a,service=s,}": 8}
	if len(got) != len(want) {
		t.Fatalf("got %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v; want %v (all: %v)", k, got[k], v, got)
		}
	}
	if h, ms := spec.Stats().Hits.Load(), spec.Stats().Misses.Load(); h != 1 || ms != 3 {
		t.Errorf("hits %d, misses %d; want 1, 3", h, ms)
	}
}

func TestTransformingInjects(t *testing.T) {
	spec, err := NewTransformingSpec("tr", []transform.Set{{Inject: []transform.Injection{
		{Key: "cluster", Value: "test_cluster", Overwrite: false}, {Key: "service", Value: "test_service", Overwrite: true}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var src, out sample.Batch
	addSeries(t, &src, sample.KindGauge, "g", 1, "cluster", "prod", "service", "shop")
	addSeries(t, &src, sample.KindGauge, "g", 2)
	spec.NewMapper().Map(&src, func(uint64) *sample.Batch { return &out })
	got := keysOf(t, &out)
	if got["gauge:g{cluster=prod,service=test_service,}"] != 1 || got["gauge:g{cluster=test_cluster,service=test_service,}"] != 2 || len(got) != 2 {
		t.Errorf("got %v", got)
	}
}

// TestRewriteSteadyState: once every series is cached, mapping allocates
// nothing and runs no rule.
func TestRewriteSteadyState(t *testing.T) {
	spec, err := NewTransformingSpec("tr", []transform.Set{{Metrics: []transform.Rule{{Pattern: "^app\\.(.*)", Templates: []string{"svc/${1}"}}},
		Remove: []string{"pid"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := spec.NewMapper()
	var src, out sample.Batch
	for i := 0; i < 100; i++ {
		addSeries(t, &src, sample.KindTimer, "app.latency", float64(i), "host", string(rune('a'+i%26)), "pid", "7")
	}
	route := func(uint64) *sample.Batch { return &out }
	m.Map(&src, route)
	misses := spec.Stats().Misses.Load()
	if n := testing.AllocsPerRun(50, func() { out.Reset(); m.Map(&src, route) }); n != 0 {
		t.Errorf("%v allocations a batch in the steady state", n)
	}
	if spec.Stats().Misses.Load() != misses || misses != 26 {
		t.Errorf("misses %d after warming (want 26 series), then %d", misses, spec.Stats().Misses.Load())
	}
	if got := keysOf(t, &out); len(got) != 26 || got["timer:svc/latency{host=a,}"] == 0 {
		t.Errorf("got %v", got)
	}
}

func TestRewriteCacheBounded(t *testing.T) {
	spec, err := NewTagDroppingSpec("drop", []transform.DropSet{{MetricPattern: ".*", RemoveDimensions: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	spec.MaxSeries = 2
	m := spec.NewMapper()
	var src, out sample.Batch
	for _, n := range []string{"a", "b", "c", "a"} {
		addSeries(t, &src, sample.KindCounter, n, 1, "x", "1")
	}
	m.Map(&src, func(uint64) *sample.Batch { return &out })
	if c := spec.Stats().Clears.Load(); c != 1 {
		t.Errorf("%d clears; want 1", c)
	}
	if got := keysOf(t, &out); got["counter:a{}"] != 2 || got["counter:b{}"] != 1 || got["counter:c{}"] != 1 {
		t.Errorf("got %v", got)
	}
}

// BenchmarkTCPConsumeTransforming: BenchmarkTCPConsume's StatsD chunk
// through a TransformingSource with three rules (a rename by pattern, an
// injected dimension, a removed one), against the bare source, in one run
// (sub-benchmarks alternate with -count).
//
//	go test ./ingest -run '^$' -bench TCPConsumeTransforming -count 6 | benchstat -col /source -
func BenchmarkTCPConsumeTransforming(b *testing.B) {
	spec, err := NewTransformingSpec("tr", []transform.Set{{
		Metrics: []transform.Rule{{Pattern: `^bench\.metric\.(\d+)`, Templates: []string{"bench/${1}"}}},
		Inject:  []transform.Injection{{Key: "cluster", Value: "c1"}},
		Remove:  []string{"pid"},
	}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		mappers MapperChain
	}{{"source=bare", nil}, {"source=transforming", MapperChain{spec}}} {
		b.Run(tc.name, func(b *testing.B) {
			data, lines := benchLines("bench.metric.%d:1|c|#host:web-042,pid:7\n", 128<<10)
			lanes := []Lanes{NewLanes(2, 1024)}
			src, err := ListenTCP(TCPConfig{Name: "bench", Addr: "127.0.0.1:0", Format: FormatStatsD, Log: quiet, Mappers: tc.mappers}, lanes)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Stop()
			c := &chunkConn{buf: data}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.off = 0
				src.consume(c, false)
				if countLanes(lanes) != lines {
					b.Fatalf("stats %+v", src.Stats())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
		})
	}
}
