package ingest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/statsd"

	"github.com/gomad/mad/internal/sample"
	sm "github.com/gomad/mad/internal/selfmetric"
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

// readableKey renders a sample's key as "kind:name{k=v,…}", checking that
// its hash is the key's.
func readableKey(t testing.TB, b *sample.Batch, s *sample.Sample) string {
	t.Helper()
	k := b.Key(s)
	if s.Hash != sample.Hash(k) {
		t.Fatal("a sample's hash is not its key's")
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
	return str + "}"
}

// keysOf renders the batch's samples as "key=value" with readable keys.
func keysOf(t testing.TB, b *sample.Batch) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for i := range b.Samples {
		out[readableKey(t, b, &b.Samples[i])] += b.Samples[i].Value
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

// TestRewriteCacheBeyond16MiB: a cache raised past 16 MiB (what its
// slots addressed when records started at any byte) holds every series of
// a load that fills it to more than that, mapped as a fresh cache maps
// them, and never clears.
func TestRewriteCacheBeyond16MiB(t *testing.T) {
	spec, err := NewTransformingSpec("tr", []transform.Set{{Metrics: []transform.Rule{{Pattern: "^app\\.(.*)", Templates: []string{"svc/${1}"}}},
		Remove: []string{"pid"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec.MaxSeries, spec.MaxBytes = 1<<17, 40<<20
	m := spec.NewMapper()
	const n = 60_000
	pad := strings.Repeat("x", 130) // about 330 bytes a record: 20 MB in all
	batches := make([]sample.Batch, n/1000)
	for i := range n {
		addSeries(t, &batches[i/1000], sample.KindCounter, fmt.Sprintf("app.%s.%05d", pad, i), float64(i), "host", fmt.Sprint(i%7), "pid", "1")
	}
	var out sample.Batch
	route := func(uint64) *sample.Batch { return &out }
	mapAll := func() (keys []string) { // every batch through m: the output keys in order
		for i := range batches {
			m.Map(&batches[i], route)
			for j := range out.Samples {
				keys = append(keys, readableKey(t, &out, &out.Samples[j]))
			}
			out.Reset()
		}
		return keys
	}
	first := mapAll()
	if got := len(m.(*rewriter).arena); got <= 16<<20 {
		t.Fatalf("the records take %d bytes; the test wants more than 16 MiB", got)
	}
	misses := spec.Stats().Misses.Load()
	again := mapAll()
	if c := spec.Stats().Clears.Load(); c != 0 || misses != n || spec.Stats().Misses.Load() != n {
		t.Errorf("%d clears, %d misses for %d series, %d after mapping them again; want none, %d, %d", c, misses, n, spec.Stats().Misses.Load(), n, n)
	}
	fresh := spec.NewMapper() // one series at a time: nothing cached past the first
	for i, k := range again {
		if k != first[i] {
			t.Fatalf("sample %d mapped to %s from the cache, %s first", i, k, first[i])
		}
		if i%997 == 0 {
			var one sample.Batch
			addSeries(t, &one, sample.KindCounter, fmt.Sprintf("app.%s.%05d", pad, i), float64(i), "host", fmt.Sprint(i%7), "pid", "1")
			fresh.Map(&one, route)
			if k2 := readableKey(t, &out, &out.Samples[0]); k2 != k {
				t.Fatalf("sample %d mapped to %s from the cache, %s by a fresh mapper", i, k, k2)
			}
			out.Reset()
		}
	}
}

// BenchmarkTCPConsumeTransforming: StatsD counter lines with two tags
// through a TransformingSource with three rules (a rename by pattern, an
// injected dimension, a removed one), against the bare source, in one run
// (sub-benchmarks alternate with -count). names=1000 is BenchmarkTCPConsume's
// 128 KiB chunk (names in order); names=10000 is S1's 10 000 names in a
// random order, in chunks of 128 KiB taken in turn, so that the rewriter's
// cache does not fit in the CPU's first caches. "keyed" is the StatsD
// decoder routing by key (one lookup, the output key written once);
// "staged" the decoder writing into a stage of 64 samples that the rewriter
// maps with its lookups prefetched.
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
	for _, names := range []int{1000, 10000} {
		var chunks [][]byte
		var counts []int
		if names == 1000 {
			data, lines := benchLines("bench.metric.%d:1|c|#host:web-042,pid:7\n", 128<<10)
			chunks, counts = [][]byte{data}, []int{lines}
		} else {
			r := rand.New(rand.NewPCG(1, 2))
			for range 8 {
				var data []byte
				n := 0
				for {
					l := fmt.Appendf(nil, "bench.metric.%d:1|c|#host:web-042,pid:7\n", r.IntN(names))
					if len(data)+len(l) > 128<<10 {
						break
					}
					data, n = append(data, l...), n+1
				}
				chunks, counts = append(chunks, data), append(counts, n)
			}
		}
		for _, tc := range []struct {
			name    string
			mappers MapperChain
			staged  bool
		}{{"bare", nil, false}, {"keyed", MapperChain{spec}, false}, {"staged", MapperChain{spec}, true}} {
			b.Run(fmt.Sprintf("names=%d/source=%s", names, tc.name), func(b *testing.B) {
				lanes := []Lanes{NewLanes(2, 1024)}
				src, err := ListenTCP(TCPConfig{Name: "bench", Addr: "127.0.0.1:0", Format: FormatStatsD, Log: quiet, Mappers: tc.mappers}, lanes)
				if err != nil {
					b.Fatal(err)
				}
				defer src.Stop()
				if tc.staged {
					for _, sl := range src.all {
						sl.dec.SetKeyRoute(nil)
					}
				}
				c := &chunkConn{}
				lines := 0
				b.SetBytes(int64(len(chunks[0])))
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					c.buf, c.off = chunks[i%len(chunks)], 0
					src.consume(c, tcpOpen)
					if got := countLanes(lanes); got != counts[i%len(chunks)] {
						b.Fatalf("%d samples of %d lines; stats %+v", got, counts[i%len(chunks)], src.Stats())
					}
					lines += counts[i%len(chunks)]
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(lines), "ns/line")
			})
		}
	}
}

// seriesOfLanes pops every published batch and renders its samples in order as
// "key value time" lines per output series (the order within a series is
// what a shard sees).
func seriesOfLanes(t testing.TB, lanes Lanes) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for i, r := range lanes.To {
		for b, ok := r.Pop(); ok; b, ok = r.Pop() {
			for j := range b.Samples {
				s := &b.Samples[j]
				if got := ShardOf(s.Hash, len(lanes.To)); got != i {
					t.Fatalf("sample of shard %d on lane %d", got, i)
				}
				str := readableKey(t, b, s)
				out[str] = append(out[str], fmt.Sprintf("%v@%d/%d", s.Value, s.Time, s.Flags))
			}
			b.Reset()
			lanes.Back[i].Push(b)
		}
	}
	return out
}

// TestRouteKeyMatchesStaging: a StatsD decoder routing by key through a
// producer with a TransformingSource (one output per series written
// straight into the shard's batch) gives exactly what the staging path
// gives (decode, stage, map): every output series, every sample in order,
// with series of one output, several outputs, none (a rule without
// templates) and dropped ones (a malformed tag tail) interleaved, gauges
// with deltas among them, and an output series ("merged") fed both by
// series of one output and by a staged series of two, so that the order
// of its samples depends on staged samples being mapped in turn.
func TestRouteKeyMatchesStaging(t *testing.T) {
	spec, err := NewTransformingSpec("tr", []transform.Set{{
		Metrics: []transform.Rule{
			{Pattern: `^one\.(\w+)`, Templates: []string{"1/${1}"}},
			{Pattern: `^two\.(\w+)`, Templates: []string{"2a/${1}", "merged"}},
			{Pattern: `^none\.`},
			{Pattern: `^bad\.(\w+)`, Templates: []string{"bad;${1}"}},
			{Pattern: `^merge\.\w+`, Templates: []string{"merged"}},
		},
		Inject: []transform.Injection{{Key: "cluster", Value: "c1"}},
		Remove: []string{"pid"},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	names := []string{"one.a", "two.b", "none.c", "bad.d", "merge.e", "merge.f", "plain", "one.g"}
	for i := 0; i < 3000; i++ {
		n := names[(i*7+i/5)%len(names)]
		switch i % 4 {
		case 0:
			data = fmt.Appendf(data, "%s:%d|c|#host:h%d,pid:%d\n", n, i, i%3, i)
		case 1:
			data = fmt.Appendf(data, "%s:+%d|g\n", n, i)
		case 2:
			data = fmt.Appendf(data, "%s:%d|g|#host:h%d\n", n, i, i%3)
		default:
			data = fmt.Appendf(data, "%s:%d.5|ms\n", n, i)
		}
	}
	run := func(byKey bool) (map[string][]string, *RewriteStats) {
		spec.stats = new(RewriteStats)
		lanes := NewLanes(3, 4096)
		p := newProducer(lanes, MapperChain{spec})
		p.MaxSamples = 64 // many publications, stagings interleaved with them
		d := statsd.NewDecoder(statsd.Config{})
		if byKey {
			d = newStatsdDecoder(statsd.Config{}, p)
		}
		for off := 0; off < len(data); {
			end := min(len(data), off+1400)
			for end < len(data) && data[end-1] != '\n' {
				end--
			}
			d.Decode(data[off:end], 5000, p.Route)
			off = end
		}
		p.Flush()
		return seriesOfLanes(t, lanes), spec.stats
	}
	staged, st1 := run(false)
	keyed, st2 := run(true)
	if len(staged) < 10 || !reflect.DeepEqual(staged, keyed) {
		t.Fatalf("by key:\n%v\nstaged:\n%v", keyed, staged)
	}
	if _, ok := staged["counter:2a/b{cluster=c1,host=h0,}"]; !ok {
		t.Errorf("no series of a second output: %v", staged)
	}
	for _, n := range []string{"none", "bad"} {
		for k := range staged {
			if strings.Contains(k, n) {
				t.Errorf("series %s emitted", k)
			}
		}
	}
	if st1.Dropped.Load() == 0 || st1.Dropped.Load() != st2.Dropped.Load() || st2.Hits.Load()+st2.Misses.Load() < 3000 {
		t.Errorf("staged: dropped %d; by key: dropped %d, hits %d, misses %d", st1.Dropped.Load(), st2.Dropped.Load(), st2.Hits.Load(), st2.Misses.Load())
	}
}

// TestRouteKeySteadyState: routing by key through a rewriter allocates
// nothing once the series are cached.
func TestRouteKeySteadyState(t *testing.T) {
	spec, err := NewTransformingSpec("tr", []transform.Set{{Metrics: []transform.Rule{{Pattern: `^app\.(.*)`, Templates: []string{"svc/${1}"}}},
		Remove: []string{"pid"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lanes := NewLanes(2, 1024)
	p := newProducer(lanes, MapperChain{spec})
	d := newStatsdDecoder(statsd.Config{}, p)
	var data []byte
	for i := 0; i < 100; i++ {
		data = fmt.Appendf(data, "app.latency.%d:%d|ms|#host:h%d,pid:7\n", i%10, i, i%5)
	}
	run := func() {
		d.Decode(data, 1000, p.Route)
		p.Flush()
		countLanes([]Lanes{lanes})
	}
	run()
	misses := spec.Stats().Misses.Load()
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Errorf("%v allocations a datagram in the steady state", n)
	}
	if got := spec.Stats().Misses.Load(); got != misses || misses != 10 {
		t.Errorf("misses %d after warming (want 10 series), then %d", misses, got)
	}
}

// TestHTTPReloadKeepsWrapperCounters: after a reload that keeps an HTTP
// source and an equal MappingSource (built anew by the configuration), the
// slots keep their mappers, which count into the old spec: the source
// reports that spec's counters. It reported the new spec's, which nothing
// updates: the lookups went back to zero and stayed there (a review's
// finding).
func TestHTTPReloadKeepsWrapperCounters(t *testing.T) {
	rules := []MappingRule{{Pattern: "^a$", Replacements: []string{"mapped"}}}
	spec1, _ := NewMappingSpec("m", rules)
	lanes := NewLanes(1, 64)
	cfg := HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, Mappers: MapperChain{spec1}}
	s, err := NewHTTPSource(cfg, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	inject := func() {
		injectGauge(t, s, "a")
		for b, ok := lanes.To[0].Pop(); ok; b, ok = lanes.To[0].Pop() {
			b.Reset()
			lanes.Back[0].Push(b)
		}
	}
	inject()
	inject()
	before := rewriteLookups(s)
	// Reload: the same configuration, compiled again.
	spec2, _ := NewMappingSpec("m", rules)
	cfg2 := cfg
	cfg2.Mappers = MapperChain{spec2}
	if !s.Retargetable(&cfg2) {
		t.Fatal("not retargetable")
	}
	lanes2 := NewLanes(1, 64)
	if err := s.Retarget(&cfg2, []Lanes{lanes2}); err != nil {
		t.Fatal(err)
	}
	lanes = lanes2
	inject()
	inject()
	after := rewriteLookups(s)
	if before != 2 || after != before+2 {
		t.Errorf("mad_source_rewrite_cache_lookups_total went from %v to %v after 2 more samples", before, after)
	}
	// Reloads to other rules and back while the slot serves nothing: the
	// slot, still on the first rules, must not keep their mapper, which
	// counts into specs no longer reported (a second review's finding).
	for _, r := range [][]MappingRule{{{Pattern: "^b$", Replacements: []string{"other"}}}, rules} {
		spec, _ := NewMappingSpec("m", r)
		c := cfg
		c.Mappers = MapperChain{spec}
		lanes = NewLanes(1, 64)
		if err := s.Retarget(&c, []Lanes{lanes}); err != nil {
			t.Fatal(err)
		}
	}
	before = rewriteLookups(s)
	inject()
	inject()
	if after := rewriteLookups(s); after != before+2 {
		t.Errorf("after reloads away and back: lookups went from %v to %v after 2 more samples", before, after)
	}
}

// rewriteLookups sums a source's mad_source_rewrite_cache_lookups_total.
func rewriteLookups(s interface{ Report(func(sm.Value)) }) (n float64) {
	s.Report(func(v sm.Value) {
		if v.Name == "mad_source_rewrite_cache_lookups_total" {
			n += v.V
		}
	})
	return n
}

// TestRewriterCountsOutputsLeftOut: a series one of whose outputs would
// have a key over the limit keeps its other output, and each sample counts
// the one left out as dropped (it was left out silently; a review's
// finding). A series all of whose outputs are too long counts once a sample.
func TestRewriterCountsOutputsLeftOut(t *testing.T) {
	spec, err := NewMappingSpec("m", []MappingRule{{Pattern: "^big.*", Replacements: []string{"$0", "$0$0$0"}}, {Pattern: "^huge.*", Replacements: []string{"$0$0$0", "$0$0$0$0"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := spec.NewMapper()
	var src, dst sample.Batch
	pad := strings.Repeat("x", sample.MaxKeyLen/2-10)
	for _, name := range []string{"big" + pad, "big" + pad, "huge" + pad} {
		ref, err := src.PutKey(sample.KindGauge, []byte(name), nil)
		if err != nil {
			t.Fatal(err)
		}
		src.AddValue(ref, 1, 0, 1, sample.UnitNone)
	}
	m.Map(&src, func(uint64) *sample.Batch { return &dst })
	if len(dst.Samples) != 2 {
		t.Errorf("%d outputs; want 2 (one a big sample)", len(dst.Samples))
	}
	if d := spec.Stats().Dropped.Load(); d != 3 {
		t.Errorf("%d counted dropped; want 3 (an output of each big sample, the huge sample)", d)
	}
	// The keyed path (a StatsD line's series looked up by the producer).
	r := spec.NewMapper().(*rewriter)
	key, err := sample.AppendKey(nil, sample.KindGauge, []byte("big"+pad), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, n := r.single(key, sample.Hash(key)); n != 1 {
		t.Errorf("keyed: %d outputs; want 1", n)
	}
	r.publishStats()
	if d := spec.Stats().Dropped.Load(); d != 4 {
		t.Errorf("keyed: %d counted dropped; want 4", d)
	}
}

// TestRewriterDropsKeysOverTheLimit: a key longer than a batch may hold
// (its length would not fit a record) is dropped and counted, not cached.
func TestRewriterDropsKeysOverTheLimit(t *testing.T) {
	spec, err := NewMappingSpec("m", []MappingRule{{Pattern: "^a", Replacements: []string{"b"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := spec.NewMapper().(*rewriter)
	key := append([]byte{byte(sample.KindGauge)}, strings.Repeat("a", sample.MaxKeyLen)...)
	if _, _, n := r.single(key, sample.Hash(key)); n != 0 {
		t.Errorf("%d outputs; want none", n)
	}
	r.publishStats()
	if d, c := spec.Stats().Dropped.Load(), r.n; d != 1 || c != 0 {
		t.Errorf("%d dropped, %d cached; want 1 and 0", d, c)
	}
}
