package clientpb

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// entry3 is one MetricDataEntry of the record being decoded. Occurrences of
// a singular message field merge, as protobuf does: the last name set wins,
// samples of every numerical_data append, and the statistics of every
// numerical_data merge into one AugmentedHistogram (entries append, the last
// min, max and sum on the wire win).
type entry3 struct {
	name             span
	at               uint32 // offset of the entry in the body
	valOff, valEnd   uint32 // its samples in Decoder.vals
	histOff, histEnd uint32 // its histogram entries in Decoder.hist
	flags            uint8
	min, max, sum    float64
	count            int64 // Σ entries.count, in Java's long arithmetic
}

// entry3.flags
const (
	nameSet  = 1 << iota
	hasData  // numerical_data was present
	hasStats // statistics was present
)

// DecodeV3 decodes a client protocol V3 body (a protobuf Request) and routes
// its samples. now is unused: V3 takes every time from the body, and a record
// without end_millis_since_epoch has time 0, as in MAD. On error nothing of
// the body may be kept: the caller discards what was routed.
func (d *Decoder) DecodeV3(body []byte, now int64, route sample.Route) (sample.Counts, error) {
	if !d.start(3, body, route) {
		return d.finish(true)
	}
	return d.records(body, "Request", d.parseRecord3, d.emitRecord3)
}

// records reads the top-level message (V1/V2 RecordSet, V3 Request: field 1
// is the repeated record) and parses and emits each record. A record MAD
// cannot build stops emitting; the rest of the body is still checked, since
// a wire error anywhere decides the answer.
func (d *Decoder) records(body []byte, msg string, parse func(b []byte, s, e int) bool, emit func(at int) bool) (sample.Counts, error) {
	failed := false
	b, end := body, len(body)
	for i := 0; i < end; {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				d.fail(j, i, msg)
				d.f.record = -1
				return d.finish(true)
			}
		}
		if t != 1<<3|pbwire.BytesType {
			if i = d.unknown(b, i, j, t, 0, msg); i < 0 {
				d.f.record = -1
				return d.finish(true)
			}
			continue
		}
		s, e, ok := pbwire.ShortLen(b, j)
		if !ok {
			if s, e = pbwire.Len(b, j); e < 0 {
				d.fail(e, j, msg+".records")
				return d.finish(true)
			}
		}
		if d.tooMany() {
			d.f = failure{code: errTooManyRecords, off: s, record: d.st.Records}
			return d.finish(true)
		}
		if !parse(b, s, e) {
			return d.finish(true)
		}
		if !failed && !emit(i) {
			failed = true
		}
		d.st.Records++
		i = e
	}
	return d.finish(failed)
}

// The message loops below read one-byte tags and short lengths with
// pbwire's inlined fast paths (ShortTag, ShortLen) and fall back to
// pbwire.Tag and pbwire.Len; every tag they do not know (including a known
// field number with another wire type) goes to unknown. Each cuts the body
// at the end of its message (b = b[:end]), so that offsets stay the body's.

