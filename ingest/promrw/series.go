package promrw

import (
	"bytes"
	"encoding/binary"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/sample"
)

// field is one protobuf field of a message.
type field struct {
	num protowire.Number
	typ protowire.Type
	// u holds a varint, fixed64 or fixed32 value.
	u uint64
	// val is a length-delimited payload; valOff its offset in the message.
	val    []byte
	valOff int
}

// errTruncated is protowire's code for a message that ends inside a field.
const errTruncated = -1

// nextField reads the field at b[off:]. It returns the field and the offset
// after it, or a negative protowire error code. Groups (of unknown fields)
// are skipped whole; a stray end-group tag or an invalid wire type is an
// error, as in Java's parser. Tags of fields 1 to 15 and lengths below 128
// take a fast path; everything else goes through protowire.
func nextField(b []byte, off int) (f field, end, code int) {
	if off < len(b) && b[off] >= 8 && b[off] < 0x80 {
		tag := b[off]
		f.num, f.typ = protowire.Number(tag>>3), protowire.Type(tag&7)
		p := off + 1
		switch f.typ {
		case protowire.BytesType:
			if p < len(b) && b[p] < 0x80 {
				l := int(b[p])
				p++
				if l > len(b)-p {
					return f, p, errTruncated
				}
				f.val, f.valOff = b[p:p+l], p
				return f, p + l, 0
			}
		case protowire.Fixed64Type:
			if len(b)-p < 8 {
				return f, p, errTruncated
			}
			f.u = binary.LittleEndian.Uint64(b[p:])
			return f, p + 8, 0
		case protowire.VarintType:
			if p < len(b) && b[p] < 0x80 {
				f.u = uint64(b[p])
				return f, p + 1, 0
			}
		}
	}
	return nextFieldSlow(b, off)
}

func nextFieldSlow(b []byte, off int) (f field, end, code int) {
	num, typ, n := protowire.ConsumeTag(b[off:])
	if n < 0 {
		return f, off, n
	}
	f.num, f.typ = num, typ
	p := off + n
	var m int
	switch typ {
	case protowire.VarintType:
		f.u, m = protowire.ConsumeVarint(b[p:])
	case protowire.Fixed64Type:
		f.u, m = protowire.ConsumeFixed64(b[p:])
	case protowire.Fixed32Type:
		var v uint32
		v, m = protowire.ConsumeFixed32(b[p:])
		f.u = uint64(v)
	case protowire.BytesType:
		f.val, m = protowire.ConsumeBytes(b[p:])
		if m >= 0 {
			f.valOff = p + m - len(f.val)
		}
	default:
		m = protowire.ConsumeFieldValue(num, typ, b[p:])
	}
	if m < 0 {
		return f, p, m
	}
	return f, p + m, 0
}

// len2 reads a varint of one or two bytes (a length below 16 KiB) at b[p:];
// ok is false for anything else, which the general path then reads.
func len2(b []byte, p int) (l, next int, ok bool) {
	if p < len(b) {
		if c := b[p]; c < 0x80 {
			return int(c), p + 1, true
		}
		if p+1 < len(b) && b[p+1] < 0x80 {
			return int(b[p]&0x7f) | int(b[p+1])<<7, p + 2, true
		}
	}
	return 0, p, false
}

// fastLabel reads a Label as every encoder writes it: name = 1, then
// value = 2, lengths below 16 KiB, nothing else. ok is false for anything
// else (an absent value, other fields, invalid UTF-8, …), which label then
// reads field by field.
func fastLabel(m []byte) (name, value []byte, ok bool) {
	if len(m) < 4 || m[0] != 0x0a {
		return nil, nil, false
	}
	nl, q, ok := len2(m, 1)
	if !ok || nl > len(m)-q-2 || m[q+nl] != 0x12 {
		return nil, nil, false
	}
	name = m[q : q+nl]
	vl, r, ok := len2(m, q+nl+1)
	if !ok || vl != len(m)-r {
		return nil, nil, false
	}
	value = m[r:]
	if !(ascii(name) || utf8.Valid(name)) || !(ascii(value) || utf8.Valid(value)) {
		return nil, nil, false
	}
	return name, value, true
}

// ascii reports whether every byte of b is below 0x80.
func ascii(b []byte) bool {
	var or uint64
	for len(b) >= 8 {
		or |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		or |= uint64(c)
	}
	return or&0x8080808080808080 == 0
}

// wireErr turns a protowire error code into a *ParseError (MAD's
// InvalidProtocolBufferException).
func (d *Decoder) wireErr(series, off, code int) error {
	return d.fail(series, off, "malformed protobuf: "+protowire.ParseError(code).Error())
}

