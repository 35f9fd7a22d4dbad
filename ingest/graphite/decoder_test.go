package graphite

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/graphite/graphiteref"
	"github.com/gomad/mad/internal/sample"
)

const vectorDir = "../../testdata/mad/parsers/GraphitePlaintextParserTest"

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

func sameRec(a, b rec) bool {
	return a.kind == b.kind && a.name == b.name && a.dims == b.dims && a.t == b.t &&
		(a.v == b.v && math.Signbit(a.v) == math.Signbit(b.v) || math.IsNaN(a.v) && math.IsNaN(b.v))
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
		var dims []string
		it := pk.DimIter()
		for d, ok := it.Next(); ok; d, ok = it.Next() {
			dims = append(dims, string(d.Key)+"="+string(d.Value))
		}
		out = append(out, rec{pk.Kind, string(pk.Name), strings.Join(dims, ","), s.Value, s.Time})
	}
	return out
}

const testNow = 1700000000123

func decode(t testing.TB, d *Decoder, line []byte) ([]rec, sample.Counts, error) {
	t.Helper()
	var b sample.Batch
	st, err := d.DecodeLine(line, testNow, func(uint64) *sample.Batch { return &b })
	got := recsOf(t, &b)
	if err != nil && len(got) != 0 {
		t.Fatalf("error %v with %d samples routed", err, len(got))
	}
	if st.Samples != len(got) || st.Records != st.Samples {
		t.Fatalf("stats %+v for %d samples", st, len(got))
	}
	return got, st, err
}

// TestVectors: MAD's GraphitePlaintextToRecordParserTest vectors with its
// expectations (MAD-SPEC §14).
func TestVectors(t *testing.T) {
	const ts = 1458229140000
	carbonDims := "cluster=MyCluster,foo=bar,host=MyHost,region=US,service=MyService"
	for _, tc := range []struct {
		file   string
		carbon bool
		want   rec
	}{
		{"testParseSingleLineNoLineEnding", false, rec{sample.KindGauge, "foo.bar", "", 1.23, ts}},
		{"testParseSingleLineWithLineEnding", false, rec{sample.KindGauge, "foo.bar", "", 1.23, ts}},
		{"testParseSingleLineNoTimestamp", false, rec{sample.KindGauge, "foo.bar", "", 1.23, testNow}},
		{"testParseCarbonTags", true, rec{sample.KindGauge, "foo.bar", carbonDims, 1.23, ts}},
		{"testParseCarbonTags", false, rec{sample.KindGauge, "foo.bar;cluster=MyCluster;service=MyService;host=MyHost;region=US;foo=bar", "", 1.23, ts}},
	} {
		t.Run(fmt.Sprintf("%s/carbon=%v", tc.file, tc.carbon), func(t *testing.T) {
			body := readVector(t, tc.file)
			// As MAD's test (the whole buffer, '\n' included) and as the TCP
			// source hands it (split on '\n').
			for _, line := range [][]byte{body, []byte(strings.TrimSuffix(string(body), "\n"))} {
				got, _, err := decode(t, NewDecoder(Config{ParseCarbonTags: tc.carbon}), line)
				if err != nil {
					t.Fatalf("got error %v; want none", err)
				}
				if len(got) != 1 || !sameRec(got[0], tc.want) {
					t.Fatalf("got %v; want [%v]", got, tc.want)
				}
			}
		})
	}
}

