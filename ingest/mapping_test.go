package ingest

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

func mappedNames(t *testing.T, m Mapper, kind sample.Kind, names ...string) []string {
	t.Helper()
	var src, dst sample.Batch
	dims := []sample.Dim{{Key: []byte("host"), Value: []byte("h1")}}
	for i, n := range names {
		ref, err := src.PutKey(kind, []byte(n), dims)
		if err != nil {
			t.Fatal(err)
		}
		src.AddValue(ref, 1000, 0, float64(i), sample.UnitNone)
	}
	m.Map(&src, func(uint64) *sample.Batch { return &dst })
	var out []string
	for i := range dst.Samples {
		s := &dst.Samples[i]
		pk, err := sample.ParseKey(dst.Key(s))
		if err != nil {
			t.Fatal(err)
		}
		if pk.Kind != kind || sample.Hash(dst.Key(s)) != s.Hash {
			t.Errorf("%s: kind %v or hash changed", pk.Name, pk.Kind)
		}
		out = append(out, string(pk.Name))
	}
	return out
}

// TestMapping follows MAD's MappingSource, with the collectd rules of the
// shipped pipeline.conf.
func TestMapping(t *testing.T) {
	m, err := NewMapping([]MappingRule{
		{`^cpu/([\d]+)/(cpu|percent)/([^/]+)(/value)?`, []string{"cpu/$3", "cpu/by_core/$1/$3"}},
		{`^memcached/ps_count/.*`, nil},
		{`\.`, []string{"/"}},
		{`^price/(\d+)`, []string{`cost\$$1`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"cpu/0/cpu/wait", []string{"cpu/wait", "cpu/by_core/0/wait"}},
		{"cpu/12/percent/idle/value", []string{"cpu/idle", "cpu/by_core/12/idle"}},
		{"memcached/ps_count/x", nil},                // an empty list drops the metric
		{"a.b.c", []string{"a/b/c"}},                 // unanchored, every match replaced
		{"uptime/uptime", []string{"uptime/uptime"}}, // no match: unchanged
		{"price/42", []string{"cost$42"}},            // \$ is a literal dollar
	} {
		got := mappedNames(t, m, sample.KindGauge, tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s → %v, want %v", tc.in, got, tc.want)
		}
	}
	if _, err := NewMapping([]MappingRule{{`(?<=x)y`, nil}}); err == nil {
		t.Error("a look-behind (not RE2) was accepted")
	}
}

// TestMappingJavaReplaceAll: MappingSource's rules are Java's
// matcher.replaceAll: its find() loop (an empty match right after a
// non-empty one counts), named groups in replacements, and a group number
// that takes further digits only while they name a group. Replacement
// strings Java throws on (for every record the rule matches) are refused.
func TestMappingJavaReplaceAll(t *testing.T) {
	for _, tc := range []struct {
		pattern, repl, in, want string
	}{
		{`(.*)`, `p.$1`, "abc", "p.abcp."},
		{`.*$`, `X`, "abc", "XX"},
		{`^(?<animal>[^/]*)/x`, `${animal}.y`, "cat/x", "cat.y"},
		{`^a(\d)`, `n$10`, "a7", "n70"},
		{`^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)$`, `$11-$1`, "abcdefghijk", "k-a"},
		{`b`, `\\x\$`, "abc", `a\x$c`},
		{`^(a)?b`, `[$1]`, "b", "[]"}, // a group that took no part gives nothing
	} {
		m, err := NewMapping([]MappingRule{{tc.pattern, []string{tc.repl}}})
		if err != nil {
			t.Fatalf("%s → %s: %v", tc.pattern, tc.repl, err)
		}
		if got := mappedNames(t, m, sample.KindGauge, tc.in); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q with %q replaced by %q: %v; want %q", tc.in, tc.pattern, tc.repl, got, tc.want)
		}
	}
	for _, tc := range [][2]string{{`a`, `$x`}, {`a`, `b\`}, {`(a)`, `$2`}, {`a`, `${nope}`}, {`a`, `$`}} {
		if _, err := NewMapping([]MappingRule{{tc[0], []string{tc[1]}}}); err == nil {
			t.Errorf("pattern %q, replacement %q: accepted; Java throws", tc[0], tc[1])
		}
	}
}

func TestTimeStampingAndChains(t *testing.T) {
	m, _ := NewMapping([]MappingRule{{`^a$`, []string{"b"}}})
	var src, dst sample.Batch
	ref, _ := src.PutKey(sample.KindCounter, []byte("a"), nil)
	src.AddValue(ref, 5, 0, 1, sample.UnitNone)
	Mappers{m, TimeStamping{Now: func() int64 { return 77 }}}.Map(&src, func(uint64) *sample.Batch { return &dst })
	if len(dst.Samples) != 1 || dst.Samples[0].Time != 77 {
		t.Fatalf("samples %+v", dst.Samples)
	}
	pk, _ := sample.ParseKey(dst.Key(&dst.Samples[0]))
	if string(pk.Name) != "b" {
		t.Errorf("name %s", pk.Name)
	}
}

// TestProducerMapsBeforeRouting: a producer with a mapper routes the mapped
// samples, publishing them whole.
func TestProducerMapsBeforeRouting(t *testing.T) {
	l := NewLanes(2, 16)
	p := NewProducer(l)
	m, _ := NewMapping([]MappingRule{{`^x$`, []string{"y", "z"}}})
	p.SetMapper(m)
	for i := 0; i < 3000; i++ {
		b := p.Route(0)
		ref, _ := b.PutKey(sample.KindCounter, []byte("x"), nil)
		b.AddValue(ref, 1, 0, 1, sample.UnitNone)
	}
	p.Flush()
	n := 0
	for _, r := range l.To {
		for {
			b, ok := r.Pop()
			if !ok {
				break
			}
			n += len(b.Samples)
		}
	}
	if n != 6000 || p.Published != 6000 {
		t.Errorf("published %d (%d), want 6000", n, p.Published)
	}
}

// TestWrappingSourcesDropRequestTime: a record behind a wrapping source
// has no request time (MAD-SPEC §3.5: MAD builds the record anew without
// it), matched by a rule or not, plain or pre-aggregated.
func TestWrappingSourcesDropRequestTime(t *testing.T) {
	m, _ := NewMapping([]MappingRule{{`^a$`, []string{"b"}}})
	for _, mp := range []Mapper{m, TimeStamping{Now: func() int64 { return 77 }}} {
		var src, dst sample.Batch
		for _, n := range []string{"a", "other"} {
			ref, _ := src.PutKey(sample.KindGauge, []byte(n), nil)
			src.AddSample(ref, 5, 999, 1, sample.UnitNone, 0)
			src.AddAgg(ref, 5, 999, sample.Agg{Count: 1, Sum: 1, Has: sample.HasCount | sample.HasSum}, nil, sample.UnitNone)
		}
		mp.Map(&src, func(uint64) *sample.Batch { return &dst })
		if len(dst.Samples) != 4 {
			t.Fatalf("%T: %d samples; want 4", mp, len(dst.Samples))
		}
		for _, s := range dst.Samples {
			if s.ReqTime != 0 {
				t.Errorf("%T: a sample kept request time %d", mp, s.ReqTime)
			}
		}
	}
}

// refMapping is an independent reference of MappingSource for patterns
// RE2 reads as Java does and replacements of plain text and $n groups
// (followed by no digit or name character): Go's regexp, Match then
// ReplaceAll with the replacement as a Go template.
type refMapping []struct {
	re    *regexp.Regexp
	repls []string
}

func newRefMapping(t *testing.T, rules []MappingRule) refMapping {
	ref := make(refMapping, len(rules))
	for i, r := range rules {
		ref[i].re = regexp.MustCompile(r.Pattern)
		for _, repl := range r.Replacements {
			if strings.ContainsAny(repl, `\{`) {
				t.Fatalf("the reference reads plain $n replacements only: %q", repl)
			}
			ref[i].repls = append(ref[i].repls, regexp.MustCompile(`\$(\d+)`).ReplaceAllString(repl, "$${$1}"))
		}
	}
	return ref
}

func (ref refMapping) names(name string) []string {
	var out []string
	matched := false
	for _, r := range ref {
		if !r.re.MatchString(name) {
			continue
		}
		matched = true
		for _, tmpl := range r.repls {
			out = append(out, r.re.ReplaceAllString(name, tmpl))
		}
	}
	if !matched {
		out = append(out, name)
	}
	return out
}

// TestMappingAgreesWithReference maps a stream of collectd series (the
// shipped collectd rules, 100 hosts, names no rule maps among them;
// counters, gauges and timers) through MappingSource's cached mapper, its cache small enough to
// be cleared many times, and checks every sample's outputs, in order,
// against the reference.
func TestMappingAgreesWithReference(t *testing.T) {
	spec, err := NewMappingSpec("collectd", shippedCollectdRules)
	if err != nil {
		t.Fatal(err)
	}
	spec.MaxSeries = 500
	m := spec.NewMapper()
	ref := newRefMapping(t, shippedCollectdRules)
	names := append(collectdNames(), "cpu/x/cpu/idle", "df/", "load/load/2min", "", "memcached/ps_count/", "a.b.c")
	kinds := []sample.Kind{sample.KindCounter, sample.KindGauge, sample.KindTimer}
	r := rand.New(rand.NewPCG(3, 4))
	var src, dst sample.Batch
	route := func(uint64) *sample.Batch { return &dst }
	var want []string
	for round := range 40 {
		src.Reset()
		dst.Reset()
		want = want[:0]
		for i := range 1000 {
			name, kind := names[r.IntN(len(names))], kinds[r.IntN(len(kinds))]
			host := fmt.Sprintf("host-%03d", r.IntN(100))
			addSeries(t, &src, kind, name, float64(round*1000+i), "host", host)
			for _, n := range ref.names(name) {
				want = append(want, fmt.Sprintf("%s:%s{host=%s,}=%d", kind, n, host, round*1000+i))
			}
		}
		m.Map(&src, route)
		got := make([]string, len(dst.Samples))
		for i := range dst.Samples {
			s := &dst.Samples[i]
			got[i] = fmt.Sprintf("%s=%d", readableKey(t, &dst, s), int(s.Value))
		}
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("round %d: output %d is %s; want %s (%d outputs, want %d)", round, i, got[i], want[i], len(got), len(want))
				}
			}
			t.Fatalf("round %d: %d outputs, want %d", round, len(got), len(want))
		}
	}
	if st := spec.Stats(); st.Clears.Load() == 0 || st.Hits.Load() == 0 {
		t.Errorf("cache: %d hits, %d clears; the test wants both", st.Hits.Load(), st.Clears.Load())
	}
}

// TestMappingAllocatesNothing: once each series is cached, mapping a batch
// allocates nothing (the regular expressions run once a series).
func TestMappingAllocatesNothing(t *testing.T) {
	m, err := NewMapping(shippedCollectdRules)
	if err != nil {
		t.Fatal(err)
	}
	var src, dst sample.Batch
	for i, n := range collectdNames() {
		addSeries(t, &src, sample.KindGauge, n, float64(i), "host", "h1")
	}
	route := func(uint64) *sample.Batch { return &dst }
	m.Map(&src, route)
	if n := testing.AllocsPerRun(20, func() { dst.Reset(); m.Map(&src, route) }); n != 0 {
		t.Errorf("%.1f allocations a batch", n)
	}
}
