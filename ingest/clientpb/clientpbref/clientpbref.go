// Package clientpbref is a slow reference decoder for MAD's client
// protocols V1, V2 and V3 (MAD-SPEC §4.1, §4.2, §9.1, §9.2), written
// independently of package clientpb and of internal/pbwire, the way MAD
// works: parse the whole body into messages first (protobuf-java's rules),
// merge repeated singular message fields by parsing the concatenation of
// their payloads (protobuf's definition of merging), then build each record
// with maps, in MAD's order of checks. Keys are internal/sample's.
//
// It allocates freely; it is for tests (the clientpb package's tests and
// fuzzers, and the harnesses of package fuzz).
package clientpbref

import (
	"errors"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gomad/mad/internal/sample"
)

// allStats is what a set of V3 statistics carries.
const allStats = sample.HasMin | sample.HasMax | sample.HasSum | sample.HasCount | sample.HasHist

// Decode decodes a body of client protocol version (1, 2 or 3) and appends
// its samples to b, as MAD builds its records: record by record; in a
// record, metric by metric (V1/V2 in body order, V3 in the order of first
// appearance of a name), each metric's values (units normalised with
// sample.Normalize) before its V3 statistics (sample.FlagAgg); and one
// KindNone sample (no name, value 0) for a record that routes nothing else.
// A metric whose key exceeds sample.MaxKeyLen is left out (mad's limit).
// Records counts the body's records. A refused body appends nothing; the
// error is sample.ErrMalformed for what MAD refuses with 400 (a
// ParsingException), sample.ErrMADFails for what it fails on otherwise
// with 500 (a record id shorter than 16 bytes).
func Decode(version int, body []byte, b *sample.Batch) (sample.Counts, error) {
	recs, err := decode(version, body)
	if err != nil {
		return sample.Counts{}, err
	}
	c := sample.Counts{Records: len(recs)}
	for _, rec := range recs {
		n := 0
		for _, m := range rec.metrics {
			if len(m.values) == 0 {
				continue
			}
			k, err := b.PutKey(m.kind, []byte(m.name), rec.dims)
			if err != nil {
				continue
			}
			for _, v := range m.values {
				if v.agg {
					b.AddAgg(k, rec.time, rec.req, v.a, v.hist, sample.UnitNone)
				} else {
					b.AddValue(k, rec.time, rec.req, v.v, v.unit)
				}
				n++
			}
		}
		if n == 0 {
			if k, err := b.PutKey(sample.KindNone, nil, rec.dims); err == nil {
				b.AddValue(k, rec.time, rec.req, 0, sample.UnitNone)
				n++
			}
		}
		c.Samples += n
	}
	return c, nil
}

type rfield struct {
	num, wt uint32
	u       uint64
	b       []byte
}

var errRef = errors.New("reference: invalid protobuf")

func rvarint(b []byte) (uint64, int, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		if i >= len(b) {
			return 0, 0, errRef
		}
		x |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return x, i + 1, nil
		}
	}
	return 0, 0, errRef
}

// rparse parses a message whose fields are read at nesting depth depth.
func rparse(b []byte, depth int) ([]rfield, error) {
	fs, rest, err := rfields(b, depth, 0)
	if err != nil || len(rest) != 0 {
		return nil, errRef
	}
	return fs, nil
}

// rfields reads fields until the end of b or, in a group (group > 0), its
// end-group tag.
func rfields(b []byte, depth int, group uint32) ([]rfield, []byte, error) {
	var fs []rfield
	for len(b) > 0 {
		tag, n, err := rvarint(b)
		if err != nil {
			return nil, nil, err
		}
		b = b[n:]
		t := uint32(tag)
		f := rfield{num: t >> 3, wt: t & 7}
		if f.num == 0 {
			return nil, nil, errRef
		}
		switch f.wt {
		case 0:
			if f.u, n, err = rvarint(b); err != nil {
				return nil, nil, err
			}
			b = b[n:]
		case 1, 5:
			w := 8
			if f.wt == 5 {
				w = 4
			}
			if len(b) < w {
				return nil, nil, errRef
			}
			for i := w - 1; i >= 0; i-- {
				f.u = f.u<<8 | uint64(b[i])
			}
			b = b[w:]
		case 2:
			l, n, err := rvarint(b)
			if err != nil {
				return nil, nil, err
			}
			b = b[n:]
			if int32(uint32(l)) < 0 || int(int32(uint32(l))) > len(b) {
				return nil, nil, errRef
			}
			f.b, b = b[:int32(uint32(l))], b[int32(uint32(l)):]
		case 3:
			if depth >= 100 {
				return nil, nil, errRef
			}
			if _, b, err = rfields(b, depth+1, f.num); err != nil {
				return nil, nil, err
			}
		case 4:
			if group == 0 || f.num != group {
				return nil, nil, errRef
			}
			return fs, b, nil
		default:
			return nil, nil, errRef
		}
		fs = append(fs, f)
	}
	if group != 0 {
		return nil, nil, errRef
	}
	return fs, b, nil
}

