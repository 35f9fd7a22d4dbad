package partials

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/ingest/partials/partialsref"
	"github.com/gomad/mad/internal/partials"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/testseed"
)

// The Decoder is held to the reference decoder partialsref, written from
// the format's documentation alone, and to what internal/partials'
// encoder wrote:
//
//   - TestRoundTrip: random messages built with partials.Message decode to
//     exactly what was encoded, as the reference reads them too;
//   - TestMalformed: messages the format refuses are refused, with
//     sample.ErrMalformed (sample.ErrTooLarge over MaxSeries), and route
//     nothing;
//   - TestWireSemantics: wire variants of a message (unknown fields, wire
//     types, repeated scalars, packed and unpacked values, long varints)
//     decode as protobuf-java reads them: to what the canonical message
//     decodes to;
//   - TestZeroAllocs: a warm decoder allocates nothing;
//   - FuzzDecode: on any input, the decoder and the reference make the same
//     decision and produce the same samples.
//
// Rows of the tables marked with a bug are inputs on which the decoder
// still disagrees with the format; while it does, they are skipped with
// the disagreement (go test -v lists them).

// row is one routed sample as the tests compare them, floats as bits.
type row struct {
	key        string
	time, req  int64
	unit       sample.Unit
	flags      uint8
	value      uint64
	has        uint8
	count, sum uint64
	min, max   uint64
	hist       string // bucket value bits:count, space-separated
}

func (r row) String() string {
	f := math.Float64frombits
	if r.flags&sample.FlagAgg == 0 {
		return fmt.Sprintf("{%q t=%d req=%d value %v unit %v flags %#x}", r.key, r.time, r.req, f(r.value), r.unit, r.flags)
	}
	return fmt.Sprintf("{%q t=%d req=%d unit %v has %#x count %v sum %v min %v max %v hist [%s]}",
		r.key, r.time, r.req, r.unit, r.has, f(r.count), f(r.sum), f(r.min), f(r.max), r.hist)
}

func bits(v float64) uint64 { return math.Float64bits(v) }

func histString(n int, bucket func(i int) (v float64, c uint64)) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(' ')
		}
		v, c := bucket(i)
		sb.WriteString(strconv.FormatUint(bits(v), 16) + ":" + strconv.FormatUint(c, 10))
	}
	return sb.String()
}

// decoded is one Decode call, its samples read back in routing order.
type decoded struct {
	rows   []row
	counts sample.Counts
	info   Info
	err    error
	routed int // route calls
}

// decode runs d on msg, routing over three batches, and checks what holds
// whatever the input: every routed sample was written, to the batch its
// hash routes to, with a canonical key and its hash.
func decode(t testing.TB, d *Decoder, msg []byte) decoded {
	t.Helper()
	var bs [3]sample.Batch
	type at struct{ b, i int }
	var order []at
	route := func(h uint64) *sample.Batch {
		b := int(h % 3)
		order = append(order, at{b, len(bs[b].Samples)})
		return &bs[b]
	}
	c, info, err := d.Decode(msg, route)
	out := decoded{counts: c, info: info, err: err, routed: len(order)}
	n := 0
	for i := range bs {
		n += len(bs[i].Samples)
	}
	if n != len(order) {
		t.Fatalf("%d samples written for %d route calls", n, len(order))
	}
	for _, a := range order {
		b := &bs[a.b]
		s := &b.Samples[a.i]
		key := b.Key(s)
		if s.Hash != sample.Hash(key) || s.Hash%3 != uint64(a.b) {
			t.Fatalf("sample %+v in batch %d: hash %x; key hash %x", s, a.b, s.Hash, sample.Hash(key))
		}
		if _, err := sample.ParseKey(key); err != nil {
			t.Fatalf("routed key %q: %v", key, err)
		}
		r := row{key: string(key), time: s.Time, req: s.ReqTime, unit: s.Unit, flags: s.Flags, value: bits(s.Value)}
		if s.Flags&sample.FlagAgg != 0 {
			g := &b.Aggs[s.Agg]
			h := b.HistOf(g)
			r.has, r.count, r.sum, r.min, r.max = g.Has, bits(g.Count), bits(g.Sum), bits(g.Min), bits(g.Max)
			r.hist = histString(len(h), func(i int) (float64, uint64) { return h[i].Value, h[i].Count })
		}
		out.rows = append(out.rows, r)
	}
	return out
}

// refRows turns the reference's samples into rows.
func refRows(res partialsref.Result) []row {
	var out []row
	for _, s := range res.Samples {
		r := row{key: string(s.Key), time: s.Time, req: s.ReqTime}
		if !s.Empty {
			r.unit, r.flags = s.Unit, sample.FlagAgg
			r.has = sample.HasCount
			for _, h := range []struct {
				ok   bool
				flag uint8
			}{{s.HasSum, sample.HasSum}, {s.HasMin, sample.HasMin}, {s.HasMax, sample.HasMax}, {s.HasHist, sample.HasHist}} {
				if h.ok {
					r.has |= h.flag
				}
			}
			r.count, r.sum, r.min, r.max = bits(float64(s.Count)), bits(s.Sum), bits(s.Min), bits(s.Max)
			r.hist = histString(len(s.Hist), func(i int) (float64, uint64) { return s.Hist[i].Value, s.Hist[i].Count })
		}
		out = append(out, r)
	}
	return out
}

// rowsDiff describes the first difference between two lists of rows.
func rowsDiff(got, want []row) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("sample %d:\n got  %v\n want %v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d samples; want %d", len(got), len(want))
	}
	return ""
}

