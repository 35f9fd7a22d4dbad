package telegraf

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/telegraf/telegrafref"
	"github.com/gomad/mad/internal/sample"
)

const vectorDir = "../../testdata/mad/parsers/TelegrafJsonParserTest"

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatalf("reading vector: %v", err)
	}
	return b
}

// rec is a decoded sample in MAD's terms.
type rec struct {
	kind sample.Kind
	name string
	dims string // "k=v,k=v" in canonical order
	v    float64
	t    int64
}

func (r rec) String() string {
	return fmt.Sprintf("%v %q{%s} %v @%d", r.kind, r.name, r.dims, r.v, r.t)
}

func sameRecs(a, b []rec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.kind != y.kind || x.name != y.name || x.dims != y.dims || x.t != y.t ||
			!(x.v == y.v && math.Signbit(x.v) == math.Signbit(y.v) || math.IsNaN(x.v) && math.IsNaN(y.v)) {
			return false
		}
	}
	return true
}

// sortRecs orders records by name: fields of one metric are separate
// series, so their relative order is not part of MAD's semantics.
func sortRecs(r []rec) []rec {
	sort.SliceStable(r, func(i, j int) bool { return r[i].dims+r[i].name < r[j].dims+r[j].name })
	return r
}

// recsOf reads a batch back, checking every key and hash.
func recsOf(t testing.TB, b *sample.Batch) []rec {
	t.Helper()
	var out []rec
	for i := range b.Samples {
		s := &b.Samples[i]
		key := b.Key(s)
		pk, err := sample.ParseKey(key)
		if err != nil || sample.Hash(key) != s.Hash {
			t.Fatalf("sample %d: bad key %q (%v)", i, key, err)
		}
		if s.Flags != 0 || s.ReqTime != 0 || s.Unit != sample.UnitNone {
			t.Fatalf("sample %d: %+v; want a plain value without unit", i, s)
		}
		switch {
		case pk.Kind == sample.KindTimer:
		case pk.Kind == sample.KindNone && len(pk.Name) == 0 && s.Value == 0:
		default:
			t.Fatalf("sample %d: kind %v name %q", i, pk.Kind, pk.Name)
		}
		var dims []string
		it := pk.DimIter()
		for d, ok := it.Next(); ok; d, ok = it.Next() {
			dims = append(dims, string(d.Key)+"="+string(d.Value))
		}
		out = append(out, rec{pk.Kind, string(pk.Name), strings.Join(dims, ","), s.Value, s.Time})
	}
	return out
}

// decode decodes a line into a single batch, checking the stats.
func decode(t testing.TB, d *Decoder, line []byte) ([]rec, sample.Counts, error) {
	t.Helper()
	var b sample.Batch
	st, err := d.DecodeLine(line, 42, func(uint64) *sample.Batch { return &b })
	got := recsOf(t, &b)
	if err != nil && (len(got) != 0 || st != sample.Counts{}) {
		t.Fatalf("error %v with %d samples routed, stats %+v", err, len(got), st)
	}
	if st.Samples != len(got) || (st.Records > 0) != (st.Samples > 0) || st.Samples < st.Records {
		t.Fatalf("stats %+v for %d samples", st, len(got))
	}
	return got, st, err
}

func timers(name, dims string, t int64, fv ...any) []rec {
	var out []rec
	for i := 0; i < len(fv); i += 2 {
		n := fv[i].(string)
		if name != "" {
			n = name + "." + n
		}
		out = append(out, rec{sample.KindTimer, n, dims, fv[i+1].(float64), t})
	}
	return out
}

