package clientpb

import (
	"slices"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// metric12 is one MetricEntry of a V1/V2 record being decoded.
type metric12 struct {
	name       span
	at         uint32 // offset of the entry in the body
	qOff, qEnd uint32 // its quantities in Decoder.qtys
	kind       sample.Kind
}

// qty is one quantity: its value, and its unit as resolved (a sample.Unit,
// unitNoneV or badUnit) with the raw enum numbers for the error message.
type qty struct {
	v        float64
	unit     uint8
	typ, scl int32
}

// DecodeV1 decodes a client protocol V1 body (a protobuf RecordSet of
// client.v1.proto) and routes its samples. now is unused: the record time is
// endMillisSinceEpoch, 0 if absent, as in MAD. On error nothing of the body
// may be kept: the caller discards what was routed.
func (d *Decoder) DecodeV1(body []byte, now int64, route sample.Route) (sample.Counts, error) {
	return d.decode12(1, body, route)
}

// DecodeV2 decodes a client protocol V2 body (a protobuf RecordSet of
// client.v2.proto), as DecodeV1.
func (d *Decoder) DecodeV2(body []byte, now int64, route sample.Route) (sample.Counts, error) {
	return d.decode12(2, body, route)
}

func (d *Decoder) decode12(version int, body []byte, route sample.Route) (sample.Counts, error) {
	if !d.start(version, body, route) {
		return d.finish(true)
	}
	return d.records(body, "RecordSet", d.parseRecord12, d.emitRecord12)
}

// parseRecord12 reads a Record (depth 1).
func (d *Decoder) parseRecord12(b []byte, i, end int) bool {
	b = b[:end]
	d.id, d.time = span{}, 0
	d.dims, d.annots, d.m12, d.qtys = d.dims[:0], d.annots[:0], d.m12[:0], d.qtys[:0]
	d.slot, d.runN, d.nDims = nil, 0, 0
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "Record")
			}
		}
		if t == 2<<3|pbwire.BytesType {
			// Dimensions: the cache (cache.go), as in parseRecord3.
			if d.nDims == 0 && t == uint32(b[i]) {
				if q, n := scanRun(b, i, end, 2<<3|pbwire.BytesType); q > i && d.lookupRun(b, i, q, n) {
					d.nDims, i = n, q
					continue
				}
			} else if d.slot != nil {
				if !d.parseDims12(b, int(d.run.s), int(d.run.e)) {
					return false
				}
				d.slot = nil
			}
			d.nDims++
		}
		if t&7 == pbwire.BytesType && t>>3 >= 1 && t>>3 <= 6 {
			num := t >> 3
			s, e, ok := pbwire.ShortLen(b, j)
			if !ok {
				if s, e = pbwire.Len(b, j); e < 0 {
					return d.fail(e, j, record12Fields[num])
				}
			}
			ok = true
			switch num {
			case 1:
				var k, v span
				if k, v, ok = d.pair(b, s, e, "AnnotationEntry"); ok {
					d.annots = appendSpan(d.annots, k, v)
				}
			case 2:
				var k, v span
				if k, v, ok = d.pair(b, s, e, "DimensionEntry"); ok {
					d.dims = appendSpan(d.dims, k, v)
				}
			case 3:
				ok = d.parseMetric12(b, s, e, sample.KindGauge)
			case 4:
				ok = d.parseMetric12(b, s, e, sample.KindCounter)
			case 5:
				ok = d.parseMetric12(b, s, e, sample.KindTimer)
			case 6:
				d.id = span{uint32(s), uint32(e)}
			}
			if !ok {
				return false
			}
			i = e
			continue
		}
		if t == 7<<3|pbwire.VarintType {
			v, k := pbwire.Varint(b, j)
			if k < 0 {
				return d.fail(k, j, "Record.endMillisSinceEpoch")
			}
			d.time, i = v, k
			continue
		}
		// startMillisSinceEpoch (8) is ignored; skipping validates it.
		if i = d.unknown(b, i, j, t, 1, "Record"); i < 0 {
			return false
		}
	}
	return true
}

