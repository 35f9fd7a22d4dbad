// Package promrwref is a reference decoder for Prometheus remote write 1.0
// and 2.0 requests, written the way MAD's Java is (PrometheusToRecordParser,
// MAD-SPEC §4.3, §9.4): parse the whole message into structures first
// (protobuf's parseFrom), then walk the series with strings, Java's index
// arithmetic and a map of dimensions. It shares no code with package promrw
// nor with internal/pbwire; it decompresses with klauspost's snappy, reads
// fixed-width fields with protowire and builds keys with internal/sample.
//
// It is slow and allocates freely; it is for tests (the promrw package's
// tests and fuzzers, and the harnesses of package fuzz).
package promrwref

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/sample"
)

// DefaultMaxDecompressed is the limit on the decompressed message when
// Config.MaxDecompressed is 0 (mad's PrometheusHttpSource default).
const DefaultMaxDecompressed = 256 << 20

// Config is what the reference reads of PrometheusHttpSource's
// configuration.
type Config struct {
	// InterpretUnits and ReservedNameWhitelist are MAD's interpretUnits
	// and reservedNameWhitelist.
	InterpretUnits        bool
	ReservedNameWhitelist []string
	// MaxDecompressed bounds the decompressed message in bytes; 0 means
	// DefaultMaxDecompressed.
	MaxDecompressed int
}

// The fields read (field numbers of remote write 1.0's prompb and of
// io.prometheus.write.v2).
const (
	v1Histograms protowire.Number = 4
	v2Symbols    protowire.Number = 4
	v2Timeseries protowire.Number = 5
	v2Histograms protowire.Number = 3
)

// Label is a label of a parsed time series.
type Label struct{ Name, Value string }

// Sample is a sample of a parsed time series: its value and timestamp (ms).
type Sample struct {
	V float64
	T int64
}

// Series is a parsed time series: its labels (1.0), or the references of
// its labels into the symbol table (2.0), and its samples.
type Series struct {
	Labels  []Label
	Refs    []uint32
	Samples []Sample
}

var errRef = errors.New("promrwref: malformed message")

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

func refSample(bs []byte) (Sample, error) {
	var s Sample
	err := refMessage(bs, 2, func(num protowire.Number, typ protowire.Type, v uint64, _ []byte) error {
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			s.V = math.Float64frombits(v)
		case num == 2 && typ == protowire.VarintType:
			s.T = int64(v)
		}
		return nil
	})
	return s, err
}

