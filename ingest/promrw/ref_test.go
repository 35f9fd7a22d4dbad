package promrw

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/sample"
)

// A reference decoder, written the way MAD's Java is: parse the whole message
// into structures first (protobuf's parseFrom), then walk the series with
// strings, Java's index arithmetic and a map of dimensions. The fuzzer holds
// the streaming, byte-level Decoder to it.

type refLabel struct{ name, value string }

type refSeries struct {
	labels  []refLabel
	refs    []uint32
	samples []smp
}

var errRef = errors.New("reference: refused")

// javaVarint reads a varint as protobuf-java's CodedInputStream does: ten
// bytes at most, the bits beyond 64 of the tenth dropped (a tag or a length
// is then its low 32 bits). n < 0 if it is malformed or truncated.
func javaVarint(b []byte) (v uint64, n int) {
	for i := 0; i < 10 && i < len(b); i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// javaSkip skips the value of an unknown field (num, typ) as skipField
// does, in a message whose fields are at nesting depth depth: groups match
// their end-group tag and nest at most 100 deep. n < 0 on failure.
func javaSkip(b []byte, num uint32, typ protowire.Type, depth int) int {
	if typ != protowire.StartGroupType {
		return -1 // end group outside a group, wire types 6 and 7
	}
	if depth >= 100 {
		return -1
	}
	for p := 0; ; {
		tag, n := javaVarint(b[p:])
		if n < 0 || uint32(tag)>>3 == 0 {
			return -1
		}
		p += n
		inner, t := uint32(tag)>>3, protowire.Type(tag&7)
		switch t {
		case protowire.EndGroupType:
			if inner != num {
				return -1
			}
			return p
		case protowire.VarintType:
			_, n = javaVarint(b[p:])
		case protowire.Fixed32Type:
			_, n = protowire.ConsumeFixed32(b[p:])
		case protowire.Fixed64Type:
			_, n = protowire.ConsumeFixed64(b[p:])
		case protowire.BytesType:
			var l uint64
			if l, n = javaVarint(b[p:]); n >= 0 {
				if size := int32(uint32(l)); size < 0 || int(size) > len(b)-p-n {
					n = -1
				} else {
					n += int(size)
				}
			}
		default:
			n = javaSkip(b[p:], inner, t, depth+1)
		}
		if n < 0 {
			return -1
		}
		p += n
	}
}

// refMessage walks the fields of a message at nesting depth depth, as
// protobuf-java reads them, calling f for each; it fails on any malformed
// field.
func refMessage(b []byte, depth int, f func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error) error {
	for len(b) > 0 {
		tag, n := javaVarint(b)
		if n < 0 || uint32(tag)>>3 == 0 {
			return errRef
		}
		num, typ := protowire.Number(uint32(tag)>>3), protowire.Type(tag&7)
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = javaVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			var l uint64
			if l, n = javaVarint(b); n >= 0 {
				if size := int32(uint32(l)); size < 0 || int(size) > len(b)-n {
					n = -1
				} else {
					bs, n = b[n:n+int(size)], n+int(size)
				}
			}
		default:
			n = javaSkip(b, uint32(num), typ, depth)
		}
		if n < 0 {
			return errRef
		}
		b = b[n:]
		if err := f(num, typ, v, bs); err != nil {
			return err
		}
	}
	return nil
}

func refString(bs []byte) (string, error) {
	if !utf8.Valid(bs) {
		return "", errRef
	}
	return string(bs), nil
}

func refSample(bs []byte) (smp, error) {
	var s smp
	err := refMessage(bs, 2, func(num protowire.Number, typ protowire.Type, v uint64, _ []byte) error {
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			s.v = math.Float64frombits(v)
		case num == 2 && typ == protowire.VarintType:
			s.t = int64(v)
		}
		return nil
	})
	return s, err
}

// refParse parses a whole request (after snappy) into series and symbols.
func refParse(msg []byte, version int) (series []refSeries, syms []string, err error) {
	seriesField, histField := protowire.Number(1), v1Histograms
	if version == 2 {
		seriesField, histField = v2Timeseries, v2Histograms
	}
	err = refMessage(msg, 0, func(num protowire.Number, typ protowire.Type, _ uint64, bs []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		if version == 2 && num == v2Symbols {
			s, err := refString(bs)
			syms = append(syms, s)
			return err
		}
		if num != seriesField {
			return nil
		}
		var s refSeries
		err := refMessage(bs, 1, func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
			switch {
			case num == 1 && version == 2 && typ == protowire.VarintType:
				s.refs = append(s.refs, uint32(v))
			case num == 1 && version == 2 && typ == protowire.BytesType:
				for len(bs) > 0 {
					x, n := javaVarint(bs)
					if n < 0 {
						return errRef
					}
					s.refs = append(s.refs, uint32(x))
					bs = bs[n:]
				}
			case num == 1 && version == 1 && typ == protowire.BytesType:
				var l refLabel
				if err := refMessage(bs, 2, func(num protowire.Number, typ protowire.Type, _ uint64, bs []byte) error {
					if typ != protowire.BytesType || (num != 1 && num != 2) {
						return nil
					}
					str, err := refString(bs)
					if num == 1 {
						l.name = str
					} else {
						l.value = str
					}
					return err
				}); err != nil {
					return err
				}
				s.labels = append(s.labels, l)
			case num == 2 && typ == protowire.BytesType:
				x, err := refSample(bs)
				if err != nil {
					return err
				}
				s.samples = append(s.samples, x)
			case num == histField && typ == protowire.BytesType:
			}
			return nil
		})
		series = append(series, s)
		return err
	})
	return series, syms, err
}

