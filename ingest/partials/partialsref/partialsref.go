// Package partialsref is a slow reference decoder for mad's partials format
// (the package documentation of internal/partials), written from that
// documentation alone, independently of package ingest/partials and of
// internal/pbwire. It works in three plain steps:
//
//  1. parse the whole message into structures, field by field, as
//     protobuf-java's generated parser would (its rules below);
//  2. check everything the format requires;
//  3. build every sample, with internal/sample's canonical keys.
//
// Protobuf-java's rules, as this package applies them (CodedInputStream and
// the generated parseFrom):
//
//   - a varint is at most ten bytes; the bits beyond 64 of a tenth byte are
//     dropped; eleven bytes or more, or a varint cut by the end of its
//     message, are malformed;
//   - a tag is the low 32 bits of its varint; field number 0 is malformed;
//     wire types 6 and 7 are malformed; an end-group tag outside a group is
//     malformed;
//   - a length prefix is the low 32 bits of its varint read as a Java int:
//     negative, or past the end of its message, is malformed;
//   - a uint32 field (version, kind, hist_keys) is the low 32 bits of its
//     varint; a uint64 or int64 field all 64; a bool is true unless 0;
//   - an unknown field, including a known field number with a wire type
//     other than its own, is skipped, and must still be well-formed; a
//     group (start-group tag) is skipped to its matching end-group tag;
//     messages and groups nest at most 100 deep, counting from the fields
//     of the top-level message (depth 0: a group may start from fields at
//     depths 0 to 99);
//   - a singular scalar field that occurs more than once: the last one
//     wins;
//   - a repeated scalar field (hist_keys, hist_counts) may come packed (one
//     length-delimited field of varints) or not (one varint field per
//     value), in any mix; its values concatenate in wire order;
//   - a length-delimited singular field (name, unit) that occurs more than
//     once: the last one wins, and only it is checked.
//
// What the format requires on top (anything else is malformed):
//
//   - version present and 1; period_ms > 0 (and small enough to be a
//     time.Duration in ms); start_ms a multiple of period_ms; each period of
//     the pipeline (Config.Periods) a multiple of the message's period;
//   - a set's dims: absent or empty means no dimensions; otherwise a whole
//     dimension section: uvarint(count), then count pairs of
//     uvarint(len)-prefixed key and value, keys in strictly increasing
//     byte order, no byte left over, every uvarint in its shortest form
//     (the section is a series identity: one map, one encoding);
//   - a series' name present, not empty and valid UTF-8;
//   - kind 1 counter, 2 gauge, 3 timer, 5 (by name) timer; any other value
//     (0 when absent) is refused;
//   - unit: one of MAD's unit enum names (sample.ParseUnit); absent or
//     empty (proto3's default): none;
//   - sum, min and max finite (whichever occur; the last occurrence counts);
//   - as many hist_counts as hist_keys; each key below 2^19 (sign, 11
//     exponent bits, 7 mantissa bits) and its exponent not all ones (not
//     ±Inf or NaN); the bucket's value is Float64frombits(key << 45);
//   - every key the message produces at most sample.MaxKeyLen bytes,
//     including the key of an empty set's sample.
//
// A message with more series than Config.MaxSeries (when > 0) that is
// otherwise well-formed is refused with sample.ErrTooLarge.
//
// It allocates freely; it is for tests (the ingest/partials package's tests
// and fuzzer).
package partialsref

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/sample"
)

// Config is what a decoder of the format is configured with.
type Config struct {
	// Periods are the periods of the pipeline the samples go to; each must
	// be a multiple of the message's period.
	Periods []time.Duration
	// MaxSeries bounds the series of a message (0: no bound).
	MaxSeries int
}

// Bucket is one histogram bucket: Count samples at Value.
type Bucket struct {
	Value float64
	Count uint64
}