// rmsg validates every occurrence of a message field on its own, then
// returns their merge: the parse of the concatenated payloads.
func rmsg(fs []rfield, num uint32, depth int) (merged []rfield, present bool, err error) {
	var cat []byte
	for _, f := range fs {
		if f.num == num && f.wt == 2 {
			if _, err := rparse(f.b, depth); err != nil {
				return nil, false, err
			}
			cat = append(cat, f.b...)
			present = true
		}
	}
	if !present {
		return nil, false, nil
	}
	merged, err = rparse(cat, depth)
	return merged, true, err
}

func rlast(fs []rfield, num, wt uint32) (rfield, bool) {
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].num == num && fs[i].wt == wt {
			return fs[i], true
		}
	}
	return rfield{}, false
}

// rstrings validates the proto3 string fields num of fs.
func rstrings(fs []rfield, num uint32) error {
	for _, f := range fs {
		if f.num == num && f.wt == 2 && !utf8.Valid(f.b) {
			return errRef
		}
	}
	return nil
}

// value is one value of a metric, or (V3) one set of statistics.
type value struct {
	v    float64
	unit sample.Unit
	agg  bool
	a    sample.Agg
	hist []sample.HistEntry
}

// rmetric is a metric of a reference record.
type rmetric struct {
	kind   sample.Kind
	name   string
	values []value // values then aggregates, in MAD's order
}

type rrecord struct {
	dims    []sample.Dim // sorted by key
	time    int64
	req     int64
	metrics []rmetric
}

// decode returns the records of a body, or why MAD refuses it.
func decode(version int, body []byte) ([]rrecord, error) {
	top, err := rparse(body, 0)
	if err != nil {
		return nil, sample.ErrMalformed
	}
	var recs [][]rfield
	for _, f := range top {
		if f.num == 1 && f.wt == 2 {
			r, err := rparse(f.b, 1)
			if err != nil {
				return nil, sample.ErrMalformed
			}
			recs = append(recs, r)
		}
	}
	// Parse everything first, as protobuf-java does, keeping MAD's checks
	// for the second pass.
	var built []func() (rrecord, error)
	for _, r := range recs {
		var f func() (rrecord, error)
		if version == 3 {
			f, err = refRecord3(r)
		} else {
			f, err = refRecord12(version, r)
		}
		if err != nil {
			return nil, sample.ErrMalformed
		}
		built = append(built, f)
	}
	out := make([]rrecord, 0, len(built))
	for _, f := range built {
		rec, err := f()
		if err != nil {
			return nil, err
		}
		slices.SortFunc(rec.dims, func(a, b sample.Dim) int { return strings.Compare(string(a.Key), string(b.Key)) })
		out = append(out, rec)
	}
	return out, nil
}

func refIdent(fs []rfield, num uint32) (string, bool, error) {
	m, present, err := rmsg(fs, num, 3)
	if err != nil || !present {
		return "", false, err
	}
	if err := rstrings(m, 1); err != nil {
		return "", false, err
	}
	f, ok := rlast(m, 1, 2)
	return string(f.b), ok, nil
}