// disagreement describes how the decoder's result differs from the
// reference's, or returns "".
func disagreement(got decoded, res partialsref.Result, rerr error) string {
	var de *sample.DecodeError
	switch {
	case got.err != nil && !errors.As(got.err, &de):
		return fmt.Sprintf("decoder error %v: not a *sample.DecodeError", got.err)
	case got.err != nil && got.routed != 0:
		return fmt.Sprintf("decoder refused (%v) after routing %d samples", got.err, got.routed)
	case rerr == nil && got.err != nil:
		return fmt.Sprintf("decoder refuses (%v); the reference accepts %d samples", got.err, len(res.Samples))
	case rerr == nil:
		if d := rowsDiff(got.rows, refRows(res)); d != "" {
			return "decoder and reference differ: " + d
		}
		if want := (sample.Counts{Records: res.Sets, Samples: len(res.Samples)}); got.counts != want {
			return fmt.Sprintf("counts %+v; want %+v", got.counts, want)
		}
		if want := (Info{Period: res.Period, StartMs: res.StartMs}); got.info != want {
			return fmt.Sprintf("info %+v; want %+v", got.info, want)
		}
	case got.err == nil:
		return fmt.Sprintf("decoder accepts (%d samples); the reference refuses: %v", len(got.rows), rerr)
	case errors.Is(rerr, sample.ErrTooLarge) && !errors.Is(got.err, sample.ErrTooLarge):
		return fmt.Sprintf("decoder: %v; the reference: %v", got.err, rerr)
	case !errors.Is(got.err, sample.ErrMalformed) && !errors.Is(got.err, sample.ErrTooLarge):
		// Malformed for the reference: the decoder may meet MaxSeries
		// before the fault, but refuses with nothing else.
		return fmt.Sprintf("decoder: %v; the reference: %v", got.err, rerr)
	}
	return ""
}

// Random messages, built with the encoder, and what they encode.

type bucket struct {
	key   uint32
	count uint64
}

type mSeries struct {
	s       partials.Series
	buckets []bucket
}

type mSet struct {
	dims   []sample.Dim
	wire   []byte // the dims field as written: nil, the empty section or the section
	minReq int64
	series []mSeries
}

type model struct {
	period uint64
	start  int64
	sets   []mSet
}

func (m *model) encode(enc *partials.Message) []byte {
	enc.Reset(m.period, m.start)
	for _, st := range m.sets {
		enc.Set(st.wire, st.minReq)
		for i := range st.series {
			sr := &st.series[i]
			sr.s.Keys, sr.s.Counts = sr.s.Keys[:0], sr.s.Counts[:0]
			for _, b := range sr.buckets {
				sr.s.Keys, sr.s.Counts = append(sr.s.Keys, b.key), append(sr.s.Counts, b.count)
			}
			enc.Series(&sr.s)
		}
	}
	return enc.Bytes()
}

func (m *model) nSeries() int {
	n := 0
	for _, st := range m.sets {
		n += len(st.series)
	}
	return n
}

// rows returns the samples m encodes, written from the format's
// documentation.
func (m *model) rows(t testing.TB) []row {
	t.Helper()
	var out []row
	for _, st := range m.sets {
		if len(st.series) == 0 {
			key, err := sample.AppendKey(nil, sample.KindNone, nil, st.dims)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, row{key: string(key), time: m.start, req: st.minReq})
			continue
		}
		for _, sr := range st.series {
			s := &sr.s
			kind := map[uint32]sample.Kind{1: sample.KindCounter, 2: sample.KindGauge, 3: sample.KindTimer, 5: sample.KindTimer}[s.Kind]
			key, err := sample.AppendKey(nil, kind, s.Name, st.dims)
			if err != nil {
				t.Fatal(err)
			}
			r := row{key: string(key), time: m.start, req: st.minReq, flags: sample.FlagAgg, has: sample.HasCount, count: bits(float64(s.Count))}
			if s.Unit != "" {
				u, ok := sample.ParseUnit(s.Unit)
				if !ok {
					t.Fatalf("unit %q", s.Unit)
				}
				r.unit = u
			}
			if s.HasSum {
				r.has, r.sum = r.has|sample.HasSum, bits(s.Sum)
			}
			if s.HasMin {
				r.has, r.min = r.has|sample.HasMin, bits(s.Min)
			}
			if s.HasMax {
				r.has, r.max = r.has|sample.HasMax, bits(s.Max)
			}
			if s.Hist || len(sr.buckets) > 0 {
				r.has |= sample.HasHist
			}
			r.hist = histString(len(sr.buckets), func(i int) (float64, uint64) {
				return math.Float64frombits(uint64(sr.buckets[i].key) << 45), sr.buckets[i].count
			})
			out = append(out, r)
		}
	}
	return out
}

var units = func() []string {
	var us []string
	for u := sample.Nanosecond; u.Valid(); u++ {
		us = append(us, u.String())
	}
	return us
}()

var names = []string{"latency", "requests", "bytes_sent", "é", "日本語", "a.b.c", "x", "GC pause", "\u2603"}

func randomFloat(r *rand.Rand) float64 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return float64(r.IntN(1000))
	case 3:
		return math.Float64frombits(r.Uint64() & (1<<52 - 1)) // subnormal
	case 4:
		return (r.Float64() - 0.5) * 1e300
	}
	for {
		if v := math.Float64frombits(r.Uint64()); !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v
		}
	}
}

func randomKey(r *rand.Rand) uint32 {
	k := r.Uint32N(1 << 19)
	if k>>7&0x7FF == 0x7FF {
		k &^= 1 << 7 // an exponent of all ones is not a bucket
	}
	return k
}

func randomDims(r *rand.Rand) ([]sample.Dim, []byte) {
	n := r.IntN(5)
	var dims []sample.Dim
	for range n {
		k := []byte{"hcsxz"[r.IntN(5)]}
		if r.IntN(3) == 0 {
			k = append(k, "ostéx"[r.IntN(5)])
		}
		v := []byte(names[r.IntN(len(names))])
		if r.IntN(4) == 0 {
			v = nil
		}
		dims = append(dims, sample.Dim{Key: k, Value: v})
	}
	if dup := sample.SortDims(dims); dup >= 0 {
		// Keep the first of each key.
		out := dims[:1]
		for _, d := range dims[1:] {
			if !bytes.Equal(d.Key, out[len(out)-1].Key) {
				out = append(out, d)
			}
		}
		dims = out
	}
	if len(dims) == 0 {
		switch r.IntN(3) {
		case 0:
			return nil, nil
		case 1:
			return nil, []byte{}
		}
	}
	return dims, partials.AppendDims(nil, len(dims), func(i int) (k, v []byte) { return dims[i].Key, dims[i].Value })
}

var periods = []uint64{1000, 5000, 10000, 60000}

