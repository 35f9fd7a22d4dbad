package shard

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/ring"
)

const t0 = int64(1_699_999_980_000) // a whole minute, ms since the epoch

func newTestShard(t testing.TB, cfg Config) *Shard {
	t.Helper()
	s, err := New(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// applyMany applies n samples at now, sample i added by each, in batches
// of 4 096 as a producer publishes them.
func applyMany(s *Shard, n int, now int64, each func(b *sample.Batch, i int)) {
	var b sample.Batch
	for i := range n {
		each(&b, i)
		if len(b.Samples) >= 4096 {
			s.Apply(&b, now)
			b.Reset()
		}
	}
	s.Apply(&b, now)
}

// add appends one value sample; dims alternate key, value.
func add(t testing.TB, b *sample.Batch, kind sample.Kind, name string, at int64, v float64, u sample.Unit, dims ...string) {
	t.Helper()
	var ds []sample.Dim
	for i := 0; i+1 < len(dims); i += 2 {
		ds = append(ds, sample.Dim{Key: []byte(dims[i]), Value: []byte(dims[i+1])})
	}
	if sample.SortDims(ds) >= 0 {
		t.Fatal("duplicate dimension in test")
	}
	k, err := b.PutKey(kind, []byte(name), ds)
	if err != nil {
		t.Fatal(err)
	}
	b.AddValue(k, at, 0, v, u)
}

type emitted struct {
	period, start, expires int64
	name                   string
	kind                   sample.Kind
	row                    hist.Row
	specified              hist.Set
}

// drain pops and releases every snapshot, including those still pending,
// returning their rows.
func drain(t testing.TB, s *Shard) []emitted {
	t.Helper()
	var out []emitted
	for {
		snap, ok := s.Output().Pop()
		if !ok {
			if len(s.pending) == 0 {
				return out
			}
			s.flushPending()
			continue
		}
		for i := 0; i < snap.Len(); i++ {
			pk, err := sample.ParseKey(snapKey(snap, i))
			if err != nil {
				t.Fatal(err)
			}
			checkSeries(t, snap, i)
			r := snap.Table.Row(i, nil)
			out = append(out, emitted{snap.Table.Period, snap.Table.Start, snap.Table.Expires, string(pk.Name), pk.Kind, r, snap.Specified(i)})
		}
		snap.Release()
	}
}

// checkSeries checks that row i's Series reads what Key, Plain and
// Specified read.
func checkSeries(t testing.TB, snap *hist.Snapshot, i int) {
	t.Helper()
	var got hist.Series
	snap.Series(i, &got)
	kind, name, dims := snap.Key(i)
	namePlain, dimsPlain := snap.Plain(i)
	want := hist.Series{Kind: kind, Name: name, Dims: dims, NamePlain: namePlain, DimsPlain: dimsPlain, Specified: snap.Specified(i)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("row %d: Series read %+v; Key, Plain and Specified %+v", i, got, want)
	}
}

func value(t testing.TB, r hist.Row, st hist.Stat) float64 {
	t.Helper()
	v, _, ok := r.Value(st)
	if !ok {
		t.Fatalf("%v has no value", st)
	}
	return v
}

func TestTimeout(t *testing.T) {
	// PeriodWorkerTest's table (MAD-SPEC §6.2).
	for _, tc := range []struct {
		period time.Duration
		want   int64
	}{
		{500 * time.Millisecond, 1000}, {time.Second, 1000}, {15 * time.Second, 7500},
		{time.Minute, 30000}, {10 * time.Minute, 300000}, {20 * time.Minute, 600000}, {time.Hour, 600000},
	} {
		if got := Timeout(tc.period); got != tc.want {
			t.Errorf("Timeout(%v) = %d; want %d", tc.period, got, tc.want)
		}
	}
}

func TestBucketStart(t *testing.T) {
	for _, tc := range []struct {
		t, period, want int64
	}{
		{t0 + 1234, 1000, t0 + 1000},
		{t0 + 59_999, 60_000, t0},
		{t0 + 60_000, 60_000, t0 + 60_000},
		// 18 minutes do not divide an hour: anchored at the epoch.
		{3_600_000, 1_080_000, 3_240_000},
		{0, 1000, 0},
		// Java's truncated remainder: before 1970 the start is after t.
		{-1500, 1000, -1000},
	} {
		if got := BucketStart(tc.t, tc.period); got != tc.want {
			t.Errorf("BucketStart(%d, %d) = %d; want %d", tc.t, tc.period, got, tc.want)
		}
	}
}

// TestBucketStartAfterAWrappedTime: a sample whose time wrapped near -2^63
// (a seconds timestamp times 1000 in long arithmetic, as MAD computes it)
// opens its bucket; a sample of today afterwards still gets today's bucket.
// The bucket-start cache compared t-lastStart in int64, which overflowed and
// put every later sample in the ancient bucket (found by fuzz/FuzzGraphite).
func TestBucketStartAfterAWrappedTime(t *testing.T) {
	for _, apply := range []string{"plain", "pipelined"} {
		t.Run(apply, func(t *testing.T) {
			s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
			var b sample.Batch
			wrapped := int64(-9223372036854775616)
			add(t, &b, sample.KindCounter, "a", wrapped, 1, sample.UnitNone)
			add(t, &b, sample.KindCounter, "b", t0+123, 1, sample.UnitNone)
			if apply == "pipelined" {
				s.pipelineFrom = 0 // the prefetch pipeline from the first sample
				s.poolHintFrom = 0
			}
			s.Apply(&b, t0+200)
			s.Flush(t0 + 200)
			starts := map[string][]int64{}
			for _, e := range drain(t, s) {
				starts[e.name] = append(starts[e.name], e.start)
			}
			slices.Sort(starts["b"])
			if want := []int64{t0, t0}; !slices.Equal(starts["b"], want) {
				t.Fatalf("b's buckets start at %v; want %v (after a's at %v)", starts["b"], want, starts["a"])
			}
		})
	}
}

// TestPipelineTrialsChangeNothing: past pipelineFrom, Apply tries applying
// one by one and pipelined in turn, and keeps one until the next trial
// (pipeChoice). Whichever it runs, the rows are those of applying one by
// one throughout: counters, gauges and timers over two periods, across
// several trials and buckets.
func TestPipelineTrialsChangeNothing(t *testing.T) {
	cfg := Config{Periods: []time.Duration{time.Second, time.Minute}}
	tried := newTestShard(t, cfg)
	tried.pipelineFrom = 1 // past it from the first sample: trials throughout
	tried.poolHintFrom = 0
	each := newTestShard(t, cfg)
	each.pipelineFrom = math.MaxInt64
	kinds := []sample.Kind{sample.KindCounter, sample.KindGauge, sample.KindTimer}
	r := rand.New(rand.NewPCG(7, 11))
	var b sample.Batch
	now := int64(t0)
	batches := 3 * trialEvery / 100 * 2 // 100 ms a batch: trials start about every 20 batches
	for i := range batches {
		b.Reset()
		for range 1 + r.IntN(80) {
			s := r.IntN(300)
			add(t, &b, kinds[s%3], fmt.Sprintf("m%03d", s), now-int64(r.IntN(1500)), float64(r.IntN(1000))/8, sample.UnitNone,
				"host", fmt.Sprintf("h%d", s%7))
		}
		tried.Apply(&b, now)
		each.Apply(&b, now)
		if i%10 == 9 {
			tried.Tick(now)
			each.Tick(now)
		}
		now += 100
	}
	if n := tried.stats.ApplyTrials[0] + tried.stats.ApplyTrials[1]; n < 2 {
		t.Fatalf("%d trials; the test wants several", n)
	}
	tried.Flush(now)
	each.Flush(now)
	key := func(e emitted) string {
		return fmt.Sprintf("%d/%d/%d/%s/%d", e.period, e.start, e.expires, e.name, e.kind)
	}
	got, want := map[string]emitted{}, map[string]emitted{}
	for _, e := range drain(t, tried) {
		got[key(e)] = e
	}
	for _, e := range drain(t, each) {
		want[key(e)] = e
	}
	if len(got) != len(want) || len(want) < 300 {
		t.Fatalf("%d rows with trials, %d one by one", len(got), len(want))
	}
	for k, w := range want {
		// Printed, so that absent bounds (NaN) compare equal.
		if g, ok := got[k]; !ok || fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
			t.Fatalf("row %s: %+v with trials; want %+v", k, g, w)
		}
	}
}

// TestBusyTrialIsRevisited: a trial whose samples mostly opened series is
// run again at the first batch after it that opens (almost) none, without
// waiting trialEvery; a trial of settled series is not, until trialEvery
// has passed. The clock stands still throughout.
func TestBusyTrialIsRevisited(t *testing.T) {
	cfg := Config{Periods: []time.Duration{time.Second}}
	trials := func(s *Shard) uint64 { return s.stats.ApplyTrials[0] + s.stats.ApplyTrials[1] }
	batch := func(b *sample.Batch, from, n int) *sample.Batch {
		b.Reset()
		for i := range n {
			add(t, b, sample.KindCounter, fmt.Sprintf("m%05d", from+i), t0, 1, sample.UnitNone)
		}
		return b
	}
	var b sample.Batch
	for _, tc := range []struct {
		name     string
		newEvery bool // each trial batch opens 50 series; else only the first does
		want     uint64
	}{{"busy", true, 2}, {"settled", false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestShard(t, cfg)
			s.pipelineFrom = 1 // a trial from the first batch
			for i := range trialBatches {
				if tc.newEvery || i == 0 {
					s.Apply(batch(&b, 50*i, 50), t0)
				} else {
					s.Apply(batch(&b, 0, 50), t0)
				}
			}
			if n := trials(s); n != 1 {
				t.Fatalf("%d trials after %d batches; want 1", n, trialBatches)
			}
			// Batches of the series made so far: nothing new.
			for range 2 * trialBatches {
				s.Apply(batch(&b, 0, 50), t0)
			}
			if n := trials(s); n != tc.want {
				t.Fatalf("%d trials after settled batches at the same time; want %d", n, tc.want)
			}
			// After the revisit, settled batches ask for nothing more.
			for range 2 * trialBatches {
				s.Apply(batch(&b, 0, 50), t0)
			}
			if n := trials(s); n != tc.want {
				t.Fatalf("%d trials later; want %d", n, tc.want)
			}
		})
	}
	// Series opened in bursts: a busy trial is revisited once, and a busy
	// revisit is not revisited again, however many settled batches follow.
	t.Run("bursts", func(t *testing.T) {
		s := newTestShard(t, cfg)
		s.pipelineFrom = 1
		made := 0
		for i := range 8 * trialBatches {
			if i%2 == 0 || i < trialBatches {
				s.Apply(batch(&b, made, 50), t0)
				made += 50
			} else {
				s.Apply(batch(&b, 0, 50), t0)
			}
		}
		if n := trials(s); n != 2 {
			t.Fatalf("%d trials with series opened every other batch; want 2 (one revisit)", n)
		}
	})
}