func refRecord3(r []rfield) (func() (rrecord, error), error) {
	var rec rrecord
	id, _ := rlast(r, 1, 2)
	if f, ok := rlast(r, 2, 0); ok {
		rec.time = int64(f.u)
	}
	if f, ok := rlast(r, 6, 0); ok {
		rec.req = int64(f.u)
	}
	type dimIdents struct {
		k, v     string
		okK, okV bool
	}
	var dims []dimIdents
	for _, f := range r {
		if f.num != 4 || f.wt != 2 {
			continue
		}
		de, err := rparse(f.b, 2)
		if err != nil {
			return nil, err
		}
		var d dimIdents
		if d.k, d.okK, err = refIdent(de, 1); err != nil {
			return nil, err
		}
		if d.v, d.okV, err = refIdent(de, 2); err != nil {
			return nil, err
		}
		dims = append(dims, d)
	}
	type entry struct {
		name    string
		nameOK  bool
		data    bool
		samples []float64
		stats   bool
		agg     value
	}
	var entries []entry
	for _, f := range r {
		if f.num != 5 || f.wt != 2 {
			continue
		}
		me, err := rparse(f.b, 2)
		if err != nil {
			return nil, err
		}
		var e entry
		if e.name, e.nameOK, err = refIdent(me, 1); err != nil {
			return nil, err
		}
		nd, present, err := rmsg(me, 2, 3)
		if err != nil {
			return nil, err
		}
		e.data = present
		for _, s := range nd {
			switch {
			case s.num == 1 && s.wt == 1:
				e.samples = append(e.samples, math.Float64frombits(s.u))
			case s.num == 1 && s.wt == 2:
				if len(s.b)%8 != 0 {
					return nil, errRef
				}
				for p := 0; p < len(s.b); p += 8 {
					var u uint64
					for i := 7; i >= 0; i-- {
						u = u<<8 | uint64(s.b[p+i])
					}
					e.samples = append(e.samples, math.Float64frombits(u))
				}
			}
		}
		ah, present, err := rmsg(nd, 2, 4)
		if err != nil {
			return nil, err
		}
		if present {
			e.stats = true
			a := value{agg: true, a: sample.Agg{Has: allStats}}
			var count int64
			for _, h := range ah {
				switch {
				case h.num == 1 && h.wt == 2:
					se, err := rparse(h.b, 5)
					if err != nil {
						return nil, err
					}
					var bucket, c uint64
					if f, ok := rlast(se, 1, 0); ok {
						bucket = f.u
					}
					if f, ok := rlast(se, 2, 0); ok {
						c = f.u
					}
					count += int64(c)
					a.hist = append(a.hist, sample.HistEntry{Value: math.Float64frombits(bucket << 45), Count: c})
				case h.num == 3 && h.wt == 1:
					a.a.Min = math.Float64frombits(h.u)
				case h.num == 4 && h.wt == 1:
					a.a.Max = math.Float64frombits(h.u)
				case h.num == 5 && h.wt == 1:
					a.a.Sum = math.Float64frombits(h.u)
				}
			}
			a.a.Count = float64(count)
			e.agg = a
		}
		entries = append(entries, e)
	}
	return func() (rrecord, error) {
		if len(id.b) < 16 {
			return rrecord{}, sample.ErrMADFails
		}
		seen := map[string]bool{}
		for _, d := range dims {
			if !d.okK || !d.okV {
				return rrecord{}, sample.ErrMalformed
			}
			if seen[d.k] {
				return rrecord{}, sample.ErrMalformed
			}
			seen[d.k] = true
			rec.dims = append(rec.dims, sample.Dim{Key: []byte(d.k), Value: []byte(d.v)})
		}
		byName := map[string]int{}
		var vals, aggs [][]value
		for _, e := range entries {
			if !e.nameOK {
				return rrecord{}, sample.ErrMalformed
			}
			if !e.data || (len(e.samples) == 0 && !e.stats) {
				continue
			}
			i, ok := byName[e.name]
			if !ok {
				i = len(rec.metrics)
				byName[e.name] = i
				rec.metrics = append(rec.metrics, rmetric{kind: sample.KindGauge, name: e.name})
				vals, aggs = append(vals, nil), append(aggs, nil)
			}
			for _, v := range e.samples {
				vals[i] = append(vals[i], value{v: v})
			}
			if e.stats {
				aggs[i] = append(aggs[i], e.agg)
			}
		}
		for i := range rec.metrics {
			rec.metrics[i].values = append(vals[i], aggs[i]...)
		}
		return rec, nil
	}, nil
}