// randomModel returns a message of up to maxSets sets of up to maxSeries
// series each.
func randomModel(r *rand.Rand, maxSets, maxSeries, maxBuckets int) *model {
	m := &model{period: periods[r.IntN(len(periods))]}
	m.start = int64(m.period) * (r.Int64N(1<<31) - 1<<30)
	for range r.IntN(maxSets + 1) {
		var st mSet
		st.dims, st.wire = randomDims(r)
		if r.IntN(2) == 0 {
			st.minReq = m.start + r.Int64N(int64(m.period)) - 10
		}
		if r.IntN(5) > 0 {
			for range r.IntN(maxSeries + 1) {
				st.series = append(st.series, randomSeries(r, maxBuckets))
			}
		}
		m.sets = append(m.sets, st)
	}
	return m
}

func randomSeries(r *rand.Rand, maxBuckets int) mSeries {
	var sr mSeries
	s := &sr.s
	s.Name = []byte(names[r.IntN(len(names))])
	if r.IntN(4) == 0 {
		s.Name = fmt.Appendf(s.Name, ".%d", r.IntN(100))
	}
	s.Kind = []uint32{1, 2, 3, 5}[r.IntN(4)]
	if r.IntN(2) == 0 {
		s.Unit = units[r.IntN(len(units))]
	}
	switch r.IntN(3) {
	case 0:
		s.Count = r.Uint64()
	default:
		s.Count = r.Uint64N(1000)
	}
	s.Sum, s.HasSum = randomFloat(r), r.IntN(3) > 0
	s.Min, s.HasMin = randomFloat(r), r.IntN(3) > 0
	s.Max, s.HasMax = randomFloat(r), r.IntN(3) > 0
	s.Hist = r.IntN(2) == 0
	if s.Hist || r.IntN(4) == 0 {
		for range r.IntN(maxBuckets + 1) {
			sr.buckets = append(sr.buckets, bucket{randomKey(r), r.Uint64N(1 << uint(r.IntN(64)))})
		}
	}
	return sr
}

// cfgOf is a configuration whose pipeline periods m's period divides.
func cfgOf(m *model) Config {
	p := time.Duration(m.period) * time.Millisecond
	return Config{Periods: []time.Duration{p, 6 * p, 60 * time.Minute}}
}

func refCfg(c Config) partialsref.Config {
	return partialsref.Config{Periods: c.Periods, MaxSeries: c.MaxSeries}
}

// TestRoundTrip: random messages decode to what was encoded, with a fresh
// decoder and with one reused across messages, and the reference reads
// them alike; MaxSeries is met exactly at the number of series.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	var enc partials.Message
	reused := map[uint64]*Decoder{}
	for i := range 300 {
		m := randomModel(r, 6, 6, 30)
		msg := m.encode(&enc)
		cfg := cfgOf(m)
		want := m.rows(t)
		if reused[m.period] == nil {
			reused[m.period] = NewDecoder(cfg)
		}
		for _, dec := range []*Decoder{NewDecoder(cfg), reused[m.period]} {
			got := decode(t, dec, msg)
			if got.err != nil {
				t.Fatalf("message %d: %v\n%x", i, got.err, msg)
			}
			if d := rowsDiff(got.rows, want); d != "" {
				t.Fatalf("message %d: %s\n%x", i, d, msg)
			}
			wantInfo := Info{Period: time.Duration(m.period) * time.Millisecond, StartMs: m.start}
			if wantC := (sample.Counts{Records: len(m.sets), Samples: len(want)}); got.counts != wantC || got.info != wantInfo {
				t.Fatalf("message %d: got %+v, %+v; want %+v, %+v", i, got.counts, got.info, wantC, wantInfo)
			}
		}
		res, err := partialsref.Decode(msg, refCfg(cfg))
		if err != nil {
			t.Fatalf("message %d: the reference refuses it: %v\n%x", i, err, msg)
		}
		if d := rowsDiff(refRows(res), want); d != "" {
			t.Fatalf("message %d: the reference: %s\n%x", i, d, msg)
		}
		if n := m.nSeries(); n > 1 { // MaxSeries 0: no limit
			for _, limit := range []int{n, n - 1} {
				cfg := cfg
				cfg.MaxSeries = limit
				got := decode(t, NewDecoder(cfg), msg)
				res, rerr := partialsref.Decode(msg, refCfg(cfg))
				if d := disagreement(got, res, rerr); d != "" {
					t.Fatalf("message %d, MaxSeries %d of %d: %s", i, limit, n, d)
				}
				if tooLarge := errors.Is(got.err, sample.ErrTooLarge); tooLarge != (limit < n) {
					t.Fatalf("message %d, MaxSeries %d of %d: %v", i, limit, n, got.err)
				}
			}
		}
	}
}

// Hand-made messages.

// pb builds protobuf bytes field by field.
type pb []byte

func (b pb) v(num protowire.Number, x uint64) pb {
	return protowire.AppendVarint(protowire.AppendTag(b[:len(b):len(b)], num, protowire.VarintType), x)
}

func (b pb) bytes(num protowire.Number, p []byte) pb {
	return protowire.AppendBytes(protowire.AppendTag(b[:len(b):len(b)], num, protowire.BytesType), p)
}

func (b pb) str(num protowire.Number, s string) pb { return b.bytes(num, []byte(s)) }

func (b pb) f64(num protowire.Number, x float64) pb {
	return protowire.AppendFixed64(protowire.AppendTag(b[:len(b):len(b)], num, protowire.Fixed64Type), bits(x))
}

func (b pb) raw(x ...byte) pb { return append(b[:len(b):len(b)], x...) }

// packed is the payload of packed varints.
func packed(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, v)
	}
	return b
}

const (
	tPeriod = 10000
	tStart  = 1_700_000_000_000
)

func hdr() pb { return pb(nil).v(1, 1).v(2, tPeriod).v(3, tStart) }

// dimsOf is the dimension section of sorted pairs k1, v1, k2, v2, ….
func dimsOf(kv ...string) []byte {
	return partials.AppendDims(nil, len(kv)/2, func(i int) (k, v []byte) { return []byte(kv[2*i]), []byte(kv[2*i+1]) })
}

