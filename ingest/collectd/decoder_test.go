package collectd

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/ingest/collectd/collectdref"
	"github.com/gomad/mad/internal/sample"
)

// vectorDir holds MAD's CollectdJsonParserTest resources (MAD-SPEC §14).
const vectorDir = "../../testdata/mad/parsers/CollectdJsonParserTest"

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatalf("reading vector: %v", err)
	}
	return b
}

// The headers of MAD's test: x-tag-service: MyService, x-tag-Cluster:
// MyCluster (lower-cased by the HTTP layer).
var testHeaders = []sample.Dim{
	{Key: []byte("service"), Value: []byte("MyService")},
	{Key: []byte("cluster"), Value: []byte("MyCluster")},
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
	return fmt.Sprintf("%v %s{%s} %v @%d", r.kind, r.name, r.dims, r.v, r.t)
}

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
		var dims []string
		it := pk.DimIter()
		for d, ok := it.Next(); ok; d, ok = it.Next() {
			dims = append(dims, string(d.Key)+"="+string(d.Value))
		}
		out = append(out, rec{pk.Kind, string(pk.Name), strings.Join(dims, ","), s.Value, s.Time})
	}
	return out
}

func decodeAll(t testing.TB, cfg Config, body []byte, hd []sample.Dim) ([]rec, Stats, error) {
	t.Helper()
	var b sample.Batch
	d := NewDecoder(cfg)
	c, err := d.Decode(body, hd, 0, func(uint64) *sample.Batch { return &b })
	if st := d.Stats(); st.Counts != c {
		t.Fatalf("Decode returned %+v, Stats says %+v", c, st.Counts)
	}
	return recsOf(t, &b), d.Stats(), err
}

func sameRecs(a, b []rec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.kind != y.kind || x.name != y.name || x.dims != y.dims || x.t != y.t || math.Float64bits(x.v) != math.Float64bits(y.v) {
			return false
		}
	}
	return true
}

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

const testDims = "cluster=MyCluster,host=host.example.com,service=MyService"

// TestParseVector: MAD's testParse (18 records; the first is cpu/0/cpu/wait,
// a COUNTER of 0 at 2016-03-31T23:14:46.740Z on host.example.com).
func TestParseVector(t *testing.T) {
	recs, st, err := decodeAll(t, Config{}, readVector(t, "testParse.json"), testHeaders)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 18 || st.Samples != 18 || len(recs) != 18 {
		t.Fatalf("got %d samples, stats %+v; want 18 records", len(recs), st)
	}
	want := rec{sample.KindCounter, "cpu/0/cpu/wait", testDims, 0, ms("2016-03-31T23:14:46.740Z")}
	if !sameRecs(recs[:1], []rec{want}) {
		t.Fatalf("got record 0 = %v; want %v", recs[0], want)
	}
	wantLast := []rec{
		{sample.KindGauge, "vmem/vmpage_number/shmem", testDims, 78266, ms("2016-03-31T23:14:46.741Z")},
		{sample.KindCounter, "vmem/vmpage_action/dirtied", testDims, 43.00732622113, ms("2016-03-31T23:14:46.741Z")},
		{sample.KindCounter, "vmem/vmpage_action/written", testDims, 65.0112158597174, ms("2016-03-31T23:14:46.741Z")},
	}
	if !sameRecs(recs[15:], wantLast) {
		t.Fatalf("got records 15-17 = %v; want %v", recs[15:], wantLast)
	}
}

