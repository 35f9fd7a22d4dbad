package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
)

const t0 = int64(1_699_999_980_000)

// collect records a readable summary of every bucket, and the emission
// rounds (Flush calls) with how many buckets each closed.
type collect struct {
	lines   []string
	flushes []int
}

func (c *collect) Flush() { c.flushes = append(c.flushes, len(c.lines)) }

func (c *collect) Record(pd *sinks.PeriodicData) {
	var dims []string
	for _, d := range pd.Dimensions {
		dims = append(dims, string(d.Key)+"="+string(d.Value))
	}
	var ms []string
	for _, m := range pd.Metrics {
		var st []string
		for _, s := range m.Statistics {
			mark := ""
			if s.Specified {
				mark = "*"
			}
			st = append(st, fmt.Sprintf("%v%s=%v", s.Stat, mark, s.Value))
		}
		ms = append(ms, fmt.Sprintf("%s:%s:%s:%d{%s}h%d", m.Name, m.Type, m.Unit, m.PopulationSize, strings.Join(st, ","), len(m.Histogram)))
	}
	sort.Strings(ms)
	req := ""
	if !pd.MinRequestTime.IsZero() {
		req = fmt.Sprint(" req=", pd.MinRequestTime.UnixMilli()-t0)
	}
	c.lines = append(c.lines, fmt.Sprintf("%v %d [%s]%s %s", sinks.FormatPeriod(pd.Period), pd.Start.UnixMilli()-t0, strings.Join(dims, ","), req, strings.Join(ms, " ")))
}
func (c *collect) Close() error { return nil }

func addSample(b *sample.Batch, kind sample.Kind, name string, at, req int64, v float64, u sample.Unit, dims ...string) {
	var ds []sample.Dim
	for i := 0; i+1 < len(dims); i += 2 {
		ds = append(ds, sample.Dim{Key: []byte(dims[i]), Value: []byte(dims[i+1])})
	}
	sample.SortDims(ds)
	k, _ := b.PutKey(kind, []byte(name), ds)
	b.AddValue(k, at, req, v, u)
}