// javaLastIndexOf is String.lastIndexOf(ch, fromIndex).
func javaLastIndexOf(s string, ch byte, from int) int {
	if from >= len(s) {
		from = len(s) - 1
	}
	for i := from; i >= 0; i-- {
		if s[i] == ch {
			return i
		}
	}
	return -1
}

// refNameAndUnit transliterates MAD's parseNameAndUnit.
func refNameAndUnit(name string, interpretUnits bool) (agg bool, unit sample.Unit) {
	lastUnderscore := strings.LastIndex(name, "_")
	if lastUnderscore >= 0 {
		switch name[lastUnderscore+1:] {
		case "total", "bucket", "sum", "avg", "count":
			agg = true
		}
	}
	if !interpretUnits {
		return agg, sample.UnitNone
	}
	unitIndexEnd := len(name) - 1
	if agg {
		unitIndexEnd = lastUnderscore - 1
	}
	unitStart := 0
	if prev := javaLastIndexOf(name, '_', unitIndexEnd); prev >= 0 {
		unitStart = prev + 1
	}
	switch name[unitStart : unitIndexEnd+1] {
	case "seconds":
		unit = sample.Second
	case "celcius":
		unit = sample.Celcius
	case "bytes":
		unit = sample.Byte
	case "bits":
		unit = sample.Bit
	}
	return agg, unit
}

// refDecode is MAD's PrometheusToRecordParser.parse over refParse.
func refDecode(body []byte, version int, cfg Config) ([]rec, error) {
	// Refuse what cannot be a valid block before DecodeStrict allocates
	// what the header claims (as the decoder, it must not allocate 4 GiB
	// for a 6-byte body).
	declared, hdr := binary.Uvarint(body)
	switch {
	case hdr <= 0 || hdr > 5 || declared > 0xffffffff:
		return nil, errRef // C++ snappy reads a varint32
	case cfg.MaxDecompressed > 0 && declared > uint64(cfg.MaxDecompressed),
		cfg.MaxDecompressed <= 0 && declared > DefaultMaxDecompressed:
		return nil, sample.ErrTooLarge
	case declared > uint64(len(body))*22:
		return nil, errRef
	}
	msg, err := snappy.DecodeStrict(nil, body)
	if err != nil {
		return nil, errRef
	}
	series, syms, err := refParse(msg, version)
	if err != nil {
		return nil, err
	}
	white := map[string]bool{}
	for _, n := range cfg.ReservedNameWhitelist {
		white[n] = true
	}
	var out []rec
	for _, s := range series {
		labels := s.labels
		if version == 2 {
			if len(s.refs)%2 != 0 {
				return nil, errRef
			}
			labels = nil
			for i := 0; i < len(s.refs); i += 2 {
				if int(s.refs[i]) >= len(syms) || int(s.refs[i+1]) >= len(syms) {
					return nil, errRef
				}
				labels = append(labels, refLabel{syms[s.refs[i]], syms[s.refs[i+1]]})
			}
		}
		skip, nameOpt := false, ""
		dims := map[string]string{}
		dup := false
		for _, l := range labels {
			switch l.name {
			case "__name__":
				nameOpt = l.value
			case "le":
				skip = true
			default:
				if _, ok := dims[l.name]; ok {
					dup = true
				}
				dims[l.name] = l.value
			}
		}
		if skip {
			continue
		}
		name := strings.TrimFunc(nameOpt, func(r rune) bool { return r <= ' ' })
		agg, unit := refNameAndUnit(name, cfg.InterpretUnits)
		if agg && !white[name] {
			continue
		}
		if name == "" || dup {
			return nil, errRef
		}
		var keys []string
		for k := range dims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ds []sample.Dim
		var dstr []string
		for _, k := range keys {
			ds = append(ds, sample.Dim{Key: []byte(k), Value: []byte(dims[k])})
			dstr = append(dstr, k+"="+dims[k])
		}
		if _, err := sample.AppendKey(nil, sample.KindGauge, []byte(name), ds); err != nil {
			continue // longer than a canonical key can be: mad skips it
		}
		for _, x := range s.samples {
			if math.IsNaN(x.v) || math.IsInf(x.v, 0) {
				continue
			}
			v, u := x.v, unit
			switch u {
			case sample.Bit:
				v, u = v*(1.0/8), sample.Byte
			case sample.Celcius:
				v, u = v+273.15, sample.Kelvin
			}
			out = append(out, rec{name, strings.Join(dstr, ","), v, x.t, u})
		}
	}
	return out, nil
}