func TestExpiryIsStrict(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	add(t, &b, sample.KindCounter, "c", t0+100, 1, sample.UnitNone)
	s.Apply(&b, t0+200)
	// Created on time: expires at start + period + timeout = t0 + 2000.
	s.Tick(t0 + 2000)
	if got := drain(t, s); len(got) != 0 {
		t.Fatalf("sealed at now == expiration; MAD closes only expiration < now")
	}
	s.Tick(t0 + 2001)
	got := drain(t, s)
	if len(got) != 1 || got[0].expires != t0+2000 || got[0].start != t0 {
		t.Fatalf("got %+v; want one bucket [t0, t0+1s) expiring at t0+2000", got)
	}
}

func TestLateDataOpensNewBucket(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	add(t, &b, sample.KindCounter, "c", t0+100, 1, sample.UnitNone)
	s.Apply(&b, t0+100)
	s.Tick(t0 + 2500)
	first := drain(t, s)
	if len(first) != 1 || value(t, first[0].row, hist.Sum) != 1 {
		t.Fatalf("first emission = %+v", first)
	}
	// The bucket of t0 was closed and removed: a late record for it opens
	// a new bucket with the same start, expiring at now + timeout, which
	// is emitted again holding only the late sample (MAD-SPEC §6.2).
	b.Reset()
	add(t, &b, sample.KindCounter, "c", t0+900, 5, sample.UnitNone)
	add(t, &b, sample.KindCounter, "c", t0+950, 6, sample.UnitNone)
	s.Apply(&b, t0+3000)
	s.Tick(t0 + 4000)
	if got := drain(t, s); len(got) != 0 {
		t.Fatalf("late bucket sealed before now + timeout: %+v", got)
	}
	s.Tick(t0 + 4001)
	late := drain(t, s)
	if len(late) != 1 || late[0].start != t0 || late[0].expires != t0+4000 ||
		value(t, late[0].row, hist.Sum) != 11 || value(t, late[0].row, hist.Count) != 2 {
		t.Fatalf("late emission = %+v; want start t0, expiring t0+4000, sum 11, count 2", late)
	}
	if st := s.Stats(); st.LateRows != 1 {
		t.Fatalf("LateRows = %d; want 1", st.LateRows)
	}
}

func TestPeriodsAreIndependent(t *testing.T) {
	s := newTestShard(t, Config{})
	var b sample.Batch
	for i := 0; i < 120; i++ {
		add(t, &b, sample.KindTimer, "t", t0+int64(i)*500, float64(i), sample.Second, "host", "a")
	}
	s.Apply(&b, t0)
	s.Flush(t0)
	var perSecond, perMinute int
	var minuteSum float64
	for _, e := range drain(t, s) {
		switch e.period {
		case 1000:
			perSecond++
			if c := value(t, e.row, hist.Count); c != 2 {
				t.Fatalf("PT1S bucket %d count %v; want 2", e.start, c)
			}
		case 60000:
			perMinute++
			minuteSum += value(t, e.row, hist.Sum)
		}
	}
	if perSecond != 60 || perMinute != 1 || minuteSum != 119*120/2 {
		t.Fatalf("got %d PT1S, %d PT1M buckets (sum %v); want 60, 1, 7140", perSecond, perMinute, minuteSum)
	}
}