// parseDims12 parses a run of dimension entries that was skipped as cached.
func (d *Decoder) parseDims12(b []byte, i, end int) bool {
	b = b[:end]
	for i < end {
		s, e := pbwire.Len(b, i+1)
		if e < 0 {
			return false
		}
		k, v, ok := d.pair(b, s, e, "DimensionEntry")
		if !ok {
			return false
		}
		d.dims = appendSpan(d.dims, k, v)
		i = e
	}
	return true
}

var record12Fields = [...]string{"Record", "Record.annotations", "Record.dimensions", "Record.gauges",
	"Record.counters", "Record.timers", "Record.id"}

// pair reads an AnnotationEntry or DimensionEntry (depth 2): string name = 1,
// string value = 2; the last of each wins, "" if absent.
func (d *Decoder) pair(b []byte, i, end int, msg string) (key, val span, ok bool) {
	b = b[:end]
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return key, val, d.fail(j, i, msg)
			}
		}
		if t != 1<<3|pbwire.BytesType && t != 2<<3|pbwire.BytesType {
			if i = d.unknown(b, i, j, t, 2, msg); i < 0 {
				return key, val, false
			}
			continue
		}
		s, k := pbwire.String(b, j)
		if k < 0 {
			return key, val, d.fail(k, j, msg)
		}
		if t == 1<<3|pbwire.BytesType {
			key = span{uint32(s), uint32(k)}
		} else {
			val = span{uint32(s), uint32(k)}
		}
		i = k
	}
	return key, val, true
}

// parseMetric12 reads a MetricEntry (depth 2).
func (d *Decoder) parseMetric12(b []byte, i, end int, kind sample.Kind) bool {
	b = b[:end]
	n := len(d.m12)
	if n == cap(d.m12) {
		d.m12 = slices.Grow(d.m12, 1)
	}
	d.m12 = d.m12[:n+1]
	m := &d.m12[n]
	*m = metric12{}
	m.at, m.kind, m.qOff = uint32(i), kind, uint32(len(d.qtys))
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "MetricEntry")
			}
		}
		switch t {
		case 2<<3 | pbwire.BytesType:
			s, e, ok := pbwire.ShortLen(b, j)
			if !ok {
				if s, e = pbwire.Len(b, j); e < 0 {
					return d.fail(e, j, "MetricEntry.samples")
				}
			}
			if !d.parseQty(b, s, e) {
				return false
			}
			m = &d.m12[n]
			i = e
		case 1<<3 | pbwire.BytesType:
			s, k := pbwire.String(b, j)
			if k < 0 {
				return d.fail(k, j, "MetricEntry.name")
			}
			m.name, i = span{uint32(s), uint32(k)}, k
		default:
			if i = d.unknown(b, i, j, t, 2, "MetricEntry"); i < 0 {
				return false
			}
		}
	}
	m.qEnd = uint32(len(d.qtys))
	return true
}