func refRecord12(version int, r []rfield) (func() (rrecord, error), error) {
	var rec rrecord
	id, _ := rlast(r, 6, 2)
	if f, ok := rlast(r, 7, 0); ok {
		rec.time = int64(f.u)
	}
	var annots, dims [][2]string
	for _, f := range r {
		if (f.num != 1 && f.num != 2) || f.wt != 2 {
			continue
		}
		e, err := rparse(f.b, 2)
		if err != nil {
			return nil, err
		}
		if rstrings(e, 1) != nil || rstrings(e, 2) != nil {
			return nil, errRef
		}
		k, _ := rlast(e, 1, 2)
		v, _ := rlast(e, 2, 2)
		if f.num == 1 {
			annots = append(annots, [2]string{string(k.b), string(v.b)})
		} else {
			dims = append(dims, [2]string{string(k.b), string(v.b)})
		}
	}
	type quantity struct {
		v        float64
		unit     string // MAD unit name, "" for none
		hasValue bool
	}
	type metric struct {
		kind sample.Kind
		name string
		qs   []quantity
	}
	var metrics []metric
	kinds := map[uint32]sample.Kind{3: sample.KindGauge, 4: sample.KindCounter, 5: sample.KindTimer}
	for _, f := range r {
		if f.num < 3 || f.num > 5 || f.wt != 2 {
			continue
		}
		me, err := rparse(f.b, 2)
		if err != nil {
			return nil, err
		}
		if rstrings(me, 1) != nil {
			return nil, errRef
		}
		m := metric{kind: kinds[f.num]}
		if n, ok := rlast(me, 1, 2); ok {
			m.name = string(n.b)
		}
		for _, s := range me {
			if s.num != 2 || s.wt != 2 {
				continue
			}
			q, err := rparse(s.b, 3)
			if err != nil {
				return nil, err
			}
			var qt quantity
			unitNum := uint32(2)
			if version == 2 {
				unitNum = 3
			}
			for _, x := range q {
				switch {
				case x.num == 1 && x.wt == 1:
					qt.v, qt.hasValue = math.Float64frombits(x.u), true
				case version == 2 && x.num == 2 && x.wt == 0:
					qt.v, qt.hasValue = float64(int64(x.u)), true
				}
			}
			if version == 1 {
				qt.hasValue = true
			}
			cu, present, err := rmsg(q, unitNum, 4)
			if err != nil {
				return nil, err
			}
			if present {
				first := true
				for _, u := range cu {
					if (u.num != 1 && u.num != 2) || u.wt != 2 {
						continue
					}
					um, err := rparse(u.b, 5)
					if err != nil {
						return nil, err
					}
					if u.num == 1 && first {
						first = false
						var typ, scl int32
						if f, ok := rlast(um, 1, 0); ok {
							typ = int32(uint32(f.u))
						}
						if f, ok := rlast(um, 2, 0); ok {
							scl = int32(uint32(f.u))
						}
						qt.unit = refUnitName(version, typ, scl)
					}
				}
			}
			if qt.hasValue {
				m.qs = append(m.qs, qt)
			}
		}
		metrics = append(metrics, m)
	}
	return func() (rrecord, error) {
		if len(id.b) < 16 {
			return rrecord{}, sample.ErrMADFails
		}
		for _, list := range [][][2]string{annots, dims} {
			seen := map[string]bool{}
			for _, p := range list {
				if seen[p[0]] {
					return rrecord{}, sample.ErrMalformed
				}
				seen[p[0]] = true
			}
		}
		for _, d := range dims {
			rec.dims = append(rec.dims, sample.Dim{Key: []byte(d[0]), Value: []byte(d[1])})
		}
		names := map[string]bool{}
		for _, m := range metrics {
			rm := rmetric{kind: m.kind, name: m.name}
			for _, q := range m.qs {
				u := sample.UnitNone
				if q.unit != "" {
					var ok bool
					if u, ok = sample.ParseUnit(q.unit); !ok {
						return rrecord{}, sample.ErrMalformed
					}
				}
				v, u := sample.Normalize(q.v, u)
				rm.values = append(rm.values, value{v: v, unit: u})
			}
			rec.metrics = append(rec.metrics, rm)
		}
		for _, m := range metrics {
			if names[m.name] {
				return rrecord{}, sample.ErrMalformed
			}
			names[m.name] = true
		}
		return rec, nil
	}, nil
}

// refUnitName is MAD's unit name for a V1/V2 Unit, "" for no unit.
func refUnitName(version int, typ, scl int32) string {
	types := []string{"SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "BIT", "BYTE", "ROTATION", "DEGREE", "RADIAN", "CELSIUS", "FAHRENHEIT", "KELVIN"}
	scales := []string{"YOCTO", "ZEPTO", "ATTO", "FEMTO", "PICO", "NANO", "MICRO", "MILLI", "CENTI", "DECI", "DECA", "HECTO", "KILO", "MEGA", "GIGA", "TERA", "PETA", "EXA", "ZETTA", "YOTTA", "KIBI", "MEBI", "GIBI", "TEBI", "PEBI", "EXBI", "ZEBI", "YOBI"}
	if version == 2 {
		typ--
		if scl == 0 || scl == 1 {
			scl = -1
		} else {
			scl -= 2
		}
	}
	if typ < 0 || int(typ) >= len(types) {
		return ""
	}
	if scl < 0 || int(scl) >= len(scales) {
		return types[typ]
	}
	return scales[scl] + types[typ]
}