// ser is a series with a name, a kind and a count of 1, and more fields.
func ser(name string, kind uint64, more ...pb) pb {
	b := pb(nil).str(1, name).v(2, kind).v(4, 1)
	for _, m := range more {
		b = b.raw(m...)
	}
	return b
}

// setOf is a set of dims host=a with series ss.
func setOf(ss ...pb) pb {
	b := pb(nil).bytes(1, dimsOf("host", "a"))
	for _, s := range ss {
		b = b.bytes(3, s)
	}
	return b
}

// oneSet is a message of the test bucket with one set of dims host=a.
func oneSet(ss ...pb) pb { return hdr().bytes(4, setOf(ss...)) }

func nested(open, close byte, n int) pb {
	return pb(append(bytes.Repeat([]byte{open}, n), bytes.Repeat([]byte{close}, n)...))
}

type malformedCase struct {
	name string
	msg  []byte
	cfg  Config
	want error // sample.ErrMalformed or sample.ErrTooLarge
	bug  string
}

func malformedCases() []malformedCase {
	timer := ser("t", 3)
	long := strings.Repeat("n", sample.MaxKeyLen-1-3-len(dimsOf("host", "a"))+1) // one byte too long
	bad := sample.ErrMalformed
	negStart := int64(-tStart)
	return []malformedCase{
		{name: "empty message", msg: nil, want: bad},
		{name: "no version", msg: pb(nil).v(2, tPeriod).v(3, tStart).bytes(4, setOf(timer)), want: bad},
		{name: "version 0", msg: pb(nil).v(1, 0).v(2, tPeriod).v(3, tStart), want: bad},
		{name: "version 2", msg: pb(nil).v(1, 2).v(2, tPeriod).v(3, tStart), want: bad},
		{name: "version 1 then 2", msg: hdr().v(1, 2), want: bad},
		{name: "version as fixed64 only", msg: pb(nil).f64(1, 1).v(2, tPeriod), want: bad},
		{name: "version 2^32: 0 as uint32", msg: pb(nil).v(1, 1<<32).v(2, tPeriod), want: bad},
		{name: "no period", msg: pb(nil).v(1, 1).v(3, tStart), want: bad},
		{name: "period 0", msg: pb(nil).v(1, 1).v(2, 0), want: bad},
		{name: "period beyond a time.Duration", msg: pb(nil).v(1, 1).v(2, uint64(math.MaxInt64/int64(time.Millisecond)+1)), want: bad},
		{name: "period_ms the longest", msg: pb(nil).v(1, 1).v(2, uint64(math.MaxInt64/int64(time.Millisecond))), want: nil},
		{name: "period 2^64-1", msg: pb(nil).v(1, 1).v(2, math.MaxUint64), want: bad},
		{name: "start not a multiple of the period", msg: pb(nil).v(1, 1).v(2, tPeriod).v(3, tStart+1).bytes(4, setOf(timer)), want: bad},
		{name: "start negative, not a multiple", msg: pb(nil).v(1, 1).v(2, tPeriod).v(3, uint64(negStart+1)), want: bad},
		{name: "period does not divide the pipeline's", msg: oneSet(timer), cfg: Config{Periods: []time.Duration{time.Minute, 15 * time.Second}}, want: bad},
		{name: "pipeline period shorter", msg: oneSet(timer), cfg: Config{Periods: []time.Duration{time.Second}}, want: bad},
		{name: "pipeline period not whole ms", msg: oneSet(timer), cfg: Config{Periods: []time.Duration{10*time.Second + time.Microsecond}}, want: bad},

		// The wire.
		{name: "truncated", msg: oneSet(timer)[:len(oneSet(timer))-1], want: bad},
		{name: "truncated varint", msg: hdr().raw(0x08, 0x80), want: bad},
		{name: "varint of 11 bytes", msg: hdr().raw(0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), want: bad},
		{name: "tag of field 0", msg: hdr().raw(0x00, 0x00), want: bad},
		{name: "tag of field 0 beyond 32 bits", msg: hdr().raw(0x80, 0x80, 0x80, 0x80, 0x10, 0x00), want: bad},
		{name: "wire type 6", msg: hdr().raw(0x0e), want: bad},
		{name: "wire type 7 in a set", msg: hdr().bytes(4, setOf(timer).raw(0x7f)), want: bad},
		{name: "wire type 6 in a series", msg: oneSet(timer.raw(0x16)), want: bad},
		{name: "end group outside a group", msg: hdr().raw(0x0c), want: bad},
		{name: "end group in a series", msg: oneSet(ser("t", 3).raw(0x64)), want: bad},
		{name: "group not closed", msg: hdr().raw(0x2b, 0x08, 0x01), want: bad},
		{name: "group closed by another number", msg: hdr().raw(0x2b, 0x34), want: bad},
		{name: "group in a series not closed", msg: oneSet(timer.raw(0x5b)), want: bad},
		{name: "groups 101 deep", msg: hdr().raw(nested(0x5b, 0x5c, 101)...), want: bad},
		{name: "groups 99 deep in a series", msg: oneSet(timer.raw(nested(0x5b, 0x5c, 99)...)), want: bad},
		{name: "malformed field in a group", msg: hdr().raw(0x2b, 0x0a, 0x05, 0x2c), want: bad},
		{name: "negative length", msg: hdr().raw(0x22, 0xff, 0xff, 0xff, 0xff, 0x0f), want: bad},
		{name: "length past the end", msg: hdr().raw(0x22, 0x05, 0x0a, 0x00), want: bad},
		{name: "length past the set's end", msg: hdr().bytes(4, pb(nil).raw(0x1a, 0x03, 0x08)), want: bad},
		{name: "unknown field truncated in a series", msg: oneSet(timer.raw(0x79, 0x01, 0x02)), want: bad},
		{name: "fixed32 truncated", msg: hdr().raw(0x7d, 0x01), want: bad},

		// Dimension sections.
		{name: "dims unsorted", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{2, 1, 'b', 0, 1, 'a', 0}).bytes(3, timer)), want: bad},
		{name: "dims duplicate key", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{2, 1, 'a', 1, 'x', 1, 'a', 1, 'y'}).bytes(3, timer)), want: bad},
		{name: "dims byte left over", msg: hdr().bytes(4, pb(nil).bytes(1, append(dimsOf("a", "x"), 0)).bytes(3, timer)), want: bad},
		{name: "dims count beyond the pairs", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{2, 1, 'a', 0}).bytes(3, timer)), want: bad},
		{name: "dims value past the end", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{1, 1, 'a', 3, 'x'}).bytes(3, timer)), want: bad},
		{name: "dims count not shortest", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{0x81, 0x00, 1, 'a', 0}).bytes(3, timer)), want: bad},
		{name: "dims length not shortest", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{1, 0x81, 0x00, 'a', 0}).bytes(3, timer)), want: bad},
		{name: "dims count overflows", msg: hdr().bytes(4, pb(nil).bytes(1, bytes.Repeat([]byte{0xff}, 11)).bytes(3, timer)), want: bad},
		{name: "dims zero count and more", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{0, 0}).bytes(3, timer)), want: bad},
		{name: "dims of an empty set", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{5})), want: bad},
		{name: "dims bad, then good", msg: hdr().bytes(4, pb(nil).bytes(1, []byte{5}).bytes(1, dimsOf("a", "b")).bytes(3, timer)), want: nil},

		// Series.
		{name: "no name", msg: oneSet(pb(nil).v(2, 3).v(4, 1)), want: bad},
		{name: "empty name", msg: oneSet(ser("", 3)), want: bad},
		{name: "name not UTF-8", msg: oneSet(ser("a\xffb", 3)), want: bad},
		{name: "name not UTF-8, then UTF-8: the last wins", msg: oneSet(ser("a\xff", 3, pb(nil).str(1, "ok"))), want: nil},
		{name: "name then empty name", msg: oneSet(ser("t", 3, pb(nil).str(1, ""))), want: bad},
		{name: "name surrogate", msg: oneSet(ser("\xed\xa0\x80", 3)), want: bad},
		{name: "no kind", msg: oneSet(pb(nil).str(1, "t").v(4, 1)), want: bad},
		{name: "kind 0", msg: oneSet(ser("t", 0)), want: bad},
		{name: "kind 4", msg: oneSet(ser("t", 4)), want: bad},
		{name: "kind 6", msg: oneSet(ser("t", 6)), want: bad},
		{name: "kind 2^32: 0 as uint32", msg: oneSet(ser("t", 1<<32)), want: bad},
		{name: "kind 3 then 4", msg: oneSet(ser("t", 3, pb(nil).v(2, 4))), want: bad},
		{name: "unit not MAD's", msg: oneSet(ser("t", 3, pb(nil).str(3, "FOO"))), want: bad},
		{name: "unit lower case", msg: oneSet(ser("t", 3, pb(nil).str(3, "second"))), want: bad},
		{name: "unit not UTF-8", msg: oneSet(ser("t", 3, pb(nil).str(3, "SECOND\xff"))), want: bad},
		{name: "unit not UTF-8, then a unit: the last wins", msg: oneSet(ser("t", 3, pb(nil).str(3, "\xff").str(3, "SECOND"))), want: nil},
		{name: "unit empty: none (proto3)", msg: oneSet(ser("t", 3, pb(nil).str(3, ""))), want: nil},
		{name: "unit not MAD's, then a unit: the last wins", msg: oneSet(ser("t", 3, pb(nil).str(3, "FOO").str(3, "SECOND"))), want: nil},
		{name: "a unit, then not MAD's", msg: oneSet(ser("t", 3, pb(nil).str(3, "SECOND").str(3, "FOO"))), want: bad},
		{name: "name UTF-8, then not", msg: oneSet(ser("ok", 3, pb(nil).str(1, "a\xff"))), want: bad},
		{name: "sum NaN", msg: oneSet(ser("t", 3, pb(nil).f64(5, math.NaN()))), want: bad},
		{name: "min +Inf", msg: oneSet(ser("t", 3, pb(nil).f64(6, math.Inf(1)))), want: bad},
		{name: "max -Inf", msg: oneSet(ser("t", 3, pb(nil).f64(7, math.Inf(-1)))), want: bad},
		{name: "sum 1 then NaN", msg: oneSet(ser("t", 3, pb(nil).f64(5, 1).f64(5, math.NaN()))), want: bad},
		{name: "more keys than counts", msg: oneSet(ser("t", 3, pb(nil).bytes(8, packed(1, 2)).bytes(9, packed(1)))), want: bad},
		{name: "keys without counts", msg: oneSet(ser("t", 3, pb(nil).bytes(8, packed(1)))), want: bad},
		{name: "counts without keys", msg: oneSet(ser("t", 3, pb(nil).bytes(9, packed(1)))), want: bad},
		{name: "key 2^19", msg: oneSet(ser("t", 3, pb(nil).bytes(8, packed(1<<19)).bytes(9, packed(1)))), want: bad},
		{name: "key +Inf", msg: oneSet(ser("t", 3, pb(nil).bytes(8, packed(0x7FF<<7)).bytes(9, packed(1)))), want: bad},
		{name: "key NaN", msg: oneSet(ser("t", 3, pb(nil).bytes(8, packed(0x7FF<<7|5)).bytes(9, packed(1)))), want: bad},
		{name: "key -Inf", msg: oneSet(ser("t", 3, pb(nil).bytes(8, packed(1<<18|0x7FF<<7)).bytes(9, packed(1)))), want: bad},
		{name: "packed keys truncated", msg: oneSet(ser("t", 3, pb(nil).bytes(8, []byte{0x80}).bytes(9, packed(1)))), want: bad},
		{name: "packed counts of 11 bytes", msg: oneSet(ser("t", 3, pb(nil).bytes(8, packed(1)).bytes(9, bytes.Repeat([]byte{0xff}, 11)))), want: bad},
		{name: "key one byte too long", msg: oneSet(ser(long, 3)), want: bad},
		{name: "key too long in the second set", msg: hdr().bytes(4, setOf(timer)).bytes(4, pb(nil).bytes(1, dimsOf("a", strings.Repeat("v", 40000))).bytes(3, ser(strings.Repeat("n", 30000), 1))), want: bad},
		{name: "empty set's key too long", msg: hdr().bytes(4, pb(nil).bytes(1, dimsOf("a", strings.Repeat("v", sample.MaxKeyLen)))), want: bad},
		{name: "bad series after good ones", msg: hdr().bytes(4, setOf(timer, timer)).bytes(4, setOf(timer, ser("t", 9))), want: bad},

		// Limits.
		{name: "MaxSeries", msg: oneSet(timer, timer, timer), cfg: Config{MaxSeries: 2}, want: sample.ErrTooLarge},
		{name: "MaxSeries across sets", msg: hdr().bytes(4, setOf(timer, timer)).bytes(4, setOf()).bytes(4, setOf(timer, timer)), cfg: Config{MaxSeries: 3}, want: sample.ErrTooLarge},
		{name: "MaxSeries met", msg: hdr().bytes(4, setOf(timer, timer)).bytes(4, setOf()).bytes(4, setOf(timer)), cfg: Config{MaxSeries: 3}, want: nil},
	}
}