// TestParseNullValuesVector: MAD's 15 records (one value list has [null]).
func TestParseNullValuesVector(t *testing.T) {
	recs, st, err := decodeAll(t, Config{}, readVector(t, "testParseNullValues.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 15 || st.NullRecords != 1 || len(recs) != 15 {
		t.Fatalf("got %d samples, stats %+v; want 15 records and one skipped", len(recs), st)
	}
	at := ms("2022-08-17T00:24:51.300Z")
	host := "host=ip-10-1-19-254.us-east-2.compute.internal"
	for i, want := range map[int]rec{
		0:  {sample.KindGauge, "tcpconns/all/tcp_connections/CLOSING", host, 0, at},
		1:  {sample.KindGauge, "conntrack/conntrack", host, 3019, at},
		2:  {sample.KindGauge, "conntrack/conntrack/max", host, 131072, at},
		3:  {sample.KindCounter, "protocols/Tcp/protocol_counter/RtoMin", host, 0, at},
		10: {sample.KindCounter, "protocols/Tcp/protocol_counter/InSegs", host, 464, at},
	} {
		if !sameRecs(recs[i:i+1], []rec{want}) {
			t.Errorf("got record %d = %v; want %v", i, recs[i], want)
		}
	}
}

func TestParseInvalidVector(t *testing.T) {
	_, _, err := decodeAll(t, Config{}, readVector(t, "testParseInvalid.json"), testHeaders)
	var pe *sample.DecodeError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v; want a *sample.DecodeError", err)
	}
}