// parseRecord3 reads a Record (nesting depth 1) into the decoder.
func (d *Decoder) parseRecord3(b []byte, i, end int) bool {
	b = b[:end]
	d.id, d.time, d.reqTime, d.badDim = span{}, 0, 0, -1
	d.dims, d.m3, d.vals, d.hist = d.dims[:0], d.m3[:0], d.vals[:0], d.hist[:0]
	d.slot, d.runN, d.nDims = nil, 0, 0
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "Record")
			}
		}
		switch t {
		case 4<<3 | pbwire.BytesType:
			if d.nDims == 0 && t == uint32(b[i]) {
				if q, n := scanRun(b, i, end, 4<<3|pbwire.BytesType); q > i && d.lookupRun(b, i, q, n) {
					// Known dimensions: nothing to parse or check.
					d.nDims, i = n, q
					continue
				}
			} else if d.slot != nil {
				// More dimensions after a cached run: parse the run after all.
				if !d.parseDims3(b, int(d.run.s), int(d.run.e)) {
					return false
				}
				d.slot = nil
			}
			d.nDims++
			fallthrough
		case 5<<3 | pbwire.BytesType, 1<<3 | pbwire.BytesType:
			s, e, ok := pbwire.ShortLen(b, j)
			if !ok {
				if s, e = pbwire.Len(b, j); e < 0 {
					return d.fail(e, j, record3Fields[t>>3])
				}
			}
			switch t >> 3 {
			case 5:
				if !d.parseData3(b, s, e) {
					return false
				}
			case 4:
				if !d.parseDim3(b, s, e) {
					return false
				}
			default:
				d.id = span{uint32(s), uint32(e)}
			}
			i = e
		case 2<<3 | pbwire.VarintType, 6<<3 | pbwire.VarintType:
			v, k := pbwire.Varint(b, j)
			if k < 0 {
				return d.fail(k, j, record3Fields[t>>3])
			}
			if t>>3 == 2 {
				d.time = v
			} else {
				d.reqTime = v
			}
			i = k
		default:
			// start_millis_since_epoch (3) is ignored; skipping validates it
			// exactly as reading it would.
			if i = d.unknown(b, i, j, t, 1, "Record"); i < 0 {
				return false
			}
		}
	}
	return true
}

// parseDims3 parses a run of dimension entries that was skipped as cached.
func (d *Decoder) parseDims3(b []byte, i, end int) bool {
	b = b[:end]
	for i < end {
		s, e := pbwire.Len(b, i+1)
		if e < 0 || !d.parseDim3(b, s, e) {
			return false
		}
		i = e
	}
	return true
}

var record3Fields = [...]string{1: "Record.id", 2: "Record.end_millis_since_epoch", 4: "Record.dimensions",
	5: "Record.data", 6: "Record.request_millis_since_epoch"}

// parseDim3 reads a DimensionEntry (depth 2).
func (d *Decoder) parseDim3(b []byte, i, end int) bool {
	b = b[:end]
	// What clients write, with one-byte lengths: 0a L1 (0a L2 name)
	// 12 L3 (0a L4 value).
	if end-i >= 8 && b[i] == 1<<3|pbwire.BytesType && b[i+2] == 1<<3|pbwire.BytesType && b[i+1] < 0x80 && int(b[i+3]) == int(b[i+1])-2 {
		p := i + 2 + int(b[i+1])
		if end-p >= 4 && b[p] == 2<<3|pbwire.BytesType && b[p+2] == 1<<3|pbwire.BytesType && b[p+1] < 0x80 &&
			p+2+int(b[p+1]) == end && int(b[p+3]) == int(b[p+1])-2 &&
			pbwire.ValidUTF8(b[i+4:p]) && pbwire.ValidUTF8(b[p+4:end]) {
			d.dims = appendSpan(d.dims, span{uint32(i + 4), uint32(p)}, span{uint32(p + 4), uint32(end)})
			return true
		}
	}
	at := i
	var key, val span
	var keySet, valSet bool
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "DimensionEntry")
			}
		}
		if t != 1<<3|pbwire.BytesType && t != 2<<3|pbwire.BytesType {
			if i = d.unknown(b, i, j, t, 2, "DimensionEntry"); i < 0 {
				return false
			}
			continue
		}
		s, e, ok := pbwire.ShortLen(b, j)
		if !ok {
			if s, e = pbwire.Len(b, j); e < 0 {
				return d.fail(e, j, "DimensionEntry")
			}
		}
		out, set := &key, &keySet
		if t == 2<<3|pbwire.BytesType {
			out, set = &val, &valSet
		}
		if !d.ident(b, s, e, out, set) {
			return false
		}
		i = e
	}
	if (!keySet || !valSet) && d.badDim < 0 {
		d.badDim, d.badDimAt = len(d.dims), at
	}
	d.dims = appendSpan(d.dims, key, val)
	return true
}