// TestMalformed: each message is refused with the error expected, by the
// decoder and the reference, and routes nothing (want nil: both accept it,
// the table's control rows).
func TestMalformed(t *testing.T) {
	for _, c := range malformedCases() {
		t.Run(c.name, func(t *testing.T) {
			res, rerr := partialsref.Decode(c.msg, refCfg(c.cfg))
			if (c.want == nil) != (rerr == nil) || (c.want != nil && !errors.Is(rerr, c.want)) {
				t.Fatalf("the reference: %v; want %v", rerr, c.want)
			}
			got := decode(t, NewDecoder(c.cfg), c.msg)
			if d := disagreement(got, res, rerr); d != "" {
				if c.bug != "" {
					t.Skipf("known decoder bug (%s): %s", c.bug, d)
				}
				t.Fatal(d)
			}
			if c.want != nil && !errors.Is(got.err, c.want) {
				t.Fatalf("got %v; want %v", got.err, c.want)
			}
			if c.bug != "" {
				t.Fatalf("the decoder agrees now: remove the bug note %q", c.bug)
			}
		})
	}
}

type wireCase struct {
	name               string
	variant, canonical []byte
	bug                string
}

func wireCases() []wireCase {
	base := ser("t", 3, pb(nil).str(3, "SECOND").f64(5, 2.5).f64(6, 0.5).f64(7, 2).bytes(8, packed(1, 2, 0x3ff<<7)).bytes(9, packed(7, 8, 9)))
	unknown := pb(nil).v(20, 1).f64(21, 1).raw(0xad, 0x01, 1, 2, 3, 4).str(23, "x").raw(0xc3, 0x01, 0x08, 0x01, 0x12, 0x00, 0xc4, 0x01) // fields 20–24
	// The long encodings protobuf-java accepts.
	long1 := []byte{0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e} // 1, tenth byte's high bits dropped
	neg := int64(-tStart)
	tag1 := func(typ byte) []byte { return []byte{0x80 | 1<<3 | typ, 0x80, 0x80, 0x80, 0x70} } // field 1: bits beyond 32 dropped
	len5 := []byte{0x85, 0x80, 0x80, 0x80, 0x70}                                               // length 5, bits beyond 32 dropped
	return []wireCase{
		{name: "unknown fields everywhere",
			variant:   unknown.v(1, 1).v(2, tPeriod).raw(unknown...).v(3, tStart).bytes(4, pb(nil).raw(unknown...).bytes(1, dimsOf("host", "a")).bytes(3, base.raw(unknown...)).raw(unknown...)).raw(unknown...),
			canonical: oneSet(base)},
		{name: "known numbers, other wire types",
			variant:   pb(nil).v(1, 1).str(1, "x").f64(2, 7).v(2, tPeriod).v(3, tStart).raw(0x1d, 1, 2, 3, 4).v(4, 7).bytes(4, setOf(base).v(1, 3).v(3, 1).f64(2, 1).raw(0x13, 0x14)),
			canonical: oneSet(base)},
		{name: "series fields of other wire types",
			variant:   oneSet(ser("t", 3, pb(nil).v(1, 5).str(2, "x").v(3, 1).f64(4, 1).v(5, 1).v(6, 1).str(7, "x").f64(8, 1).f64(9, 1).f64(10, 1).raw(0x53, 0x54))),
			canonical: oneSet(ser("t", 3))},
		{name: "last occurrence wins",
			variant:   pb(nil).v(1, 7).v(2, 1).v(3, 5).v(1, 1).v(2, tPeriod).v(3, tStart).bytes(4, pb(nil).bytes(1, dimsOf("z", "z")).v(2, 9).bytes(1, dimsOf("host", "a")).v(2, 0).bytes(3, ser("x", 9, pb(nil).v(4, 5).str(1, "t").v(2, 3).str(3, "BYTE").str(3, "SECOND").f64(5, math.NaN()).f64(5, 2.5).f64(6, 0.5).f64(7, math.Inf(1)).f64(7, 2).bytes(8, packed(1, 2, 0x3ff<<7)).bytes(9, packed(7, 8, 9)).v(4, 1)))),
			canonical: oneSet(base)},
		{name: "packed values concatenate",
			variant:   oneSet(ser("t", 3, pb(nil).str(3, "SECOND").f64(5, 2.5).f64(6, 0.5).f64(7, 2).bytes(8, packed(1)).bytes(9, packed(7, 8)).bytes(8, nil).bytes(8, packed(2, 0x3ff<<7)).bytes(9, packed(9)))),
			canonical: oneSet(base)},
		{name: "keys unpacked",
			variant:   oneSet(ser("t", 3, pb(nil).str(3, "SECOND").f64(5, 2.5).f64(6, 0.5).f64(7, 2).v(8, 1).v(8, 2).v(8, 0x3ff<<7).bytes(9, packed(7, 8, 9)))),
			canonical: oneSet(base)},
		{name: "counts unpacked, keys mixed",
			variant:   oneSet(ser("t", 3, pb(nil).str(3, "SECOND").f64(5, 2.5).f64(6, 0.5).f64(7, 2).v(9, 7).bytes(8, packed(1)).v(8, 2).bytes(9, packed(8)).bytes(8, packed(0x3ff<<7)).v(9, 9))),
			canonical: oneSet(base)},
		{name: "hist true then false",
			variant:   oneSet(ser("t", 3, pb(nil).v(10, 1).v(10, 0))),
			canonical: oneSet(ser("t", 3))},
		{name: "hist 2", variant: oneSet(ser("t", 3, pb(nil).v(10, 2))), canonical: oneSet(ser("t", 3, pb(nil).v(10, 1)))},
		{name: "version 2^32+1 is 1 as uint32",
			variant:   pb(nil).v(1, 1<<32|1).v(2, tPeriod).v(3, tStart).bytes(4, setOf(base)),
			canonical: oneSet(base)},
		{name: "kind 2^32+1 is 1 as uint32",
			variant:   oneSet(ser("t", 1<<32|1)),
			canonical: oneSet(ser("t", 1))},
		{name: "key 2^32+1 is 1 as uint32",
			variant:   oneSet(ser("t", 3, pb(nil).bytes(8, packed(1<<32|1)).bytes(9, packed(4)))),
			canonical: oneSet(ser("t", 3, pb(nil).bytes(8, packed(1)).bytes(9, packed(4))))},
		{name: "kind 5 is a timer", variant: oneSet(ser("t", 5)), canonical: oneSet(ser("t", 3))},
		{name: "long varint: tenth byte's bits dropped",
			variant:   pb(nil).raw(0x08).raw(long1...).v(2, tPeriod).v(3, tStart).bytes(4, setOf(ser("t", 3, pb(nil).raw(0x20).raw(long1...)))),
			canonical: oneSet(ser("t", 3))},
		{name: "long tags and lengths",
			variant:   pb(nil).raw(tag1(0)...).raw(1).v(2, tPeriod).v(3, tStart).bytes(4, pb(nil).bytes(1, dimsOf("host", "a")).raw(0x1a).raw(len5...).raw(0x0a, 0x01, 't', 0x10, 0x03)),
			canonical: oneSet(pb(nil).str(1, "t").v(2, 3))},
		{name: "non-minimal varints",
			variant:   pb(nil).raw(0x88, 0x00, 0x81, 0x80, 0x00).v(2, tPeriod).v(3, tStart).bytes(4, setOf(ser("t", 3, pb(nil).raw(0x20, 0x81, 0x00)))),
			canonical: oneSet(ser("t", 3))},
		{name: "empty dims, absent dims, the empty section",
			variant:   hdr().bytes(4, pb(nil).bytes(1, nil).bytes(3, ser("t", 3))).bytes(4, pb(nil).bytes(3, ser("t", 3))).bytes(4, pb(nil).bytes(1, []byte{0}).bytes(3, ser("t", 3))),
			canonical: hdr().bytes(4, pb(nil).bytes(1, []byte{0}).bytes(3, ser("t", 3))).bytes(4, pb(nil).bytes(1, []byte{0}).bytes(3, ser("t", 3))).bytes(4, pb(nil).bytes(3, ser("t", 3)))},
		{name: "empty sets", variant: hdr().bytes(4, nil).bytes(4, pb(nil).v(2, 5)), canonical: hdr().bytes(4, pb(nil).bytes(1, []byte{0})).bytes(4, pb(nil).v(2, 5).bytes(1, nil))},
		{name: "groups 100 deep", variant: hdr().raw(nested(0x5b, 0x5c, 100)...).bytes(4, setOf(base)), canonical: oneSet(base)},
		{name: "groups 98 deep in a series", variant: oneSet(base.raw(nested(0x5b, 0x5c, 98)...)), canonical: oneSet(base)},
		{name: "key of MaxKeyLen", variant: oneSet(ser(strings.Repeat("n", sample.MaxKeyLen-1-3-len(dimsOf("host", "a"))), 1, pb(nil).v(20, 1))),
			canonical: oneSet(ser(strings.Repeat("n", sample.MaxKeyLen-1-3-len(dimsOf("host", "a"))), 1))},
		{name: "negative start and minimum request time",
			variant:   pb(nil).v(1, 1).v(2, tPeriod).v(3, uint64(neg)).bytes(4, pb(nil).v(2, uint64(1<<63)).bytes(3, ser("t", 3))),
			canonical: pb(nil).v(1, 1).v(2, tPeriod).v(3, uint64(neg)).bytes(4, pb(nil).bytes(1, []byte{0}).bytes(3, ser("t", 3)).v(2, uint64(1<<63)))},
	}
}

