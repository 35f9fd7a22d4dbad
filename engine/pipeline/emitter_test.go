package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
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