// ident reads an Identifier (depth 3); the oneof value string_value, if
// set, replaces *out.
func (d *Decoder) ident(b []byte, i, end int, out *span, set *bool) bool {
	b = b[:end]
	// Nearly every Identifier is exactly one short string_value.
	if end-i >= 2 && b[i] == 1<<3|pbwire.BytesType && b[i+1] < 0x80 && int(b[i+1]) == end-i-2 {
		if !pbwire.ValidUTF8(b[i+2 : end]) {
			return d.fail(int(pbwire.InvalidUTF8), i+1, "Identifier.string_value")
		}
		*out, *set = span{uint32(i + 2), uint32(end)}, true
		return true
	}
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "Identifier")
			}
		}
		if t == 1<<3|pbwire.BytesType {
			s, k := pbwire.String(b, j)
			if k < 0 {
				return d.fail(k, j, "Identifier.string_value")
			}
			*out, *set, i = span{uint32(s), uint32(k)}, true, k
			continue
		}
		if i = d.unknown(b, i, j, t, 3, "Identifier"); i < 0 {
			return false
		}
	}
	return true
}

// parseData3 reads a MetricDataEntry (depth 2).
func (d *Decoder) parseData3(b []byte, i, end int) bool {
	b = b[:end]
	// Grown and written in place: a composite literal appended would be
	// built on the stack and copied with wide loads that stall on the
	// narrow stores before them.
	n := len(d.m3)
	if n == cap(d.m3) {
		d.m3 = slices.Grow(d.m3, 1)
	}
	d.m3 = d.m3[:n+1]
	en := &d.m3[n]
	*en = entry3{}
	en.at, en.valOff, en.histOff = uint32(i), uint32(len(d.vals)), uint32(len(d.hist))
	if d.quickData3(b, i, end, en) {
		return true
	}
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "MetricDataEntry")
			}
		}
		if t != 1<<3|pbwire.BytesType && t != 2<<3|pbwire.BytesType {
			if i = d.unknown(b, i, j, t, 2, "MetricDataEntry"); i < 0 {
				return false
			}
			continue
		}
		s, e, ok := pbwire.ShortLen(b, j)
		if !ok {
			if s, e = pbwire.Len(b, j); e < 0 {
				return d.fail(e, j, "MetricDataEntry")
			}
		}
		if t == 2<<3|pbwire.BytesType {
			d.m3[n].flags |= hasData
			if !d.parseNum3(b, s, e, n) {
				return false
			}
		} else {
			var set bool
			en := &d.m3[n]
			if !d.ident(b, s, e, &en.name, &set) {
				return false
			}
			if set {
				en.flags |= nameSet
			}
		}
		i = e
	}
	en = &d.m3[n]
	en.valEnd, en.histEnd = uint32(len(d.vals)), uint32(len(d.hist))
	return true
}

// quickData3 decodes the MetricDataEntry b[i:end] if it is exactly what
// clients write for samples, with one-byte lengths:
//
//	0a L1 (0a L2 name) 12 L3 (0a L4 L4/8 doubles)
//
// and reports whether it did; otherwise the general loop reads it. Both
// give the same result for these bytes.
func (d *Decoder) quickData3(b []byte, i, end int, en *entry3) bool {
	if end-i < 6 || b[i] != 1<<3|pbwire.BytesType || b[i+2] != 1<<3|pbwire.BytesType {
		return false
	}
	l1, l2 := int(b[i+1]), int(b[i+3])
	p := i + 2 + l1 // numerical_data
	if l1 >= 0x80 || l2 != l1-2 || end-p < 4 || b[p] != 2<<3|pbwire.BytesType || b[p+2] != 1<<3|pbwire.BytesType {
		return false
	}
	l3, l4 := int(b[p+1]), int(b[p+3])
	if l3 >= 0x80 || p+2+l3 != end || l4 != l3-2 || l4&7 != 0 {
		return false
	}
	name := b[i+4 : p]
	if !pbwire.ValidUTF8(name) {
		return false // the general loop reports it
	}
	en.name = span{uint32(i + 4), uint32(p)}
	en.flags = nameSet | hasData
	d.vals, _ = pbwire.AppendDoubles(d.vals, b[p+4:end]) // l4 is a multiple of 8
	en.valEnd, en.histEnd = uint32(len(d.vals)), uint32(len(d.hist))
	return true
}