// Sample is one sample a message produces.
type Sample struct {
	// Key is the canonical series key (sample.AppendKey).
	Key []byte
	// Time is the bucket start (start_ms); ReqTime the set's
	// min_request_time_ms (0: none).
	Time, ReqTime int64
	// Empty marks the sample of a set without series (MAD's empty bucket):
	// a plain value 0 of kind none, without unit; the fields below are
	// then zero.
	Empty bool
	// Unit is the series' unit (sample.UnitNone when absent).
	Unit sample.Unit
	// Count is the series' count; Sum, Min and Max its statistics, each
	// when its Has flag is set (it occurred in the series).
	Count                  uint64
	Sum, Min, Max          float64
	HasSum, HasMin, HasMax bool
	// HasHist: the series carries a histogram (hist true, or any bucket);
	// Hist its buckets in wire order.
	HasHist bool
	Hist    []Bucket
}

// Result is a decoded message.
type Result struct {
	// Period and StartMs are the bucket's period and start.
	Period  time.Duration
	StartMs int64
	// Sets counts the message's sets.
	Sets int
	// Samples, in order: set by set, each series of a set in order, or one
	// empty sample for a set without series.
	Samples []Sample
}

// Decode decodes msg. On failure the error wraps sample.ErrMalformed or
// sample.ErrTooLarge (errors.Is) and the Result is empty.
func Decode(msg []byte, cfg Config) (Result, error) {
	m, err := parseMessage(msg)
	if err != nil {
		return Result{}, err
	}
	res, err := check(m, cfg)
	if err != nil {
		return Result{}, err
	}
	if n := m.seriesCount(); cfg.MaxSeries > 0 && n > cfg.MaxSeries {
		return Result{}, fmt.Errorf("partialsref: %d series, more than %d: %w", n, cfg.MaxSeries, sample.ErrTooLarge)
	}
	return res, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("partialsref: "+format+": %w", append(args, sample.ErrMalformed)...)
}

// Step 1: the wire, as protobuf-java reads it.

// maxDepth is CodedInputStream's default recursion limit.
const maxDepth = 100

// field is one field of a message: a varint, fixed64 or fixed32 value in
// v, a length-delimited payload in b. Groups are skipped, not returned.
type field struct {
	num uint32
	typ protowire.Type
	v   uint64
	b   []byte
}