// vl builds one value list with the fields collectd writes, overridden or
// removed (nil) by extra.
func vl(extra map[string]any) string {
	f := map[string]any{
		"values": "[1]", "dstypes": `["gauge"]`, "dsnames": `["value"]`, "time": "1459466086.741",
		"interval": "10.000", "host": `"h"`, "plugin": `"p"`, "plugin_instance": `"pi"`, "type": `"t"`, "type_instance": `"ti"`,
	}
	order := []string{"values", "dstypes", "dsnames", "time", "interval", "host", "plugin", "plugin_instance", "type", "type_instance"}
	for k, v := range extra {
		if _, ok := f[k]; !ok {
			order = append(order, k)
		}
		f[k] = v
	}
	var parts []string
	for _, k := range order {
		if v, ok := f[k].(string); ok {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

const t741 = 1459466086741

// TestRecords: MAD's rules for one value list, and what collectd really
// sends.
func TestRecords(t *testing.T) {
	g := sample.KindGauge
	c := sample.KindCounter
	none := sample.KindNone
	h := "host=h"
	for _, tc := range []struct {
		name string
		body string
		hd   []sample.Dim
		want []rec
		st   Stats
		err  string // substring of a *sample.DecodeError
	}{
		{name: "one gauge", body: "[" + vl(nil) + "]", want: []rec{{g, "p/pi/t/ti", h, 1, t741}}},
		{name: "empty instances are left out", body: "[" + vl(map[string]any{"plugin_instance": `""`, "type_instance": `""`}) + "]", want: []rec{{g, "p/t", h, 1, t741}}},
		{name: "dsnames other than value are appended",
			body: "[" + vl(map[string]any{"values": "[1,2,3]", "dstypes": `["derive","derive","gauge"]`, "dsnames": `["rx","value",""]`}) + "]",
			want: []rec{{c, "p/pi/t/ti/rx", h, 1, t741}, {c, "p/pi/t/ti", h, 2, t741}, {c, "p/pi/t/ti", h, 3, t741}}, st: Stats{Counts: sample.Counts{Records: 1, Samples: 3}}},
		{name: "dstypes", body: "[" + vl(map[string]any{"values": "[1,2,3,4,5,6]", "dstypes": `["gauge","counter","derive","absolute","Gauge","whatever"]`, "dsnames": `["a","b","c","d","e","f"]`}) + "]",
			want: []rec{{g, "p/pi/t/ti/a", h, 1, t741}, {c, "p/pi/t/ti/b", h, 2, t741}, {c, "p/pi/t/ti/c", h, 3, t741}, {c, "p/pi/t/ti/d", h, 4, t741}, {g, "p/pi/t/ti/e", h, 5, t741}, {g, "p/pi/t/ti/f", h, 6, t741}}, st: Stats{Counts: sample.Counts{Records: 1, Samples: 6}}},
		{name: "same name twice: values merged, the first type wins, equal ones once",
			body: "[" + vl(map[string]any{"values": "[1,2,1,1,-0.0,0]", "dstypes": `["counter","gauge","counter","gauge","counter","counter"]`, "dsnames": `["x","x","x","x","x","x"]`}) + "]",
			want: []rec{{c, "p/pi/t/ti/x", h, 1, t741}, {c, "p/pi/t/ti/x", h, 2, t741}, {c, "p/pi/t/ti/x", h, 1, t741}, {c, "p/pi/t/ti/x", h, math.Copysign(0, -1), t741}, {c, "p/pi/t/ti/x", h, 0, t741}}, st: Stats{Counts: sample.Counts{Records: 1, Samples: 5}}},
		{name: "headers are dimensions, host from the record wins",
			body: "[" + vl(nil) + "]", hd: []sample.Dim{{Key: []byte("service"), Value: []byte("s")}, {Key: []byte("host"), Value: []byte("header")}, {Key: []byte("a"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}},
			want: []rec{{g, "p/pi/t/ti", "a=2,host=h,service=s", 1, t741}}},
		{name: "time is rounded half up", body: "[" + vl(map[string]any{"time": "1.0005"}) + "," + vl(map[string]any{"time": "-1.0005"}) + "," + vl(map[string]any{"time": "0.0004999"}) + "," + vl(map[string]any{"time": "1459466086"}) + "]",
			want: []rec{{g, "p/pi/t/ti", h, 1, 1001}, {g, "p/pi/t/ti", h, 1, -1000}, {g, "p/pi/t/ti", h, 1, 0}, {g, "p/pi/t/ti", h, 1, 1459466086000}}},
		{name: "time NaN and infinities, as Math.round", body: "[" + vl(map[string]any{"time": "NaN"}) + "," + vl(map[string]any{"time": "-Infinity"}) + "," + vl(map[string]any{"time": "1e300"}) + "]",
			want: []rec{{g, "p/pi/t/ti", h, 1, 0}, {g, "p/pi/t/ti", h, 1, math.MinInt64}, {g, "p/pi/t/ti", h, 1, math.MaxInt64}}},
		{name: "non-numeric values Jackson accepts", body: "[" + vl(map[string]any{"values": "[NaN,Infinity,-Infinity,+Infinity,+INF,-INF]", "dstypes": `["gauge","gauge","gauge","gauge","gauge","gauge"]`, "dsnames": `["a","b","c","d","e","f"]`}) + "]",
			want: []rec{{g, "p/pi/t/ti/a", h, math.NaN(), t741}, {g, "p/pi/t/ti/b", h, math.Inf(1), t741}, {g, "p/pi/t/ti/c", h, math.Inf(-1), t741}, {g, "p/pi/t/ti/d", h, math.Inf(1), t741}, {g, "p/pi/t/ti/e", h, math.Inf(1), t741}, {g, "p/pi/t/ti/f", h, math.Inf(-1), t741}}, st: Stats{Counts: sample.Counts{Records: 1, Samples: 6}}},
		{name: "a lone surrogate escape is U+FFFD, a pair its character", body: "[" + vl(map[string]any{"host": `"h\udFe9\"\\"`, "plugin": `"\ud800\u0041\udc00"`, "type": `"\ud83d\ude00\\ud800"`}) + "]",
			want: []rec{{g, "\ufffdA\ufffd/pi/\U0001F600\\ud800/ti", "host=h\ufffd\"\\", 1, t741}}},
		{name: "lone surrogates with Infinity and trailing text", body: "[" + vl(map[string]any{"values": "[Infinity]", "host": `"\udc00Infinity"`}) + "] \\ud800 \"",
			want: []rec{{g, "p/pi/t/ti", "host=\ufffdInfinity", math.Inf(1), t741}}},
		{name: "Infinity in strings is not rewritten", body: "[" + vl(map[string]any{"values": "[Infinity]", "host": `"Infinity \"Infinity\""`, "type_instance": `"-Infinity"`}) + "]",
			want: []rec{{g, "p/pi/t/-Infinity", `host=Infinity "Infinity"`, math.Inf(1), t741}}},
		{name: "null alone skips the record", body: "[" + vl(map[string]any{"values": "[null]"}) + "," + vl(nil) + "]",
			want: []rec{{g, "p/pi/t/ti", h, 1, t741}}, st: Stats{Counts: sample.Counts{Records: 1, Samples: 1}, NullRecords: 1}},
		{name: "all null skips the record", body: "[" + vl(map[string]any{"values": "[null,null]", "dstypes": `["gauge","gauge"]`, "dsnames": `["a","b"]`}) + "]",
			st: Stats{NullRecords: 1}},
		{name: "a null among values is skipped", body: "[" + vl(map[string]any{"values": "[null,2]", "dstypes": `["gauge","gauge"]`, "dsnames": `["a","b"]`}) + "]",
			want: []rec{{g, "p/pi/t/ti/b", h, 2, t741}}, st: Stats{Counts: sample.Counts{Records: 1, Samples: 1}, Nulls: 1}},
		{name: "no values: an empty record makes its bucket", body: "[" + vl(map[string]any{"values": "[]", "dstypes": "[]", "dsnames": "[]"}) + "]",
			want: []rec{{none, "", h, 0, t741}}},
		{name: "all three absent", body: "[" + vl(map[string]any{"values": nil, "dstypes": nil, "dsnames": nil}) + "]",
			want: []rec{{none, "", h, 0, t741}}},
		{name: "values null skips the length check", body: "[" + vl(map[string]any{"values": "null"}) + "," + vl(map[string]any{"values": "null", "dstypes": "null", "dsnames": nil}) + "]",
			want: []rec{{none, "", h, 0, t741}, {none, "", h, 0, t741}}},
		{name: "scalars coerced to strings", body: "[" + vl(map[string]any{"host": "12", "plugin": "true", "plugin_instance": "1.50", "dsnames": "[7]"}) + "]",
			want: []rec{{g, "true/1.50/t/ti/7", "host=12", 1, t741}}},
		{name: "strings coerced to doubles", body: "[" + vl(map[string]any{"time": `" 1.5 "`, "values": `["0x1p3","1e1d","NaN","-INF",""," ","null",".5"]`, "dstypes": `["gauge","gauge","gauge","gauge","gauge","gauge","gauge","gauge"]`, "dsnames": `["a","b","c","d","e","f","g","i"]`}) + "]",
			want: []rec{{g, "p/pi/t/ti/a", h, 8, 1500}, {g, "p/pi/t/ti/b", h, 10, 1500}, {g, "p/pi/t/ti/c", h, math.NaN(), 1500}, {g, "p/pi/t/ti/d", h, math.Inf(-1), 1500}, {g, "p/pi/t/ti/i", h, 0.5, 1500}},
			st:   Stats{Counts: sample.Counts{Records: 1, Samples: 5}, Nulls: 3}},
		{name: "integer -0 is +0, -0.0 stays", body: "[" + vl(map[string]any{"values": "[-0,-0.0]", "dstypes": `["gauge","gauge"]`, "dsnames": `["a","b"]`}) + "]",
			want: []rec{{g, "p/pi/t/ti/a", h, 0, t741}, {g, "p/pi/t/ti/b", h, math.Copysign(0, -1), t741}}, st: Stats{Counts: sample.Counts{Records: 1, Samples: 2}}},
		{name: "unknown fields are ignored", body: "[" + vl(map[string]any{"meta": `{"network:received":true,"x":[1,{"y":null}]}`, "Host": `"x"`}) + "]",
			want: []rec{{g, "p/pi/t/ti", h, 1, t741}}},
		{name: "last of duplicate keys wins", body: `[{"host":"a","host":"b","time":1,"time":2,"plugin":"p","plugin_instance":"","type":"t","type_instance":""}]`,
			want: []rec{{none, "", "host=b", 0, 2000}}},
		{name: "escapes and UTF-8", body: "[" + vl(map[string]any{"host": `"h\u00e9\"\\"`, "plugin": `"d\u00e9j\u00e0"`}) + "]",
			want: []rec{{g, "déjà/pi/t/ti", `host=hé"\`, 1, t741}}},
		{name: "empty array", body: "[]"},
		{name: "whitespace and a byte order mark", body: "\xef\xbb\xbf \n[ " + vl(nil) + " ]\n", want: []rec{{g, "p/pi/t/ti", h, 1, t741}}},
		{name: "Jackson reads the first value only", body: "[" + vl(nil) + "] trailing {garbage", want: []rec{{g, "p/pi/t/ti", h, 1, t741}}},
		{name: "empty body", body: "", err: "invalid JSON"},
		{name: "not JSON", body: "not a valid json file", err: "invalid JSON"},
		{name: "an object, not an array", body: vl(nil), err: "not an array"},
		{name: "null body", body: "null", err: "not an array"},
		{name: "a null record", body: "[null]", err: "must be an object"},
		{name: "a number record", body: "[1]", err: "must be an object"},
		{name: "missing host", body: "[" + vl(map[string]any{"host": nil}) + "]", err: `"host": missing`},
		{name: "null host", body: "[" + vl(map[string]any{"host": "null"}) + "]", err: `"host": missing`},
		{name: "missing time", body: "[" + vl(map[string]any{"time": nil}) + "]", err: `"time": missing`},
		{name: "missing plugin", body: "[" + vl(map[string]any{"plugin": nil}) + "]", err: `"plugin": missing`},
		{name: "missing plugin_instance", body: "[" + vl(map[string]any{"plugin_instance": nil}) + "]", err: `"plugin_instance": missing`},
		{name: "missing type", body: "[" + vl(map[string]any{"type": nil}) + "]", err: `"type": missing`},
		{name: "missing type_instance", body: "[" + vl(map[string]any{"type_instance": nil}) + "]", err: `"type_instance": missing`},
		{name: "a bad record refuses the request", body: "[" + vl(nil) + "," + vl(map[string]any{"type": nil}) + "]", err: "record 1"},
		{name: "unequal lengths", body: "[" + vl(map[string]any{"values": "[1,2]"}) + "]", err: "same number of entries"},
		{name: "values without dstypes", body: "[" + vl(map[string]any{"dstypes": "null"}) + "]", err: "same number of entries"},
		{name: "absent values with dstypes", body: "[" + vl(map[string]any{"values": nil}) + "]", err: "same number of entries"},
		{name: "null dsname", body: "[" + vl(map[string]any{"dsnames": "[null]"}) + "]", err: "null element"},
		{name: "boolean value", body: "[" + vl(map[string]any{"values": "[true]"}) + "]", err: "expected a number"},
		{name: "object host", body: "[" + vl(map[string]any{"host": "{}"}) + "]", err: "expected a string"},
		{name: "array time", body: "[" + vl(map[string]any{"time": "[1]"}) + "]", err: "expected a number"},
		{name: "values not an array", body: "[" + vl(map[string]any{"values": "1"}) + "]", err: "expected an array"},
		{name: "a leading zero", body: "[" + vl(map[string]any{"values": "[01]"}) + "]", err: "invalid number"},
		{name: "lower-case nan", body: "[" + vl(map[string]any{"values": "[nan]"}) + "]", err: "invalid number"},
		{name: "Inf", body: "[" + vl(map[string]any{"values": "[Inf]"}) + "]", err: "invalid number"},
		{name: "INF without a sign", body: "[" + vl(map[string]any{"values": "[INF]"}) + "]", err: "invalid number"},
		{name: "a plus sign", body: "[" + vl(map[string]any{"values": "[+1]"}) + "]", err: "invalid number"},
		{name: "a trailing point", body: "[" + vl(map[string]any{"time": "1."}) + "]", err: "invalid number"},
		{name: "a bad number in an unknown field", body: "[" + vl(map[string]any{"interval": "1.2.3"}) + "]", err: "invalid number"},
		{name: "a bad number string", body: "[" + vl(map[string]any{"values": `["1x"]`}) + "]", err: "not a number"},
		{name: "invalid UTF-8", body: "[" + vl(map[string]any{"host": "\"\xff\""}) + "]", err: "UTF-8"},
		{name: "Infinityx", body: "[" + vl(map[string]any{"values": "[Infinityx]"}) + "]", err: "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := decodeAll(t, Config{}, []byte(tc.body), tc.hd)
			if collectdref.Applicable([]byte(tc.body)) {
				// The rule holds for the reference too.
				want, wst, werr := refDecode(t, []byte(tc.body), tc.hd)
				if (werr != nil) != (tc.err != "") || werr == nil && (wst != st.Counts || !sameRecs(want, got)) {
					t.Errorf("reference: got %v %+v, %v; decoder %v %+v, %v", want, wst, werr, got, st, err)
				}
			}
			if tc.err != "" {
				var pe *sample.DecodeError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v; want a *sample.DecodeError containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if !sameRecs(got, tc.want) {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
			wantSt := tc.st
			if wantSt == (Stats{}) {
				wantSt = Stats{Counts: sample.Counts{Records: len(tc.want), Samples: len(tc.want)}}
			}
			if st != wantSt {
				t.Fatalf("got stats %+v; want %+v", st, wantSt)
			}
		})
	}
}

func TestMaxRecords(t *testing.T) {
	body := []byte("[" + vl(nil) + "," + vl(map[string]any{"values": "[null]"}) + "," + vl(nil) + "]")
	for _, tc := range []struct {
		max int
		err error
	}{{0, nil}, {2, nil}, {1, sample.ErrTooLarge}} {
		var b sample.Batch
		st, err := NewDecoder(Config{MaxRecords: tc.max}).Decode(body, nil, 0, func(uint64) *sample.Batch { return &b })
		if !errors.Is(err, tc.err) || (err == nil && st.Records != 2) {
			t.Fatalf("MaxRecords %d: got %+v, %v; want %v", tc.max, st, err, tc.err)
		}
	}
}

// TestDecoderReuse: a decoder gives the same result however it was used
// before (failed requests, other headers).
func TestDecoderReuse(t *testing.T) {
	d := NewDecoder(Config{})
	good := readVector(t, "testParse.json")
	run := func(body []byte, hd []sample.Dim) ([]rec, error) {
		var b sample.Batch
		_, err := d.Decode(body, hd, 0, func(uint64) *sample.Batch { return &b })
		return recsOf(t, &b), err
	}
	first, _ := run(good, testHeaders)
	for _, other := range [][]byte{readVector(t, "testParseInvalid.json"), readVector(t, "testParseNullValues.json"), []byte("[" + vl(map[string]any{"values": "[Infinity]"}) + "] x")} {
		run(other, []sample.Dim{{Key: []byte("x"), Value: []byte("y")}})
		if again, err := run(good, testHeaders); err != nil || !sameRecs(first, again) {
			t.Fatalf("results differ after another request (%v)", err)
		}
	}
}

func TestJavaRound(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want int64
	}{
		{0.5, 1}, {-0.5, 0}, {1.5, 2}, {-1.5, -1}, {2.5, 3}, {0.49999999999999994, 0}, {-0.49999999999999994, 0},
		{1459466086740.0, 1459466086740}, {math.NaN(), 0}, {math.Inf(1), math.MaxInt64}, {math.Inf(-1), math.MinInt64},
		{9.3e18, math.MaxInt64}, {-9.3e18, math.MinInt64}, {4503599627370495.5, 4503599627370496},
	} {
		if got := javaRound(tc.x); got != tc.want {
			t.Errorf("javaRound(%v) = %d; want %d", tc.x, got, tc.want)
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	e := parseError(2, "host", "missing")
	if got, want := e.Error(), `cannot parse collectd write_http JSON: record 2: "host": missing`; got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

// TestJSONNumber: the grammar, and every accepted token converts exactly as
// strconv (correctly rounded) does, with Jackson's integer -0.
func TestJSONNumber(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "-0.0", "0.0", "1", "-1", "12345", "0.001", "1.5", "-2.25e-3", "1e22", "1e23", "123456789012345",
		"1234567890123456", "12345678901234567890", "0.1", "0.3", "9007199254740993", "1.7976931348623157e308", "1e309",
		"4.9e-324", "1e-400", "123.456e-20", "0.000000000000000000000000001", "100000000000000000000000", "3.14159265358979323846",
		"1459466086.741", "65.0112158597174", "43.00732622113", "1E5", "1e+5", "2.5E-5",
	} {
		got, ok := jsonNumber([]byte(s))
		want, _ := strconv.ParseFloat(s, 64)
		if !strings.ContainsAny(s, ".eE") && want == 0 {
			want = 0
		}
		if !ok || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("jsonNumber(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-", "01", "-01", "1.", ".5", "+1", "1e", "1e+", "1.e5", "--1", "1-", "0x10", "nan", "inf", "Inf", "INF", "-NaN", "+NaN", "Infinity", "1_0", " 1", "1 "} {
		if _, ok := jsonNumber([]byte(s)); ok {
			t.Errorf("jsonNumber(%q) accepted", s)
		}
	}
	for s, want := range map[string]float64{"NaN": math.NaN(), "+INF": math.Inf(1), "-INF": math.Inf(-1)} {
		if got, ok := jsonNumber([]byte(s)); !ok || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("jsonNumber(%q) = %v, %v", s, got, ok)
		}
	}
}

// TestCoerceDouble: Jackson's String → Double coercion.
func TestCoerceDouble(t *testing.T) {
	for _, tc := range []struct {
		s    string
		v    float64
		null bool
		ok   bool
	}{
		{"1.5", 1.5, false, true}, {" 2 ", 2, false, true}, {"-3e2", -300, false, true}, {"+4", 4, false, true},
		{"1.", 1, false, true}, {".5", 0.5, false, true}, {"5d", 5, false, true}, {"5F", 5, false, true},
		{"0x1p3", 8, false, true}, {"-0x1.8p1", -3, false, true}, {"NaN", math.NaN(), false, true}, {"+NaN", math.NaN(), false, true},
		{"INF", math.Inf(1), false, true}, {"Infinity", math.Inf(1), false, true}, {"-INF", math.Inf(-1), false, true},
		{"-Infinity", math.Inf(-1), false, true}, {"+Infinity", math.Inf(1), false, true},
		{"", 0, true, true}, {"   ", 0, true, true}, {"null", 0, true, true},
		{"abc", 0, false, false}, {"1x", 0, false, false}, {"0x1", 0, false, false}, {"1_000", 0, false, false}, {"e5", 0, false, false},
		{"nan", 0, false, false}, {"+INF", 0, false, false},
	} {
		v, null, ok := coerceDouble([]byte(tc.s))
		if ok != tc.ok || null != tc.null || (ok && !null && math.Float64bits(v) != math.Float64bits(tc.v)) {
			t.Errorf("coerceDouble(%q) = %v, %v, %v; want %v, %v, %v", tc.s, v, null, ok, tc.v, tc.null, tc.ok)
		}
	}
}