// parseNum3 reads a NumericalData (depth 3) into entry n.
func (d *Decoder) parseNum3(b []byte, i, end, n int) bool {
	b = b[:end]
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "NumericalData")
			}
		}
		switch t {
		case 1<<3 | pbwire.BytesType:
			// Packed samples.
			s, e, ok := pbwire.ShortLen(b, j)
			if !ok {
				if s, e = pbwire.Len(b, j); e < 0 {
					return d.fail(e, j, "NumericalData.samples")
				}
			}
			vals, c := pbwire.AppendDoubles(d.vals, b[s:e])
			if c != pbwire.OK {
				return d.fail(int(c), j, "NumericalData.samples")
			}
			d.vals, i = vals, e
		case 1<<3 | pbwire.Fixed64Type:
			v, k := pbwire.Double(b, j)
			if k < 0 {
				return d.fail(k, j, "NumericalData.samples")
			}
			d.vals, i = append(d.vals, v), k
		case 2<<3 | pbwire.BytesType:
			s, e, ok := pbwire.ShortLen(b, j)
			if !ok {
				if s, e = pbwire.Len(b, j); e < 0 {
					return d.fail(e, j, "NumericalData.statistics")
				}
			}
			d.m3[n].flags |= hasStats
			if !d.parseHist3(b, s, e, n) {
				return false
			}
			i = e
		default:
			if i = d.unknown(b, i, j, t, 3, "NumericalData"); i < 0 {
				return false
			}
		}
	}
	return true
}

// parseHist3 reads an AugmentedHistogram (depth 4) into entry n. precision
// is read and ignored, as MAD does (7 is assumed).
func (d *Decoder) parseHist3(b []byte, i, end, n int) bool {
	b = b[:end]
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "AugmentedHistogram")
			}
		}
		en := &d.m3[n]
		var f *float64
		switch t {
		case 1<<3 | pbwire.BytesType:
			s, e, ok := pbwire.ShortLen(b, j)
			if !ok {
				if s, e = pbwire.Len(b, j); e < 0 {
					return d.fail(e, j, "AugmentedHistogram.entries")
				}
			}
			if !d.parseEntry3(b, s, e, n) {
				return false
			}
			i = e
			continue
		case 3<<3 | pbwire.Fixed64Type:
			f = &en.min
		case 4<<3 | pbwire.Fixed64Type:
			f = &en.max
		case 5<<3 | pbwire.Fixed64Type:
			f = &en.sum
		default:
			// precision (2) is ignored; skipping validates it.
			if i = d.unknown(b, i, j, t, 4, "AugmentedHistogram"); i < 0 {
				return false
			}
			continue
		}
		v, k := pbwire.Double(b, j)
		if k < 0 {
			return d.fail(k, j, "AugmentedHistogram")
		}
		*f, i = v, k
	}
	return true
}

// parseEntry3 reads a SparseHistogramEntry (depth 5) of entry n. MAD records
// it with recordPacked(bucket, count): the bucket value is the double whose
// bits are bucket << 45 (only the low 19 bits of the key survive), and the
// count statistic is the sum of the counts as a Java long.
func (d *Decoder) parseEntry3(b []byte, i, end, n int) bool {
	b = b[:end]
	var bucket, count uint64
	// What clients write: 08 bucket 10 count.
	if end-i >= 4 && b[i] == 1<<3|pbwire.VarintType {
		if v, k := pbwire.Varint(b, i+1); k > 0 && k < end && b[k] == 2<<3|pbwire.VarintType {
			if c, e := pbwire.Varint(b, k+1); e == end {
				d.hist = append(d.hist, sample.HistEntry{Value: math.Float64frombits(v << 45), Count: c})
				d.m3[n].count += int64(c)
				return true
			}
		}
	}
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "SparseHistogramEntry")
			}
		}
		if t != 1<<3|pbwire.VarintType && t != 2<<3|pbwire.VarintType {
			if i = d.unknown(b, i, j, t, 5, "SparseHistogramEntry"); i < 0 {
				return false
			}
			continue
		}
		v, k := pbwire.Varint(b, j)
		if k < 0 {
			return d.fail(k, j, "SparseHistogramEntry")
		}
		if t == 1<<3|pbwire.VarintType {
			bucket = v
		} else {
			count = v
		}
		i = k
	}
	d.hist = append(d.hist, sample.HistEntry{Value: math.Float64frombits(bucket << 45), Count: count})
	d.m3[n].count += int64(count)
	return true
}