// javaVarint reads a varint as readRawVarint64 does; n < 0 if it is
// truncated or longer than ten bytes.
func javaVarint(b []byte) (v uint64, n int) {
	for i := 0; i < 10; i++ {
		if i >= len(b) {
			return 0, -1
		}
		v |= uint64(b[i]&0x7f) << (7 * uint(i)) // beyond 64 bits: dropped
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// readField reads one field at the start of b, in a message whose fields
// are at nesting depth depth. It returns the field and the bytes read; a
// group is skipped whole (skipped true).
func readField(b []byte, depth int) (f field, n int, skipped bool, err error) {
	t, n := javaVarint(b)
	if n < 0 {
		return f, 0, false, malformed("truncated or malformed tag")
	}
	tag := uint32(t)
	f.num, f.typ = tag>>3, protowire.Type(tag&7)
	if f.num == 0 {
		return f, 0, false, malformed("tag of field number 0")
	}
	rest := b[n:]
	var m int
	switch f.typ {
	case protowire.VarintType:
		if f.v, m = javaVarint(rest); m < 0 {
			return f, 0, false, malformed("field %d: truncated or malformed varint", f.num)
		}
	case protowire.Fixed64Type:
		if f.v, m = protowire.ConsumeFixed64(rest); m < 0 {
			return f, 0, false, malformed("field %d: truncated fixed64", f.num)
		}
	case protowire.Fixed32Type:
		var v uint32
		if v, m = protowire.ConsumeFixed32(rest); m < 0 {
			return f, 0, false, malformed("field %d: truncated fixed32", f.num)
		}
		f.v = uint64(v)
	case protowire.BytesType:
		l, k := javaVarint(rest)
		if k < 0 {
			return f, 0, false, malformed("field %d: truncated or malformed length", f.num)
		}
		size := int32(uint32(l))
		switch {
		case size < 0:
			return f, 0, false, malformed("field %d: negative length", f.num)
		case int64(size) > int64(len(rest)-k):
			return f, 0, false, malformed("field %d: truncated", f.num)
		}
		f.b, m = rest[k:k+int(size)], k+int(size)
	case protowire.StartGroupType:
		if m, err = skipGroup(rest, f.num, depth); err != nil {
			return f, 0, false, err
		}
		return f, n + m, true, nil
	case protowire.EndGroupType:
		return f, 0, false, malformed("end-group tag outside a group")
	default:
		return f, 0, false, malformed("wire type %d", f.typ)
	}
	return f, n + m, false, nil
}

// skipGroup skips the fields of group num, started from a message whose
// fields are at depth depth, up to and including its end-group tag; it
// returns the bytes skipped.
func skipGroup(b []byte, num uint32, depth int) (int, error) {
	if depth >= maxDepth {
		return 0, malformed("messages and groups nested more than %d deep", maxDepth)
	}
	p := 0
	for {
		if p >= len(b) {
			return 0, malformed("group %d not closed", num)
		}
		t, n := javaVarint(b[p:])
		if n >= 0 && protowire.Type(uint32(t)&7) == protowire.EndGroupType {
			switch inner := uint32(t) >> 3; {
			case inner == 0:
				return 0, malformed("tag of field number 0")
			case inner != num:
				return 0, malformed("group %d closed by end-group %d", num, inner)
			}
			return p + n, nil
		}
		_, m, _, err := readField(b[p:], depth+1)
		if err != nil {
			return 0, err
		}
		p += m
	}
}

// fields reads the fields of a message at nesting depth depth.
func fields(b []byte, depth int) ([]field, error) {
	var fs []field
	for len(b) > 0 {
		f, n, skipped, err := readField(b, depth)
		if err != nil {
			return nil, err
		}
		if !skipped {
			fs = append(fs, f)
		}
		b = b[n:]
	}
	return fs, nil
}

// The field numbers and wire types of the format.
const (
	fVersion = 1 // uint32
	fPeriod  = 2 // uint64
	fStart   = 3 // int64
	fSets    = 4 // repeated Set

	fDims   = 1 // bytes
	fMinReq = 2 // int64
	fSeries = 3 // repeated Series

	fName   = 1  // bytes
	fKind   = 2  // uint32
	fUnit   = 3  // string
	fCount  = 4  // uint64
	fSum    = 5  // double
	fMin    = 6  // double
	fMax    = 7  // double
	fKeys   = 8  // repeated uint32, packed
	fCounts = 9  // repeated uint64, packed
	fHist   = 10 // bool
)

type message struct {
	version    uint32
	hasVersion bool
	period     uint64
	start      int64
	sets       []set
}

type set struct {
	dims   []byte
	minReq int64
	series []series
}

type series struct {
	name                   []byte
	hasName                bool
	kind                   uint32
	unit                   sample.Unit
	unitText               []byte // the last unit field
	count                  uint64
	sum, min, max          float64
	hasSum, hasMin, hasMax bool
	keys                   []uint32
	counts                 []uint64
	hist                   bool
}

func (m *message) seriesCount() int {
	n := 0
	for _, s := range m.sets {
		n += len(s.series)
	}
	return n
}

func parseMessage(b []byte) (*message, error) {
	fs, err := fields(b, 0)
	if err != nil {
		return nil, err
	}
	m := &message{}
	for _, f := range fs {
		switch {
		case f.num == fVersion && f.typ == protowire.VarintType:
			m.version, m.hasVersion = uint32(f.v), true
		case f.num == fPeriod && f.typ == protowire.VarintType:
			m.period = f.v
		case f.num == fStart && f.typ == protowire.VarintType:
			m.start = int64(f.v)
		case f.num == fSets && f.typ == protowire.BytesType:
			s, err := parseSet(f.b)
			if err != nil {
				return nil, err
			}
			m.sets = append(m.sets, s)
		}
	}
	return m, nil
}

func parseSet(b []byte) (set, error) {
	var s set
	fs, err := fields(b, 1)
	if err != nil {
		return s, err
	}
	for _, f := range fs {
		switch {
		case f.num == fDims && f.typ == protowire.BytesType:
			s.dims = f.b
		case f.num == fMinReq && f.typ == protowire.VarintType:
			s.minReq = int64(f.v)
		case f.num == fSeries && f.typ == protowire.BytesType:
			sr, err := parseSeries(f.b)
			if err != nil {
				return s, err
			}
			s.series = append(s.series, sr)
		}
	}
	return s, nil
}

func parseSeries(b []byte) (series, error) {
	var s series
	fs, err := fields(b, 2)
	if err != nil {
		return s, err
	}
	for _, f := range fs {
		switch {
		case f.num == fName && f.typ == protowire.BytesType:
			s.name, s.hasName = f.b, true
		case f.num == fKind && f.typ == protowire.VarintType:
			s.kind = uint32(f.v)
		case f.num == fUnit && f.typ == protowire.BytesType:
			s.unitText = f.b
		case f.num == fCount && f.typ == protowire.VarintType:
			s.count = f.v
		case f.num == fSum && f.typ == protowire.Fixed64Type:
			s.sum, s.hasSum = math.Float64frombits(f.v), true
		case f.num == fMin && f.typ == protowire.Fixed64Type:
			s.min, s.hasMin = math.Float64frombits(f.v), true
		case f.num == fMax && f.typ == protowire.Fixed64Type:
			s.max, s.hasMax = math.Float64frombits(f.v), true
		case f.num == fKeys && f.typ == protowire.VarintType:
			s.keys = append(s.keys, uint32(f.v))
		case f.num == fKeys && f.typ == protowire.BytesType:
			vs, err := packedVarints(f.b)
			if err != nil {
				return s, err
			}
			for _, v := range vs {
				s.keys = append(s.keys, uint32(v))
			}
		case f.num == fCounts && f.typ == protowire.VarintType:
			s.counts = append(s.counts, f.v)
		case f.num == fCounts && f.typ == protowire.BytesType:
			vs, err := packedVarints(f.b)
			if err != nil {
				return s, err
			}
			s.counts = append(s.counts, vs...)
		case f.num == fHist && f.typ == protowire.VarintType:
			s.hist = f.v != 0
		}
	}
	return s, nil
}

// packedVarints reads the payload of a packed varint field.
func packedVarints(b []byte) ([]uint64, error) {
	var vs []uint64
	for len(b) > 0 {
		v, n := javaVarint(b)
		if n < 0 {
			return nil, malformed("packed varints: truncated or malformed varint")
		}
		vs = append(vs, v)
		b = b[n:]
	}
	return vs, nil
}

// Steps 2 and 3: the format's requirements, and the samples.

func check(m *message, cfg Config) (Result, error) {
	var res Result
	switch {
	case !m.hasVersion:
		return res, malformed("no version")
	case m.version != 1:
		return res, malformed("version %d, not 1", m.version)
	case m.period == 0:
		return res, malformed("period_ms 0")
	case m.period > uint64(math.MaxInt64/int64(time.Millisecond)):
		return res, malformed("period_ms %d: longer than a time.Duration", m.period)
	case m.start%int64(m.period) != 0:
		return res, malformed("start_ms %d not a multiple of period_ms %d", m.start, m.period)
	}
	res.Period, res.StartMs, res.Sets = time.Duration(m.period)*time.Millisecond, m.start, len(m.sets)
	for _, p := range cfg.Periods {
		if p%res.Period != 0 {
			return Result{}, malformed("the pipeline's period %v is not a multiple of the message's %v", p, res.Period)
		}
	}
	for _, st := range m.sets {
		dims, err := parseDims(st.dims)
		if err != nil {
			return Result{}, err
		}
		if len(st.series) == 0 {
			key, err := sample.AppendKey(nil, sample.KindNone, nil, dims)
			if err != nil {
				return Result{}, malformed("empty set: key too long")
			}
			res.Samples = append(res.Samples, Sample{Key: key, Time: m.start, ReqTime: st.minReq, Empty: true})
			continue
		}
		for _, sr := range st.series {
			s, err := build(sr, dims)
			if err != nil {
				return Result{}, err
			}
			s.Time, s.ReqTime = m.start, st.minReq
			res.Samples = append(res.Samples, s)
		}
	}
	return res, nil
}

func build(sr series, dims []sample.Dim) (Sample, error) {
	var s Sample
	if !sr.hasName || len(sr.name) == 0 {
		return s, malformed("series without a name")
	}
	if !utf8.Valid(sr.name) {
		return s, malformed("name %q: not UTF-8", sr.name)
	}
	if len(sr.unitText) > 0 {
		u, ok := sample.ParseUnit(string(sr.unitText))
		if !ok {
			return s, malformed("unit %q: not one of MAD's units", sr.unitText)
		}
		sr.unit = u
	}
	var kind sample.Kind
	switch sr.kind {
	case 1:
		kind = sample.KindCounter
	case 2:
		kind = sample.KindGauge
	case 3, 5:
		kind = sample.KindTimer
	default:
		return s, malformed("series %q: kind %d", sr.name, sr.kind)
	}
	for _, v := range []float64{sr.sum, sr.min, sr.max} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return s, malformed("series %q: sum, min or max not finite", sr.name)
		}
	}
	if len(sr.keys) != len(sr.counts) {
		return s, malformed("series %q: %d hist_keys, %d hist_counts", sr.name, len(sr.keys), len(sr.counts))
	}
	for i, k := range sr.keys {
		exp := k >> 7 & (1<<11 - 1)
		if k >= 1<<19 || exp == 1<<11-1 {
			return s, malformed("series %q: hist key %d: not a finite bucket", sr.name, k)
		}
		s.Hist = append(s.Hist, Bucket{Value: math.Float64frombits(uint64(k) << 45), Count: sr.counts[i]})
	}
	key, err := sample.AppendKey(nil, kind, sr.name, dims)
	if err != nil {
		return s, malformed("series %q: key too long", sr.name)
	}
	s.Key, s.Unit, s.Count = key, sr.unit, sr.count
	s.Sum, s.Min, s.Max = sr.sum, sr.min, sr.max
	s.HasSum, s.HasMin, s.HasMax = sr.hasSum, sr.hasMin, sr.hasMax
	s.HasHist = sr.hist || len(sr.keys) > 0
	return s, nil
}