func TestDefaultStatistics(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	add(t, &b, sample.KindTimer, "t", t0, 0.5, sample.Second)
	add(t, &b, sample.KindCounter, "c", t0, 2, sample.UnitNone)
	add(t, &b, sample.KindGauge, "g", t0, 3, sample.UnitNone)
	s.Apply(&b, t0)
	s.Flush(t0)
	want := map[string]hist.Set{
		// MAD's default timer statistics plus the always-present count
		// and the dependencies histogram and sum.
		"t": hist.SetOf(hist.Median, hist.TP90, hist.TP99, hist.Mean, hist.Count, hist.Histogram, hist.Sum),
		"c": hist.SetOf(hist.Mean, hist.Sum, hist.Count),
		"g": hist.SetOf(hist.Min, hist.Max, hist.Mean, hist.Sum, hist.Count),
	}
	for _, e := range drain(t, s) {
		if got := e.specified.Closure(); got != want[e.name] {
			t.Errorf("%s computes %v; want %v", e.name, got, want[e.name])
		}
		if e.name == "t" {
			if v, u, _ := e.row.Value(hist.Median); v != 0.5 || sample.Unit(u) != sample.Second {
				t.Errorf("timer median = %v %v; want 0.5 SECOND", v, sample.Unit(u))
			}
		}
	}
}

func TestOverrideAggregatesByNameAcrossTypes(t *testing.T) {
	s := newTestShard(t, Config{
		Periods:   []time.Duration{time.Second},
		Overrides: []Override{{Pattern: `lat\..*`, Stats: hist.SetOf(hist.Max, hist.TP99)}, {Pattern: `lat\.x`, Stats: hist.SetOf(hist.Min)}},
	})
	var b sample.Batch
	add(t, &b, sample.KindCounter, "lat.x", t0, 1, sample.UnitNone, "host", "a")
	add(t, &b, sample.KindTimer, "lat.x", t0, 7, sample.UnitNone, "host", "a")
	add(t, &b, sample.KindGauge, "lat.x", t0, 3, sample.UnitNone, "host", "a")
	add(t, &b, sample.KindTimer, "lat", t0, 9, sample.UnitNone, "host", "a") // no full match
	s.Apply(&b, t0)
	s.Flush(t0)
	got := drain(t, s)
	if len(got) != 2 {
		t.Fatalf("got %d rows; want 2 (lat.x merged across types, lat alone)", len(got))
	}
	for _, e := range got {
		switch e.name {
		case "lat.x":
			// First matching override wins; all three types share one
			// aggregation, as MAD's type-less explicit calculators do.
			if e.kind != sample.KindExplicit || e.specified != hist.SetOf(hist.Max, hist.TP99) ||
				value(t, e.row, hist.Count) != 3 || value(t, e.row, hist.Max) != 7 {
				t.Errorf("lat.x = kind %v specified %v row %+v", e.kind, e.specified, e.row)
			}
		case "lat":
			if e.kind != sample.KindTimer || e.specified != DefaultTimerStatistics {
				t.Errorf("lat = kind %v specified %v", e.kind, e.specified)
			}
		}
	}
}

func TestRecordWithoutMetrics(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	k, _ := b.PutKey(sample.KindNone, nil, []sample.Dim{{Key: []byte("host"), Value: []byte("a")}})
	b.AddValue(k, t0, t0-50, 0, sample.UnitNone)
	s.Apply(&b, t0)
	s.Flush(t0)
	got := drain(t, s)
	if len(got) != 1 || got[0].kind != sample.KindNone || got[0].row.Count != 0 || got[0].row.RequestTime != t0-50 {
		t.Fatalf("got %+v; want one empty bucket marker with the request time", got)
	}
}

func TestRefusalsAreCountedNotFatal(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	add(t, &b, sample.KindGauge, "g", t0, 1, sample.Second)
	add(t, &b, sample.KindGauge, "g", t0, 2, sample.UnitNone) // unit mismatch
	add(t, &b, sample.KindGauge, "g", t0, math.NaN(), sample.Second)
	add(t, &b, sample.KindGauge, "g", t0, math.Inf(-1), sample.Second)
	add(t, &b, sample.KindGauge, "g", t0, 3, sample.Unit(200))
	// A key that is not a canonical key, one of a kind ingest may not
	// send, and one pointing outside the batch.
	junk := []byte("\x07garbage")
	b.Samples = append(b.Samples, sample.Sample{Hash: sample.Hash(junk), KeyOff: uint32(len(b.Keys)), KeyLen: uint32(len(junk)), Time: t0, Value: 1})
	b.Keys = append(b.Keys, junk...)
	explicit, _ := sample.AppendKey(nil, sample.KindExplicit, []byte("g"), nil)
	b.Samples = append(b.Samples, sample.Sample{Hash: sample.Hash(explicit), KeyOff: uint32(len(b.Keys)), KeyLen: uint32(len(explicit)), Time: t0, Value: 1})
	b.Keys = append(b.Keys, explicit...)
	b.Samples = append(b.Samples, sample.Sample{KeyOff: 1 << 30, KeyLen: 4, Time: t0})
	// Pre-aggregated data out of the batch, and with a NaN bucket.
	kg, _ := b.PutKey(sample.KindGauge, []byte("g"), nil)
	b.Samples = append(b.Samples, sample.Sample{Hash: kg.Hash, KeyOff: kg.Off, KeyLen: kg.Len, Time: t0, Flags: sample.FlagAgg, Agg: 99})
	b.AddAgg(kg, t0, 0, sample.Agg{Has: sample.HasHist}, []sample.HistEntry{{Value: math.NaN(), Count: 1}}, sample.Second)
	s.Apply(&b, t0)
	s.Tick(t0)
	st := s.Stats()
	want := [NumRefusals]uint64{RefusedBadKey: 3, RefusedBadUnit: 1, RefusedNonFinite: 3, RefusedBadAgg: 1, RefusedUnitMismatch: 1}
	if st.Refused != want {
		t.Fatalf("Refused = %v; want %v", st.Refused, want)
	}
	s.Flush(t0)
	got := drain(t, s)
	if len(got) != 1 || value(t, got[0].row, hist.Max) != 1 || got[0].row.Count != 1 {
		t.Fatalf("got %+v; want the one good sample", got)
	}
}