const allStats = sample.HasMin | sample.HasMax | sample.HasSum | sample.HasCount | sample.HasHist

// emitRecord3 checks what MAD checks when it builds the record, in MAD's
// order (id, dimensions, metric names), and routes its samples. recAt is
// the record's offset.
func (d *Decoder) emitRecord3(recAt int) bool {
	if d.id.e-d.id.s < 16 {
		d.f = failure{code: errShortID, off: recAt, record: d.st.Records}
		return false
	}
	sectionOK := true
	if d.slot != nil {
		d.section = d.slot.section
	} else {
		if d.badDim >= 0 {
			return d.fail(errIdentifierNotSet, d.badDimAt, "DimensionEntry")
		}
		if dup := sample.SortSpans(d.body, d.dims); dup >= 0 {
			d.fail(errDupDimension, recAt, "Record.dimensions")
			d.f.detail = quote(d.body[d.dims[dup].K0:d.dims[dup].K1])
			return false
		}
		if sectionOK = d.buildSection(); sectionOK {
			d.fillRun()
		}
	}
	for i := range d.m3 {
		if d.m3[i].flags&nameSet == 0 {
			return d.fail(errIdentifierNotSet, int(d.m3[i].at), "MetricDataEntry.name")
		}
	}
	t, req := int64(d.time), int64(d.reqTime)
	tooLong := d.st.TooLong
	d.keys, d.hashes, d.refs, d.order = d.keys[:0], d.hashes[:0], d.refs[:0], d.order[:0]
	for i := range d.m3 {
		en := &d.m3[i]
		if en.flags&hasData == 0 || (en.valEnd == en.valOff && en.flags&hasStats == 0) {
			// MAD skips an entry without data, and makes no metric of one
			// with neither samples nor statistics.
			continue
		}
		if !sectionOK || !d.metricKey(sample.KindGauge, d.str(en.name), len(d.order)) {
			d.st.TooLong++
			continue
		}
		d.order = append(d.order, int32(i))
	}
	before := d.st.Samples
	if !hasDup(d.hashes, &d.sorted) {
		for p := range d.order {
			d.emitOne3(int32(p), t, req)
		}
	} else {
		d.emitMerged3(t, req)
	}
	if d.st.Samples == before {
		if sectionOK {
			d.emitNone(t, req)
		} else if d.st.TooLong == tooLong {
			d.st.TooLong++ // a record without metrics whose bucket cannot be keyed
		}
	}
	return true
}

// emitOne3 routes the metric of the p-th active entry, whose name no other
// entry of the record has: its samples, then its statistics.
func (d *Decoder) emitOne3(p int32, t, req int64) {
	key, h := d.key(p)
	b, bi := d.routeTo(h)
	k := d.sharedKey(b, bi, p, key, h)
	en := &d.m3[d.order[p]]
	vals := d.vals[en.valOff:en.valEnd]
	d.st.Samples += len(vals)
	for len(vals) > rerouteEvery {
		addValues(b, k, t, req, vals[:rerouteEvery])
		vals = vals[rerouteEvery:]
		b, k = d.reroute(b, k, key, h)
	}
	addValues(b, k, t, req, vals)
	if en.flags&hasStats != 0 {
		if len(vals) == rerouteEvery {
			b, k = d.reroute(b, k, key, h)
		}
		b.AddAgg(k, t, req, sample.Agg{Min: en.min, Max: en.max, Sum: en.sum, Count: float64(en.count), Has: allStats},
			d.hist[en.histOff:en.histEnd], sample.UnitNone)
		d.st.Samples++
	}
}

