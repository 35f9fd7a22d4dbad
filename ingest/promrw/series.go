package promrw

import (
	"bytes"
	"math"

	"github.com/gomad/mad/internal/inplace"
	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// fastLabel reads a Label as every encoder writes it: name = 1, then
// value = 2, lengths below 16 KiB, nothing else. ok is false for anything
// else (an absent value, other fields, invalid UTF-8, …), which label then
// reads field by field.
func fastLabel(m []byte) (name, value []byte, ok bool) {
	if len(m) < 4 || m[0] != 1<<3|pbwire.BytesType {
		return nil, nil, false
	}
	ns, ne, ok := pbwire.ShortLen(m, 1)
	if !ok || ne >= len(m) || m[ne] != 2<<3|pbwire.BytesType {
		return nil, nil, false
	}
	vs, ve, ok := pbwire.ShortLen(m, ne+1)
	if !ok || ve != len(m) {
		return nil, nil, false
	}
	name, value = m[ns:ne], m[vs:ve]
	if !(pbwire.ASCII(name) || pbwire.ValidUTF8(name)) || !(pbwire.ASCII(value) || pbwire.ValidUTF8(value)) {
		return nil, nil, false
	}
	return name, value, true
}

// wireErr returns the *ParseError of a message that is not valid protobuf
// (MAD's InvalidProtocolBufferException), found at off.
func (d *Decoder) wireErr(series int, c pbwire.Code, off int) error {
	return d.fail(series, off, "malformed protobuf: "+c.String())
}

// label reads a prometheus.Label (v1): name = 1, value = 2, both strings
// (proto3: must be valid UTF-8; the last occurrence wins; absent is "").
// It is the slow path of fastLabel.
func (d *Decoder) label(r pbwire.Reader, series int) (name, value []byte, err error) {
	for r.More() {
		f := r.Next()
		if f.Tag != 1<<3|pbwire.BytesType && f.Tag != 2<<3|pbwire.BytesType {
			continue
		}
		v := r.Bytes(f)
		if !pbwire.ValidUTF8(v) {
			return nil, nil, d.fail(series, f.At, "label is not valid UTF-8")
		}
		if f.Num() == 1 {
			name = v
		} else {
			value = v
		}
	}
	if r.Err() != pbwire.OK {
		return nil, nil, d.wireErr(series, r.Err(), r.ErrOffset())
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
		var dim *sample.Dim
		d.dims, dim = inplace.Next(d.dims) // not a Dim built aside and copied
		dim.Key, dim.Value = name, value
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
func (d *Decoder) samples(msg []byte, idx int, keep bool, unit sample.Unit, name []byte, route sample.Route) error {
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
		v, t, err := d.sample(msg, int(sp.off), int(sp.off+sp.len), idx)
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

// sample reads a Sample, msg[s:e]: value = 1 (double), timestamp = 2
// (int64 ms); the same in both versions. Fields with another wire type are
// unknown fields, as in Java's parser.
func (d *Decoder) sample(msg []byte, s, e, idx int) (v float64, t int64, err error) {
	// What every encoder writes: value, then timestamp.
	if b := msg[s:e]; len(b) >= 11 && b[0] == 1<<3|pbwire.Fixed64Type && b[9] == 2<<3|pbwire.VarintType {
		x, k := pbwire.Varint(b, 10)
		if k == len(b) {
			v, _ := pbwire.Double(b, 1)
			return v, int64(x), nil
		}
	}
	r := pbwire.NewReaderAt(msg, s, e, 2)
	for r.More() {
		switch f := r.Next(); f.Tag {
		case 1<<3 | pbwire.Fixed64Type:
			v = f.Double()
		case 2<<3 | pbwire.VarintType:
			t = f.Int64()
		}
	}
	if r.Err() != pbwire.OK {
		return 0, 0, d.wireErr(idx, r.Err(), r.ErrOffset())
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