func TestPendingSnapshotsDropOldestCounted(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, OutputQueue: 1, PendingLimit: 2})
	var b sample.Batch
	for i := int64(0); i < 5; i++ {
		add(t, &b, sample.KindCounter, "c", t0+i*1000, 1, sample.UnitNone)
	}
	s.Apply(&b, t0)
	// The emitter is stalled: the ring takes 2 (capacity rounds up to 2),
	// 2 more are held, and the oldest held one is dropped and counted.
	s.Tick(t0 + 7000)
	pendingTailClear(t, s)
	st := s.Stats()
	if st.SnapshotsDropped != 1 || st.RowsDropped != 1 || st.Pending != 2 {
		t.Fatalf("dropped %d (%d rows), pending %d; want 1, 1, 2", st.SnapshotsDropped, st.RowsDropped, st.Pending)
	}
	if s.SealedThrough() >= t0+7000 {
		t.Fatal("SealedThrough advanced past snapshots still pending")
	}
	var starts []int64
	for _, e := range drain(t, s) {
		starts = append(starts, e.start-t0)
	}
	pendingTailClear(t, s)
	if !slices.Equal(starts, []int64{0, 1000, 3000, 4000}) {
		t.Fatalf("emitted starts %v; want [0 1000 3000 4000] (2000 dropped)", starts)
	}
	// A flush for shutdown drops nothing, however far behind the emitter is.
	b.Reset()
	for i := int64(0); i < 5; i++ {
		add(t, &b, sample.KindCounter, "c", t0+10000+i*1000, 1, sample.UnitNone)
	}
	s.Apply(&b, t0+10000)
	s.Flush(t0 + 10000)
	if got := len(drain(t, s)); got != 5 || s.Stats().SnapshotsDropped != 1 {
		t.Fatalf("flush emitted %d of 5 buckets (dropped %d)", got, s.Stats().SnapshotsDropped)
	}
	s.Tick(t0 + 2)
	if s.SealedThrough() != t0+2 || len(s.outstanding) != 0 || len(s.pool) == 0 {
		t.Fatalf("after draining: sealedThrough %d outstanding %d pool %d", s.SealedThrough(), len(s.outstanding), len(s.pool))
	}
	pendingTailClear(t, s)
}

// TestPipelineKeepsNoTable: the prefetch pipeline's rows found ahead point
// at their tables; none is kept past the batch, where it would keep a table
// alive after its snapshot was released.
func TestPipelineKeepsNoTable(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	s.pipelineFrom = 0 // the prefetch pipeline at any size
	var b sample.Batch
	for range 2 { // the second batch finds the series' rows ahead
		b.Reset()
		for range 8 {
			add(t, &b, sample.KindTimer, "t", t0, 1, sample.UnitNone)
		}
		s.Apply(&b, t0)
	}
	found := false
	for i := range 8 {
		s.prefetchRecord(&b, &b.Samples[i], i)
		s.prefetchRows(&b.Samples[i], i)
		found = found || s.aheadRows[(i&aheadMask)*2].t != nil
	}
	if !found {
		t.Fatal("the pipeline found no row ahead: the check below would prove nothing")
	}
	s.Apply(&b, t0)
	for i, ar := range s.aheadRows {
		if ar.t != nil {
			t.Fatalf("after Apply, row %d found ahead still points at its table", i)
		}
	}
}

// pendingTailClear fails if the shard's held snapshots leave a pointer
// past their slice's length: it would keep a snapshot alive after the
// emitter released it (its table, and the records mapping of its view).
func pendingTailClear(t *testing.T, s *Shard) {
	t.Helper()
	for i, p := range s.pending[len(s.pending):cap(s.pending)] {
		if p != nil {
			t.Fatalf("held snapshots: slot %d past the %d held still points at a snapshot", len(s.pending)+i, len(s.pending))
		}
	}
}

func TestTableLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 65536 tables")
	}
	s := newTestShard(t, Config{Periods: []time.Duration{time.Millisecond}})
	var b sample.Batch
	k, _ := b.PutKey(sample.KindCounter, []byte("c"), nil)
	for i := int64(0); i < maxTables+10; i++ {
		b.AddValue(k, t0+i, 0, 1, sample.UnitNone)
	}
	s.Apply(&b, t0)
	if got := s.stats.Refused[RefusedTableLimit]; got != 10 {
		t.Fatalf("RefusedTableLimit = %d; want 10", got)
	}
	s.Flush(t0)
	if n := len(drain(t, s)); n != maxTables {
		t.Fatalf("emitted %d buckets; want %d", n, maxTables)
	}
}

func TestSeriesLimit(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, MaxSeries: 2})
	var b sample.Batch
	for _, n := range []string{"a", "b", "c", "a"} {
		add(t, &b, sample.KindCounter, n, t0, 1, sample.UnitNone)
	}
	s.Apply(&b, t0)
	if got := s.stats.Refused[RefusedSeriesLimit]; got != 1 {
		t.Fatalf("RefusedSeriesLimit = %d; want 1", got)
	}
}

// Times before 1970 bucket as Java's remainder does (BucketStart): a
// negative bucket S holds (S-period, S], so a time just after a negative
// start is in the next bucket, and the last start must not be reused for
// it (the fuzz harness found FuzzOTLP's input ff4d0d585c66c9c3).
func TestNegativeTimesBucketAsJava(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{2 * time.Second}})
	var b sample.Batch
	times := []int64{-4000, -3500, -4000, -2000, -1999, 0, 1, 1999, 2000, -5999}
	for _, at := range times {
		add(t, &b, sample.KindCounter, "c", at, 1, sample.UnitNone)
	}
	s.Apply(&b, 0)
	s.Flush(0)
	got := map[int64]uint64{}
	for _, e := range drain(t, s) {
		got[e.start] += uint64(e.row.Count)
	}
	want := map[int64]uint64{}
	for _, at := range times {
		want[BucketStart(at, 2000)]++
	}
	if want[-4000] != 3 || want[-2000] != 2 || want[0] != 4 || want[2000] != 1 {
		t.Fatalf("BucketStart is not Java's remainder: %v", want)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("rows per start %v; want %v", got, want)
	}
}

// A table whose histograms have no room left refuses the samples that
// would update them (counted, per period), leaving each row whole: its
// count is what its histogram holds. Counters, which keep no histogram,
// go on.
func TestHistogramSpaceRefuses(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}, HistChunks: 6})
	var b sample.Batch
	const n = 20_000
	for i := range n {
		add(t, &b, sample.KindTimer, "t", t0, float64(i)*1.37, sample.Millisecond)
		add(t, &b, sample.KindCounter, "c", t0, 1, sample.UnitNone)
	}
	// A new timer series once the tables are full: refused, and no empty
	// row made for it.
	add(t, &b, sample.KindTimer, "t2", t0, 1, sample.Millisecond)
	s.Apply(&b, t0)
	s.Tick(t0)
	refused := s.Stats().Refused
	s.Flush(t0)
	rows := drain(t, s)
	if refused[RefusedHistogramSpace] == 0 || len(rows) != 4 {
		t.Fatalf("refused %v, %d rows; want refusals for histogram space and 4 rows", refused, len(rows))
	}
	var kept uint64
	for _, e := range rows {
		if e.kind == sample.KindCounter {
			if e.row.Count != n {
				t.Fatalf("counter row of %d; want %d", e.row.Count, n)
			}
			continue
		}
		var inHist uint64
		for _, bk := range e.row.Buckets {
			inHist += bk.Count
		}
		if inHist != uint64(e.row.Count) || e.row.Count == 0 {
			t.Fatalf("timer row: count %d, histogram %d", e.row.Count, inHist)
		}
		kept += uint64(e.row.Count)
	}
	if kept+refused[RefusedHistogramSpace] != 2*(n+1) {
		t.Fatalf("kept %d and refused %d of 2×%d timer samples", kept, refused[RefusedHistogramSpace], n+1)
	}
}

