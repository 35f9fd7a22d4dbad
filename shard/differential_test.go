package shard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/testseed"
	"github.com/gomad/mad/shard/shardref"
)

// decider drives a random workload either from a PRNG (tests) or from the
// fuzzer's bytes (each decision consumes bytes; an exhausted input decides 0).
type decider struct {
	data []byte
	rnd  *rand.Rand
}

func (d *decider) intn(n int) int {
	if n <= 1 {
		return 0
	}
	if d.rnd != nil {
		return d.rnd.IntN(n)
	}
	var v uint32
	for i := 0; i < 4 && n > 1<<(8*i); i++ {
		if len(d.data) == 0 {
			break
		}
		v = v<<8 | uint32(d.data[0])
		d.data = d.data[1:]
	}
	return int(v % uint32(n))
}

func (d *decider) chance(percent int) bool { return d.intn(100) < percent }

func pick[T any](d *decider, xs ...T) T { return xs[d.intn(len(xs))] }

var (
	diffNames   = []string{"a", "b", "lat.x", "lat.y", "c"}
	diffDimKeys = []string{"host", "service", "region"}
	diffDimVals = []string{"h1", "h2", "r1"}
	diffAllStat = []hist.Stat{hist.Count, hist.Sum, hist.Min, hist.Max, hist.Mean, hist.Median,
		hist.TP75, hist.TP90, hist.TP95, hist.TP99, hist.TP99p9, hist.Histogram}
)

func randomSet(d *decider) hist.Set {
	var s hist.Set
	for s == 0 {
		for _, st := range diffAllStat {
			if d.chance(30) {
				s |= hist.SetOf(st)
			}
		}
	}
	return s
}

func setNames(s hist.Set) []string {
	var out []string
	for _, st := range s.All() {
		out = append(out, st.String())
	}
	return out
}

func randomValue(d *decider) float64 {
	switch d.intn(12) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return -float64(d.intn(300))
	case 3:
		return float64(d.intn(1<<20)) * 1e-3
	case 4:
		return pick(d, 1e300, -1e300, 5e-324, math.MaxFloat64)
	case 5:
		return float64(d.intn(5)) + 0.5
	}
	return float64(d.intn(1000))
}

// diffConfig draws a pipeline configuration for both aggregators, and the
// idle timeout in ms.
func diffConfig(d *decider) (Config, shardref.Config, int64) {
	var cfg Config
	var rc shardref.Config
	all := []int64{500, 1000, 2000, 3000, 7000, 60000}
	for len(cfg.Periods) == 0 {
		for _, p := range all {
			if d.chance(35) {
				cfg.Periods = append(cfg.Periods, time.Duration(p)*time.Millisecond)
				rc.Periods = append(rc.Periods, p)
			}
		}
	}
	rc.Granularity = pick[int64](d, 100, 1, 1000, 300)
	cfg.Granularity = time.Duration(rc.Granularity) * time.Millisecond
	// A day outlasts any run (at most 80 steps of 71 s), so no series is
	// forgotten; only then are gauge deltas drawn (see diffBatch).
	idleMs := pick[int64](d, 300000, 1500, 4000, 86_400_000)
	cfg.IdleTimeout = time.Duration(idleMs) * time.Millisecond
	cfg.CounterStatistics, cfg.GaugeStatistics, cfg.TimerStatistics = DefaultCounterStatistics, DefaultGaugeStatistics, DefaultTimerStatistics
	if d.chance(60) {
		cfg.CounterStatistics, cfg.GaugeStatistics, cfg.TimerStatistics = randomSet(d), randomSet(d), randomSet(d)
	}
	rc.Counter, rc.Gauge, rc.Timer = setNames(cfg.CounterStatistics), setNames(cfg.GaugeStatistics), setNames(cfg.TimerStatistics)
	for _, pat := range []string{`lat\..*`, `a|c`, `lat\.x`} {
		if d.chance(25) {
			set := randomSet(d)
			cfg.Overrides = append(cfg.Overrides, Override{Pattern: pat, Stats: set})
			rc.Overrides = append(rc.Overrides, shardref.Override{Pattern: pat, Stats: setNames(set)})
		}
	}
	cfg.OutputQueue = pick(d, 1, 4, 1024)
	return cfg, rc, idleMs
}