// parseQty reads a V1 DoubleQuantity {double value = 1; CompoundUnit unit =
// 2} or a V2 Quantity {oneof {double doubleValue = 1; int64 longValue = 2}
// CompoundUnit unit = 3} (depth 3). A V2 Quantity with neither value is
// skipped, as MAD does (its unit is then never looked at).
func (d *Decoder) parseQty(b []byte, i, end int) bool {
	b = b[:end]
	var v float64
	hasValue := d.version == 1 // a V1 value is always there (0 if unset)
	var typ, scl int32
	hasUnit := false
	unitTag := uint32(2<<3 | pbwire.BytesType)
	if d.version == 2 {
		unitTag = 3<<3 | pbwire.BytesType
	}
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "Quantity")
			}
		}
		switch {
		case t == 1<<3|pbwire.Fixed64Type:
			x, k := pbwire.Double(b, j)
			if k < 0 {
				return d.fail(k, j, "Quantity.value")
			}
			v, hasValue, i = x, true, k
		case t == unitTag:
			s, e, ok := pbwire.ShortLen(b, j)
			if !ok {
				if s, e = pbwire.Len(b, j); e < 0 {
					return d.fail(e, j, "Quantity.unit")
				}
			}
			if !d.parseCompound(b, s, e, &typ, &scl, &hasUnit) {
				return false
			}
			i = e
		case t == 2<<3|pbwire.VarintType && d.version == 2:
			x, k := pbwire.Varint(b, j)
			if k < 0 {
				return d.fail(k, j, "Quantity.longValue")
			}
			v, hasValue, i = float64(int64(x)), true, k
		default:
			if i = d.unknown(b, i, j, t, 3, "Quantity"); i < 0 {
				return false
			}
		}
	}
	if !hasValue {
		return true
	}
	n := len(d.qtys)
	if n == cap(d.qtys) {
		d.qtys = slices.Grow(d.qtys, 1)
	}
	d.qtys = d.qtys[:n+1]
	q := &d.qtys[n]
	q.v, q.unit, q.typ, q.scl = v, unitNoneV, typ, scl
	if hasUnit {
		q.unit = resolveUnit(d.version, typ, scl)
	}
	return true
}

// parseCompound reads a CompoundUnit (depth 4): only the first numerator
// counts; denominators are read and ignored.
func (d *Decoder) parseCompound(b []byte, i, end int, typ, scl *int32, has *bool) bool {
	b = b[:end]
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return d.fail(j, i, "CompoundUnit")
			}
		}
		if t != 1<<3|pbwire.BytesType && t != 2<<3|pbwire.BytesType {
			if i = d.unknown(b, i, j, t, 4, "CompoundUnit"); i < 0 {
				return false
			}
			continue
		}
		s, e, ok := pbwire.ShortLen(b, j)
		if !ok {
			if s, e = pbwire.Len(b, j); e < 0 {
				return d.fail(e, j, "CompoundUnit")
			}
		}
		u, c, ok := d.parseUnitMsg(b, s, e)
		if !ok {
			return false
		}
		if t == 1<<3|pbwire.BytesType && !*has {
			*typ, *scl, *has = u, c, true
		}
		i = e
	}
	return true
}

// parseUnitMsg reads a Unit (depth 5): enum type = 1, enum scale = 2, as
// Java reads enums (int32: the low 32 bits of the varint).
func (d *Decoder) parseUnitMsg(b []byte, i, end int) (typ, scl int32, ok bool) {
	b = b[:end]
	for i < end {
		t, j, ok := pbwire.ShortTag(b, i)
		if !ok {
			if t, j = pbwire.Tag(b, i); j < 0 {
				return 0, 0, d.fail(j, i, "Unit")
			}
		}
		if t != 1<<3|pbwire.VarintType && t != 2<<3|pbwire.VarintType {
			if i = d.unknown(b, i, j, t, 5, "Unit"); i < 0 {
				return 0, 0, false
			}
			continue
		}
		v, k := pbwire.Varint(b, j)
		if k < 0 {
			return 0, 0, d.fail(k, j, "Unit")
		}
		if t == 1<<3|pbwire.VarintType {
			typ = int32(uint32(v))
		} else {
			scl = int32(uint32(v))
		}
		i = k
	}
	return typ, scl, true
}