// TestVectors: MAD's TelegrafJsonToRecordParserTest vectors with its
// expectations (MAD-SPEC §14): testParse, testBatch and testBlankName (the
// files present).
func TestVectors(t *testing.T) {
	const ts = 1458229140000
	d1 := "cluster=MyCluster,foo=bar,host=MyHost,region=US,service=MyService"
	d2 := "bar=foo,cluster=MyCluster2,host=MyHost2,region=CA,service=MyService2"
	cat := func(a ...[]rec) []rec {
		var out []rec
		for _, x := range a {
			out = append(out, x...)
		}
		return out
	}
	for _, tc := range []struct {
		file    string
		records int
		want    []rec
	}{
		{"testParse.json", 1, timers("MyName", d1, ts, "t1", 123.0, "t2", 1.23, "g1", 246.0, "g2", 2.46, "c1", 1.0)},
		{"testBatch.json", 2, cat(
			timers("MyName", d1, ts, "t1", 123.0, "t2", 1.23, "g1", 246.0, "g2", 2.46, "c1", 1.0),
			timers("MyName2", d2, ts, "t1", 456.0, "t2", 4.56, "g1", 482.0, "g2", 4.82, "c1", 2.0))},
		{"testBlankName.json", 1, timers("", "cluster=MyCluster,host=MyHost,service=MyService", ts, "foo.t1", 123.0, "bar.t2", 1.23)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, st, err := decode(t, NewDecoder(Config{}), readVector(t, tc.file))
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if st.Records != tc.records {
				t.Fatalf("got %d records; want %d", st.Records, tc.records)
			}
			if !sameRecs(sortRecs(got), sortRecs(tc.want)) {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
	// Every timestamp unit on the testParse vector.
	for unit, want := range map[string]int64{
		"": ts, "SECONDS": ts, "MILLISECONDS": 1458229140, "MICROSECONDS": 1458229, "NANOSECONDS": 1458,
	} {
		got, _, err := decode(t, NewDecoder(Config{TimestampUnit: unit}), readVector(t, "testParse.json"))
		if err != nil || len(got) != 5 || got[0].t != want {
			t.Errorf("unit %q: got %v, %v; want time %d", unit, got, err, want)
		}
	}
}

// TestRules: one case per rule of MAD's parser and per error.
func TestRules(t *testing.T) {
	none := func(dims string, t int64) []rec { return []rec{{sample.KindNone, "", dims, 0, t}} }
	for _, tc := range []struct {
		name   string
		unit   string
		line   string
		want   []rec
		errSub string
	}{
		{name: "minimal", line: `{"name":"n","timestamp":1,"fields":{"f":2}}`, want: timers("n", "", 1000, "f", 2.0)},
		{name: "blank name", line: `{"name":"","timestamp":1,"fields":{"f":2}}`, want: timers("", "", 1000, "f", 2.0)},
		{name: "name as number", line: `{"name":12,"timestamp":1,"fields":{"f":2}}`, want: timers("12", "", 1000, "f", 2.0)},
		{name: "name as boolean", line: `{"name":true,"timestamp":1,"fields":{"f":2}}`, want: timers("true", "", 1000, "f", 2.0)},
		{name: "escaped strings", line: `{"name":"a\u00e9","timestamp":1,"fields":{"f\"":2},"tags":{"k\\":"v\n"}}`, want: timers("a\u00e9", "k\\=v\n", 1000, "f\"", 2.0)},
		{name: "lone surrogate escapes are U+FFFD", line: `{"name":"a\udFe9\ud800\u0041","timestamp":1,"fields":{"\ud83d\ude00\\udc00":2},"tags":{"\udc00":"\ud83d"}}`, want: timers("a\ufffd\ufffdA", "\ufffd=\ufffd", 1000, "\U0001F600\\udc00", 2.0)},
		{name: "string values", line: `{"name":"n","timestamp":1,"fields":{"a":"1.5","b":"12abc","c":"1,000"}}`, want: timers("n", "", 1000, "a", 1.5, "b", 12.0, "c", 1000.0)},
		// A number is its Jackson tree node's text: a double's is
		// Double.toString ("1000.0", "1.0E-7"), which NumberFormat reads
		// whole; the token's own text ("1e3") would stop at the 'e'.
		{name: "exponents", line: `{"name":"n","timestamp":1,"fields":{"a":1E3,"b":1e3,"c":2.5E-1,"d":1e-7,"e":1.5e+21}}`, want: timers("n", "", 1000, "a", 1000.0, "b", 1000.0, "c", 0.25, "d", 1e-7, "e", 1.5e21)},
		{name: "numbers as tag values and name: the node's text", line: `{"name":2.50,"timestamp":1,"fields":{"f":1},"tags":{"a":1.50,"b":1e3,"c":10000000.0,"d":-0,"e":7}}`,
			want: timers("2.5", "a=1.5,b=1000.0,c=1.0E7,d=0,e=7", 1000, "f", 1.0)},
		{name: "booleans", line: `{"name":"n","timestamp":1,"fields":{"a":true,"b":false,"c":"TRUE","d":"False"}}`, want: timers("n", "", 1000, "a", 1.0, "b", 0.0, "c", 1.0, "d", 0.0)},
		{name: "non-numeric fields skipped", line: `{"name":"n","timestamp":1,"fields":{"a":"x","b":"","c":" 1","d":"+1","e":3}}`, want: timers("n", "", 1000, "e", 3.0)},
		{name: "NaN string", line: `{"name":"n","timestamp":1,"fields":{"a":"NaN"}}`, want: timers("n", "", 1000, "a", math.NaN())},
		{name: "negative zero: an integer node, 0", line: `{"name":"n","timestamp":1,"fields":{"a":-0}}`, want: timers("n", "", 1000, "a", 0.0)},
		{name: "negative zero double", line: `{"name":"n","timestamp":1,"fields":{"a":-0.0}}`, want: timers("n", "", 1000, "a", math.Copysign(0, -1))},
		{name: "no numeric field: empty record", line: `{"name":"n","timestamp":1,"fields":{"a":"x"},"tags":{"h":"1"}}`, want: none("h=1", 1000)},
		{name: "no fields: empty record", line: `{"name":"n","timestamp":1}`, want: none("", 1000)},
		{name: "tags", line: `{"name":"n","timestamp":1,"fields":{"f":1},"tags":{"z":"1","a":2,"m":false,"e":""}}`, want: timers("n", "a=2,e=,m=false,z=1", 1000, "f", 1.0)},
		{name: "duplicate tag: last wins", line: `{"name":"n","timestamp":1,"fields":{"f":1},"tags":{"k":"1","k":"2"}}`, want: timers("n", "k=2", 1000, "f", 1.0)},
		{name: "duplicate field: last wins", line: `{"name":"n","timestamp":1,"fields":{"f":1,"f":2}}`, want: timers("n", "", 1000, "f", 2.0)},
		{name: "duplicate name: last wins", line: `{"name":"a","timestamp":1,"fields":{"f":1},"name":"b"}`, want: timers("b", "", 1000, "f", 1.0)},
		// Jackson's tree keeps the last value of a key; only that one must be
		// a string (fuzz/testdata/fuzz/FuzzTelegraf/a94a590d22c9130c).
		{name: "object field value replaced", line: `{"name":"","timestamp":1,"fields":{"f":{},"f":"2"}}`, want: timers("", "", 1000, "f", 2.0)},
		{name: "null tag value replaced", line: `{"name":"n","timestamp":1,"fields":{"f":1},"tags":{"k":null,"k":"v"}}`, want: timers("n", "k=v", 1000, "f", 1.0)},
		{name: "unknown keys ignored", line: `{"name":"n","timestamp":1,"fields":{"f":1},"x":{"y":[null]}}`, want: timers("n", "", 1000, "f", 1.0)},
		{name: "whitespace and CR", line: " {\"name\":\"n\",\"timestamp\":1,\"fields\":{\"f\":1}} \r", want: timers("n", "", 1000, "f", 1.0)},
		{name: "zero timestamp", line: `{"name":"n","timestamp":0,"fields":{"f":1}}`, want: timers("n", "", 0, "f", 1.0)},
		{name: "fractional timestamp truncated", line: `{"name":"n","timestamp":1.9,"fields":{"f":1}}`, want: timers("n", "", 1000, "f", 1.0)},
		{name: "exponent timestamp", line: `{"name":"n","timestamp":1.5e3,"fields":{"f":1}}`, want: timers("n", "", 1500000, "f", 1.0)},
		{name: "string timestamp", line: `{"name":"n","timestamp":" +12 ","fields":{"f":1}}`, want: timers("n", "", 12000, "f", 1.0)},
		{name: "seconds wrap", line: `{"name":"n","timestamp":9223372036854775807,"fields":{"f":1}}`, want: timers("n", "", -1000, "f", 1.0)},
		{name: "milliseconds", unit: "MILLISECONDS", line: `{"name":"n","timestamp":1999,"fields":{"f":1}}`, want: timers("n", "", 1999, "f", 1.0)},
		{name: "microseconds truncate", unit: "MICROSECONDS", line: `{"name":"n","timestamp":1999,"fields":{"f":1}}`, want: timers("n", "", 1, "f", 1.0)},
		{name: "nanoseconds truncate", unit: "NANOSECONDS", line: `{"name":"n","timestamp":1999999,"fields":{"f":1}}`, want: timers("n", "", 1, "f", 1.0)},
		{name: "batch", line: `{"metrics":[{"name":"a","timestamp":1,"fields":{"f":1}},{"name":"b","timestamp":2,"fields":{"g":2},"tags":{"k":"v"}}]}`,
			want: append(timers("a", "", 1000, "f", 1.0), timers("b", "k=v", 2000, "g", 2.0)...)},
		{name: "empty batch", line: `{"metrics":[]}`, want: nil},
		{name: "batch wins over a metric's keys", line: `{"name":"x","timestamp":1,"fields":{"f":1},"metrics":[{"name":"a","timestamp":1,"fields":{"f":1}}]}`, want: timers("a", "", 1000, "f", 1.0)},

		{name: "invalid JSON", line: `{"name":`, errSub: "invalid JSON"},
		{name: "empty line", line: ``, errSub: "invalid JSON"},
		{name: "trailing garbage", line: `{"name":"n","timestamp":1} x`, errSub: "invalid JSON"},
		{name: "array", line: `[1]`, errSub: "expected a JSON object"},
		{name: "scalar", line: `1`, errSub: "expected a JSON object"},
		{name: "missing name", line: `{"timestamp":1,"fields":{"f":1}}`, errSub: `"name" is missing`},
		{name: "null name", line: `{"name":null,"timestamp":1}`, errSub: `"name" is missing`},
		{name: "object name", line: `{"name":{},"timestamp":1}`, errSub: "expected a string"},
		{name: "missing timestamp", line: `{"name":"n","fields":{"f":1}}`, errSub: `"timestamp" is missing`},
		{name: "null timestamp", line: `{"name":"n","timestamp":null}`, errSub: `"timestamp" is missing`},
		{name: "negative timestamp", line: `{"name":"n","timestamp":-1}`, errSub: "negative"},
		{name: "timestamp beyond a long", line: `{"name":"n","timestamp":9223372036854775808}`, errSub: "range"},
		{name: "boolean timestamp", line: `{"name":"n","timestamp":true}`, errSub: "expected a number"},
		{name: "text timestamp", line: `{"name":"n","timestamp":"soon"}`, errSub: "not an integer"},
		{name: "null fields", line: `{"name":"n","timestamp":1,"fields":null}`, errSub: "expected an object"},
		{name: "array fields", line: `{"name":"n","timestamp":1,"fields":[1]}`, errSub: "expected an object"},
		{name: "null field value", line: `{"name":"n","timestamp":1,"fields":{"f":null}}`, errSub: "expected a string"},
		{name: "object field value", line: `{"name":"n","timestamp":1,"fields":{"f":{}}}`, errSub: "expected a string"},
		{name: "null tag value", line: `{"name":"n","timestamp":1,"tags":{"k":null}}`, errSub: "expected a string"},
		{name: "field value replaced by an object", line: `{"name":"n","timestamp":1,"fields":{"f":"1","f":[]}}`, errSub: "expected a string"},
		{name: "tag value replaced by null", line: `{"name":"n","timestamp":1,"tags":{"k":"v","k":null}}`, errSub: "expected a string"},
		{name: "replaced field value still a token", line: `{"name":"n","timestamp":1,"fields":{"f":01,"f":"2"}}`, errSub: "invalid number"},
		// MAD's Telegraf mapper does not allow non-numeric numbers (only
		// its collectd parser turns them on): the line is invalid JSON.
		{name: "NaN and INF tokens", line: `{"name":"n","timestamp":1,"fields":{"f":NaN,"g":+INF,"h":-INF,"i":1}}`, errSub: "invalid number"},
		{name: "lower-case nan token", line: `{"name":"n","timestamp":1,"fields":{"f":nan}}`, errSub: "invalid number"},
		{name: "malformed number token", line: `{"name":"n","timestamp":1,"fields":{"f":1-2}}`, errSub: "invalid number"},
		{name: "leading zero", line: `{"name":"n","timestamp":1,"fields":{"f":01}}`, errSub: "invalid number"},
		{name: "NaN timestamp", line: `{"name":"n","timestamp":NaN}`, errSub: "invalid number"},
		{name: "invalid UTF-8", line: "{\"name\":\"\xff\",\"timestamp\":1}", errSub: "UTF-8"},
		{name: "null metrics", line: `{"metrics":null}`, errSub: "expected an array"},
		{name: "object metrics", line: `{"metrics":{}}`, errSub: "expected an array"},
		{name: "null batch element", line: `{"metrics":[null]}`, errSub: "metric 0: expected a JSON object"},
		{name: "bad second batch element", line: `{"metrics":[{"name":"a","timestamp":1,"fields":{"f":1}},{"name":"b"}]}`, errSub: "metric 1"},
		{name: "key too long", line: `{"name":"` + strings.Repeat("x", 70000) + `","timestamp":1,"fields":{"f":1}}`, errSub: "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := decode(t, NewDecoder(Config{TimestampUnit: tc.unit}), []byte(tc.line))
			if telegrafref.Applicable([]byte(tc.line)) {
				// The rule holds for the reference too.
				want, _, werr := refDecode(t, []byte(tc.line), tc.unit)
				if (werr != nil) != (tc.errSub != "") || !sameRecs(sortRecs(want), sortRecs(tc.want)) {
					t.Errorf("reference: got %v, %v; want %v (refused: %v)", want, werr, tc.want, tc.errSub != "")
				}
			}
			if tc.errSub != "" {
				var pe *sample.DecodeError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("got %v, %v; want a *sample.DecodeError with %q", got, err, tc.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want %v", err, tc.want)
			}
			if !sameRecs(sortRecs(got), sortRecs(tc.want)) {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
}

func TestTimestampUnit(t *testing.T) {
	for _, s := range []string{"", "SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS"} {
		if !ValidTimestampUnit(s) {
			t.Errorf("ValidTimestampUnit(%q) = false; want true", s)
		}
	}
	for _, s := range []string{"seconds", "MINUTES", "NS"} {
		if ValidTimestampUnit(s) {
			t.Errorf("ValidTimestampUnit(%q) = true; want false", s)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewDecoder accepted an unknown unit")
		}
	}()
	NewDecoder(Config{TimestampUnit: "MINUTES"})
}

// TestManyFieldsAndTags: duplicate handling on a large line (the later
// value wins), which must stay fast: 20000 fields and tags, half of them
// repeated.
func TestManyFieldsAndTags(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"name":"n","timestamp":1,"fields":{`)
	const n = 10000
	for i := range 2 * n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"f%d":%d`, i%n, i)
	}
	sb.WriteString(`},"tags":{`)
	for i := range 2 * n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"t%d":"%d"`, i%3, i)
	}
	sb.WriteString(`}}`)
	got, st, err := decode(t, NewDecoder(Config{}), []byte(sb.String()))
	if err != nil || st.Samples != n {
		t.Fatalf("got %d samples, %v; want %d", st.Samples, err, n)
	}
	for _, r := range got {
		var i int
		fmt.Sscanf(r.name, "n.f%d", &i)
		if r.v != float64(i+n) || r.dims != "t0=19998,t1=19999,t2=19997" {
			t.Fatalf("got %v; want value %d, dims of the last tags", r, i+n)
		}
	}
}
