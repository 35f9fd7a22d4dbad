// Package telegrafref is a reference decoder for Telegraf JSON lines that
// are plain JSON (valid UTF-8, shallow):
// encoding/json into generic values, then MAD's TelegrafJsonToRecordParser
// (MAD-SPEC §4.6) written out the way the Java reads, with Jackson's
// binding rules, as package telegraf documents them. It shares no code
// with package telegraf; values are read with javanumref, the reference
// for Java's NumberFormat, and keys are internal/sample's.
//
// It is slow and allocates freely; it is for tests (the telegraf
// package's fuzzer and the harnesses of package fuzz).
package telegrafref

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/javanum/javanumref"
	"github.com/gomad/mad/internal/sample"
)

// ErrRefused is the reference's refusal of a line.
var ErrRefused = errors.New("telegrafref: refused")

// Applicable reports whether the reference can judge line: valid UTF-8,
// valid JSON and fewer than 200 '[' and '{'.
func Applicable(line []byte) bool {
	return utf8.Valid(line) && json.Valid(line) &&
		bytes.Count(line, []byte("["))+bytes.Count(line, []byte("{")) < 200
}

// record is a sample to append once the whole line is known to be good.
type record struct {
	kind sample.Kind
	name string
	dims []sample.Dim
	v    float64
	t    int64
}

// Decode decodes one line (an applicable one) with timestamps in unit
// (telegraf.Config.TimestampUnit: "SECONDS" or "", "MILLISECONDS",
// "MICROSECONDS", "NANOSECONDS") into TIMER samples without unit appended
// to b, one per numeric field, or one KindNone sample (no name, value 0)
// for a telegraf metric without one. A refused line appends nothing.
// Records counts the telegraf metrics.
func Decode(line []byte, unit string, b *sample.Batch) (sample.Counts, error) {
	recs, n, err := decode(line, unit)
	if err != nil {
		return sample.Counts{}, err
	}
	for _, r := range recs {
		k, _ := b.PutKey(r.kind, []byte(r.name), r.dims)
		b.AddValue(k, r.t, 0, r.v, sample.UnitNone)
	}
	return sample.Counts{Records: n, Samples: len(recs)}, nil
}

func decode(line []byte, u string) ([]record, int, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, 0, ErrRefused
	}
	o, ok := root.(map[string]any)
	if !ok {
		return nil, 0, ErrRefused
	}
	list := []any{o}
	if m, ok := o["metrics"]; ok {
		if list, ok = m.([]any); !ok {
			return nil, 0, ErrRefused
		}
	}
	var out []record
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, 0, ErrRefused
		}
		name, ok := refString(m["name"])
		if !ok {
			return nil, 0, ErrRefused
		}
		ts, ok := refLong(m["timestamp"])
		if !ok || ts < 0 {
			return nil, 0, ErrRefused
		}
		fields, ok := refMap(m, "fields")
		if !ok {
			return nil, 0, ErrRefused
		}
		tags, ok := refMap(m, "tags")
		if !ok {
			return nil, 0, ErrRefused
		}
		var keys []string
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var dims []sample.Dim
		for _, k := range keys {
			dims = append(dims, sample.Dim{Key: []byte(k), Value: []byte(tags[k])})
		}
		// Long arithmetic: seconds × 1000 wraps; the divisions truncate.
		var t int64
		switch u {
		case "", "SECONDS":
			t = ts * 1000
		case "MILLISECONDS":
			t = ts
		case "MICROSECONDS":
			t = ts / 1000
		case "NANOSECONDS":
			t = ts / 1000000
		default:
			panic("telegrafref: unknown timestamp unit " + strconv.Quote(u))
		}
		// Fields in key order: each is its own series.
		var fieldKeys []string
		for k := range fields {
			fieldKeys = append(fieldKeys, k)
		}
		sort.Strings(fieldKeys)
		n := 0
		for _, k := range fieldKeys {
			s := fields[k]
			v, used := javanumref.Parse([]byte(s))
			ok := used > 0
			if !ok {
				switch strings.ToLower(s) {
				case "true":
					v, ok = 1, true
				case "false":
					v, ok = 0, true
				}
			}
			if !ok {
				continue
			}
			mn := k
			if name != "" {
				mn = name + "." + k
			}
			out = append(out, record{sample.KindTimer, mn, dims, v, t})
			n++
		}
		if n == 0 {
			out = append(out, record{sample.KindNone, "", dims, 0, t})
		}
	}
	// mad refuses a line with a key over sample.MaxKeyLen.
	for _, r := range out {
		if _, err := sample.AppendKey(nil, r.kind, []byte(r.name), r.dims); err != nil {
			return nil, 0, ErrRefused
		}
	}
	return out, len(list), nil
}

// nodeText is the text of the node Jackson's readTree makes of a number
// token, which MAD binds to its String fields: an integral token is an
// int, long or BigInteger node (its value in decimal: "-0" is "0"), any
// other a double node (Double.toString: "1e3" is "1000.0").
func nodeText(tok string) string {
	if !strings.ContainsAny(tok, ".eE") {
		if n, ok := new(big.Int).SetString(tok, 10); ok {
			return n.String()
		}
		return tok
	}
	f, _ := strconv.ParseFloat(tok, 64)
	return string(javanum.AppendDouble(nil, f))
}

// refString: a String as Jackson binds it (null and containers refused).
func refString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return nodeText(string(x)), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// refLong: a Long as Jackson binds it.
func refLong(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, true
		}
		if !strings.ContainsAny(string(x), ".eE") {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	case string:
		n, err := strconv.ParseInt(strings.TrimFunc(x, func(r rune) bool { return r <= ' ' }), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// refMap: an ImmutableMap<String, String>, empty when absent.
func refMap(m map[string]any, key string) (map[string]string, bool) {
	v, ok := m[key]
	if !ok {
		return nil, true
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for k, x := range o {
		s, ok := refString(x)
		if !ok {
			return nil, false
		}
		out[k] = s
	}
	return out, true
}
