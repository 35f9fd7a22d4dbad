// Package collectdref is a reference decoder for collectd write_http
// bodies that are plain JSON (no NaN or Infinity tokens, nothing after the
// value, valid UTF-8, no byte order mark): encoding/json into generic
// values, then MAD's CollectdJsonToRecordParser (MAD-SPEC §4.7) written
// out the way the Java reads, with Jackson's binding rules, as package
// collectd documents them. It shares no code with package collectd; keys
// are internal/sample's.
//
// It is slow and allocates freely; it is for tests (the collectd
// package's fuzzer and the harnesses of package fuzz).
package collectdref

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gomad/mad/internal/sample"
)

// ErrRefused is the reference's refusal of a body.
var ErrRefused = errors.New("collectdref: refused")

// maxNumberLen is Jackson's StreamReadConstraints.maxNumberLength.
const maxNumberLen = 1000

// Applicable reports whether the reference can judge body.
func Applicable(body []byte) bool {
	return utf8.Valid(body) && json.Valid(body) && !bytes.HasPrefix(body, []byte("\xef\xbb\xbf"))
}

// rec is a sample to append once the whole body is known to be good.
type rec struct {
	kind sample.Kind
	name string
	dims []sample.Dim
	v    float64
	t    int64
}

// Decode decodes an applicable body with the dimensions of its X-TAG-*
// headers (hd: keys lower-cased without the prefix, the last of a key
// winning) into samples without unit appended to b: one per value, in
// record and list order, or one KindNone sample (no name, value 0) for a
// record without metrics. A sample whose key exceeds sample.MaxKeyLen is
// left out (mad's limit). A refused body appends nothing. Records counts
// MAD records (value lists not skipped for their null values).
func Decode(body []byte, hd []sample.Dim, b *sample.Batch) (sample.Counts, error) {
	recs, records, err := decode(body, hd)
	if err != nil {
		return sample.Counts{}, err
	}
	n := 0
	for _, r := range recs {
		k, err := b.PutKey(r.kind, []byte(r.name), r.dims)
		if err != nil {
			continue
		}
		b.AddValue(k, r.t, 0, r.v, sample.UnitNone)
		n++
	}
	return sample.Counts{Records: records, Samples: n}, nil
}

func decode(body []byte, hd []sample.Dim) ([]rec, int, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, 0, ErrRefused
	}
	// Jackson's number length limit; fastjson's nesting limit (mad's).
	if !refLimits(root, 1) {
		return nil, 0, ErrRefused
	}
	arr, ok := root.([]any)
	if !ok {
		return nil, 0, ErrRefused
	}
	tags := map[string]string{}
	for _, d := range hd {
		tags[string(d.Key)] = string(d.Value)
	}
	var out []rec
	records := 0
	for _, x := range arr {
		o, ok := x.(map[string]any)
		if !ok {
			return nil, 0, ErrRefused
		}
		var f [5]string
		for i, k := range []string{"host", "plugin", "plugin_instance", "type", "type_instance"} {
			s, ok := refString(o[k])
			if !ok || o[k] == nil {
				return nil, 0, ErrRefused // @NotNull, or not a scalar
			}
			f[i] = s
		}
		host, plugin, pi, typ, ti := f[0], f[1], f[2], f[3], f[4]
		secs, null, ok := refDouble(o["time"])
		if !ok || null {
			return nil, 0, ErrRefused
		}
		// Lists: absent = empty, null = null.
		var lists [3][]any
		var nulls [3]bool
		for i, k := range []string{"values", "dstypes", "dsnames"} {
			switch v := o[k].(type) {
			case nil:
				_, nulls[i] = o[k]
			case []any:
				lists[i] = v
			default:
				return nil, 0, ErrRefused
			}
		}
		var values []*float64
		for _, e := range lists[0] {
			v, null, ok := refDouble(e)
			if !ok {
				return nil, 0, ErrRefused
			}
			if null {
				values = append(values, nil)
			} else {
				values = append(values, &v)
			}
		}
		var strs [3][]string
		for i := 1; i < 3; i++ {
			for _, e := range lists[i] {
				s, ok := refString(e)
				if !ok || e == nil {
					return nil, 0, ErrRefused // ImmutableList refuses null
				}
				strs[i] = append(strs[i], s)
			}
		}
		dstypes, dsnames := strs[1], strs[2]
		if !nulls[0] && (nulls[1] || nulls[2] || len(values) != len(dstypes) || len(values) != len(dsnames)) {
			return nil, 0, ErrRefused
		}
		tags["host"] = host
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var dims []sample.Dim
		for _, k := range keys {
			dims = append(dims, sample.Dim{Key: []byte(k), Value: []byte(tags[k])})
		}
		t := javaRound(secs * 1000)

		var recs []rec
		if !nulls[0] && !nulls[1] && !nulls[2] {
			allNull := len(values) > 0
			for _, v := range values {
				allNull = allNull && v == nil
			}
			if allNull {
				continue // MAD skips a value list whose (only) value is null
			}
			records++
			type entry struct {
				name string
				kind sample.Kind
				v    float64
			}
			var seen []entry
			first := map[string]sample.Kind{}
			for i, v := range values {
				if v == nil {
					continue
				}
				name := plugin
				if pi != "" {
					name += "/" + pi
				}
				name += "/" + typ
				if ti != "" {
					name += "/" + ti
				}
				if dsnames[i] != "" && dsnames[i] != "value" {
					name += "/" + dsnames[i]
				}
				kind := sample.KindGauge
				switch dstypes[i] {
				case "counter", "derive", "absolute":
					kind = sample.KindCounter
				}
				dup := false
				for _, e := range seen {
					dup = dup || (e.name == name && e.kind == kind && sameDouble(e.v, *v))
				}
				if dup {
					continue // a HashMultimap keeps equal metrics once
				}
				seen = append(seen, entry{name, kind, *v})
				if _, ok := first[name]; !ok {
					first[name] = kind
				}
				recs = append(recs, rec{first[name], name, dims, *v, t})
			}
		} else {
			records++
		}
		if len(recs) == 0 {
			recs = append(recs, rec{sample.KindNone, "", dims, 0, t})
		}
		out = append(out, recs...)
	}
	return out, records, nil
}