// diffReconfig draws a configuration a shard configured by cfg can take in
// place: other periods, granularity and statistics (per type and per
// override), the same overrides' patterns and output queue. The idle
// timeout changes only without gauge deltas (see diffBatch).
func diffReconfig(d *decider, cfg Config, rc shardref.Config, deltas bool) (Config, shardref.Config) {
	next, nrc, idleMs := diffConfig(d)
	next.Overrides, nrc.Overrides = nil, nil
	for i, o := range cfg.Overrides {
		set := o.Stats
		if d.chance(50) {
			set = randomSet(d)
		}
		next.Overrides = append(next.Overrides, Override{Pattern: o.Pattern, Stats: set})
		nrc.Overrides = append(nrc.Overrides, shardref.Override{Pattern: rc.Overrides[i].Pattern, Stats: setNames(set)})
	}
	if d.chance(50) {
		// Only the periods change (the case of issue 14).
		next.CounterStatistics, next.GaugeStatistics, next.TimerStatistics = cfg.CounterStatistics, cfg.GaugeStatistics, cfg.TimerStatistics
		nrc.Counter, nrc.Gauge, nrc.Timer = rc.Counter, rc.Gauge, rc.Timer
	}
	if d.chance(30) {
		// The same periods may come in another order (other indexes).
		slices.Reverse(next.Periods)
		slices.Reverse(nrc.Periods)
	}
	next.OutputQueue = cfg.OutputQueue
	if deltas || idleMs == 86_400_000 {
		next.IdleTimeout = cfg.IdleTimeout
	}
	return next, nrc
}

// diffBatch draws one batch of samples around now. With wide set, names
// carry a numeric suffix so that the series index grows and idle series are
// reaped while others keep arriving. Gauge deltas are drawn only with
// deltas set: a forgotten series forgets its last gauge value, and the
// reference does not model forgetting.
func diffBatch(d *decider, b *sample.Batch, now int64, wide, deltas bool) {
	b.Reset()
	var nameBuf []byte
	var dims []sample.Dim
	for n := 1 + d.intn(40); n > 0; n-- {
		kind := pick(d, sample.KindCounter, sample.KindGauge, sample.KindTimer, sample.KindTimer, sample.KindCounter)
		switch {
		case d.chance(4):
			kind = sample.KindNone
		case d.chance(5):
			kind = sample.KindSet
		}
		name := append(nameBuf[:0], pick(d, diffNames...)...)
		if wide {
			name = fmt.Appendf(name, "%d", d.intn(3000))
		}
		nameBuf = name
		if kind == sample.KindNone {
			name = nil
		}
		dims = dims[:0]
		for _, k := range diffDimKeys {
			if d.chance(40) {
				dims = append(dims, sample.Dim{Key: []byte(k), Value: []byte(pick(d, diffDimVals...))})
			}
		}
		// Tags arrive in any order; the canonical key must not care.
		if len(dims) > 1 && d.chance(50) {
			dims[0], dims[len(dims)-1] = dims[len(dims)-1], dims[0]
		}
		sample.SortDims(dims)
		k, err := b.PutKey(kind, name, dims)
		if err != nil {
			panic(err)
		}
		t := now + int64(d.intn(2000)) - 1500
		switch d.intn(30) {
		case 0:
			t = now - int64(d.intn(20000))
		case 1:
			t = now + int64(d.intn(20000))
		case 2:
			t = now - 1_000_000 + int64(d.intn(1000))
		case 3:
			// Before 1970, where Java's remainder starts a bucket after
			// its times (a bucket S holds (S-period, S]).
			t = -int64(d.intn(5000))
		}
		unit := pick(d, sample.UnitNone, sample.UnitNone, sample.UnitNone, sample.Second, sample.Byte)
		var reqTime int64
		if d.chance(30) {
			reqTime = now - int64(d.intn(5000))
		}
		var flags uint8
		switch {
		case kind == sample.KindSet:
			flags = sample.FlagSetMember
		case kind == sample.KindGauge && deltas && d.chance(40):
			flags = sample.FlagDelta
		}
		if d.chance(1) {
			// A mismatch, refused: a member that is not of a set (or a set
			// sample that is not a member), a delta that is not a gauge's.
			if kind == sample.KindGauge || kind == sample.KindSet || d.chance(50) {
				flags ^= sample.FlagSetMember
			} else {
				flags ^= sample.FlagDelta
			}
		}
		if flags&sample.FlagSetMember != 0 {
			b.AddSample(k, t, reqTime, sample.SetMember([]byte{byte(d.intn(20))}), unit, flags)
			continue
		}
		if flags == 0 && d.chance(12) {
			// A run of values (what the V3 decoder emits), some of them
			// not finite.
			vals := make([]float64, 2+d.intn(40))
			for i := range vals {
				vals[i] = randomValue(d)
				if d.chance(3) {
					vals[i] = pick(d, math.NaN(), math.Inf(1), math.Inf(-1))
				}
			}
			if d.chance(5) {
				for i := range vals {
					vals[i] = math.NaN()
				}
			}
			b.AddRun(k, t, reqTime, vals, unit)
			continue
		}
		if !d.chance(25) || flags != 0 {
			v := randomValue(d)
			if d.chance(2) {
				v = pick(d, math.NaN(), math.Inf(1), math.Inf(-1))
			}
			b.AddSample(k, t, reqTime, v, unit, flags)
			continue
		}
		a := sample.Agg{Min: randomValue(d), Max: randomValue(d), Sum: randomValue(d), Count: float64(d.intn(10)) + pick(d, 0, 0.7)}
		a.Has = uint8(d.intn(32))
		var entries []sample.HistEntry
		if a.Has&sample.HasHist != 0 {
			for n := d.intn(5); n > 0; n-- {
				c := uint64(d.intn(6))
				switch {
				case d.chance(3):
					c = 1 << 50
				case d.chance(4): // about a narrow histogram's bound (4095): some cross it added up
					c = 2040 + uint64(d.intn(20))
				}
				entries = append(entries, sample.HistEntry{Value: randomValue(d), Count: c})
			}
		}
		if d.chance(2) {
			a.Sum = math.NaN()
		}
		b.AddAgg(k, t, reqTime, a, entries, unit)
	}
}