// TestWireSemantics: each variant decodes, for the reference and for the
// decoder, to what its canonical form decodes to.
func TestWireSemantics(t *testing.T) {
	for _, c := range wireCases() {
		t.Run(c.name, func(t *testing.T) {
			want, err := partialsref.Decode(c.canonical, partialsref.Config{})
			if err != nil {
				t.Fatalf("the reference refuses the canonical message: %v", err)
			}
			ref, err := partialsref.Decode(c.variant, partialsref.Config{})
			if err != nil {
				t.Fatalf("the reference refuses the variant: %v", err)
			}
			if d := rowsDiff(refRows(ref), refRows(want)); d != "" || ref.Sets != want.Sets {
				t.Fatalf("the reference reads the variant (%d sets) and the canonical message (%d sets) differently: %s", ref.Sets, want.Sets, d)
			}
			if d := disagreement(decode(t, NewDecoder(Config{}), c.canonical), want, nil); d != "" {
				t.Fatalf("canonical message: %s", d)
			}
			if d := disagreement(decode(t, NewDecoder(Config{}), c.variant), want, nil); d != "" {
				if c.bug != "" {
					t.Skipf("known decoder bug (%s): %s", c.bug, d)
				}
				t.Fatal(d)
			}
			if c.bug != "" {
				t.Fatalf("the decoder agrees now: remove the bug note %q", c.bug)
			}
		})
	}
}