// The room a sample needs grows with the log of its histogram updates, not
// with their number: a pre-aggregated sample of 70 000 buckets fits a
// fresh table (it would not if each bucket reserved chunks of its own).
func TestLargeAggregateHasHistogramRoom(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	k, err := b.PutKey(sample.KindTimer, []byte("t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]sample.HistEntry, 70_000)
	for i := range hs {
		hs[i] = sample.HistEntry{Value: float64(i), Count: 1}
	}
	b.AddAgg(k, t0, 0, sample.Agg{Count: float64(len(hs)), Has: sample.HasCount | sample.HasHist}, hs, sample.UnitNone)
	s.Apply(&b, t0)
	s.Tick(t0)
	if r := s.Stats().Refused; r != [NumRefusals]uint64{} {
		t.Fatalf("refused %v", r)
	}
	s.Flush(t0)
	rows := drain(t, s)
	if len(rows) != 1 || rows[0].row.Count != 70_000 || len(rows[0].row.Buckets) < 1000 {
		t.Fatalf("%d rows; count %d, %d buckets", len(rows), rows[0].row.Count, len(rows[0].row.Buckets))
	}
}

// A sample whose hash is not its key's (a corrupt batch) makes no series:
// the index would file it where reaping cannot find it.
func TestMismatchedHashRefused(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	ka, _ := b.PutKey(sample.KindCounter, []byte("a"), nil)
	kb, _ := b.PutKey(sample.KindCounter, []byte("b"), nil)
	b.AddValue(sample.KeyRef{Hash: kb.Hash, Off: ka.Off, Len: ka.Len}, t0, 0, 1, sample.UnitNone)
	b.AddValue(ka, t0, 0, 1, sample.UnitNone)
	s.Apply(&b, t0)
	s.Tick(t0)
	if st := s.Stats(); st.Series != 1 || st.Refused[RefusedBadKey] != 1 {
		t.Fatalf("%d series, refused %v; want 1 series and 1 bad key", st.Series, st.Refused)
	}
}

// A shard whose key pool can address no more key parts refuses new series
// with new parts (counted, not fatal), keeps those whose parts it has, and
// goes on accumulating the series it has.
func TestKeySpaceRefusesNewSeries(t *testing.T) {
	// One chunk: the first series' parts (16-byte slots) take it.
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, KeyPoolChunks: 1})
	var b sample.Batch
	add(t, &b, sample.KindCounter, "kept", t0, 1, sample.UnitNone, "host", "a")
	s.Apply(&b, t0)
	b.Reset()
	long := strings.Repeat("x", 300)                                             // a class the pool has no chunk for
	add(t, &b, sample.KindCounter, "new", t0, 1, sample.UnitNone, "host", long)  // new name and dims
	add(t, &b, sample.KindCounter, "kept", t0, 1, sample.UnitNone, "host", long) // new dims
	add(t, &b, sample.KindCounter, long, t0, 1, sample.UnitNone, "host", "a")    // new name
	add(t, &b, sample.KindGauge, "kept", t0, 4, sample.UnitNone, "host", "a")    // parts it has
	add(t, &b, sample.KindCounter, "kept", t0, 2, sample.UnitNone, "host", "a")
	s.Apply(&b, t0)
	s.Tick(t0) // publishes the counters
	st := s.Stats()
	if st.Refused[RefusedKeySpace] != 3 || st.Series != 2 {
		t.Fatalf("refused %v, %d series; want 3 for key space, 2 series", st.Refused, st.Series)
	}
	if n, _ := s.keys.stats(); n != 2 {
		t.Fatalf("%d key parts interned; want 2 (a refusal keeps none)", n)
	}
	s.Flush(t0)
	got := drain(t, s)
	if len(got) != 2 {
		t.Fatalf("got %d rows; want 2", len(got))
	}
	for _, e := range got {
		if e.row.Count == 2 && value(t, e.row, hist.Sum) != 3 || e.row.Count != 2 && e.row.Count != 1 {
			t.Fatalf("row %+v", e.row)
		}
	}
}

func TestReapedSeriesComeBack(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	var b sample.Batch
	add(t, &b, sample.KindCounter, "old", t0, 1, sample.UnitNone)
	s.Apply(&b, t0)
	s.Tick(t0 + 2100) // seals the bucket
	held := drain(t, s)
	for now := t0 + 2200; now < t0+4000; now += 100 {
		s.Tick(now)
	}
	if st := s.Stats(); st.SeriesReaped != 1 || st.Series != 0 {
		t.Fatalf("reaped %d, live %d; want 1, 0", st.SeriesReaped, st.Series)
	}
	if s.nRecs != 0 || s.freeSids.len() != 0 {
		t.Fatalf("%d records, %d free after the only series' tables were released; want its record given back (0, 0)", s.nRecs, s.freeSids.len())
	}
	if n, bytes := s.keys.stats(); n != 0 || bytes != 0 {
		t.Fatalf("%d key parts (%d bytes) still interned after the only series was forgotten", n, bytes)
	}
	b.Reset()
	add(t, &b, sample.KindCounter, "new", t0+4000, 5, sample.UnitNone)
	add(t, &b, sample.KindCounter, "old", t0+4000, 7, sample.UnitNone)
	s.Apply(&b, t0+4000)
	s.Flush(t0 + 4000)
	got := drain(t, s)
	if len(held) != 1 || len(got) != 2 {
		t.Fatalf("got %d then %d rows; want 1 then 2", len(held), len(got))
	}
	for _, e := range got {
		if want := map[string]float64{"new": 5, "old": 7}[e.name]; value(t, e.row, hist.Sum) != want {
			t.Errorf("%s sum = %v; want %v", e.name, value(t, e.row, hist.Sum), want)
		}
	}
}

// TestSteadyStateAllocs: updating existing series allocates nothing.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := newTestShard(t, Config{})
	var b sample.Batch
	for i := 0; i < 1000; i++ {
		kind := []sample.Kind{sample.KindCounter, sample.KindGauge, sample.KindTimer}[i%3]
		add(t, &b, kind, "m"+strings.Repeat("x", i%7), t0+int64(i%900), float64(i), sample.UnitNone, "host", string(rune('a'+i%26)), "i", string(rune('a'+i/26)))
	}
	k, _ := b.PutKey(sample.KindTimer, []byte("pre"), nil)
	b.AddAgg(k, t0, t0, sample.Agg{Min: 1, Max: 5, Sum: 9, Count: 3, Has: 31}, []sample.HistEntry{{Value: 1, Count: 1}, {Value: 3, Count: 1}, {Value: 5, Count: 1}}, sample.UnitNone)
	s.Apply(&b, t0) // creates the series, rows and tables
	s.Apply(&b, t0) // grows histograms to their size
	allocs := testing.AllocsPerRun(100, func() { s.Apply(&b, t0+1) })
	if allocs != 0 {
		t.Fatalf("Apply allocated %v times per batch; want 0", allocs)
	}
}