func TestEmitterMergesShardsAndWaitsForWatermarks(t *testing.T) {
	cfg := shard.Config{Periods: []time.Duration{time.Second}}
	s0, _ := shard.New(0, cfg)
	s1, _ := shard.New(1, cfg)
	out := &collect{}
	e := NewEmitter([]*shard.Shard{s0, s1}, out)

	// Two series of the same dimensions in different shards, one bucket
	// with only a record without metrics, one request time.
	var b0, b1 sample.Batch
	addSample(&b0, sample.KindTimer, "lat", t0+100, t0-5, 0.5, sample.Second, "host", "a")
	addSample(&b0, sample.KindTimer, "lat", t0+200, 0, 1.5, sample.Second, "host", "a")
	addSample(&b1, sample.KindCounter, "req", t0+300, t0-9, 2, sample.UnitNone, "host", "a")
	kn, _ := b1.PutKey(sample.KindNone, nil, []sample.Dim{{Key: []byte("host"), Value: []byte("b")}})
	b1.AddValue(kn, t0+400, 0, 0, sample.UnitNone)
	s0.Apply(&b0, t0+500)
	s1.Apply(&b1, t0+500)

	s0.Tick(t0 + 2001) // expired and sealed in shard 0 only
	s1.Tick(t0 + 1500)
	e.Poll()
	if len(out.lines) != 0 || e.Pending() != 1 || len(out.flushes) != 0 {
		t.Fatalf("emitted %v (flushed %v) before every shard sealed the bucket (pending %d)", out.lines, out.flushes, e.Pending())
	}
	s1.Tick(t0 + 2001)
	e.Poll()
	if len(out.flushes) != 1 || out.flushes[0] != 2 {
		t.Fatalf("flushes %v; want one after the round's 2 buckets", out.flushes)
	}
	want := []string{
		"PT1S 0 [host=a] req=-9 lat:timer:SECOND:2{count*=2,sum=2,mean*=1,median*=0.5,tp90*=1.5,tp99*=1.5,histogram=1}h2 req:counter::1{count*=1,sum*=2,mean*=2}h0",
		"PT1S 0 [host=b] ",
	}
	sort.Strings(out.lines)
	if strings.Join(out.lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("emitted\n%s\nwant\n%s", strings.Join(out.lines, "\n"), strings.Join(want, "\n"))
	}
	if st := e.Stats(); st.Tables != 2 || st.Buckets != 2 || st.Metrics != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEmitterStatisticOrderIsMAD(t *testing.T) {
	// Statistics come in hist.Stat order; the emitter must not depend on
	// map order anywhere.
	got := hist.SetOf(hist.Mean, hist.Count, hist.Sum).All()
	if len(got) != 3 || got[0] != hist.Count || got[1] != hist.Sum || got[2] != hist.Mean {
		t.Fatalf("Set.All order %v", got)
	}
}

// TestEmitterKeepsCutTablesApart: a table a reconfiguration cut is emitted
// once every shard has pushed its cut tables, before its expiration, and
// apart from the table of the same bucket (period, start and expiration)
// opened after it, never as a second row of its series in one PeriodicData.
func TestEmitterKeepsCutTablesApart(t *testing.T) {
	cfg := shard.Config{Periods: []time.Duration{time.Second}, CounterStatistics: hist.SetOf(hist.Sum)}
	s0, _ := shard.New(0, cfg)
	s1, _ := shard.New(1, cfg)
	out := &collect{}
	e := NewEmitter([]*shard.Shard{s0, s1}, out)
	apply := func(v float64) {
		var b sample.Batch
		addSample(&b, sample.KindCounter, "req", t0+100, 0, v, sample.UnitNone, "host", "a")
		s0.Apply(&b, t0+200)
	}
	apply(1)
	// The counters now need max, which the open row did not keep: cut.
	cfg.CounterStatistics = hist.SetOf(hist.Sum, hist.Max)
	for _, s := range []*shard.Shard{s0, s1} {
		if err := s.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
	}
	s0.Tick(t0 + 300)
	e.Poll()
	if len(out.lines) != 0 {
		t.Fatalf("emitted %v before every shard had pushed its cut tables", out.lines)
	}
	s1.Tick(t0 + 300)
	e.Poll()
	if len(out.lines) != 1 {
		t.Fatalf("emitted %v; want the cut part, before its expiration", out.lines)
	}
	apply(2)
	for _, s := range []*shard.Shard{s0, s1} {
		s.Tick(t0 + 2001)
	}
	e.Poll()
	want := []string{
		"PT1S 0 [host=a] req:counter::1{count=1,sum*=1}h0",
		"PT1S 0 [host=a] req:counter::1{count=1,sum*=2,max*=2}h0",
	}
	if strings.Join(out.lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("emitted\n%s\nwant\n%s", strings.Join(out.lines, "\n"), strings.Join(want, "\n"))
	}
}

// parts records each PeriodicData as its key (dimensions, period, start,
// minimum request time) and its metrics, rendered when recorded.
type parts struct {
	keys    []string
	metrics [][]string
	hists   []int // histogram buckets per part
	nums    []int // PeriodicData.Part
}

func (p *parts) Record(pd *sinks.PeriodicData) {
	var dims []string
	for _, d := range pd.Dimensions {
		dims = append(dims, string(d.Key)+"="+string(d.Value))
	}
	req := int64(0)
	if !pd.MinRequestTime.IsZero() {
		req = pd.MinRequestTime.UnixMilli()
	}
	p.keys = append(p.keys, fmt.Sprintf("%v %d [%s] req=%d", sinks.FormatPeriod(pd.Period), pd.Start.UnixMilli()-t0, strings.Join(dims, ","), req))
	p.nums = append(p.nums, pd.Part)
	var ms []string
	h := 0
	for _, m := range pd.Metrics {
		var st []string
		for _, s := range m.Statistics {
			st = append(st, fmt.Sprintf("%v=%v", s.Stat, s.Value))
		}
		ms = append(ms, fmt.Sprintf("%s{%s}h%d", m.Name, strings.Join(st, ","), len(m.Histogram)))
		h += len(m.Histogram)
	}
	p.metrics = append(p.metrics, ms)
	p.hists = append(p.hists, h)
}
func (p *parts) Close() error { return nil }

// TestEmitterSplitsLargeBuckets: a bucket of more than chunkMetrics metrics
// (or whose histograms pass chunkBuckets) reaches the sinks in parts, each a
// PeriodicData of the bucket's dimensions, period, start and minimum request
// time (taken over the whole bucket), every metric in exactly one part with
// the values it has when the bucket is emitted whole; smaller buckets, and
// buckets without metrics, are one PeriodicData.
func TestEmitterSplitsLargeBuckets(t *testing.T) {
	const big = 2*chunkMetrics + chunkMetrics/2
	var b0, b1 sample.Batch
	// Dimension set a: big counters over both shards; the smallest
	// request time is on the last row.
	for i := range big {
		b := &b0
		if i%3 == 0 {
			b = &b1
		}
		req := int64(0)
		switch i {
		case 10:
			req = t0 - 5
		case big - 1:
			req = t0 - 7
		}
		addSample(b, sample.KindCounter, fmt.Sprintf("c%05d", i), t0+100, req, float64(i), sample.UnitNone, "host", "a")
	}
	// b: 300 timers of 1000 distinct values each, over 400 histogram
	// buckets each, so that parts end at chunkBuckets.
	for i := range 300 {
		for v := range 1000 {
			addSample(&b1, sample.KindTimer, fmt.Sprintf("t%03d", i), t0+100, 0, float64(v*(i+1)+1), sample.UnitNone, "host", "b")
		}
	}
	// c: a record without metrics; d: one with, and a metric.
	kn, _ := b0.PutKey(sample.KindNone, nil, []sample.Dim{{Key: []byte("host"), Value: []byte("c")}})
	b0.AddValue(kn, t0+100, 0, 0, sample.UnitNone)
	kd, _ := b1.PutKey(sample.KindNone, nil, []sample.Dim{{Key: []byte("host"), Value: []byte("d")}})
	b1.AddValue(kd, t0+100, 0, 0, sample.UnitNone)
	addSample(&b0, sample.KindCounter, "one", t0+100, 0, 1, sample.UnitNone, "host", "d")

	emit := func(whole bool) (*parts, EmitterStats) {
		cfg := shard.Config{Periods: []time.Duration{time.Second}}
		s0, _ := shard.New(0, cfg)
		s1, _ := shard.New(1, cfg)
		out := &parts{}
		e := NewEmitter([]*shard.Shard{s0, s1}, out)
		if whole {
			e.chunkMetrics, e.chunkBuckets = math.MaxInt, math.MaxInt
		}
		s0.Apply(&b0, t0+200)
		s1.Apply(&b1, t0+200)
		s0.Tick(t0 + 2001)
		s1.Tick(t0 + 2001)
		e.Poll()
		return out, e.Stats()
	}
	ref, refStats := emit(true)
	out, st := emit(false)
	if st != refStats || st.Buckets != 4 || st.Metrics != big+301 {
		t.Errorf("stats %+v, whole %+v; want 4 buckets, %d metrics", st, refStats, big+301)
	}
	if len(ref.keys) != 4 {
		t.Fatalf("emitted whole: %v; want 4 PeriodicData", ref.keys)
	}
	maxHist := 0
	for i, k := range ref.keys {
		if k == "PT1S 0 [host=b] req=0" {
			maxHist = ref.hists[i]
		}
	}
	want := map[string][]string{}
	for i, k := range ref.keys {
		want[k] = ref.metrics[i]
	}
	got := map[string][]string{}
	partsOf := map[string]int{}
	for i, k := range out.keys {
		if out.nums[i] != partsOf[k] {
			t.Errorf("%s: part %d numbered %d", k, partsOf[k], out.nums[i])
		}
		partsOf[k]++
		got[k] = append(got[k], out.metrics[i]...)
		if n := len(out.metrics[i]); n > chunkMetrics {
			t.Errorf("part %d of %s: %d metrics; want at most %d", i, k, n, chunkMetrics)
		}
		if out.hists[i] >= chunkBuckets+maxHist {
			t.Errorf("part %d of %s: %d histogram buckets; want fewer than %d", i, k, out.hists[i], chunkBuckets+maxHist)
		}
		if n := len(out.metrics[i]); n == 0 && k != "PT1S 0 [host=c] req=0" {
			t.Errorf("part %d of %s: empty", i, k)
		}
	}
	for k, ms := range want {
		if strings.Join(got[k], "\n") != strings.Join(ms, "\n") {
			t.Errorf("%s: in parts %d metrics, whole %d, or different", k, len(got[k]), len(ms))
		}
	}
	if len(got) != len(want) {
		t.Errorf("buckets %v; want %d", partsOf, len(want))
	}
	if maxHist < 300*400 {
		t.Fatalf("host b's histograms: %d buckets; want over %d", maxHist, 300*400)
	}
	wantParts := map[string]int{
		fmt.Sprintf("PT1S 0 [host=a] req=%d", t0-7): 3,
		"PT1S 0 [host=c] req=0":                     1,
		"PT1S 0 [host=d] req=0":                     1,
	}
	for k, n := range wantParts {
		if partsOf[k] != n {
			t.Errorf("%s: %d parts; want %d", k, partsOf[k], n)
		}
	}
	if n := partsOf["PT1S 0 [host=b] req=0"]; n < 2 {
		t.Errorf("host b: %d parts; want its %d histogram buckets in several", n, maxHist)
	}
}

// TestEmitterGroupsManyDimensionSets spreads the series of thousands of
// dimension sets over two shards, in different orders, and checks that each
// set is emitted once, with every metric it had in either shard: the
// dimension index grows many times and probes past other sets' slots.
func TestEmitterGroupsManyDimensionSets(t *testing.T) {
	const sets = 5000
	cfg := shard.Config{Periods: []time.Duration{time.Second}}
	s0, _ := shard.New(0, cfg)
	s1, _ := shard.New(1, cfg)
	out := &collect{}
	e := NewEmitter([]*shard.Shard{s0, s1}, out)
	var b0, b1 sample.Batch
	for i := range sets {
		host := fmt.Sprintf("h%d", i)
		addSample(&b0, sample.KindCounter, "a", t0+100, 0, float64(i), sample.UnitNone, "host", host)
		addSample(&b1, sample.KindCounter, "b", t0+100, 0, 1, sample.UnitNone, "host", fmt.Sprintf("h%d", sets-1-i))
		if i%3 == 0 {
			addSample(&b1, sample.KindCounter, "c", t0+100, 0, 2, sample.UnitNone, "host", host, "zone", "z")
		}
	}
	s0.Apply(&b0, t0+500)
	s1.Apply(&b1, t0+500)
	s0.Tick(t0 + 2001)
	s1.Tick(t0 + 2001)
	e.Poll()
	seen := map[string]string{}
	for _, l := range out.lines {
		// "PT1S 0 [dims] metrics"
		dims := l[strings.Index(l, "[")+1 : strings.Index(l, "]")]
		if prev, dup := seen[dims]; dup {
			t.Fatalf("set %s emitted twice:\n%s\n%s", dims, prev, l)
		}
		seen[dims] = l
	}
	if len(seen) != sets+(sets+2)/3 {
		t.Fatalf("%d sets emitted; want %d", len(seen), sets+(sets+2)/3)
	}
	for i := range sets {
		l := seen[fmt.Sprintf("host=h%d", i)]
		if !strings.Contains(l, fmt.Sprintf(" a:counter::1{count*=1,sum*=%d,", i)) || !strings.Contains(l, " b:counter::1{") {
			t.Fatalf("set h%d: %q; want metrics a (sum %d) and b", i, l, i)
		}
		if i%3 == 0 && !strings.Contains(seen[fmt.Sprintf("host=h%d,zone=z", i)], " c:counter::1{") {
			t.Fatalf("set h%d,zone=z: %q; want metric c", i, seen[fmt.Sprintf("host=h%d,zone=z", i)])
		}
	}
}

// plainSink checks, for every metric it is given, the plain-text marks
// against an independent reading of the text, and that a JSON line written
// with them is the line written without them.
type plainSink struct {
	t       *testing.T
	metrics int
	plain   [2]int // names, dimension sets marked plain
}

// plainText: what needs no escaping in JSON, read independently of
// package jsonstr: valid UTF-8, no C0 control, no quote, no backslash.
func plainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}