// realistic is a message of sets×perSet series: a tenth counters, a tenth
// gauges, the rest timers with units and about 20 buckets each, every set
// a host's dimensions.
//
// With tierMix, the series are S1 workload A's mix instead (BenchmarkKafkaTier's):
// 60 % counters, 20 % gauges, 20 % timers.
func realistic(sets, perSet int, tierMix bool) (msg []byte, rows int) {
	r := rand.New(rand.NewPCG(1, 2))
	var enc partials.Message
	enc.Reset(10000, tStart)
	for i := range sets {
		dims := dimsOf("cluster", "prod-eu-1", "host", fmt.Sprintf("web-%03d.example.com", i), "service", "checkout")
		enc.Set(dims, tStart+1234)
		for j := range perSet {
			s := partials.Series{Name: fmt.Appendf(nil, "checkout/request/latency_%d", j), Kind: partials.KindTimer, Unit: "MILLISECOND",
				Count: 20 + r.Uint64N(500), HasSum: true, HasMin: true, HasMax: true, Hist: true}
			switch c, g := j%10 == 0, j%10 == 1; {
			case tierMix:
				c, g = j%10 < 6, j%10 == 6 || j%10 == 7
				fallthrough
			default:
				if c {
					s.Kind, s.Unit, s.Hist, s.HasMin, s.HasMax = partials.KindCounter, "", false, false, false
				} else if g {
					s.Kind, s.Unit, s.Hist = partials.KindGauge, "BYTE", false
				}
			}
			s.Sum, s.Min, s.Max = r.Float64()*1e4, r.Float64(), 1e3+r.Float64()
			if s.Hist {
				for k := range 18 + r.IntN(5) {
					s.Keys = append(s.Keys, uint32(bits(float64(1+k*k))>>45))
					s.Counts = append(s.Counts, 1+r.Uint64N(50))
				}
			}
			enc.Series(&s)
		}
	}
	return append([]byte(nil), enc.Bytes()...), enc.Rows()
}