// TestRules: one case per rule of MAD's parser and per error.
func TestRules(t *testing.T) {
	g := func(name, dims string, v float64, ts int64) []rec {
		return []rec{{sample.KindGauge, name, dims, v, ts}}
	}
	global := [][2]string{{"service", "svc"}, {"cluster", "c1"}, {"cluster", "c2"}}
	for _, tc := range []struct {
		name   string
		line   string
		cfg    Config
		want   []rec
		errSub string // non-empty: refused, with this in the message
	}{
		{name: "plain", line: "a.b 1 10", want: g("a.b", "", 1, 10000)},
		{name: "no timestamp is now", line: "a 2", want: g("a", "", 2, testNow)},
		{name: "trailing CR", line: "a 2 10\r", want: g("a", "", 2, 10000)},
		{name: "trailing CR without timestamp", line: "a 2\r", want: g("a", "", 2, testNow)},
		{name: "trailing whitespace", line: "a 2 10 \t\r\n\f\v", want: g("a", "", 2, 10000)},
		{name: "trailing space without timestamp", line: "a 2 ", want: g("a", "", 2, testNow)},
		{name: "tab is not a separator", line: "a 1.5\t7", want: g("a", "", 1.5, testNow)},
		{name: "tab in the name", line: "a\tb 3", want: g("a\tb", "", 3, testNow)},
		{name: "value prefix", line: "a 12abc 5", want: g("a", "", 12, 5000)},
		{name: "grouping", line: "a 1,234.5", want: g("a", "", 1234.5, testNow)},
		{name: "exponent E", line: "a 1.5E3", want: g("a", "", 1500, testNow)},
		{name: "exponent e is not one", line: "a 1.5e3", want: g("a", "", 1.5, testNow)},
		{name: "negative", line: "a -7.25", want: g("a", "", -7.25, testNow)},
		{name: "negative zero", line: "a -0", want: g("a", "", math.Copysign(0, -1), testNow)},
		{name: "NaN", line: "a NaN", want: g("a", "", math.NaN(), testNow)},
		{name: "infinity", line: "a -\u221e", want: g("a", "", math.Inf(-1), testNow)},
		{name: "zero timestamp", line: "a 1 0", want: g("a", "", 1, 0)},
		{name: "leading zeros in timestamp", line: "a 1 0010", want: g("a", "", 1, 10000)},
		{name: "timestamp saturates then wraps", line: "a 1 99999999999999999999", want: g("a", "", 1, wrapMul(math.MaxInt64, 1000))},
		{name: "largest timestamp", line: "a 1 9223372036854775", want: g("a", "", 1, 9223372036854775000)},
		{name: "timestamp wraps", line: "a 1 9223372036854776", want: g("a", "", 1, wrapMul(9223372036854776, 1000))},
		{name: "semicolons kept without carbon", line: "a;k=v 1", want: g("a;k=v", "", 1, testNow)},
		{name: "global tags, last duplicate wins", line: "a 1", cfg: Config{GlobalTags: global}, want: g("a", "cluster=c2,service=svc", 1, testNow)},
		{name: "carbon tags override global tags", line: "a;cluster=c3;x=y 1", cfg: Config{GlobalTags: global, ParseCarbonTags: true}, want: g("a", "cluster=c3,service=svc,x=y", 1, testNow)},
		{name: "later carbon tag wins", line: "a;k=1;k=2 1", cfg: Config{ParseCarbonTags: true}, want: g("a", "k=2", 1, testNow)},
		{name: "malformed carbon tags ignored", line: "a;k;=v;k2=;x==y;;p=q=;m=n 1", cfg: Config{ParseCarbonTags: true}, want: g("a", "m=n,p=q", 1, testNow)},
		{name: "carbon: empty metric name", line: ";k=v 1", cfg: Config{ParseCarbonTags: true}, want: g("", "k=v", 1, testNow)},
		{name: "carbon: trailing semicolons", line: "a;;; 1", cfg: Config{ParseCarbonTags: true}, want: g("a", "", 1, testNow)},
		{name: "carbon: no tags", line: "a.b 1", cfg: Config{ParseCarbonTags: true}, want: g("a.b", "", 1, testNow)},
		{name: "unicode digits", line: "a \u0661\u0662", want: g("a", "", 12, testNow)},

		{name: "empty", line: "", errSub: "invalid graphite line"},
		{name: "name only", line: "a", errSub: "invalid graphite line"},
		{name: "leading space", line: " a 1", errSub: "invalid graphite line"},
		{name: "two spaces", line: "a  1", errSub: "invalid graphite line"},
		{name: "two spaces before timestamp", line: "a 1  10", errSub: "invalid graphite line"},
		{name: "fourth field", line: "a 1 10 11", errSub: "invalid graphite line"},
		{name: "timestamp not digits", line: "a 1 10x", errSub: "invalid graphite line"},
		{name: "fractional timestamp", line: "a 1 10.5", errSub: "invalid graphite line"},
		{name: "negative timestamp", line: "a 1 -10", errSub: "invalid graphite line"},
		{name: "empty value", line: "a ", errSub: "invalid graphite line"},
		{name: "not a number", line: "a abc 10", errSub: "not a number"},
		{name: "plus sign", line: "a +1", errSub: "not a number"},
		{name: "lower-case nan", line: "a nan", errSub: "not a number"},
		{name: "only semicolons", line: ";;; 1", cfg: Config{ParseCarbonTags: true}, errSub: "name is empty"},
		{name: "invalid UTF-8", line: "a\xff 1", errSub: "UTF-8"},
		{name: "key too long", line: strings.Repeat("x", 70000) + " 1", errSub: "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := decode(t, NewDecoder(tc.cfg), []byte(tc.line))
			// The rule holds for the reference too.
			var b sample.Batch
			_, werr := graphiteref.Decode([]byte(tc.line), testNow, graphiteref.Config{GlobalTags: tc.cfg.GlobalTags, ParseCarbonTags: tc.cfg.ParseCarbonTags}, &b)
			if want := recsOf(t, &b); (werr != nil) != (tc.errSub != "") || fmt.Sprint(want) != fmt.Sprint(tc.want) {
				t.Errorf("reference: got %v, %v; want %v (refused: %v)", want, werr, tc.want, tc.errSub != "")
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
			if len(got) != len(tc.want) {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
			for i := range got {
				if !sameRec(got[i], tc.want[i]) {
					t.Fatalf("got %v; want %v", got, tc.want)
				}
			}
		})
	}
}

// TestDecoderReuse: a decoder carries nothing from one line to the next.
func TestDecoderReuse(t *testing.T) {
	d := NewDecoder(Config{ParseCarbonTags: true, GlobalTags: [][2]string{{"g", "1"}}})
	lines := []string{"a;x=1 1 10", "b 2", "bad", "c;y=2 3 30"}
	for range 2 {
		for _, l := range lines {
			got, _, err := decode(t, d, []byte(l))
			want, _, werr := decode(t, NewDecoder(Config{ParseCarbonTags: true, GlobalTags: [][2]string{{"g", "1"}}}), []byte(l))
			if (err == nil) != (werr == nil) || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%q: reused got %v (%v); fresh %v (%v)", l, got, err, want, werr)
			}
		}
	}
}

func wrapMul(a, b int64) int64 { return a * b }