// Parse parses a whole message (after snappy) of remote write version (1
// or 2) into series and, for 2.0, the symbol table, as protobuf-java does.
func Parse(msg []byte, version int) (series []Series, syms []string, err error) {
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
		var s Series
		err := refMessage(bs, 1, func(num protowire.Number, typ protowire.Type, v uint64, bs []byte) error {
			switch {
			case num == 1 && version == 2 && typ == protowire.VarintType:
				s.Refs = append(s.Refs, uint32(v))
			case num == 1 && version == 2 && typ == protowire.BytesType:
				for len(bs) > 0 {
					x, n := javaVarint(bs)
					if n < 0 {
						return errRef
					}
					s.Refs = append(s.Refs, uint32(x))
					bs = bs[n:]
				}
			case num == 1 && version == 1 && typ == protowire.BytesType:
				var l Label
				if err := refMessage(bs, 2, func(num protowire.Number, typ protowire.Type, _ uint64, bs []byte) error {
					if typ != protowire.BytesType || (num != 1 && num != 2) {
						return nil
					}
					str, err := refString(bs)
					if num == 1 {
						l.Name = str
					} else {
						l.Value = str
					}
					return err
				}); err != nil {
					return err
				}
				s.Labels = append(s.Labels, l)
			case num == 2 && typ == protowire.BytesType:
				x, err := refSample(bs)
				if err != nil {
					return err
				}
				s.Samples = append(s.Samples, x)
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

// NameAndUnit transliterates MAD's parseNameAndUnit: whether the name's
// last token is an aggregation key, and its unit.
func NameAndUnit(name string, interpretUnits bool) (agg bool, unit sample.Unit) {
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

// Decode decodes a request of remote write version (1 or 2), body being
// the snappy block as sent, and appends its samples to b: one GAUGE sample
// per finite sample of each kept series, in series then sample order, at
// the sample's timestamp, with the unit the name gives (Config.InterpretUnits)
// normalised, as MAD's PrometheusToRecordParser.parse makes its records. A
// series whose key exceeds sample.MaxKeyLen is left out (mad's limit). Each
// sample is one record: Records = Samples. A refused request appends
// nothing; the error is sample.ErrMalformed for what MAD refuses with 400 (a
// ParsingException), sample.ErrTooLarge for a decompressed message over the
// limit (413; MAD has none).
func Decode(body []byte, version int, cfg Config, b *sample.Batch) (sample.Counts, error) {
	recs, err := decode(body, version, cfg)
	if err != nil {
		return sample.Counts{}, err
	}
	for _, r := range recs {
		k, err := b.PutKey(sample.KindGauge, []byte(r.name), r.dims)
		if err != nil {
			panic("BUG: promrwref: a record's key is too long")
		}
		b.AddValue(k, r.t, 0, r.v, r.unit)
	}
	return sample.Counts{Records: len(recs), Samples: len(recs)}, nil
}

// record is one of MAD's records: a sample of a kept series.
type record struct {
	name string
	dims []sample.Dim // sorted by key
	v    float64
	t    int64
	unit sample.Unit
}

// decode is MAD's PrometheusToRecordParser.parse over Parse.
func decode(body []byte, version int, cfg Config) ([]record, error) {
	// Refuse what cannot be a valid block before DecodeStrict allocates
	// what the header claims (as the decoder, it must not allocate 4 GiB
	// for a 6-byte body).
	declared, hdr := binary.Uvarint(body)
	switch {
	case hdr <= 0 || hdr > 5 || declared > 0xffffffff:
		return nil, sample.ErrMalformed // C++ snappy reads a varint32
	case cfg.MaxDecompressed > 0 && declared > uint64(cfg.MaxDecompressed),
		cfg.MaxDecompressed <= 0 && declared > DefaultMaxDecompressed:
		return nil, sample.ErrTooLarge
	case declared > uint64(len(body))*22:
		return nil, sample.ErrMalformed
	}
	msg, err := snappy.DecodeStrict(nil, body)
	if err != nil {
		return nil, sample.ErrMalformed
	}
	series, syms, err := Parse(msg, version)
	if err != nil {
		return nil, sample.ErrMalformed
	}
	white := map[string]bool{}
	for _, n := range cfg.ReservedNameWhitelist {
		white[n] = true
	}
	var out []record
	for _, s := range series {
		labels := s.Labels
		if version == 2 {
			if len(s.Refs)%2 != 0 {
				return nil, sample.ErrMalformed
			}
			labels = nil
			for i := 0; i < len(s.Refs); i += 2 {
				if int(s.Refs[i]) >= len(syms) || int(s.Refs[i+1]) >= len(syms) {
					return nil, sample.ErrMalformed
				}
				labels = append(labels, Label{syms[s.Refs[i]], syms[s.Refs[i+1]]})
			}
		}
		skip, nameOpt := false, ""
		dims := map[string]string{}
		dup := false
		for _, l := range labels {
			switch l.Name {
			case "__name__":
				nameOpt = l.Value
			case "le":
				skip = true
			default:
				if _, ok := dims[l.Name]; ok {
					dup = true
				}
				dims[l.Name] = l.Value
			}
		}
		if skip {
			continue
		}
		name := strings.TrimFunc(nameOpt, func(r rune) bool { return r <= ' ' })
		agg, unit := NameAndUnit(name, cfg.InterpretUnits)
		if agg && !white[name] {
			continue
		}
		if name == "" || dup {
			return nil, sample.ErrMalformed
		}
		var ds []sample.Dim
		for _, k := range slices.Sorted(maps.Keys(dims)) {
			ds = append(ds, sample.Dim{Key: []byte(k), Value: []byte(dims[k])})
		}
		if _, err := sample.AppendKey(nil, sample.KindGauge, []byte(name), ds); err != nil {
			continue // longer than a canonical key can be: mad skips it
		}
		for _, x := range s.Samples {
			if math.IsNaN(x.V) || math.IsInf(x.V, 0) {
				continue
			}
			v, u := x.V, unit
			switch u {
			case sample.Bit:
				v, u = v*(1.0/8), sample.Byte
			case sample.Celcius:
				v, u = v+273.15, sample.Kelvin
			}
			out = append(out, record{name, ds, v, x.T, u})
		}
	}
	return out, nil
}
