package shardref

// The reference aggregator. It keeps MAD's shape: a worker per (series,
// period) holding open buckets by start, each bucket a set of calculators;
// a map of float64 bucket values for the histogram; sort.Slice for
// percentiles.

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"

	"github.com/gomad/mad/internal/sample"
)

// Config is what the reference needs of a pipeline, in milliseconds and
// statistic names (hist.Stat's String: "count", "tp99.9", …).
type Config struct {
	// Periods are the bucket lengths in ms.
	Periods []int64
	// Granularity (ms): expirations are rounded up to a multiple of it.
	Granularity int64
	// Counter, Gauge and Timer are the statistics specified per type.
	Counter, Gauge, Timer []string
	// Overrides is MAD's statistics map, in order: the first pattern that
	// matches a whole metric name wins.
	Overrides []Override
}

// Override is one entry of MAD's statistics map.
type Override struct {
	// Pattern is a regular expression (RE2) that must match a whole name.
	Pattern string
	Stats   []string
}

type override struct {
	re    *regexp.Regexp
	stats []string
}

type refBucket struct {
	periodMs, start, expires int64
	key                      string // owner series key
	specified                map[string]bool
	count                    int64
	sum, min, max            *float64
	hist                     map[uint64]uint64 // bits of the truncated value → count (bits keep -0 and +0 apart)
	members                  map[uint64]bool   // set members (hash bits)
	isSet                    bool
	histFed                  bool
	unit                     *sample.Unit
	reqTime                  int64
}

// Aggregator is the reference aggregator. It never forgets a series (the
// shard forgets idle ones, and with them their last gauge value: compare
// gauge deltas only with an idle timeout longer than the run).
type Aggregator struct {
	cfg       Config
	overrides []override
	buckets   map[string]map[int64]*refBucket // owner key + "/" + period → start → bucket
	gaugeLast map[string]float64              // series key → last gauge value
	refused   int
}

// New returns an empty aggregator. It panics on an override pattern that
// does not compile (the shard's Config.Validate refuses it).
func New(cfg Config) *Aggregator {
	a := &Aggregator{cfg: cfg, buckets: map[string]map[int64]*refBucket{}, gaugeLast: map[string]float64{}}
	for _, o := range cfg.Overrides {
		a.overrides = append(a.overrides, override{re: regexp.MustCompile(`^(?:` + o.Pattern + `)$`), stats: o.Stats})
	}
	return a
}

// Refused returns how many samples (per period, for unit mismatches) the
// aggregator refused: the sum of a shard's Stats.Refused.
func (r *Aggregator) Refused() int { return r.refused }

// Add adds every sample of b, in order, at wall time now (ms).
func (r *Aggregator) Add(b *sample.Batch, now int64) {
	for i := range b.Samples {
		s := &b.Samples[i]
		if s.Flags&sample.FlagRun == 0 {
			r.add(b, s, now)
			continue
		}
		// A run: each value a sample of its own.
		vals := b.ValsOf(s)
		if vals == nil || s.Flags != sample.FlagRun {
			r.refused++
			continue
		}
		one := *s
		one.Flags, one.Agg = 0, 0
		for _, v := range vals {
			one.Value = v
			r.add(b, &one, now)
		}
	}
}

func refTimeout(periodMs int64) int64 {
	t := periodMs / 2
	if t < 1000 {
		t = 1000
	}
	if t > 600000 {
		t = 600000
	}
	return t
}

// refExpiration is max(now + timeout, start + period + timeout), rounded up
// to the granularity, computed exactly and then clamped to the int64 range
// less the top value: record times reach it (a Graphite timestamp of 2^63
// ms, a Telegraf one in ms near it), and a bucket that far in the future
// does not expire while the daemon runs; math.MaxInt64 itself is the mark
// of a shard flushed at its stop, below which every bucket is emitted.
func refExpiration(start, periodMs, now, granMs int64) int64 {
	timeout := big.NewInt(refTimeout(periodMs))
	e := new(big.Int).Add(big.NewInt(now), timeout)
	if s := new(big.Int).Add(big.NewInt(start), big.NewInt(periodMs)); s.Add(s, timeout).Cmp(e) > 0 {
		e = s
	}
	// Ceil to the granularity: −floor(−e / g) × g.
	g := big.NewInt(granMs)
	e.Neg(e).Div(e, g).Neg(e).Mul(e, g) // Div is Euclidean: floor for g > 0
	switch {
	case e.Cmp(big.NewInt(math.MaxInt64-1)) > 0:
		return math.MaxInt64 - 1
	case e.Cmp(big.NewInt(math.MinInt64)) < 0:
		return math.MinInt64
	}
	return e.Int64()
}

