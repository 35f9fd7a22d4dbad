package telegraf

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/sample"
)

// A reference decoder for lines that are plain JSON (valid UTF-8, no
// surrogate escapes, shallow): encoding/json into generic values, then
// MAD's TelegrafJsonToRecordParser written out the way the Java reads,
// with Jackson's binding rules. The fuzzer holds the fastjson-based Decoder
// to it.

var errRef = errors.New("reference: refused")

func refApplicable(line []byte) bool {
	return utf8.Valid(line) && json.Valid(line) &&
		!bytes.Contains(bytes.ToLower(line), []byte(`\ud`)) &&
		bytes.Count(line, []byte("["))+bytes.Count(line, []byte("{")) < 200
}

func refDecode(line []byte, u unit) ([]rec, int, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, 0, errRef
	}
	o, ok := root.(map[string]any)
	if !ok {
		return nil, 0, errRef
	}
	list := []any{o}
	if m, ok := o["metrics"]; ok {
		if list, ok = m.([]any); !ok {
			return nil, 0, errRef
		}
	}
	var out []rec
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, 0, errRef
		}
		name, ok := refString(m["name"])
		if !ok {
			return nil, 0, errRef
		}
		ts, ok := refLong(m["timestamp"])
		if !ok || ts < 0 {
			return nil, 0, errRef
		}
		fields, ok := refMap(m, "fields")
		if !ok {
			return nil, 0, errRef
		}
		tags, ok := refMap(m, "tags")
		if !ok {
			return nil, 0, errRef
		}
		var keys []string
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var dims []string
		for _, k := range keys {
			dims = append(dims, k+"="+tags[k])
		}
		ds := strings.Join(dims, ",")
		var t int64
		switch u {
		case unitSeconds:
			t = ts * 1000
		case unitMillis:
			t = ts
		case unitMicros:
			t = ts / 1000
		case unitNanos:
			t = ts / 1000000
		}
		n := 0
		for k, s := range fields {
			v, used := javanum.Parse([]byte(s))
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
			if len(mn)+len(ds)+64 > sample.MaxKeyLen {
				return nil, 0, errRef // skip the exact key-length limit
			}
			out = append(out, rec{sample.KindTimer, mn, ds, v, t})
			n++
		}
		if n == 0 {
			out = append(out, rec{sample.KindNone, "", ds, 0, t})
		}
	}
	return out, len(list), nil
}

// refString: a String as Jackson binds it (null and containers refused).
func refString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
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

// TestAgainstReference: every seed line the reference can judge, in every
// unit.
func TestAgainstReference(t *testing.T) {
	for i, line := range seedLines(t) {
		if !refApplicable(line) {
			continue
		}
		for _, u := range []string{"SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS"} {
			d := NewDecoder(Config{TimestampUnit: u})
			got, st, err := decode(t, d, line)
			want, n, werr := refDecode(line, d.unit)
			if (err != nil) != (werr != nil) || err == nil && (st.Records != n || !sameRecs(sortRecs(got), sortRecs(want))) {
				t.Errorf("seed %d %s: got %v %+v (%v); reference %v %d (%v)", i, u, got, st, err, want, n, werr)
			}
		}
	}
}