// TestRun drives the real loop: producers on their own goroutines push
// batches over SPSC rings, the emitter drains concurrently; after stop,
// every sample is in exactly one emitted bucket. Run it with -race.
func TestRun(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}})
	const producers, batches, perBatch = 2, 200, 50
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		in, back := ring.NewSPSC[*sample.Batch](8), ring.NewSPSC[*sample.Batch](8)
		s.Attach(in, back)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < batches; i++ {
				b, ok := back.Pop()
				if !ok {
					b = new(sample.Batch)
				}
				now := Now()
				for j := 0; j < perBatch; j++ {
					add(t, b, sample.KindCounter, "c", now, 1, sample.UnitNone, "producer", string(rune('a'+p)))
				}
				for !in.Push(b) {
					time.Sleep(10 * time.Microsecond)
				}
			}
		}()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { s.Run(stop); close(done) }()
	var total [2]float64
	var mu sync.Mutex
	emitterDone := make(chan struct{})
	go func() {
		defer close(emitterDone)
		for {
			snap, ok := s.Output().Pop()
			if !ok {
				select {
				case <-done:
					if s.Output().Len() == 0 {
						return
					}
				default:
					time.Sleep(100 * time.Microsecond)
				}
				continue
			}
			mu.Lock()
			for i := 0; i < snap.Len(); i++ {
				r := snap.Table.Row(i, nil)
				total[snap.Table.PeriodIndex] += r.Sum
			}
			mu.Unlock()
			snap.Release()
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	<-emitterDone
	want := float64(producers * batches * perBatch)
	if total[0] != want || total[1] != want {
		t.Fatalf("emitted sums %v; want %v per period", total, want)
	}
	if st := s.Stats(); st.Samples != uint64(want) {
		t.Fatalf("Samples = %d; want %v", st.Samples, want)
	}
}

func TestGaugeDeltas(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}, IdleTimeout: time.Second})
	var b sample.Batch
	k, _ := b.PutKey(sample.KindGauge, []byte("g"), nil)
	b.AddSample(k, t0, 0, 5, sample.UnitNone, sample.FlagDelta)       // no last value: 0 + 5
	b.AddSample(k, t0+100, 0, 10, sample.UnitNone, 0)                 // absolute
	b.AddSample(k, t0+1200, 0, -3, sample.UnitNone, sample.FlagDelta) // next PT1S bucket: 10 - 3
	s.Apply(&b, t0)
	s.Flush(t0 + 1300)
	want := map[[2]int64][2]float64{ // (period, start) → (min, max)
		{1000, t0}:        {5, 10},
		{1000, t0 + 1000}: {7, 7},
		{60000, t0}:       {5, 10},
	}
	got := drain(t, s)
	if len(got) != len(want) {
		t.Fatalf("got %d rows; want %d", len(got), len(want))
	}
	for _, e := range got {
		w := want[[2]int64{e.period, e.start}]
		if value(t, e.row, hist.Min) != w[0] || value(t, e.row, hist.Max) != w[1] {
			t.Errorf("period %d start %d: min %v max %v; want %v", e.period, e.start-t0, value(t, e.row, hist.Min), value(t, e.row, hist.Max), w)
		}
	}
	// A forgotten series forgets its last value: deltas start from 0 again.
	for now := t0 + 1400; now < t0+5000; now += 100 {
		s.Tick(now)
	}
	drain(t, s)
	if s.Stats().SeriesReaped != 1 {
		t.Fatalf("series not forgotten")
	}
	b.Reset()
	k, _ = b.PutKey(sample.KindGauge, []byte("g"), nil)
	b.AddSample(k, t0+5000, 0, 2, sample.UnitNone, sample.FlagDelta)
	s.Apply(&b, t0+5000)
	s.Flush(t0 + 5000)
	for _, e := range drain(t, s) {
		if v := value(t, e.row, hist.Max); v != 2 {
			t.Errorf("delta after forgetting = %v; want 2", v)
		}
	}
}

func TestSetsCountDistinctMembersPerBucket(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	k, _ := b.PutKey(sample.KindSet, []byte("users"), nil)
	for i, m := range []string{"a", "b", "a", "c", "b", "a"} {
		b.AddSample(k, t0+int64(i)*100, 0, sample.SetMember([]byte(m)), sample.UnitNone, sample.FlagSetMember)
	}
	b.AddSample(k, t0+1500, 0, sample.SetMember([]byte("a")), sample.UnitNone, sample.FlagSetMember)
	// Mismatched flags are refused: a plain value for a set, a member for a
	// counter, a delta for a timer.
	b.AddValue(k, t0, 0, 1, sample.UnitNone)
	kc, _ := b.PutKey(sample.KindCounter, []byte("c"), nil)
	b.AddSample(kc, t0, 0, sample.SetMember([]byte("x")), sample.UnitNone, sample.FlagSetMember)
	kt, _ := b.PutKey(sample.KindTimer, []byte("t"), nil)
	b.AddSample(kt, t0, 0, 1, sample.UnitNone, sample.FlagDelta)
	s.Apply(&b, t0)
	s.Flush(t0)
	counts := map[int64]float64{}
	for _, e := range drain(t, s) {
		if e.specified != hist.SetOf(hist.Count) {
			t.Errorf("set statistics %v; want [count]", e.specified)
		}
		counts[e.start-t0] = value(t, e.row, hist.Count)
	}
	if counts[0] != 3 || counts[1000] != 1 || len(counts) != 2 {
		t.Fatalf("distinct counts %v; want 3 in the first second, 1 in the next", counts)
	}
	if got := s.stats.Refused[RefusedBadFlags]; got != 3 {
		t.Fatalf("RefusedBadFlags = %d; want 3", got)
	}
}

