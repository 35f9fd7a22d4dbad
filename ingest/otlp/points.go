package otlp

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// The data points' fields (metrics.proto).
const (
	numAttributes = 7<<3 | pbwire.BytesType
	numStart      = 2<<3 | pbwire.Fixed64Type
	numTime       = 3<<3 | pbwire.Fixed64Type
	numAsDouble   = 4<<3 | pbwire.Fixed64Type
	numAsInt      = 6<<3 | pbwire.Fixed64Type
	numExemplars  = 5<<3 | pbwire.BytesType

	histAttributes = 9<<3 | pbwire.BytesType
	histTime       = 3<<3 | pbwire.Fixed64Type
	histCount      = 4<<3 | pbwire.Fixed64Type
	histSum        = 5<<3 | pbwire.Fixed64Type
	histCountsPkd  = 6<<3 | pbwire.BytesType
	histCounts     = 6<<3 | pbwire.Fixed64Type
	histBoundsPkd  = 7<<3 | pbwire.BytesType
	histBounds     = 7<<3 | pbwire.Fixed64Type
	histExemplars  = 8<<3 | pbwire.BytesType
	histMin        = 11<<3 | pbwire.Fixed64Type
	histMax        = 12<<3 | pbwire.Fixed64Type

	expAttributes = 1<<3 | pbwire.BytesType
	expTime       = 3<<3 | pbwire.Fixed64Type
	expCount      = 4<<3 | pbwire.Fixed64Type
	expSum        = 5<<3 | pbwire.Fixed64Type
	expScale      = 6<<3 | pbwire.VarintType
	expZeroCount  = 7<<3 | pbwire.Fixed64Type
	expPositive   = 8<<3 | pbwire.BytesType
	expNegative   = 9<<3 | pbwire.BytesType
	expExemplars  = 11<<3 | pbwire.BytesType
	expMin        = 12<<3 | pbwire.Fixed64Type
	expMax        = 13<<3 | pbwire.Fixed64Type

	bucketsOffset    = 1<<3 | pbwire.VarintType
	bucketsCountsPkd = 2<<3 | pbwire.BytesType
	bucketsCounts    = 2<<3 | pbwire.VarintType

	exemplarAttributes = 7<<3 | pbwire.BytesType
)

// exemplar validates an Exemplar (mad ignores it): its attributes' strings.
func (d *Decoder) exemplar(parent *pbwire.Reader, f pbwire.Field) bool {
	r := parent.Message(f)
	for r.More() {
		g := r.Next()
		if g.Tag == exemplarAttributes && !d.validateAttr(g.S, int(g.X), 7) {
			return false
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "exemplars")
	}
	return true
}

// millis is MAD's record time of time_unix_nano: Java's signed long divided
// by 10^6, truncating.
func millis(ns uint64) int64 { return int64(ns) / 1e6 }