// statsFor returns the specified statistic names and whether an override
// matched (MAD then keys the calculators by name only).
func (r *Aggregator) statsFor(kind sample.Kind, name string) ([]string, bool) {
	switch kind {
	case sample.KindNone:
		return nil, false
	case sample.KindSet:
		return []string{"count"}, false
	}
	for _, o := range r.overrides {
		if o.re.MatchString(name) {
			return o.stats, true
		}
	}
	switch kind {
	case sample.KindCounter:
		return r.cfg.Counter, false
	case sample.KindGauge:
		return r.cfg.Gauge, false
	}
	return r.cfg.Timer, false
}

// closure: what MAD creates calculators for.
func refClosure(specified []string) map[string]bool {
	c := map[string]bool{"count": true}
	for _, s := range specified {
		c[s] = true
		switch s {
		case "mean":
			c["sum"] = true
		case "median", "tp75", "tp90", "tp95", "tp99", "tp99.9":
			c["histogram"] = true
		}
	}
	return c
}

func refTruncate(v float64) float64 {
	return math.Float64frombits(math.Float64bits(v) & 0xFFFFE00000000000)
}

func (r *Aggregator) add(b *sample.Batch, s *sample.Sample, now int64) {
	key := string(b.Key(s))
	pk, err := sample.ParseKey([]byte(key))
	if err != nil || pk.Kind > sample.KindSet || !s.Unit.Valid() {
		r.refused++
		return
	}
	member := s.Flags&sample.FlagSetMember != 0
	var agg *sample.Agg
	var entries []sample.HistEntry
	if s.Flags&sample.FlagAgg != 0 {
		agg = &b.Aggs[s.Agg]
		entries = b.HistOf(agg)
		bad := (agg.Has&sample.HasMin != 0 && !isFinite(agg.Min)) || (agg.Has&sample.HasMax != 0 && !isFinite(agg.Max)) ||
			(agg.Has&sample.HasSum != 0 && !isFinite(agg.Sum)) || (agg.Has&sample.HasCount != 0 && !isFinite(agg.Count))
		if agg.Has&sample.HasHist != 0 {
			for _, e := range entries {
				bad = bad || !isFinite(e.Value)
			}
		}
		if bad {
			r.refused++
			return
		}
	} else if !isFinite(s.Value) && !member {
		r.refused++
		return
	}
	if member != (pk.Kind == sample.KindSet) || (s.Flags&sample.FlagDelta != 0 && pk.Kind != sample.KindGauge) {
		r.refused++
		return
	}
	value := s.Value
	if pk.Kind == sample.KindGauge && agg == nil {
		if s.Flags&sample.FlagDelta != 0 {
			if last, ok := r.gaugeLast[key]; ok {
				value += last
			}
			if !isFinite(value) {
				r.refused++
				return
			}
		}
		r.gaugeLast[key] = value
	}
	specified, explicit := r.statsFor(pk.Kind, string(pk.Name))
	owner := key
	if explicit {
		owner = string(rune(sample.KindExplicit)) + key[1:]
	}
	closure := refClosure(specified)
	unitCarrying := func(stats ...string) bool {
		for _, st := range stats {
			if closure[st] {
				return true
			}
		}
		return false
	}
	for _, periodMs := range r.cfg.Periods {
		start := s.Time - s.Time%periodMs
		wk := fmt.Sprintf("%s/%d", owner, periodMs)
		if r.buckets[wk] == nil {
			r.buckets[wk] = map[int64]*refBucket{}
		}
		bk := r.buckets[wk][start]
		if bk == nil {
			bk = &refBucket{
				periodMs: periodMs, start: start, key: owner,
				expires:   refExpiration(start, periodMs, now, r.cfg.Granularity),
				specified: map[string]bool{},
				hist:      map[uint64]uint64{},
				members:   map[uint64]bool{},
				isSet:     pk.Kind == sample.KindSet,
			}
			for _, st := range specified {
				bk.specified[st] = true
			}
			r.buckets[wk][start] = bk
		}
		if pk.Kind == sample.KindNone {
			bk.noteReq(s.ReqTime)
			continue
		}
		if member {
			bits := math.Float64bits(value)
			if bits == 0 {
				bits = 1 // the shard stores hash 0 as 1
			}
			if !bk.members[bits] {
				bk.members[bits] = true
				bk.count++
			}
			bk.noteReq(s.ReqTime)
			continue
		}
		// Which unit-carrying calculators does this sample feed?
		var feeds bool
		if agg == nil {
			feeds = unitCarrying("sum", "min", "max", "histogram")
		} else {
			feeds = (agg.Has&sample.HasSum != 0 && closure["sum"]) || (agg.Has&sample.HasMin != 0 && closure["min"]) ||
				(agg.Has&sample.HasMax != 0 && closure["max"]) || (agg.Has&sample.HasHist != 0 && closure["histogram"])
		}
		if feeds {
			if bk.unit == nil {
				u := s.Unit
				bk.unit = &u
			} else if *bk.unit != s.Unit {
				r.refused++
				continue
			}
		}
		if agg == nil {
			v := value
			bk.count++
			if closure["sum"] {
				bk.sum = refAdd(bk.sum, v)
			}
			if closure["min"] && (bk.min == nil || v < *bk.min) {
				bk.min = &v
			}
			if closure["max"] && (bk.max == nil || v > *bk.max) {
				bk.max = &v
			}
			if closure["histogram"] {
				bk.hist[math.Float64bits(refTruncate(v))]++
				bk.histFed = true
			}
		} else {
			if agg.Has&sample.HasCount != 0 {
				bk.count += refJavaLong(agg.Count)
			}
			if agg.Has&sample.HasSum != 0 && closure["sum"] {
				bk.sum = refAdd(bk.sum, agg.Sum)
			}
			if agg.Has&sample.HasMin != 0 && closure["min"] && (bk.min == nil || agg.Min < *bk.min) {
				v := agg.Min
				bk.min = &v
			}
			if agg.Has&sample.HasMax != 0 && closure["max"] && (bk.max == nil || agg.Max > *bk.max) {
				v := agg.Max
				bk.max = &v
			}
			if agg.Has&sample.HasHist != 0 && closure["histogram"] {
				bk.histFed = true
				for _, e := range entries {
					bk.hist[math.Float64bits(refTruncate(e.Value))] += e.Count
				}
			}
		}
		bk.noteReq(s.ReqTime)
	}
}