func (p *plainSink) Record(pd *sinks.PeriodicData) {
	dimsPlain := true
	for _, d := range pd.Dimensions {
		dimsPlain = dimsPlain && plainText(d.Key) && plainText(d.Value)
	}
	if pd.PlainDimensions != dimsPlain {
		p.t.Errorf("dimensions %q marked plain %v; want %v", pd.Dimensions, pd.PlainDimensions, dimsPlain)
	}
	unmarked := *pd
	unmarked.PlainDimensions = false
	for i := range pd.Metrics {
		m := &pd.Metrics[i]
		if m.PlainName != plainText(m.Name) {
			p.t.Errorf("name %q marked plain %v; want %v", m.Name, m.PlainName, !m.PlainName)
		}
		um := *m
		um.PlainName = false
		if got, want := jsonlines.AppendLine(nil, pd, m), jsonlines.AppendLine(nil, &unmarked, &um); string(got) != string(want) {
			p.t.Errorf("line written with the marks\n%s\nwithout\n%s", got, want)
		}
		p.metrics++
		if m.PlainName {
			p.plain[0]++
		}
		if pd.PlainDimensions {
			p.plain[1]++
		}
	}
}
func (p *plainSink) Flush()       {}
func (p *plainSink) Close() error { return nil }

// TestEmitterMarksPlainText: the shard notes once whether a series' name
// and dimensions need JSON escaping, and the emitter passes it on. Every
// name and dimension key or value of a set of texts (plain ASCII and UTF-8,
// a quote, a backslash, controls, invalid UTF-8, U+FFFD itself, empty),
// over two shards whose rows meet in buckets, is marked as an independent
// reading says, and a JSON line with the marks is the line without them.
func TestEmitterMarksPlainText(t *testing.T) {
	texts := []string{"plain", "ünïcødé €", "a\"quote", "back\\slash", "tab\there", "\x00", "\x7f", "bad\xffutf8",
		"\xef\xbf\xbd", "\xed\xa0\x80", "", "long.name.past.eight.bytes", "long.name.past.eight\x1f"}
	cfg := shard.Config{Periods: []time.Duration{time.Second}}
	s0, _ := shard.New(0, cfg)
	s1, _ := shard.New(1, cfg)
	out := &plainSink{t: t}
	e := NewEmitter([]*shard.Shard{s0, s1}, out)
	var b0, b1 sample.Batch
	n := 0
	for i, name := range texts {
		for j, v := range texts {
			b := &b0
			if (i+j)%2 == 1 {
				b = &b1
			}
			// Dimension keys are never empty.
			key := texts[(i+j)%len(texts)] + "k"
			addSample(b, sample.KindCounter, name, t0+100, 0, 1, sample.UnitNone, "host", v, key, "x")
			n++
		}
		b := &b0 // a series lives in one shard
		if i%2 == 1 {
			b = &b1
		}
		addSample(b, sample.KindGauge, name, t0+100, 0, 1, sample.UnitNone)
		n++
	}
	s0.Apply(&b0, t0+500)
	s1.Apply(&b1, t0+500)
	s0.Tick(t0 + 2001)
	s1.Tick(t0 + 2001)
	if !e.Poll() {
		t.Fatal("nothing emitted")
	}
	if out.metrics != n {
		t.Fatalf("%d metrics emitted; want %d", out.metrics, n)
	}
	if out.plain[0] == 0 || out.plain[0] == out.metrics || out.plain[1] == 0 || out.plain[1] == out.metrics {
		t.Fatalf("%d names and %d dimension sets of %d metrics marked plain: the texts test neither side", out.plain[0], out.plain[1], out.metrics)
	}
}