// label reads a prometheus.Label (v1): name = 1, value = 2, both strings
// (proto3: must be valid UTF-8; the last occurrence wins; absent is "").
func (d *Decoder) label(b []byte, base, series int) (name, value []byte, err error) {
	if name, value, ok := fastLabel(b); ok {
		return name, value, nil
	}
	for off := 0; off < len(b); {
		f, end, code := nextField(b, off)
		if code < 0 {
			return nil, nil, d.wireErr(series, base+off, code)
		}
		if f.typ == protowire.BytesType && (f.num == 1 || f.num == 2) {
			if !utf8.Valid(f.val) {
				return nil, nil, d.fail(series, base+off, "label is not valid UTF-8")
			}
			if f.num == 1 {
				name = f.val
			} else {
				value = f.val
			}
		}
		off = end
	}
	return name, value, nil
}

// series is the part of a TimeSeries that MAD's rules look at.
type series struct {
	name    []byte
	hasName bool
	le      bool
}

// addLabel sorts one label into the series: the name, the `le` marker, or a
// dimension.
func (d *Decoder) addLabel(s *series, name, value []byte) {
	switch string(name) {
	case "__name__":
		s.name, s.hasName = value, true
	case "le":
		s.le = true
	default:
		d.dims = append(d.dims, sample.Dim{Key: name, Value: value})
	}
}

// admit applies MAD's series rules in MAD's order to a series whose labels
// have been read: an `le` label skips it; the trimmed name's aggregation
// suffix skips it unless whitelisted; an empty name refuses the request;
// duplicate label names (ImmutableMap.Builder.build) refuse it too. It
// sorts d.dims when the series is kept.
func (d *Decoder) admit(s *series, idx, off int) (keep bool, unit sample.Unit, err error) {
	if s.le {
		d.st.SkippedSeries++
		return false, 0, nil
	}
	s.name = trimJava(s.name)
	r := parseNameAndUnit(s.name, d.cfg.InterpretUnits)
	if r.aggregation {
		if _, ok := d.whitelist[string(s.name)]; !ok {
			d.st.SkippedSeries++
			return false, 0, nil
		}
	}
	if len(s.name) == 0 {
		if s.hasName {
			return false, 0, d.fail(idx, off, "empty metric name")
		}
		return false, 0, d.fail(idx, off, "no metric name (__name__ label)")
	}
	if i := sortDims(d.dims); i >= 0 {
		return false, 0, d.fail(idx, off, "duplicate label "+strconvQuote(d.dims[i].Key))
	}
	return true, r.unit, nil
}

// samples decodes the samples of the current series (d.smps, spans of
// msg), validating every one, and emits the finite ones when keep is set,
// under the series key it builds (once) into d.key.
func (d *Decoder) samples(msg []byte, idx int, keep bool, unit sample.Unit, name []byte, route Route) error {
	var h uint64
	tooLong := false
	if keep {
		key, err := sample.AppendKey(d.key[:0], sample.KindGauge, name, d.dims)
		d.key = key
		if err != nil {
			tooLong = true
		} else {
			h = sample.Hash(key)
		}
		d.lastB = nil
	}
	for _, sp := range d.smps {
		v, t, err := d.sample(msg[sp.off:sp.off+sp.len], int(sp.off), idx)
		if err != nil {
			return err
		}
		switch {
		case !keep:
		case math.IsNaN(v) || math.IsInf(v, 0):
			d.st.NonFinite++
		case tooLong:
			d.st.TooLong++
		default:
			nv, nu := sample.Normalize(v, unit)
			if err := d.emit(route, d.key, h, t, nv, nu); err != nil {
				return err
			}
		}
	}
	return nil
}

// sample reads a Sample: value = 1 (double), timestamp = 2 (int64 ms); the
// same in both versions. Fields with another wire type are unknown fields,
// as in Java's parser.
func (d *Decoder) sample(b []byte, base, idx int) (v float64, t int64, err error) {
	// What every encoder writes: value, then timestamp.
	if len(b) >= 11 && b[0] == 0x09 && b[9] == 0x10 {
		x, n := protowire.ConsumeVarint(b[10:])
		if n == len(b)-10 {
			return math.Float64frombits(binary.LittleEndian.Uint64(b[1:])), int64(x), nil
		}
	}
	for off := 0; off < len(b); {
		f, end, code := nextField(b, off)
		if code < 0 {
			return 0, 0, d.wireErr(idx, base+off, code)
		}
		switch {
		case f.num == 1 && f.typ == protowire.Fixed64Type:
			v = math.Float64frombits(f.u)
		case f.num == 2 && f.typ == protowire.VarintType:
			t = int64(f.u)
		}
		off = end
	}
	return v, t, nil
}

// sortDims is sample.SortDims with a fast path for what senders do: labels
// already sorted by name (Prometheus sorts them), checked, with duplicates
// found, in one pass.
func sortDims(dims []sample.Dim) int {
	for i := 1; i < len(dims); i++ {
		a, b := dims[i-1].Key, dims[i].Key
		if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
			if a[0] > b[0] {
				return sample.SortDims(dims)
			}
			continue
		}
		switch c := bytes.Compare(a, b); {
		case c > 0:
			return sample.SortDims(dims)
		case c == 0:
			return i
		}
	}
	return -1
}
