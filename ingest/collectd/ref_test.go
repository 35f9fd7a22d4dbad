package collectd

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gomad/mad/internal/sample"
)

// A reference decoder for bodies that are plain JSON (no NaN or Infinity
// tokens, nothing after the value, valid UTF-8, no byte order mark):
// encoding/json into generic values, then MAD's CollectdJsonToRecordParser
// written out the way the Java reads, with Jackson's binding rules. The
// fuzzer holds the fastjson-based Decoder to it.

var errRef = errors.New("reference: refused")

// refApplicable reports whether the reference can judge body.
func refApplicable(body []byte) bool {
	return utf8.Valid(body) && json.Valid(body) && !bytes.HasPrefix(body, []byte("\xef\xbb\xbf"))
}

func refDecode(body []byte, hd []sample.Dim) ([]rec, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, errRef
	}
	// Jackson's number length limit; fastjson's nesting limit (mad's).
	if !refLimits(root, 1) {
		return nil, errRef
	}
	arr, ok := root.([]any)
	if !ok {
		return nil, errRef
	}
	tags := map[string]string{}
	for _, d := range hd {
		tags[string(d.Key)] = string(d.Value)
	}
	var out []rec
	for _, x := range arr {
		o, ok := x.(map[string]any)
		if !ok {
			return nil, errRef
		}
		var f [5]string
		for i, k := range []string{"host", "plugin", "plugin_instance", "type", "type_instance"} {
			s, ok := refString(o[k])
			if !ok || o[k] == nil {
				return nil, errRef // @NotNull, or not a scalar
			}
			f[i] = s
		}
		host, plugin, pi, typ, ti := f[0], f[1], f[2], f[3], f[4]
		secs, null, ok := refDouble(o["time"])
		if !ok || null {
			return nil, errRef
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
				return nil, errRef
			}
		}
		var values []*float64
		for _, e := range lists[0] {
			v, null, ok := refDouble(e)
			if !ok {
				return nil, errRef
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
					return nil, errRef // ImmutableList refuses null
				}
				strs[i] = append(strs[i], s)
			}
		}
		dstypes, dsnames := strs[1], strs[2]
		if !nulls[0] && (nulls[1] || nulls[2] || len(values) != len(dstypes) || len(values) != len(dsnames)) {
			return nil, errRef
		}
		tags["host"] = host
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var dims []string
		for _, k := range keys {
			dims = append(dims, k+"="+tags[k])
		}
		dimStr := strings.Join(dims, ",")
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
				recs = append(recs, rec{first[name], name, dimStr, *v, t})
			}
		}
		if len(recs) == 0 {
			recs = append(recs, rec{sample.KindNone, "", dimStr, 0, t})
		}
		out = append(out, recs...)
	}
	return out, nil
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

// refDouble is Jackson's Double binding.
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
		return coerceDouble([]byte(v))
	}
	return 0, false, false
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