// numberPoint reads a NumberDataPoint (fields at depth 5) and routes its
// value as a gauge sample.
func (d *Decoder) numberPoint(s, e int) bool {
	var start, t uint64
	var v float64
	var run attrRun
	r := pbwire.NewReaderAt(d.body, s, e, 5)
	for r.More() {
		at := r.Offset()
		f := r.Next()
		switch f.Tag {
		case numAttributes:
			run.note(at, r.Offset())
		case numStart:
			start = f.X
		case numTime:
			t = f.X
		case numAsDouble:
			v = f.Double()
		case numAsInt:
			v = float64(f.Int64())
		case numExemplars:
			if !d.exemplar(&r, f) {
				return false
			}
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	if !d.pointSection(s, e, numAttributes, run) {
		return false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.st.NonFinite++
		return true
	}
	u := sample.UnitNone
	if d.numUnit != sample.UnitNone {
		v, u = sample.Normalize(v, d.numUnit)
	}
	if d.cfg.Deltas != nil && d.monotonic {
		d.counter(start, t, v, u)
		return true
	}
	d.emit(millis(t), v, nil, nil, u)
	return true
}

// counter routes a point of a monotonic sum when sums become deltas: a
// cumulative one's delta (if any), a delta one's value, as a counter.
func (d *Decoder) counter(start, t uint64, v float64, u sample.Unit) {
	if d.secTooLong || !d.buildKey(sample.KindCounter) {
		d.st.TooLong++
		return
	}
	if d.cumulative {
		var ok bool
		if v, ok = d.cfg.Deltas.delta(d.key, start, t, v, d.now, &d.changes); !ok {
			d.st.NoDelta++
			return
		}
	}
	d.route1(sample.Hash(d.key), d.key, millis(t), v, nil, nil, u)
}

// summaryPoint counts a SummaryDataPoint, which mad leaves out as MAD
// does: MAD reads nothing of it (not even its attributes: a repeated key
// fails nothing), and neither does mad beyond what Java's parse checks.
func (d *Decoder) summaryPoint(s, e int) bool {
	if !d.checkAt(s, e, 5, msgSummaryPoint, "") {
		return false
	}
	d.st.Unsupported++
	return true
}

// histogramPoint reads a HistogramDataPoint and routes its statistics.
func (d *Decoder) histogramPoint(s, e int) bool {
	var t, count uint64
	var sum, mn, mx float64
	var hasMin, hasMax bool
	var run attrRun
	d.bounds, d.counts = d.bounds[:0], d.counts[:0]
	r := pbwire.NewReaderAt(d.body, s, e, 5)
	for r.More() {
		at := r.Offset()
		f := r.Next()
		switch f.Tag {
		case histAttributes:
			run.note(at, r.Offset())
		case histTime:
			t = f.X
		case histCount:
			count = f.X
		case histSum:
			sum = f.Double()
		case histMin:
			mn, hasMin = f.Double(), true
		case histMax:
			mx, hasMax = f.Double(), true
		case histCountsPkd:
			d.counts, _ = r.AppendFixed64s(d.counts, f)
		case histCounts:
			d.counts = append(d.counts, f.X)
		case histBoundsPkd:
			d.bounds, _ = r.AppendDoubles(d.bounds, f)
		case histBounds:
			d.bounds = append(d.bounds, f.Double())
		case histExemplars:
			if !d.exemplar(&r, f) {
				return false
			}
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	if !d.pointSection(s, e, histAttributes, run) {
		return false
	}
	nb := len(d.bounds)
	if nb == 0 {
		d.st.Empty++
		return true
	}
	d.hist = d.hist[:0]
	first, lastBound := -1, -1
	for i, c := range d.counts[:min(len(d.counts), nb+1)] {
		if int64(c) <= 0 {
			continue
		}
		var v float64
		if i < nb {
			v = d.bounds[i]
			lastBound = i
		} else if hasMax {
			v = mx
		} else if nb >= 2 {
			v = d.bounds[nb-1] + math.Abs(d.bounds[nb-1]-d.bounds[nb-2])
		} else {
			return d.failAt(errOneBound, -1, "")
		}
		if first < 0 {
			first = len(d.hist)
		}
		d.hist = append(d.hist, sample.HistEntry{Value: v, Count: c})
	}
	a := sample.Agg{Sum: sum, Count: float64(int64(count)), Has: sample.HasSum | sample.HasCount | sample.HasHist}
	if hasMin {
		a.Min, a.Has = mn, a.Has|sample.HasMin
	} else if first >= 0 {
		a.Min, a.Has = d.hist[first].Value, a.Has|sample.HasMin
	}
	if hasMax {
		a.Max, a.Has = mx, a.Has|sample.HasMax
	} else if lastBound >= 0 {
		a.Max, a.Has = d.bounds[lastBound], a.Has|sample.HasMax
	}
	d.emitAgg(millis(t), a)
	return true
}

// expHistogramPoint reads an ExponentialHistogramDataPoint and routes its
// statistics.
func (d *Decoder) expHistogramPoint(s, e int) bool {
	var t, count, zero uint64
	var sum, mn, mx float64
	var hasMin, hasMax bool
	var scale int32
	var posOff, negOff int32
	var run attrRun
	d.pos, d.neg = d.pos[:0], d.neg[:0]
	r := pbwire.NewReaderAt(d.body, s, e, 5)
	for r.More() {
		at := r.Offset()
		f := r.Next()
		switch f.Tag {
		case expAttributes:
			run.note(at, r.Offset())
		case expTime:
			t = f.X
		case expCount:
			count = f.X
		case expSum:
			sum = f.Double()
		case expScale:
			scale = f.Sint32()
		case expZeroCount:
			zero = f.X
		case expMin:
			mn, hasMin = f.Double(), true
		case expMax:
			mx, hasMax = f.Double(), true
		case expPositive:
			if !d.buckets(&r, f, &posOff, &d.pos) {
				return false
			}
		case expNegative:
			if !d.buckets(&r, f, &negOff, &d.neg) {
				return false
			}
		case expExemplars:
			if !d.exemplar(&r, f) {
				return false
			}
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	if !d.pointSection(s, e, expAttributes, run) {
		return false
	}
	d.hist = d.hist[:0]
	empty := zero == 0
	if int64(zero) > 0 {
		d.hist = append(d.hist, sample.HistEntry{Value: 0, Count: zero})
	}
	for i, c := range d.pos {
		if int64(c) > 0 {
			d.hist = append(d.hist, sample.HistEntry{Value: expValue(posOff+int32(i), scale), Count: c})
		}
	}
	for i, c := range d.neg {
		if int64(c) > 0 {
			d.hist = append(d.hist, sample.HistEntry{Value: -expValue(negOff+int32(i), scale), Count: c})
		}
	}
	if empty && len(d.hist) == 0 {
		// No bucket with a count (a zero_count of 2^63 or more is not 0
		// to Java, though no bucket either).
		d.st.Empty++
		return true
	}
	a := sample.Agg{Sum: sum, Count: float64(int64(count)), Has: sample.HasSum | sample.HasCount | sample.HasHist}
	if len(d.hist) > 0 {
		a.Min, a.Max = d.hist[0].Value, d.hist[0].Value
		for _, h := range d.hist[1:] {
			a.Min, a.Max = min(a.Min, h.Value), max(a.Max, h.Value)
		}
		a.Has |= sample.HasMin | sample.HasMax
	}
	if hasMin {
		a.Min, a.Has = mn, a.Has|sample.HasMin
	}
	if hasMax {
		a.Max, a.Has = mx, a.Has|sample.HasMax
	}
	d.emitAgg(millis(t), a)
	return true
}

// buckets reads a Buckets message (every occurrence merges: the last
// offset, the counts appended).
func (d *Decoder) buckets(parent *pbwire.Reader, f pbwire.Field, off *int32, counts *[]uint64) bool {
	r := parent.Message(f)
	for r.More() {
		g := r.Next()
		switch g.Tag {
		case bucketsOffset:
			*off = g.Sint32()
		case bucketsCounts:
			*counts = append(*counts, g.X)
		case bucketsCountsPkd:
			*counts, _ = r.AppendVarints(*counts, g)
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	return true
}

// expValue is MAD's representative value of bucket idx at scale (doc.go),
// in Java's int and double arithmetic.
func expValue(idx, scale int32) float64 {
	switch {
	case scale > 0:
		sf := math.Ldexp(1, int(scale)) / math.Ln2
		return 0.5 * (1 + math.Exp(1/sf)) * math.Exp(float64(idx)/sf)
	case scale == 0:
		return math.Ldexp(1.5, int(idx))
	}
	sh := uint32(-scale) & 31 // Java's int shift
	lo, hi := idx<<sh, (idx+1)<<sh
	return 0.5 * (math.Ldexp(1, int(lo)) + math.Ldexp(1, int(hi)))
}

// emitAgg routes a histogram's statistics, in the metric's unit
// normalised.
func (d *Decoder) emitAgg(t int64, a sample.Agg) {
	u := sample.UnitNone
	if d.unit != sample.UnitNone {
		a.Min, u = sample.Normalize(a.Min, d.unit)
		a.Max, _ = sample.Normalize(a.Max, d.unit)
		a.Sum, _ = sample.Normalize(a.Sum, d.unit)
		for i := range d.hist {
			d.hist[i].Value, _ = sample.Normalize(d.hist[i].Value, d.unit)
		}
	}
	// A statistic that is not finite (a sum or bound of ±Inf or NaN, an
	// exponential bucket past the doubles): the shard would refuse the
	// sample; the point is left out here, counted, and reported as
	// rejected (partial_success) like a non-finite number point.
	if !a.Finite(d.hist) {
		d.st.NonFinite++
		return
	}
	d.emit(t, 0, &a, d.hist, u)
}

// emit routes one sample of the current metric and point dimensions at
// record time t: a value, or statistics (a non-nil a with hist). A sample
// whose name, dimensions and time an earlier one of the request has
// replaces it.
//
// A stream's key hash is kept with its section's cache slot: a point of a
// stream seen before has its key written straight into the batch, neither
// built apart nor hashed.
func (d *Decoder) emit(t int64, v float64, a *sample.Agg, hist []sample.HistEntry, u sample.Unit) {
	name := d.body[d.name.s:d.name.e]
	if d.secTooLong || d.keyLen() > sample.MaxKeyLen {
		d.st.TooLong++
		return
	}
	if h, ok := d.gaugeKeyHash(name); ok {
		d.route1(h, nil, t, v, a, hist, u)
		return
	}
	d.buildKey(sample.KindGauge)
	h := sample.Hash(d.key)
	d.noteGaugeKey(name, h)
	d.route1(h, d.key, t, v, a, hist, u)
}

// appendKey appends the key of kind, the metric's name and the point's
// section (whose own kind and empty name, its first two bytes, it drops),
// of keyLen bytes.
func (d *Decoder) appendKey(dst []byte, kind sample.Kind) []byte {
	name := d.body[d.name.s:d.name.e]
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	return append(dst, d.section[2:]...)
}

// keyLen is the length of appendKey's key.
func (d *Decoder) keyLen() int {
	n := d.name.e - d.name.s
	return 1 + protowire.SizeVarint(uint64(n)) + n + len(d.section) - 2
}

// buildKey builds d.key (appendKey); false if it is too long.
func (d *Decoder) buildKey(kind sample.Kind) bool {
	d.key = d.appendKey(d.key[:0], kind)
	return len(d.key) <= sample.MaxKeyLen
}

// route1 routes the sample of key k (hash h; nil: the gauge key of the
// metric's name and the point's section), or replaces the one routed
// earlier in the request with the same key and time. The key is written
// into the batch first, and taken back if the sample replaces another.
func (d *Decoder) route1(h uint64, k []byte, t int64, v float64, a *sample.Agg, hist []sample.HistEntry, u sample.Unit) {
	b := d.route(h)
	off := len(b.Keys)
	if k != nil {
		b.Keys = append(b.Keys, k...)
	} else {
		b.Keys = d.appendKey(b.Keys, sample.KindGauge)
	}
	k = b.Keys[off:]
	if i, ok := d.seen.find(h, t, b, k); ok {
		b.Keys = b.Keys[:off]
		// MAD's record keeps the later metric of a name.
		s := &b.Samples[i]
		s.Value, s.Unit, s.ReqTime, s.Flags = v, u, d.now, 0
		if a != nil {
			a.HistOff, a.HistLen = uint32(len(b.Hist)), uint32(len(hist))
			b.Hist = append(b.Hist, hist...)
			s.Agg, s.Flags = uint32(len(b.Aggs)), sample.FlagAgg
			b.Aggs = append(b.Aggs, *a)
		}
		d.st.Replaced++
		return
	}
	kr := sample.KeyRef{Hash: h, Off: uint32(off), Len: uint32(len(k))}
	d.seen.add(h, t, b, len(b.Samples))
	if a != nil {
		b.AddAgg(kr, t, d.now, *a, hist, u)
	} else {
		b.AddValue(kr, t, d.now, v, u)
	}
	d.st.Samples++
	d.countRecord(t)
}