func (b *refBucket) noteReq(rt int64) {
	if rt != 0 && (b.reqTime == 0 || rt < b.reqTime) {
		b.reqTime = rt
	}
}

func refAdd(sum *float64, v float64) *float64 {
	if sum == nil {
		return &v
	}
	s := *sum + v
	return &s
}

func refJavaLong(f float64) int64 {
	if math.IsNaN(f) {
		return 0
	}
	if f >= 9.223372036854775807e18 {
		return math.MaxInt64
	}
	if f <= -9.223372036854775808e18 {
		return math.MinInt64
	}
	return int64(f)
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Close closes every bucket whose expiration is before now, as a shard's
// Tick(now) seals them, and returns their lines, sorted.
func (r *Aggregator) Close(now int64) []string { return r.closeBefore(now, false) }

// CloseAll closes every bucket, as a shard's Flush seals them, and returns
// their lines, sorted.
func (r *Aggregator) CloseAll() []string { return r.closeBefore(0, true) }

// closeBefore closes every bucket with expiration < now (all if all).
func (r *Aggregator) closeBefore(now int64, all bool) []string {
	var out []string
	for wk, byStart := range r.buckets {
		for start, bk := range byStart {
			if all || bk.expires < now {
				out = append(out, bk.render())
				delete(byStart, start)
			}
		}
		if len(byStart) == 0 {
			delete(r.buckets, wk)
		}
	}
	sort.Strings(out)
	return out
}

// Reconfigure switches the aggregator to cfg, which keeps the overrides'
// patterns, as a shard's Reconfigure does: it closes the buckets of the
// periods cfg drops, or every bucket if cfg's statistics need a calculator
// (sum, min, max, histogram) that the current ones did not keep for some
// metric type or override, and returns their lines, sorted. The other
// buckets stay open and take cfg's statistics, from now on and when they
// close.
func (r *Aggregator) Reconfigure(cfg Config) []string {
	grow := false
	added := func(from, to []string) {
		old, now := refClosure(from), refClosure(to)
		for _, c := range []string{"sum", "min", "max", "histogram"} {
			grow = grow || now[c] && !old[c]
		}
	}
	added(r.cfg.Counter, cfg.Counter)
	added(r.cfg.Gauge, cfg.Gauge)
	added(r.cfg.Timer, cfg.Timer)
	for i, o := range cfg.Overrides {
		added(r.overrides[i].stats, o.Stats)
		r.overrides[i].stats = o.Stats
	}
	kept := map[int64]bool{}
	for _, p := range cfg.Periods {
		kept[p] = true
	}
	var out []string
	for wk, byStart := range r.buckets {
		for start, bk := range byStart {
			if grow || !kept[bk.periodMs] {
				out = append(out, bk.render())
				delete(byStart, start)
			}
		}
		if len(byStart) == 0 {
			delete(r.buckets, wk)
		}
	}
	r.cfg = cfg
	for _, byStart := range r.buckets {
		for _, bk := range byStart {
			pk, err := sample.ParseKey([]byte(bk.key))
			if err != nil {
				panic("shardref: a bucket of a malformed key")
			}
			specified, _ := r.statsFor(pk.Kind, string(pk.Name))
			bk.specified = map[string]bool{}
			for _, st := range specified {
				bk.specified[st] = true
			}
		}
	}
	sort.Strings(out)
	return out
}

// render prints a closed bucket the way RenderSnapshot prints a snapshot row.
func (b *refBucket) render() string {
	out := renderHead(nil, b.expires, b.periodMs, b.start, []byte(b.key), b.reqTime)
	if b.key[0] == byte(sample.KindNone) {
		return string(out)
	}
	// Sorted histogram, -0 before +0.
	type kv struct {
		v float64
		n uint64
	}
	var hs []kv
	for bits, n := range b.hist {
		hs = append(hs, kv{math.Float64frombits(bits), n})
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].v != hs[j].v {
			return hs[i].v < hs[j].v
		}
		return math.Signbit(hs[i].v) && !math.Signbit(hs[j].v)
	})
	var entries int64
	for _, e := range hs {
		entries += int64(e.n)
	}
	percentile := func(p float64) float64 {
		target := math.Ceil(float64(entries) * p / 100.0)
		if target > float64(entries) {
			target = float64(entries)
		}
		var t int64
		switch {
		case math.IsNaN(target):
			t = 0
		case target >= 2147483647:
			t = 2147483647
		case target <= -2147483648:
			t = -2147483648
		default:
			t = int64(int32(target))
		}
		var acc int64
		for _, e := range hs {
			acc += int64(e.n)
			if acc >= t {
				return e.v
			}
		}
		return 0
	}
	unitName := func(has bool) string {
		if has && b.unit != nil {
			return b.unit.String()
		}
		return ""
	}
	var names []string
	for st := range refClosure(keys(b.specified)) {
		names = append(names, st)
	}
	sort.Strings(names)
	for _, st := range names {
		var v float64
		var unit string
		ok := true
		switch st {
		case "count":
			v = float64(b.count)
		case "sum":
			ok = b.sum != nil
			if ok {
				v, unit = *b.sum, unitName(true)
			}
		case "min":
			ok = b.min != nil
			if ok {
				v, unit = *b.min, unitName(true)
			}
		case "max":
			ok = b.max != nil
			if ok {
				v, unit = *b.max, unitName(true)
			}
		case "mean":
			ok = b.sum != nil
			if ok {
				v, unit = *b.sum/float64(b.count), unitName(true)
			}
		case "histogram":
			v, unit = 1, unitName(false) // MAD's Quantity(1.0): no unit
		default:
			v, unit = percentile(refPercentiles[st]), unitName(b.histFed)
		}
		out = renderStat(out, st, b.specified[st], ok, v, unit)
	}
	out = renderPop(out, b.count)
	for _, e := range hs {
		out = renderEntry(out, e.v, e.n)
	}
	return string(out)
}

var refPercentiles = map[string]float64{
	"median": 50, "tp75": 75, "tp90": 90, "tp95": 95, "tp99": 99, "tp99.9": 99.9,
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