// TestNewTablesAreSizedLikeTheLast: the table of a period's next bucket is
// reserved at the size of the last one sealed (plus headroom), so that it
// fills without being regrown and copied.
func TestNewTablesAreSizedLikeTheLast(t *testing.T) {
	s, err := New(0, Config{Periods: []time.Duration{time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	keys := benchKeys(n, sample.KindCounter)
	for i := range keys.Samples {
		keys.Samples[i].Time = t0 + 100
	}
	s.Apply(keys, t0+100)
	s.Tick(t0 + 2001) // seals the first bucket
	for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
		// Held, not released: the next table cannot come from the pool.
		defer snap.Release()
	}
	var one sample.Batch
	k, _ := one.PutKey(sample.KindCounter, []byte("x"), nil)
	one.AddValue(k, t0+2100, 0, 1, sample.UnitNone)
	s.Apply(&one, t0+2100)
	idx, ok := s.tableFor(0, t0+2000, s.desc[s.cur[0].idx].t.Expires, t0+2100)
	if !ok {
		t.Fatal("no open table")
	}
	if c := s.desc[idx].t.Cap(); c < n {
		t.Fatalf("new table holds %d rows; want at least the last one's %d", c, n)
	}
}

// Keys of the largest size, with all of it in the name or in the dimensions,
// are stored and read back whole.
func TestLongestKeys(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	var b sample.Batch
	long := strings.Repeat("n", sample.MaxKeyLen-5)
	add(t, &b, sample.KindCounter, long, t0, 1, sample.UnitNone)
	add(t, &b, sample.KindCounter, "x", t0, 2, sample.UnitNone, "k", long[:sample.MaxKeyLen-9])
	for i := range b.Samples {
		if got := int(b.Samples[i].KeyLen); got != sample.MaxKeyLen {
			t.Fatalf("test key %d is %d bytes; want %d", i, got, sample.MaxKeyLen)
		}
	}
	s.Apply(&b, t0)
	s.Flush(t0)
	got := drain(t, s)
	if len(got) != 2 || s.Stats().Refused[RefusedBadKey] != 0 {
		t.Fatalf("%d rows, stats %+v", len(got), s.Stats())
	}
	for _, e := range got {
		if e.name != long && e.name != "x" {
			t.Fatalf("name read back as %d bytes", len(e.name))
		}
	}
}

// TestConfigEqualSeesEveryField changes each field of a Config in turn:
// Equal must tell every change, so that a field added later cannot be
// forgotten by the comparison a reload relies on.
func TestConfigEqualSeesEveryField(t *testing.T) {
	base := Config{}
	base.EnsureDefaults()
	base.Overrides = []Override{{Pattern: "a", Stats: hist.SetOf(hist.Max)}}
	if c := base; !c.Equal(&base) {
		t.Fatal("a config differs from its copy")
	}
	rt := reflect.TypeOf(base)
	for i := range rt.NumField() {
		c := base
		c.Periods = slices.Clone(base.Periods)
		c.Overrides = slices.Clone(base.Overrides)
		f := reflect.ValueOf(&c).Elem().Field(i)
		switch f.Kind() {
		case reflect.Slice:
			switch f.Type().Elem() {
			case reflect.TypeOf(time.Duration(0)):
				c.Periods = append(c.Periods, time.Hour)
			case reflect.TypeOf(Override{}):
				c.Overrides[0].Stats = hist.SetOf(hist.Min)
			default:
				t.Fatalf("field %s: a slice of %s; teach this test to change it", rt.Field(i).Name, f.Type().Elem())
			}
		case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Uint32, reflect.Uint16:
			if f.CanInt() {
				f.SetInt(f.Int() + 1)
			} else {
				f.SetUint(f.Uint() ^ 1)
			}
		default:
			t.Fatalf("field %s of kind %s; teach this test to change it", rt.Field(i).Name, f.Kind())
		}
		if c.Equal(&base) {
			t.Errorf("Equal does not see a change of %s", rt.Field(i).Name)
		}
	}
}

// TestBurstTablesLetGo: the tables a burst of series filled are not kept
// for reuse once the load is small again: a pooled table keeps its
// memory, so the burst's would go round as the next tables for good.
func TestBurstTablesLetGo(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	const burst = 200_000
	applyMany(s, burst, t0, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, fmt.Sprint("burst.", i), t0, 1, sample.UnitNone)
	})
	var b sample.Batch
	burstBytes := int64(0)
	for _, idx := range s.openList {
		burstBytes = max(burstBytes, s.desc[idx].t.Bytes())
	}
	if burstBytes < 2*tableTrimFrom {
		t.Fatalf("the burst's table holds %d bytes: too few to tell", burstBytes)
	}
	// A series a second from then on; the emitter keeps up.
	held := func() (n int64) {
		s.recycle() // the tables the emitter released
		for _, p := range s.pool {
			n += p.t.Bytes()
		}
		for _, idx := range s.openList {
			n += s.desc[idx].t.Bytes()
		}
		return n
	}
	for sec := int64(1); sec <= 60; sec++ {
		b.Reset()
		add(t, &b, sample.KindCounter, "steady", t0+sec*1000, 1, sample.UnitNone)
		s.Apply(&b, t0+sec*1000)
		s.Tick(t0 + sec*1000 + 1)
		drain(t, s)
		if sec == 3 && held() < burstBytes {
			t.Fatalf("second %d: tables hold %d bytes, the burst's %d: let go of before the load fell for long", sec, held(), burstBytes)
		}
	}
	// What is left is what the load needs, or small tables kept for
	// reuse whatever their size (under tableTrimFrom each).
	h := s.rowHint[0].plain + s.rowHint[0].hists
	var tables []*hist.Table
	for _, p := range s.pool {
		tables = append(tables, p.t)
	}
	for _, idx := range s.openList {
		tables = append(tables, s.desc[idx].t)
	}
	for _, tb := range tables {
		if tb.Bytes() >= tableTrimFrom && tb.Cap() > 2*(h+h/8) {
			t.Errorf("a table of %d rows (%d bytes) held for a load of %d rows", tb.Cap(), tb.Bytes(), h)
		}
	}
	if n := held(); n > burstBytes/4 {
		t.Fatalf("a minute after a burst of %d series (its table %d bytes), a series a second: the tables hold %d bytes", burst, burstBytes, n)
	}
}

// TestBurstOfTimersLetsGoUnderCounters: a table's rows of each kind are
// judged by their own load. After a second of timers (rows with a
// histogram), the load is as many counters: the tables that held the
// timers' rows are let go of once the load of rows with a histogram has
// fallen, though their rows of both kinds together are within what the
// counters' load reserves (judged together, they were kept for good).
func TestBurstOfTimersLetsGoUnderCounters(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}})
	const n = 60_000
	applyMany(s, n, t0, func(b *sample.Batch, i int) {
		add(t, b, sample.KindTimer, fmt.Sprint("t.", i), t0, 1, sample.UnitNone)
	})
	for sec := int64(1); sec <= 40; sec++ {
		now := t0 + sec*1000
		applyMany(s, n, now, func(b *sample.Batch, i int) {
			add(t, b, sample.KindCounter, fmt.Sprint("c.", i), now, 1, sample.UnitNone)
		})
		s.Tick(now + 1)
		drain(t, s)
		s.recycle()
	}
	var tables []*hist.Table
	for _, p := range s.pool {
		tables = append(tables, p.t)
	}
	for _, idx := range s.openList {
		tables = append(tables, s.desc[idx].t)
	}
	h := s.rowHint[0]
	for _, tb := range tables {
		if _, hists := tb.Caps(); hists*32 >= tableTrimFrom/4 {
			plain, _ := tb.Caps()
			t.Errorf("a table with room for %d rows with a histogram (and %d without) kept for a load of %d and %d", hists, plain, h.hists, h.plain)
		}
	}
}