// refString is Jackson's String binding: scalars as their text.
func refString(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// refDouble is Jackson's Double binding, null included.
func refDouble(v any) (f float64, null, ok bool) {
	switch v := v.(type) {
	case nil:
		return 0, true, true
	case json.Number:
		f, _ := strconv.ParseFloat(string(v), 64)
		if f == 0 && !strings.ContainsAny(string(v), ".eE") {
			f = 0 // an integer token: -0 is +0
		}
		return f, false, true
	case string:
		return coerceDouble(v)
	}
	return 0, false, false
}

// javaDouble is the grammar of Java's Double.parseDouble (Double.valueOf's
// documentation) on trimmed text: a sign, then NaN, Infinity, or a decimal
// or hexadecimal (at least one digit, binary exponent required)
// floating-point literal with an optional f, F, d or D.
var javaDouble = regexp.MustCompile(`^([+-]?)(NaN|Infinity|(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+)[fFdD]?)$`)

// jacksonSpecial are the texts Jackson's String coercion reads as special
// doubles before anything else, untrimmed.
var jacksonSpecial = map[string]float64{
	"INF": math.Inf(1), "Infinity": math.Inf(1), "-INF": math.Inf(-1), "-Infinity": math.Inf(-1), "NaN": math.NaN(),
}

// coerceDouble is Jackson's coercion of a String to a Double: "INF",
// "Infinity", "-INF", "-Infinity" and "NaN" as such; "", blank and "null"
// are null; anything else is Double.parseDouble of the text trimmed as
// String.trim does (no longer than Jackson's number limit).
func coerceDouble(s string) (f float64, null, ok bool) {
	if f, ok := jacksonSpecial[s]; ok {
		return f, false, true
	}
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	if s == "" || s == "null" {
		return 0, true, true
	}
	m := javaDouble.FindStringSubmatch(s)
	if m == nil || len(s) > maxNumberLen {
		return 0, false, false
	}
	switch {
	case m[2] == "NaN":
		f = math.NaN()
	case m[2] == "Infinity":
		f = math.Inf(1)
	default:
		// strconv reads both literals, correctly rounded as Java does
		// (out of range: ±Inf or 0, as Java).
		f, _ = strconv.ParseFloat(strings.TrimRight(m[2], "fFdD"), 64)
	}
	if m[1] == "-" {
		f = -f
	}
	return f, false, true
}

// javaRound is Java's Math.round: the closest long, ties toward positive
// infinity; NaN is 0; out of range saturates.
func javaRound(x float64) int64 {
	if math.IsNaN(x) {
		return 0
	}
	r := math.Round(x) // ties away from zero
	if r-x == -0.5 {
		r++ // a negative tie goes up
	}
	n, _ := big.NewFloat(r).Int64() // saturates, infinities included
	return n
}

// sameDouble is Double.compare(a, b) == 0: NaNs are equal, 0.0 and -0.0 are
// not.
func sameDouble(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

func refLimits(v any, depth int) bool {
	switch v := v.(type) {
	case json.Number:
		return len(v) <= maxNumberLen
	case []any:
		if depth > 300 {
			return false
		}
		for _, x := range v {
			if !refLimits(x, depth+1) {
				return false
			}
		}
	case map[string]any:
		if depth > 300 {
			return false
		}
		for _, x := range v {
			if !refLimits(x, depth+1) {
				return false
			}
		}
	}
	return true
}