// emitRecord12 checks what MAD checks when it builds the record, in MAD's
// order (id, annotations, dimensions, units, metric names), and routes its
// samples.
func (d *Decoder) emitRecord12(recAt int) bool {
	if d.id.e-d.id.s < 16 {
		d.f = failure{code: errShortID, off: recAt, record: d.st.Records}
		return false
	}
	if dup := sample.SortSpans(d.body, d.annots); dup >= 0 {
		d.fail(errDupAnnotation, recAt, "Record.annotations")
		d.f.detail = quote(d.body[d.annots[dup].K0:d.annots[dup].K1])
		return false
	}
	sectionOK := true
	if d.slot != nil {
		d.section = d.slot.section
	} else {
		if dup := sample.SortSpans(d.body, d.dims); dup >= 0 {
			d.fail(errDupDimension, recAt, "Record.dimensions")
			d.f.detail = quote(d.body[d.dims[dup].K0:d.dims[dup].K1])
			return false
		}
		// Cached once the units and names below pass too: a failure ends
		// the call's routing anyway.
		if sectionOK = d.buildSection(); sectionOK {
			d.fillRun()
		}
	}
	for i := range d.m12 {
		m := &d.m12[i]
		for _, q := range d.qtys[m.qOff:m.qEnd] {
			if q.unit == badUnit {
				t, s, _ := unitIndex(d.version, q.typ, q.scl)
				d.fail(errUnknownUnit, int(m.at), "Quantity.unit")
				d.f.metric = m.name
				d.f.detail = quote([]byte(unitName(t, s)))
				return false
			}
		}
	}
	if len(d.m12) > 1 {
		d.hashes = d.hashes[:0]
		for i := range d.m12 {
			d.hashes = append(d.hashes, sample.Hash(d.str(d.m12[i].name)))
		}
		if hasDup(d.hashes, &d.sorted) {
			if m := d.dupMetric12(); m >= 0 {
				d.fail(errDupMetric, int(d.m12[m].at), "MetricEntry.name")
				d.f.metric = d.m12[m].name
				return false
			}
		}
	}
	t := int64(d.time)
	tooLong := d.st.TooLong
	d.keys, d.hashes, d.refs, d.order = d.keys[:0], d.hashes[:0], d.refs[:0], d.order[:0]
	for i := range d.m12 {
		m := &d.m12[i]
		if m.qEnd == m.qOff {
			continue // a metric without values: MAD accumulates nothing
		}
		if !sectionOK || !d.metricKey(m.kind, d.str(m.name), len(d.order)) {
			d.st.TooLong++
			continue
		}
		d.order = append(d.order, int32(i))
	}
	for p, i := range d.order {
		m := &d.m12[i]
		key, h := d.key(int32(p))
		b, bi := d.routeTo(h)
		k := d.sharedKey(b, bi, int32(p), key, h)
		// The values go as runs (sample.Batch.AddRun) of one unit each,
		// in order.
		run, ru := d.unitRun[:0], sample.UnitNone
		for n, q := range d.qtys[m.qOff:m.qEnd] {
			if n > 0 && n%rerouteEvery == 0 {
				b.AddRun(k, t, 0, run, ru)
				run = run[:0]
				b, k = d.reroute(b, k, key, h)
			}
			u := sample.UnitNone
			if q.unit != unitNoneV {
				u = sample.Unit(q.unit)
			}
			v, u := sample.Normalize(q.v, u)
			if u != ru && len(run) > 0 {
				b.AddRun(k, t, 0, run, ru)
				run = run[:0]
			}
			run, ru = append(run, v), u
		}
		b.AddRun(k, t, 0, run, ru)
		d.unitRun = run[:0]
		d.st.Samples += int(m.qEnd - m.qOff)
	}
	if len(d.order) == 0 {
		if sectionOK {
			d.emitNone(t, 0)
		} else if d.st.TooLong == tooLong {
			d.st.TooLong++ // a record without metrics whose bucket cannot be keyed
		}
	}
	return true
}

// dupMetric12 returns the index of a metric whose name an earlier one has,
// or -1 (the hashes only collided). Names are sorted by hash first, so that
// this is O(n log n).
func (d *Decoder) dupMetric12() int {
	pairs := d.pairs[:0]
	for p, h := range d.hashes {
		pairs = append(pairs, hashPos{h, int32(p)})
	}
	d.pairs = pairs
	sortPairs(pairs)
	for r := 0; r < len(pairs); r++ {
		for q := r + 1; q < len(pairs) && pairs[q].h == pairs[r].h; q++ {
			if string(d.str(d.m12[pairs[q].p].name)) == string(d.str(d.m12[pairs[r].p].name)) {
				return int(pairs[q].p)
			}
		}
	}
	return -1
}