// emitGroup3 routes one metric of the record, made of the active entries ps
// (positions in d.order, in body order, all with the same name): every
// sample first, then every set of statistics, MAD's accumulation order.
func (d *Decoder) emitGroup3(ps []int32, t, req int64) {
	key, h := d.key(ps[0])
	b, bi := d.routeTo(h)
	k := d.sharedKey(b, bi, ps[0], key, h)
	n := 0
	for _, p := range ps {
		en := &d.m3[d.order[p]]
		vals := d.vals[en.valOff:en.valEnd]
		d.st.Samples += len(vals)
		for len(vals) > 0 {
			if n == rerouteEvery {
				b, k = d.reroute(b, k, key, h)
				n = 0
			}
			c := min(len(vals), rerouteEvery-n)
			addValues(b, k, t, req, vals[:c])
			vals = vals[c:]
			n += c
		}
	}
	for _, p := range ps {
		en := &d.m3[d.order[p]]
		if en.flags&hasStats == 0 {
			continue
		}
		if n >= rerouteEvery {
			b, k = d.reroute(b, k, key, h)
			n = 0
		}
		b.AddAgg(k, t, req, sample.Agg{Min: en.min, Max: en.max, Sum: en.sum, Count: float64(en.count), Has: allStats},
			d.hist[en.histOff:en.histEnd], sample.UnitNone)
		n++
		d.st.Samples++
	}
}

// emitMerged3 routes the active entries when some share a name: MAD merges
// them into one metric (samples concatenated, statistics appended). Entries
// are sorted by key hash (then position), so that this stays O(n log n) for
// any body; groups of different names may be routed in any order.
func (d *Decoder) emitMerged3(t, req int64) {
	pairs := d.pairs[:0]
	for p, h := range d.hashes {
		pairs = append(pairs, hashPos{h, int32(p)})
	}
	d.pairs = pairs
	sortPairs(pairs)
	for r := 0; r < len(pairs); {
		e := r + 1
		for e < len(pairs) && pairs[e].h == pairs[r].h {
			e++
		}
		run := pairs[r:e]
		r = e
		// Equal hashes are equal keys unless 64-bit hashes collide: group
		// the run by key, keeping body order within each group.
		for len(run) > 0 {
			key, _ := d.key(run[0].p)
			grp, rest := d.grp[:0], run[:0]
			for _, x := range run {
				if kx, _ := d.key(x.p); string(kx) == string(key) {
					grp = append(grp, x.p)
				} else {
					rest = append(rest, x)
				}
			}
			d.grp = grp
			d.emitGroup3(grp, t, req)
			run = rest
		}
	}
}

type hashPos struct {
	h uint64
	p int32
}

func sortPairs(pairs []hashPos) {
	slices.SortFunc(pairs, func(a, b hashPos) int {
		if c := cmp.Compare(a.h, b.h); c != 0 {
			return c
		}
		return cmp.Compare(a.p, b.p)
	})
}

// hasDup reports whether hashes holds a value twice; sorted is scratch.
func hasDup(hashes []uint64, sorted *[]uint64) bool {
	n := len(hashes)
	if n <= 32 {
		for i := 1; i < n; i++ {
			h := hashes[i]
			for _, g := range hashes[:i] {
				if g == h {
					return true
				}
			}
		}
		return false
	}
	s := append((*sorted)[:0], hashes...)
	*sorted = s
	slices.Sort(s)
	for i := 1; i < n; i++ {
		if s[i] == s[i-1] {
			return true
		}
	}
	return false
}

func quote(b []byte) string { return strconv.Quote(string(b)) }