// snapKey reassembles the canonical key of row i of snap.
func snapKey(snap *hist.Snapshot, i int) []byte {
	kind, name, dims := snap.Key(i)
	return append(append([]byte{kind}, name...), dims...)
}

// runDifferential feeds one random workload to a shard and to the reference
// and fails if they ever emit different buckets.
func runDifferential(t testing.TB, d *decider) {
	cfg, rc, idleMs := diffConfig(d)
	sh, err := New(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.chance(50) {
		sh.pipelineFrom = 0 // exercise the prefetching path at any size
		sh.poolHintFrom = 0 // and the key pool hints of new series
	} else if idleMs == 1500 || idleMs == 4000 {
		// Trials between applying one by one and pipelined (pipeChoice)
		// at any size, chosen without reading the input, so that the
		// corpus's workloads stay what they were.
		sh.pipelineFrom = 1
	}
	ref := shardref.New(rc)
	// Held snapshots and their rendering when popped: re-rendered at release,
	// they must not have changed (keys and series of outstanding snapshots
	// must survive reaping and reuse).
	type heldSnap struct {
		snap *hist.Snapshot
		rows []string
	}
	var held []heldSnap
	release := func(h heldSnap) {
		t.Helper()
		checkAlone(t, h.snap, "released")
		if again := shardref.RenderSnapshot(h.snap); !slices.Equal(again, h.rows) {
			t.Fatalf("snapshot changed while held:\n%s", shardref.Diff(again, h.rows))
		}
		h.snap.Release()
	}
	var b sample.Batch
	now := int64(1_700_000_000_000) + int64(d.intn(100000))
	compare := func(step int, closed func() []string) {
		t.Helper()
		var got []string
		for {
			snap, ok := sh.Output().Pop()
			if !ok {
				if sh.Pending() == 0 {
					break
				}
				sh.flushPending()
				continue
			}
			rows := shardref.RenderSnapshot(snap)
			checkAlone(t, snap, "popped")
			got = append(got, rows...)
			// Hold some snapshots across steps, releasing them in any
			// order, so that reaped series wait in limbo.
			held = append(held, heldSnap{snap, rows})
		}
		for len(held) > 0 && d.chance(70) {
			i := d.intn(len(held))
			release(held[i])
			held = slices.Delete(held, i, i+1)
		}
		sort.Strings(got)
		if want := closed(); !slices.Equal(got, want) {
			t.Fatalf("step %d (now %d): shard and reference differ\n%s", step, now, shardref.Diff(got, want))
		}
	}
	steps := 1 + d.intn(80)
	wide := d.chance(20)
	deltas := idleMs == 86_400_000
	// The shard takes its batches through two inputs, as from producers
	// that send series by their handles (handle.go): the samples of every
	// other batch that can go by handle do, once their series' handle was
	// given in the batch's epoch, and the others ask for it. One producer
	// sends every fifth batch only: its epoch lags behind the shard's, as
	// an idle producer's does (decided without reading the input: the
	// corpus's workloads stay what they were).
	ins := [2]handleInput{attachInput(sh), attachInput(sh)}
	var books [2]handleBook
	stamps := [2]uint32{sh.Epoch().Load(), sh.Epoch().Load()}
	for step := 0; step < steps; step++ {
		diffBatch(d, &b, now, wide, deltas)
		ref.Add(&b, now)
		p := 0
		if step%5 == 4 {
			p = 1
		}
		// As a producer's: stamped when it became current, after the
		// producer's last batch was published, before the shard's ticks
		// since.
		b.Epoch = stamps[p]
		if step%2 == 1 {
			books[p].convert(&b)
		}
		if !ins[p].in.Push(&b) {
			t.Fatal("ring full")
		}
		DrainInputs(sh, now)
		if back, ok := ins[p].back.Pop(); !ok || back != &b {
			t.Fatal("batch not given back")
		}
		books[p].answers(&b)
		stamps[p] = sh.Epoch().Load()
		if d.chance(70) {
			sh.Tick(now)
			compare(step, func() []string { return ref.Close(now) })
		}
		if d.chance(4) {
			// A reload: the shard is reconfigured between two batches.
			next, nrc := diffReconfig(d, cfg, rc, deltas)
			if err := sh.Reconfigure(next); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			cfg, rc = next, nrc
			compare(step, func() []string { return ref.Reconfigure(nrc) })
		}
		now += int64(d.intn(900))
		if d.chance(5) {
			now += int64(pick(d, 5000, 70000))
		}
	}
	sh.Flush(now)
	compare(steps, ref.CloseAll)
	for _, h := range held {
		release(h)
	}
	st := sh.Stats()
	var refused uint64
	for _, n := range st.Refused {
		refused += n
	}
	if refused != uint64(ref.Refused()) {
		t.Fatalf("shard refused %d samples (%v); reference %d", refused, st.Refused, ref.Refused())
	}
}

// handleBook is what a producer knows of its series' handles, by key.
type handleBook struct {
	by   map[string]sample.Ask
	asks []string // the key of each ask of the batch out
}

// convert makes the plain samples of b (no request time) name their
// series by handle where the book has one of b's epoch, and ask for it
// where it has none.
func (h *handleBook) convert(b *sample.Batch) {
	if h.by == nil {
		h.by = map[string]sample.Ask{}
	}
	h.asks = h.asks[:0]
	for i := range b.Samples {
		smp := &b.Samples[i]
		if smp.Flags&^(sample.FlagDelta|sample.FlagSetMember) != 0 || smp.ReqTime != 0 ||
			smp.KeyLen == 0 || uint64(smp.KeyOff)+uint64(smp.KeyLen) > uint64(len(b.Keys)) {
			continue
		}
		key := string(b.Key(smp))
		if a, ok := h.by[key]; ok && a.Epoch == b.Epoch {
			smp.Hash, smp.KeyOff, smp.KeyLen, smp.Flags = a.Handle, 0, 0, smp.Flags|sample.FlagHandle
			continue
		}
		smp.Agg, smp.Flags = uint32(len(b.Asks)), smp.Flags|sample.FlagAsk
		b.Asks = append(b.Asks, sample.Ask{Ticket: uint64(len(h.asks))})
		h.asks = append(h.asks, key)
	}
}

// answers takes the answers of b, given back.
func (h *handleBook) answers(b *sample.Batch) {
	for _, a := range b.Asks {
		if a.Handle != 0 {
			h.by[h.asks[a.Ticket]] = a
		}
	}
	b.Asks = b.Asks[:0]
	h.asks = h.asks[:0]
}

func TestDifferential(t *testing.T) {
	seed := testseed.Seed(t)
	runs := 400
	if testing.Short() {
		runs = 50
	}
	for i := 0; i < runs; i++ {
		d := &decider{rnd: rand.New(rand.NewPCG(seed, uint64(i)))}
		t.Run(fmt.Sprint(i), func(t *testing.T) { runDifferential(t, d) })
		if t.Failed() {
			t.Fatalf("reproduce with %s=%d, run %d", testseed.Env, seed, i)
		}
	}
}