// TestClockStepBackKeepsSeriesWithOpenRows: a series is forgotten only when
// none of its rows is open, even after the shard's clock stepped back by
// more than the idle timeout. Its last-row time never goes back, and is at
// least the creation of every table it has a row in, so a row created in
// a table of before the step (its clock, Created, is ahead) keeps the
// series. Before, the series was reaped with its row in the minute's table
// still open, and its next sample made a second row of the same key there.
func TestClockStepBackKeepsSeriesWithOpenRows(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, time.Minute}, IdleTimeout: 10 * time.Second})
	var b sample.Batch
	send := func(name string, at, now int64) {
		t.Helper()
		b.Reset()
		add(t, &b, sample.KindCounter, name, at, 1, sample.UnitNone)
		s.Apply(&b, now)
	}
	const ahead = 10 * 60_000              // the clock steps back by ten minutes
	top := t0 + ahead + 60_000 - t0%60_000 // a minute's start, ahead
	var rows []emitted
	// "a" gets a row in the minute's table of before the step.
	send("a", top+1000, top+1000)
	s.Tick(top + 1000)
	// The clock steps back; "a" gets a row at its new time, then goes
	// quiet while "b" keeps the tables going, until the clock is past
	// where it stepped back from (reaping waits for that) and the idle
	// timeout.
	now := top + 1000 - ahead
	send("a", now, now)
	// "c" gets its only row of that minute after the step: the table was
	// created ahead of the clock.
	send("c", top+1500, now)
	for end := top + 30_000; now < end; now += 100 {
		if now%1000 == 0 {
			send("b", now, now)
		}
		s.Tick(now)
		rows = append(rows, drain(t, s)...)
	}
	// A sample of "a" in the minute's table of before the step, still
	// open: its clock is ahead.
	send("a", top+2000, now)
	send("c", top+2500, now)
	s.Flush(now)
	rows = append(rows, drain(t, s)...)
	for _, name := range []string{"a", "c"} {
		n := 0
		for _, e := range rows {
			if e.name == name && e.period == 60_000 && e.start == top {
				n++
				if e.row.Count != 2 {
					t.Errorf("%s's row of the minute at %d holds %d samples; want 2", name, top, e.row.Count)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s has %d rows in the minute at %d; want 1 (series reaped %d)", name, n, top, s.Stats().SeriesReaped)
		}
	}
}

// TestBurstIndexesLetGo: once a burst of series is reaped and its keys
// released, the series index and the key pool's index are back near their
// first size: they do not keep the burst's for good.
func TestBurstIndexesLetGo(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second}, IdleTimeout: time.Second})
	const burst = 100_000
	applyMany(s, burst, t0, func(b *sample.Batch, i int) {
		add(t, b, sample.KindCounter, fmt.Sprint("burst.", i), t0, 1, sample.UnitNone, "host", fmt.Sprint("h", i))
	})
	var b sample.Batch
	series, pool := len(s.index.entries), len(s.keys.index.entries)
	if series < burst || pool < 2*burst {
		t.Fatalf("after the burst: %d series index slots, %d pool index slots: too few to tell", series, pool)
	}
	for now := t0 + 100; now <= t0+20_000; now += 100 {
		if now%1000 == 0 {
			b.Reset()
			add(t, &b, sample.KindCounter, "steady", now, 1, sample.UnitNone, "host", "h")
			s.Apply(&b, now)
		}
		s.Tick(now)
		drain(t, s)
	}
	if st := s.Stats(); st.SeriesReaped < burst {
		t.Fatalf("%d series reaped of the burst's %d", st.SeriesReaped, burst)
	}
	small := minTagIndexHomes + tagIndexTail
	if n, m := len(s.index.entries), len(s.keys.index.entries); n > small || m > small {
		t.Fatalf("a burst of %d series reaped: the series index holds %d slots (%d after the burst), the pool's %d (%d); want at most %d", burst, n, series, m, pool, small)
	}
}

// checkAlone fails t unless every row of snap is of a different series, and a
// row said alone in its dimension set (hist.SeriesKeys.Dims) is the only row
// of the snapshot with that set; it returns the rows said alone. when says
// when it was called, for the message.
func checkAlone(t testing.TB, snap *hist.Snapshot, when string) (alone int) {
	t.Helper()
	sets, sids := map[string]int{}, map[uint32]int{}
	for i := range snap.Len() {
		d, _ := snap.Dims(i)
		sets[string(d)]++
		sid := snap.Table.SidAt(i)
		if j, dup := sids[sid]; dup {
			t.Fatalf("%s: rows %d and %d of one snapshot are of series %d", when, j, i, sid)
		}
		sids[sid] = i
	}
	for i := range snap.Len() {
		if d, one := snap.Dims(i); one {
			if sets[string(d)] != 1 {
				t.Fatalf("%s: row %d alone in set %q, which %d rows of the snapshot have", when, i, d, sets[string(d)])
			}
			alone++
		}
	}
	return alone
}

// TestEqualDimensionSetsShareAddress: within one snapshot, rows whose
// series have equal dimension sets read them at one address, and rows of
// different sets at different ones (the pool interns them; an emitter
// groups the rows of one snapshot by address), and a row said to be alone
// in its set is (an emitter does not look for its set's other rows),
// through series that go idle, are reaped and come back, and snapshots
// held for several ticks or released at once.
func TestEqualDimensionSetsShareAddress(t *testing.T) {
	s := newTestShard(t, Config{Periods: []time.Duration{time.Second, 2 * time.Second}, IdleTimeout: time.Second})
	r := rand.New(rand.NewPCG(11, 13))
	var held []*hist.Snapshot
	rows, alone := 0, 0
	for sec := range int64(60) {
		now := t0 + sec*1000
		var b sample.Batch
		for range 1 + r.IntN(120) {
			set := r.IntN(12)
			if r.IntN(3) == 0 {
				set = 12 + r.IntN(300) // a set of few series, or of one
			}
			dims := []string{"host", fmt.Sprintf("h%d", set%4)}
			if set >= 4 {
				dims = append(dims, "zone", fmt.Sprintf("z%d", set/4))
			}
			if set == 11 {
				dims = nil
			}
			add(t, &b, sample.KindCounter, fmt.Sprintf("m%d", r.IntN(40)), now+int64(r.IntN(1000)), 1, sample.UnitNone, dims...)
		}
		s.Apply(&b, now+999)
		s.Tick(now + 1000)
		for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
			at, set := map[string]*byte{}, map[*byte]string{}
			for i := range snap.Len() {
				d, _ := snap.Dims(i) // never empty: an empty set is its count byte
				if p, seen := at[string(d)]; seen && p != &d[0] {
					t.Fatalf("second %d: set %q at two addresses in one snapshot", sec, d)
				}
				if o, seen := set[&d[0]]; seen && o != string(d) {
					t.Fatalf("second %d: sets %q and %q at one address in one snapshot", sec, o, d)
				}
				at[string(d)], set[&d[0]] = &d[0], string(d)
				rows++
			}
			alone += checkAlone(t, snap, fmt.Sprintf("second %d, popped", sec))
			held = append(held, snap)
		}
		// Release some of the snapshots held, the oldest first or at
		// random: a series' parts outlive its reaping while one holds it.
		for len(held) > 0 && r.IntN(3) != 0 {
			k := 0
			if r.IntN(2) == 0 {
				k = r.IntN(len(held))
			}
			checkAlone(t, held[k], fmt.Sprintf("second %d, released", sec))
			held[k].Release()
			held = slices.Delete(held, k, k+1)
		}
	}
	for _, snap := range held {
		snap.Release()
	}
	if st := s.Stats(); rows < 1000 || st.SeriesReaped < 200 || alone < 100 {
		t.Fatalf("%d rows read, %d alone in their set, %d series reaped; want at least 1000, 100 and 200", rows, alone, st.SeriesReaped)
	}
}