// TestZeroAllocs: a warm decoder allocates nothing per message.
func TestZeroAllocs(t *testing.T) {
	msg, rows := realistic(50, 20, false)
	d := NewDecoder(Config{Periods: []time.Duration{time.Minute}, MaxSeries: 100000})
	var bs [4]sample.Batch
	route := func(h uint64) *sample.Batch { return &bs[h&3] }
	run := func() {
		for i := range bs {
			bs[i].Reset()
		}
		c, _, err := d.Decode(msg, route)
		if err != nil || c.Samples != rows {
			t.Fatalf("got %+v, %v; want %d samples", c, err, rows)
		}
	}
	for range 3 {
		run()
	}
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Fatalf("got %v allocations per message; want 0", n)
	}
}

// BenchmarkDecode: a message of 1000 series in 50 sets (timers with about
// 20 buckets) to samples in four batches.
//
//	go test ./ingest/partials -run '^$' -bench Decode -count 6
//
// BenchmarkDecode: a message of 50 sets of 20 series, mostly timers
// ("timers": 80 % timers with about 20 buckets), or S1 workload A's mix
// ("tier": 60 % counters, 20 % gauges, 20 % timers), as the tier reads.
func BenchmarkDecode(b *testing.B) {
	for _, mix := range []struct {
		name string
		tier bool
	}{{"timers", false}, {"tier", true}} {
		b.Run(mix.name, func(b *testing.B) {
			msg, rows := realistic(50, 20, mix.tier)
			d := NewDecoder(Config{Periods: []time.Duration{time.Minute}})
			var bs [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&3] }
			if _, _, err := d.Decode(msg, route); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i := range bs {
					bs[i].Reset()
				}
				if _, _, err := d.Decode(msg, route); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// FuzzDecode decodes any input with two configurations, each with a fresh
// decoder and with one reused across inputs, and checks that the decoder
// never panics, fails only with a *sample.DecodeError of kind ErrMalformed
// or ErrTooLarge and then routes nothing, routes only canonical keys with
// their hashes, agrees with the reference (partialsref) on the decision and
// on every sample, bit for bit, and decides and routes alike when reused:
//
//	go test ./ingest/partials -run '^$' -fuzz '^FuzzDecode$' -fuzztime 2m
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	configs := []Config{
		{Periods: []time.Duration{time.Minute, time.Hour}},
		{MaxSeries: 3},
	}
	reused := make([]*Decoder, len(configs))
	for i, c := range configs {
		reused[i] = NewDecoder(c)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// The input as a message, and as the payload of a set and of a
		// series in a well-formed message: mutations inside a set or a
		// series need not keep the lengths around them right.
		for _, msg := range [][]byte{in, hdr().bytes(4, in), hdr().bytes(4, pb(nil).bytes(3, in))} {
			checkFuzz(t, msg, configs, reused)
		}
	})
}

func checkFuzz(t *testing.T, msg []byte, configs []Config, reused []*Decoder) {
	for i, cfg := range configs {
		got := decode(t, NewDecoder(cfg), msg)
		res, rerr := partialsref.Decode(msg, refCfg(cfg))
		if d := disagreement(got, res, rerr); d != "" {
			t.Fatalf("config %+v: %s\nmessage %x", cfg, d, msg)
		}
		again := decode(t, reused[i], msg)
		if fmt.Sprint(again.err) != fmt.Sprint(got.err) || again.counts != got.counts || again.info != got.info || rowsDiff(again.rows, got.rows) != "" {
			t.Fatalf("config %+v: a reused decoder: %v, %+v; a fresh one: %v, %+v\nmessage %x", cfg, again.err, again.counts, got.err, got.counts, msg)
		}
	}
}

// fuzzSeeds: small encoder-built messages, a few sets and series (which
// the fuzz target also wraps in a message), and the tables' messages the
// decoder is known to read right (a seed it gets wrong would fail go test).
func fuzzSeeds() [][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	var enc partials.Message
	var out [][]byte
	for range 12 {
		m := randomModel(r, 3, 3, 4)
		out = append(out, append([]byte(nil), m.encode(&enc)...))
	}
	series := ser("t", 3, pb(nil).str(3, "SECOND").f64(5, 2.5).f64(6, 0.5).f64(7, 2).bytes(8, packed(1, 2, 0x3ff<<7)).bytes(9, packed(7, 8, 9)).v(10, 1))
	out = append(out, series, setOf(series, ser("g", 2)), pb(nil).bytes(1, dimsOf("a", "1", "b", "")).v(2, tStart))
	for _, c := range malformedCases() {
		if c.bug == "" && len(c.msg) < 1024 {
			out = append(out, c.msg)
		}
	}
	for _, c := range wireCases() {
		if len(c.canonical) < 1024 {
			out = append(out, c.canonical)
		}
		if c.bug == "" && len(c.variant) < 1024 {
			out = append(out, c.variant)
		}
	}
	return out
}