// parseDims reads a dimension section; empty means none.
func parseDims(b []byte) ([]sample.Dim, error) {
	if len(b) == 0 {
		return nil, nil
	}
	n, b, err := shortestUvarint(b)
	if err != nil {
		return nil, err
	}
	var dims []sample.Dim
	for i := uint64(0); i < n; i++ {
		var d sample.Dim
		if d.Key, b, err = lenPrefixed(b); err != nil {
			return nil, err
		}
		if d.Value, b, err = lenPrefixed(b); err != nil {
			return nil, err
		}
		if i > 0 && bytes.Compare(dims[len(dims)-1].Key, d.Key) >= 0 {
			return nil, malformed("dims: key %q after %q", d.Key, dims[len(dims)-1].Key)
		}
		dims = append(dims, d)
	}
	if len(b) != 0 {
		return nil, malformed("dims: %d bytes after the last dimension", len(b))
	}
	return dims, nil
}

// shortestUvarint reads a uvarint that must be in its shortest form.
func shortestUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, malformed("dims: truncated or overlong uvarint")
	}
	if len(binary.AppendUvarint(nil, v)) != n {
		return 0, nil, malformed("dims: uvarint not in its shortest form")
	}
	return v, b[n:], nil
}

func lenPrefixed(b []byte) (v, rest []byte, err error) {
	n, b, err := shortestUvarint(b)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(b)) {
		return nil, nil, malformed("dims: a key or value past the end")
	}
	return b[:n], b[n:], nil
}