// TestFarFutureBucketEmittedAtStop: a bucket whose time is near the end of
// int64 (a Graphite time of 9223372036854775 s) expires at the largest
// expiration there is; it stays open while the daemon runs and is emitted
// at the stop's flush, beside the others. Its expiration used to saturate
// to math.MaxInt64, the mark a flushed shard reports, so it was sealed and
// then never emitted, and nothing counted it.
func TestFarFutureBucketEmittedAtStop(t *testing.T) {
	s0, err := shard.New(0, shard.Config{Periods: []time.Duration{10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	out := &collect{}
	e := NewEmitter([]*shard.Shard{s0}, out)
	var b sample.Batch
	addSample(&b, sample.KindGauge, "far", math.MaxInt64/1000*1000, 0, 1, sample.UnitNone)
	addSample(&b, sample.KindGauge, "near", t0, 0, 1, sample.UnitNone)
	s0.Apply(&b, t0)
	stop := make(chan struct{})
	close(stop)
	done := make(chan struct{})
	go func() { s0.Run(stop); close(done) }()
	e.Run(stop)
	<-done
	if len(out.lines) != 2 || e.Pending() != 0 {
		t.Errorf("emitted %d buckets (%v), %d groups pending; want 2 and 0", len(out.lines), out.lines, e.Pending())
	}
}

// orderSink records, for every bucket, its dimension set, its metrics'
// names in the order given and its minimum request time.
type orderSink struct {
	sets map[string][]string
	req  map[string]int64
	err  []string
}

func (o *orderSink) Record(pd *sinks.PeriodicData) {
	var dims []string
	for _, d := range pd.Dimensions {
		dims = append(dims, string(d.Key)+"="+string(d.Value))
	}
	set := strings.Join(dims, ",")
	if _, dup := o.sets[set]; dup && pd.Part == 0 {
		o.err = append(o.err, "set "+set+" emitted twice")
	}
	for _, m := range pd.Metrics {
		o.sets[set] = append(o.sets[set], string(m.Name))
	}
	if !pd.MinRequestTime.IsZero() {
		o.req[set] = pd.MinRequestTime.UnixMilli()
	}
}
func (o *orderSink) Flush()       {}
func (o *orderSink) Close() error { return nil }

// TestEmitterOrdersRowsOfInterleavedSets: a bucket lists its rows in
// snapshot order, then row order, however the group's rows fall in sets:
// all in one set, a set per row, runs of one set, sets drawn at random, or
// in set order up to a row that goes back to an earlier set; and across
// shards, whose snapshots meet in sets. Checked against the grouping
// written out here, with each set's minimum request time, over seeded
// random groups of one to three shards. In half the trials the series are
// made in a bucket before, in order, and the bucket checked takes their
// samples in an order of its own, so that its rows read their records
// apart and the emitter hints them ahead (hintAt), which must change
// nothing.
func TestEmitterOrdersRowsOfInterleavedSets(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var hinted [2]int
	for trial := range 300 {
		shards := 1 + r.IntN(3)
		cfg := shard.Config{Periods: []time.Duration{time.Second}}
		var ss []*shard.Shard
		for i := range shards {
			s, err := shard.New(i, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ss = append(ss, s)
		}
		out := &orderSink{sets: map[string][]string{}, req: map[string]int64{}}
		e := NewEmitter(ss, out)
		want := map[string][]string{}
		wantReq := map[string]int64{}
		pattern := r.IntN(6)
		runs := 1 + r.IntN(8) // pattern 5
		next := 0             // the next new set, for the patterns in set order
		shuffled := r.IntN(2) == 0
		type row struct {
			name, dims string
			req        int64
		}
		all := make([][]row, len(ss))
		for si := range ss {
			rows := 1 + r.IntN(200)
			back := r.IntN(rows) // pattern 4: the row that goes back
			for j := range rows {
				var set int
				switch pattern {
				case 0: // one set
				case 1: // a set per row
					set, next = next, next+1
				case 2: // runs of one set
					if j > 0 && r.IntN(4) == 0 {
						next++
					}
					set = next
				case 3: // drawn
					set = r.IntN(1 + rows/4)
				case 4: // in order, then back
					set, next = next, next+1
					if j == back && next > 1 {
						set = r.IntN(next - 1)
					}
				case 5: // runs of the same sets in every shard: consecutive until the next shard's
					set = j * runs / rows
				}
				req := int64(0)
				if r.IntN(3) == 0 {
					req = t0 - 1 - int64(r.IntN(1000))
				}
				all[si] = append(all[si], row{fmt.Sprintf("s%d.r%d", si, j), fmt.Sprintf("d%d", set), req})
			}
		}
		if shuffled {
			for si, s := range ss {
				var b sample.Batch
				for _, rw := range all[si] {
					addSample(&b, sample.KindCounter, rw.name, t0-1900, 0, 1, sample.UnitNone, "set", rw.dims)
				}
				s.Apply(&b, t0-1500)
				s.Tick(t0 + 1) // seals the bucket before, as the clock goes on
				r.Shuffle(len(all[si]), func(i, j int) { all[si][i], all[si][j] = all[si][j], all[si][i] })
			}
			e.Poll()
			clear(out.sets)
			clear(out.req)
		}
		for si, s := range ss {
			var b sample.Batch
			for _, rw := range all[si] {
				addSample(&b, sample.KindCounter, rw.name, t0+100, rw.req, 1, sample.UnitNone, "set", rw.dims)
				key := "set=" + rw.dims
				want[key] = append(want[key], rw.name)
				if rw.req != 0 && (wantReq[key] == 0 || rw.req < wantReq[key]) {
					wantReq[key] = rw.req
				}
			}
			s.Apply(&b, t0+500)
			s.Tick(t0 + 2001)
		}
		before := e.hinted
		e.Poll()
		if !shuffled && (e.hinted[0] != before[0] || pattern <= 2 && e.hinted[1] != before[1]) {
			// (Recording reads a bucket's rows at a time: rows of sets
			// drawn at random are apart there.)
			t.Fatalf("trial %d (pattern %d): rows read in the order of their records hinted (%v to %v)", trial, pattern, before, e.hinted)
		}
		if e.hinted[0] != before[0] && e.hinted[1] == before[1] {
			t.Fatalf("trial %d (pattern %d): rows hinted grouping (%d) not hinted recording", trial, pattern, e.hinted[0]-before[0])
		}
		for k := range hinted {
			hinted[k] += e.hinted[k] - before[k]
		}
		// The runs to hint are this group's, within its rows.
		total := 0
		for _, rows := range all {
			total += len(rows)
		}
		for _, run := range e.runs {
			if run.from < 0 || run.to > total || run.from >= run.to {
				t.Fatalf("trial %d (pattern %d): a run of rows to hint %d to %d of a group of %d rows", trial, pattern, run.from, run.to, total)
			}
		}
		for _, msg := range out.err {
			t.Fatalf("trial %d (pattern %d): %s", trial, pattern, msg)
		}
		if len(out.sets) != len(want) {
			t.Fatalf("trial %d (pattern %d): %d sets emitted; want %d", trial, pattern, len(out.sets), len(want))
		}
		for set, names := range want {
			if got := out.sets[set]; !slices.Equal(got, names) {
				t.Fatalf("trial %d (pattern %d): set %s has rows\n%v\nwant\n%v", trial, pattern, set, got, names)
			}
			if out.req[set] != wantReq[set] {
				t.Fatalf("trial %d (pattern %d): set %s minimum request time %d; want %d", trial, pattern, set, out.req[set], wantReq[set])
			}
		}
		if shuffled {
			// The next group, of one row, hints none (a group's runs
			// are its own).
			var b sample.Batch
			addSample(&b, sample.KindCounter, all[0][0].name, t0+2100, 0, 1, sample.UnitNone, "set", all[0][0].dims)
			ss[0].Apply(&b, t0+2500)
			for _, s := range ss {
				s.Tick(t0 + 4001)
			}
			clear(out.sets)
			if e.Poll(); len(out.sets) != 1 {
				t.Fatalf("trial %d (pattern %d): the group of one row emitted %d sets", trial, pattern, len(out.sets))
			}
			if len(e.runs) != 0 {
				t.Fatalf("trial %d (pattern %d): a group of one row has runs to hint %v", trial, pattern, e.runs)
			}
		}
	}
	// The trials in an order of their own hint in both passes.
	if hinted[0] < 1000 || hinted[1] < 1000 {
		t.Fatalf("rows hinted: %d grouping, %d recording; want at least 1000 each", hinted[0], hinted[1])
	}
	t.Logf("rows hinted: %d grouping, %d recording", hinted[0], hinted[1])
}
