package otlpref

import (
	"math"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/gomad/mad/internal/sample"
)

// TestStringify: MAD's stringification of every AnyValue kind.
func TestStringify(t *testing.T) {
	for _, c := range []struct {
		name string
		v    *commonpb.AnyValue
		want string
	}{
		{"string", str("x y"), "x y"},
		{"empty string", str(""), ""},
		{"true", boolv(true), "true"},
		{"false", boolv(false), "false"},
		{"int", intv(5000), "5000"},
		{"negative int", intv(-1), "-1"},
		{"max int", intv(math.MaxInt64), "9223372036854775807"},
		{"min int", intv(math.MinInt64), "-9223372036854775808"},
		{"double", dbl(1), "1.0"},
		{"double 1e7", dbl(1e7), "1.0E7"},
		{"double 0.001", dbl(0.001), "0.001"},
		{"double 1e-4", dbl(1e-4), "1.0E-4"},
		{"double 1234567", dbl(1234567), "1234567.0"},
		{"double -0", dbl(math.Copysign(0, -1)), "-0.0"},
		{"double NaN", dbl(math.NaN()), "NaN"},
		{"double Inf", dbl(math.Inf(1)), "Infinity"},
		{"double -Inf", dbl(math.Inf(-1)), "-Infinity"},
		{"array", arr(str("a"), intv(1), boolv(true), dbl(1.5)), "a,1,true,1.5"},
		{"nested arrays", arr(arr(str("a"), str("b")), arr(str("c"))), "a,b,c"},
		{"array with empty and unset", arr(str("a"), str(""), &commonpb.AnyValue{}, nil), "a,,,"},
		{"empty array", arr(), ""},
		{"array of an empty string", arr(str("")), ""},
		{"kvlist", kvl(kv("a", intv(1)), kv("b", str("x"))), "a: 1,b: x"},
		{"kvlist unset value", kvl(kv("k", nil), kv("", str("v"))), "k: ,: v"},
		{"nested kvlist", kvl(kv("a", kvl(kv("b", str("c")))), kv("d", arr(intv(1), intv(2)))), "a: b: c,d: 1,2"},
		{"array of kvlists", arr(kvl(kv("a", str("1"))), kvl()), "a: 1,"},
		{"empty kvlist", kvl(), ""},
		{"bytes", bytesv(1, 0xfe), "[1, -2]"},
		{"bytes extremes", bytesv(0x80, 0x7f, 0), "[-128, 127, 0]"},
		{"empty bytes", bytesv(), "[]"},
		{"unset", &commonpb.AnyValue{}, ""},
		{"nil", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := stringify(c.v); got != c.want {
				t.Errorf("got %q; want %q", got, c.want)
			}
		})
	}
}

const tn = 5_000_000 // ns: t=5

// line is an expected Render line of a sample at t=5 (the request time in
// decode is 7).
func line(name, dims, rest string) string {
	return `gauge "` + name + `" {` + dims + `} t=5 req=7 ` + rest
}

type ruleCase struct {
	name string
	body func(t testing.TB) []byte
	want outcome
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, decode(t, c.body(t)), c.want)
		})
	}
}

func one(lines ...string) outcome {
	return outcome{lines: lines, counts: sample.Counts{Records: 1, Samples: len(lines)}}
}

// TestDimensions: resource attributes, service.name, point attributes over
// them, repeated keys.
func TestDimensions(t *testing.T) {
	g := func(res []*commonpb.KeyValue, as ...*commonpb.KeyValue) func(t testing.TB) []byte {
		return func(t testing.TB) []byte { return marshal(t, rm(res, gauge("m", num(tn, 1, as...)))) }
	}
	runRules(t, []ruleCase{
		{"no resource", g(nil), one(line("m", ``, "v=1 unit=none"))},
		{"empty values dropped", g(attrs(kv("a", str("")), kv("b", str("x")), kv("c", &commonpb.AnyValue{}), kv("d", arr()), kv("e", nil), kv("f", kvl()))),
			one(line("m", `"b"="x"`, "v=1 unit=none"))},
		{"every kind", g(attrs(kv("b", boolv(false)), kv("i", intv(-7)), kv("d", dbl(1e-4)), kv("y", bytesv(0xff)), kv("a", arr(str("x"), intv(2))), kv("k", kvl(kv("p", str("q")))))),
			one(line("m", `"a"="x,2" "b"="false" "d"="1.0E-4" "i"="-7" "k"="p: q" "y"="[-1]"`, "v=1 unit=none"))},
		{"repeated resource key: the last wins", g(attrs(kv("a", str("1")), kv("a", str("2")))), one(line("m", `"a"="2"`, "v=1 unit=none"))},
		{"repeated resource key: an empty last is dropped", g(attrs(kv("a", str("1")), kv("a", str("")))), one(line("m", `"a"="1"`, "v=1 unit=none"))},
		{"service from service.name", g(attrs(kv("service.name", str("svc")))),
			one(line("m", `"service"="svc" "service.name"="svc"`, "v=1 unit=none"))},
		{"service kept", g(attrs(kv("service", str("s")), kv("service.name", str("svc")))),
			one(line("m", `"service"="s" "service.name"="svc"`, "v=1 unit=none"))},
		{"service kept when after service.name", g(attrs(kv("service.name", str("svc")), kv("service", str("s")))),
			one(line("m", `"service"="s" "service.name"="svc"`, "v=1 unit=none"))},
		{"empty service is none", g(attrs(kv("service", str("")), kv("service.name", str("svc")))),
			one(line("m", `"service"="svc" "service.name"="svc"`, "v=1 unit=none"))},
		{"empty service.name", g(attrs(kv("service.name", str("")))), one(line("m", ``, "v=1 unit=none"))},
		{"service.name stringified", g(attrs(kv("service.name", intv(5)))), one(line("m", `"service"="5" "service.name"="5"`, "v=1 unit=none"))},
		{"point over resource", g(attrs(kv("host", str("a")), kv("service.name", str("s"))), kv("host", str("b")), kv("x", str("y"))),
			one(line("m", `"host"="b" "service"="s" "service.name"="s" "x"="y"`, "v=1 unit=none"))},
		{"point service over the derived one", g(attrs(kv("service.name", str("s"))), kv("service", str("p"))),
			one(line("m", `"service"="p" "service.name"="s"`, "v=1 unit=none"))},
		{"empty point value leaves the resource's", g(attrs(kv("host", str("a"))), kv("host", str(""))),
			one(line("m", `"host"="a"`, "v=1 unit=none"))},
		{"point service.name derives nothing", g(nil, kv("service.name", str("x"))), one(line("m", `"service.name"="x"`, "v=1 unit=none"))},
		{"empty keys are keys", g(attrs(kv("", str("r"))), kv("", str("p"))), one(line("m", `""="p"`, "v=1 unit=none"))},
		{"repeated point key fails", g(nil, kv("a", str("1")), kv("a", str("2"))), outcome{err: sample.ErrMADFails}},
		{"repeated point key fails, empty values too", g(nil, kv("a", str("")), kv("b", str("x")), kv("a", nil)), outcome{err: sample.ErrMADFails}},
		{"repeated point key fails, same value", g(attrs(kv("a", str("r"))), kv("a", str("1")), kv("a", str("1"))), outcome{err: sample.ErrMADFails}},
		{"repeated point key of a skipped point fails", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, math.NaN(), kv("a", str("1")), kv("a", str("2"))))))
		}, outcome{err: sample.ErrMADFails}},
		{"repeated point key of an empty histogram fails", func(t testing.TB) []byte {
			return marshal(t, rm(nil, hist("h", "", &metricpb.HistogramDataPoint{TimeUnixNano: tn, Attributes: attrs(kv("a", str("1")), kv("a", str("2")))})))
		}, outcome{err: sample.ErrMADFails}},
		{"repeated point key of an exponential histogram fails", func(t testing.TB) []byte {
			return marshal(t, rm(nil, exph("h", "", &metricpb.ExponentialHistogramDataPoint{TimeUnixNano: tn, ZeroCount: 1, Attributes: attrs(kv("a", str("1")), kv("a", str("2")))})))
		}, outcome{err: sample.ErrMADFails}},
		{"repeated point key of a summary point is not read", func(t testing.TB) []byte {
			return marshal(t, rm(nil, &metricpb.Metric{Name: "s", Data: &metricpb.Metric_Summary{Summary: &metricpb.Summary{
				DataPoints: []*metricpb.SummaryDataPoint{{TimeUnixNano: tn, Attributes: attrs(kv("a", str("1")), kv("a", str("2")))}}}}}))
		}, outcome{stats: Stats{Unsupported: 1}}},
		{"scope attributes ignored", func(t testing.TB) []byte {
			r := rm(attrs(kv("r", str("1"))), gauge("m", num(tn, 1)))
			r.ScopeMetrics[0].Scope = &commonpb.InstrumentationScope{Name: "s", Attributes: attrs(kv("scope", str("x")))}
			return marshal(t, r)
		}, one(line("m", `"r"="1"`, "v=1 unit=none"))},
		{"resources apart", func(t testing.TB) []byte {
			return marshal(t, rm(attrs(kv("r", str("1"))), gauge("m", num(tn, 1))), rm(attrs(kv("q", str("2"))), gauge("m", num(tn, 2))))
		}, outcome{lines: []string{line("m", `"q"="2"`, "v=2 unit=none"), line("m", `"r"="1"`, "v=1 unit=none")},
			counts: sample.Counts{Records: 2, Samples: 2}}},
	})
}

// TestRecords: grouping by (dimensions, time), replacement, record times.
func TestRecords(t *testing.T) {
	runRules(t, []ruleCase{
		{"later point replaces, across metrics and types", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, 1)), sum("m", num(tn, 2.5))))
		}, outcome{lines: []string{line("m", ``, "v=2.5 unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{Replaced: 1}}},
		{"within one metric", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, 1), num(tn, 2), num(tn, 3))))
		}, outcome{lines: []string{line("m", ``, "v=3 unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{Replaced: 2}}},
		{"a histogram replaces a gauge", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, 1)),
				hist("m", "", &metricpb.HistogramDataPoint{TimeUnixNano: tn, Count: 1, ExplicitBounds: []float64{1}, BucketCounts: []uint64{1}})))
		}, outcome{lines: []string{line("m", ``, "min=1 max=1 sum=0 count=1 hist=[1:1] unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{Replaced: 1}}},
		{"across resources of the same dimensions", func(t testing.TB) []byte {
			return marshal(t, rm(attrs(kv("service.name", str("x"))), gauge("m", num(tn, 1))),
				rm(attrs(kv("service", str("x")), kv("service.name", str("x"))), gauge("m", num(tn, 2))))
		}, outcome{lines: []string{line("m", `"service"="x" "service.name"="x"`, "v=2 unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{Replaced: 1}}},
		{"point dimensions make the same record", func(t testing.TB) []byte {
			return marshal(t, rm(attrs(kv("a", str("1"))), gauge("m", num(tn, 1))), rm(nil, gauge("m", num(tn, 2, kv("a", str("1"))))))
		}, outcome{lines: []string{line("m", `"a"="1"`, "v=2 unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{Replaced: 1}}},
		{"other names share the record", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("a", num(tn, 1)), gauge("b", num(tn, 2))))
		}, outcome{lines: []string{line("a", ``, "v=1 unit=none"), line("b", ``, "v=2 unit=none")}, counts: sample.Counts{Records: 1, Samples: 2}}},
		{"other times are other records", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, 1), num(tn+1_000_000, 2))))
		}, outcome{lines: []string{line("m", ``, "v=1 unit=none"), `gauge "m" {} t=6 req=7 v=2 unit=none`}, counts: sample.Counts{Records: 2, Samples: 2}}},
		{"the same millisecond is the same record", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, 1), num(tn+999_999, 2))))
		}, outcome{lines: []string{line("m", ``, "v=2 unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{Replaced: 1}}},
		{"other dimensions are other records", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, 1, kv("a", str("1"))), num(tn, 2, kv("a", str("2"))))))
		}, outcome{lines: []string{line("m", `"a"="1"`, "v=1 unit=none"), line("m", `"a"="2"`, "v=2 unit=none")}, counts: sample.Counts{Records: 2, Samples: 2}}},
		{"a skipped point replaces nothing", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, 1), num(tn, math.NaN())),
				hist("m", "", &metricpb.HistogramDataPoint{TimeUnixNano: tn}),
				exph("m", "", &metricpb.ExponentialHistogramDataPoint{TimeUnixNano: tn})))
		}, outcome{lines: []string{line("m", ``, "v=1 unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{NonFinite: 1, Empty: 2}}},
		{"a point that yields nothing makes no record", func(t testing.TB) []byte {
			return marshal(t, rm(nil, gauge("m", num(tn, math.Inf(1)))))
		}, outcome{stats: Stats{NonFinite: 1}}},
		{"empty request", func(t testing.TB) []byte { return nil }, outcome{}},
	})
	// Record times: time_unix_nano as a Java long, divided by 10^6 toward zero.
	for _, c := range []struct {
		tn   uint64
		want string
	}{
		{0, "0"}, {999_999, "0"}, {1_000_000, "1"}, {1_999_999, "1"}, {1685564155071711218, "1685564155071"},
		{math.MaxUint64, "0"}, {math.MaxUint64 - 999_999, "-1"}, {math.MaxUint64 - 1_000_000, "-1"}, {math.MaxUint64 - 1_999_999, "-2"},
		{1 << 63, "-9223372036854"}, {1<<63 - 1, "9223372036854"},
	} {
		o := decode(t, marshal(t, rm(nil, gauge("m", num(c.tn, 1)))))
		if want := `gauge "m" {} t=` + c.want + ` req=7 v=1 unit=none`; len(o.lines) != 1 || o.lines[0] != want {
			t.Errorf("time_unix_nano %d: got %q; want %q", c.tn, o.lines, want)
		}
	}
}

// TestNumbers: Sum and Gauge points.
func TestNumbers(t *testing.T) {
	n := func(v any) func(t testing.TB) []byte {
		return func(t testing.TB) []byte { return marshal(t, rm(nil, gauge("m", num(tn, v)))) }
	}
	runRules(t, []ruleCase{
		{"as_int", n(3), one(line("m", ``, "v=3 unit=none"))},
		{"as_int max", n(int64(math.MaxInt64)), one(line("m", ``, "v=9.223372036854776e+18 unit=none"))},
		{"as_int min", n(int64(math.MinInt64)), one(line("m", ``, "v=-9.223372036854776e+18 unit=none"))},
		{"as_int rounded", n(int64(1<<53 + 1)), one(line("m", ``, "v=9.007199254740992e+15 unit=none"))},
		{"as_double", n(1.5), one(line("m", ``, "v=1.5 unit=none"))},
		{"as_double -0", n(math.Copysign(0, -1)), one(line("m", ``, "v=-0 unit=none"))},
		{"as_double subnormal", n(4.9e-324), one(line("m", ``, "v=5e-324 unit=none"))},
		{"unset", n(nil), one(line("m", ``, "v=0 unit=none"))},
		{"NaN", n(math.NaN()), outcome{stats: Stats{NonFinite: 1}}},
		{"Inf", n(math.Inf(1)), outcome{stats: Stats{NonFinite: 1}}},
		{"-Inf", n(math.Inf(-1)), outcome{stats: Stats{NonFinite: 1}}},
		{"sum: temporality and monotonicity ignored, no unit", func(t testing.TB) []byte {
			m := sum("m", num(tn, 100))
			m.Unit = "ms"
			return marshal(t, rm(nil, m))
		}, one(line("m", ``, "v=100 unit=none"))},
		{"gauge: no unit", func(t testing.TB) []byte {
			m := gauge("m", num(tn, 2.5))
			m.Unit = "s"
			return marshal(t, rm(nil, m))
		}, one(line("m", ``, "v=2.5 unit=none"))},
		{"metric without points", func(t testing.TB) []byte { return marshal(t, rm(nil, gauge("m"), sum("n"))) }, outcome{}},
	})
}

// defaultBounds are the OTel SDKs' default explicit bounds.
var defaultBounds = []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000}

// TestHistogram: explicit-bucket histograms.
func TestHistogram(t *testing.T) {
	h := func(unit string, p *metricpb.HistogramDataPoint) func(t testing.TB) []byte {
		p.TimeUnixNano = tn
		return func(t testing.TB) []byte { return marshal(t, rm(nil, hist("h", unit, p))) }
	}
	runRules(t, []ruleCase{
		{"MAD-SPEC's vector: 0, 1, 2, 3, 58 on the default bounds", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: defaultBounds, BucketCounts: []uint64{1, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			Count: 5, Sum: f64(64), Min: f64(0), Max: f64(58)}),
			one(line("h", ``, "min=0 max=58 sum=64 count=5 hist=[0:1 5:3 75:1] unit=none"))},
		{"no min, no max: first and last non-empty bounds", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 2, 5}, BucketCounts: []uint64{0, 2, 3, 0}, Count: 5, Sum: f64(12)}),
			one(line("h", ``, "min=2 max=5 sum=12 count=5 hist=[2:2 5:3] unit=none"))},
		{"overflow without max: last + |last - second last|; no max", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 4}, BucketCounts: []uint64{0, 0, 2}, Count: 2}),
			one(line("h", ``, "min=7 sum=0 count=2 hist=[7:2] unit=none"))},
		{"overflow without max, max from the last non-overflow bucket", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 4}, BucketCounts: []uint64{3, 0, 2}, Count: 5}),
			one(line("h", ``, "min=1 max=1 sum=0 count=5 hist=[1:3 7:2] unit=none"))},
		{"overflow of decreasing bounds", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{10, 4}, BucketCounts: []uint64{0, 0, 1}, Count: 1}),
			one(line("h", ``, "min=10 sum=0 count=1 hist=[10:1] unit=none"))},
		{"overflow with max", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 4}, BucketCounts: []uint64{1, 0, 2}, Count: 3, Max: f64(9)}),
			one(line("h", ``, "min=1 max=9 sum=0 count=3 hist=[1:1 9:2] unit=none"))},
		{"one bound, overflow, max", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{3}, BucketCounts: []uint64{0, 1}, Count: 1, Max: f64(10)}),
			one(line("h", ``, "min=10 max=10 sum=0 count=1 hist=[10:1] unit=none"))},
		{"one bound, overflow, no max: MAD fails", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{3}, BucketCounts: []uint64{2, 1}, Count: 3}), outcome{err: sample.ErrMADFails}},
		{"one bound, empty overflow, no max", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{3}, BucketCounts: []uint64{2, 0}, Count: 2}),
			one(line("h", ``, "min=3 max=3 sum=0 count=2 hist=[3:2] unit=none"))},
		{"one bound, no overflow bucket, no max", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{5}, BucketCounts: []uint64{3}, Count: 3}),
			one(line("h", ``, "min=5 max=5 sum=0 count=3 hist=[5:3] unit=none"))},
		{"one bound, overflow count 2^63 (negative): not above zero", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{3}, BucketCounts: []uint64{1, 1 << 63}, Count: 1}),
			one(line("h", ``, "min=3 max=3 sum=0 count=1 hist=[3:1] unit=none"))},
		{"no bounds: empty", h("", &metricpb.HistogramDataPoint{BucketCounts: []uint64{4}, Count: 4, Sum: f64(1)}),
			outcome{stats: Stats{Empty: 1}}},
		{"bucket_counts beyond bounds+1 ignored", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1}, BucketCounts: []uint64{1, 0, 5}, Count: 6}),
			one(line("h", ``, "min=1 max=1 sum=0 count=6 hist=[1:1] unit=none"))},
		{"fewer bucket_counts", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 2, 3}, BucketCounts: []uint64{0, 4}, Count: 4}),
			one(line("h", ``, "min=2 max=2 sum=0 count=4 hist=[2:4] unit=none"))},
		{"no bucket_counts", h("", &metricpb.HistogramDataPoint{ExplicitBounds: []float64{1, 2}, Count: 4, Sum: f64(3), Min: f64(0.5)}),
			one(line("h", ``, "min=0.5 sum=3 count=4 hist=[] unit=none"))},
		{"all buckets empty", h("", &metricpb.HistogramDataPoint{ExplicitBounds: []float64{1, 2}, BucketCounts: []uint64{0, 0, 0}}),
			one(line("h", ``, "sum=0 count=0 hist=[] unit=none"))},
		{"counts as Java longs", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 2}, BucketCounts: []uint64{math.MaxUint64, 1 << 62, 0}, Count: 1 << 63}),
			one(line("h", ``, "min=2 max=2 sum=0 count=-9.223372036854776e+18 hist=[2:4611686018427387904] unit=none"))},
		{"equal bounds", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{2, 2, 2}, BucketCounts: []uint64{1, 2, 0, 1}, Count: 4}),
			one(line("h", ``, "min=2 max=2 sum=0 count=4 hist=[2:4] unit=none"))},
		{"min and max given win", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 2}, BucketCounts: []uint64{1, 1, 0}, Count: 2, Min: f64(-3), Max: f64(1.5), Sum: f64(-1.5)}),
			one(line("h", ``, "min=-3 max=1.5 sum=-1.5 count=2 hist=[1:1 2:1] unit=none"))},
		// MAD passes non-finite bounds through; mad leaves such a point
		// out and counts it (its shards refuse the statistics), so that the
		// client is told (partial_success).
		{"non-finite bounds: left out, counted", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{math.Inf(-1), math.NaN()}, BucketCounts: []uint64{1, 1, 1}, Count: 3}),
			outcome{stats: Stats{NonFinite: 1}}},
		{"an infinite sum: left out, counted", h("", &metricpb.HistogramDataPoint{
			ExplicitBounds: []float64{1, 2}, BucketCounts: []uint64{1, 1, 0}, Count: 2, Sum: f64(math.Inf(1))}),
			outcome{stats: Stats{NonFinite: 1}}},
	})
}

// TestExponentialHistogram: exponential histograms.
func TestExponentialHistogram(t *testing.T) {
	e := func(unit string, p *metricpb.ExponentialHistogramDataPoint) func(t testing.TB) []byte {
		p.TimeUnixNano = tn
		return func(t testing.TB) []byte { return marshal(t, rm(nil, exph("e", unit, p))) }
	}
	runRules(t, []ruleCase{
		{"scale 3, min and max from the buckets", e("", &metricpb.ExponentialHistogramDataPoint{
			Scale: 3, Positive: buckets(0, 1, 0, 0, 0, 0, 2), Count: 3, Sum: f64(4)}),
			one(line("e", ``, "min=1.045253866332629 max=1.612001827957685 sum=4 count=3 hist=[1.045253866332629:1 1.612001827957685:2] unit=none"))},
		{"scale 3, negative offset", e("", &metricpb.ExponentialHistogramDataPoint{
			Scale: 3, Positive: buckets(-3, 2), Count: 2}),
			one(line("e", ``, "min=0.8060009139788425 max=0.8060009139788425 sum=0 count=2 hist=[0.8060009139788425:2] unit=none"))},
		{"scale 0", e("", &metricpb.ExponentialHistogramDataPoint{Positive: buckets(0, 1, 2), Count: 3}),
			one(line("e", ``, "min=1.5 max=3 sum=0 count=3 hist=[1.5:1 3:2] unit=none"))},
		{"scale -2", e("", &metricpb.ExponentialHistogramDataPoint{Scale: -2, Positive: buckets(-1, 1, 1), Count: 2}),
			one(line("e", ``, "min=0.53125 max=8.5 sum=0 count=2 hist=[0.53125:1 8.5:1] unit=none"))},
		{"negative buckets", e("", &metricpb.ExponentialHistogramDataPoint{
			Positive: buckets(0, 1), Negative: buckets(1, 2), Count: 3}),
			one(line("e", ``, "min=-3 max=1.5 sum=0 count=3 hist=[-3:2 1.5:1] unit=none"))},
		{"zero bucket", e("", &metricpb.ExponentialHistogramDataPoint{
			ZeroCount: 2, Positive: buckets(0, 1), Count: 3, Sum: f64(1)}),
			one(line("e", ``, "min=0 max=1.5 sum=1 count=3 hist=[0:2 1.5:1] unit=none"))},
		{"zero bucket only", e("", &metricpb.ExponentialHistogramDataPoint{ZeroCount: 4, Count: 4}),
			one(line("e", ``, "min=0 max=0 sum=0 count=4 hist=[0:4] unit=none"))},
		{"min and max given win", e("", &metricpb.ExponentialHistogramDataPoint{
			Scale: 1, Positive: buckets(0, 1), Negative: buckets(-1, 1), Count: 2, Min: f64(-0.9), Max: f64(1.1), Sum: f64(0.2)}),
			one(line("e", ``, "min=-0.9 max=1.1 sum=0.2 count=2 hist=[-0.8535533905932737:1 1.2071067811865475:1] unit=none"))},
		{"empty: no buckets", e("", &metricpb.ExponentialHistogramDataPoint{Count: 0, Min: f64(1)}), outcome{stats: Stats{Empty: 1}}},
		{"empty: zero counts", e("", &metricpb.ExponentialHistogramDataPoint{
			Positive: buckets(3, 0, 0), Negative: buckets(0, 0), Count: 5}), outcome{stats: Stats{Empty: 1}}},
		{"empty: counts of 2^63 are not above zero", e("", &metricpb.ExponentialHistogramDataPoint{
			Positive: buckets(3, 1<<63)}), outcome{stats: Stats{Empty: 1}}},
		{"zero_count of 2^63: not empty, no bucket", e("", &metricpb.ExponentialHistogramDataPoint{ZeroCount: 1 << 63, Count: 1}),
			one(line("e", ``, "sum=0 count=1 hist=[] unit=none"))},
		// (A bucket past the doubles: left out, counted, as above.)
		{"offset + i wraps as a Java int", e("", &metricpb.ExponentialHistogramDataPoint{
			Positive: buckets(math.MaxInt32, 1, 1), Count: 2}),
			outcome{stats: Stats{NonFinite: 1}}},
		{"scale -33 shifts as -1 (Java masks the count)", e("", &metricpb.ExponentialHistogramDataPoint{
			Scale: -33, Positive: buckets(0, 1), Count: 1}),
			one(line("e", ``, "min=2.5 max=2.5 sum=0 count=1 hist=[2.5:1] unit=none"))},
		{"scale 1024: every bucket is 1", e("", &metricpb.ExponentialHistogramDataPoint{
			Scale: 1024, Positive: buckets(-5, 1, 1), Count: 2}),
			one(line("e", ``, "min=1 max=1 sum=0 count=2 hist=[1:2] unit=none"))},
		{"-0 and +0 are distinct values, -0 the smaller", e("", &metricpb.ExponentialHistogramDataPoint{
			Scale: -10, Negative: buckets(-3, 1), ZeroCount: 1, Count: 2}),
			one(line("e", ``, "min=-0 max=0 sum=0 count=2 hist=[-0:1 0:1] unit=none"))},
	})
}

// TestExpValue: representative values against numbers computed by hand:
// exact for scales 0 and below; for scale 3 the float64 MAD's formula
// gives, a few ulps from the exact midpoint (24 digits, mpmath).
func TestExpValue(t *testing.T) {
	for _, c := range []struct {
		scale, idx int32
		want       float64
		exact      float64 // 0: want is exact
	}{
		{0, 0, 1.5, 0}, {0, 5, 48, 0}, {0, -2, 0.375, 0},
		{0, 1023, 0x1.8p1023, 0}, // 1.5·2^1023 is finite
		{0, 1024, math.Inf(1), 0},
		{0, -1022, 0x1.8p-1022, 0}, {0, -1023, 0x1.8p-1023, 0}, // the latter subnormal, exact
		{0, -1074, 0x1p-1073, 0}, // 1.5 ulp of subnormals rounds to even: 2
		{0, -1075, 0x1p-1074, 0}, {0, -1076, 0, 0}, {0, math.MinInt32, 0, 0},
		{-2, 0, 8.5, 0},       // (2^0 + 2^4)/2
		{-2, 1, 136, 0},       // (2^4 + 2^8)/2
		{-2, -1, 0.53125, 0},  // (2^-4 + 2^0)/2
		{-2, 1 << 30, 8.5, 0}, // idx<<2 wraps to 0, (idx+1)<<2 to 4
		{-1, 0, 2.5, 0},       // (2^0 + 2^2)/2
		{-10, 1, math.Inf(1), 0},
		{-10, -2, 0x1p-1025, 0}, // (0 + 2^-1024)/2
		{-3, 0, 128.5, 0},       // (2^0 + 2^8)/2
		{math.MinInt32, 0, 1.5, 0},
		{3, 0, 1.045253866332629, 1.045253866332628829604},
		{3, 5, 1.612001827957685, 1.612001827957684954837},
		{3, -3, 0.8060009139788425, 0.8060009139788424774186},
		{3, 17, 4.559429695335958, 4.559429695335957451849},
		{3, -100, 0.00018044582444952612, 0.0001804458244495261152596},
		{1, 0, 1.2071067811865475, 1.207106781186547524401},
		{20, 0, 1.000000330518441, 1.000000330518441037104},
	} {
		got := expValue(c.scale, c.idx)
		if got != c.want {
			t.Errorf("scale %d idx %d: got %v; want %v", c.scale, c.idx, got, c.want)
		}
		if c.exact != 0 && math.Abs(got-c.exact) > 4e-16*c.exact {
			t.Errorf("scale %d idx %d: got %v, too far from the midpoint %v", c.scale, c.idx, got, c.exact)
		}
	}
	// The doc's sf = 2^scale/ln 2 is MAD's Math.scalb(1/ln 2, scale).
	for s := 1; s <= 1100; s++ {
		if a, b := math.Ldexp(1, s)/math.Ln2, math.Ldexp(1/math.Ln2, s); a != b {
			t.Fatalf("scale %d: 2^s/ln2 = %v, scalb(1/ln2, s) = %v", s, a, b)
		}
	}
}

// TestUnits: a histogram's unit applies to min, max, sum and the buckets.
func TestUnits(t *testing.T) {
	p := func() *metricpb.HistogramDataPoint {
		return &metricpb.HistogramDataPoint{TimeUnixNano: tn, ExplicitBounds: []float64{2, 4}, BucketCounts: []uint64{1, 1, 0},
			Count: 2, Sum: f64(8), Min: f64(1)}
	}
	for _, c := range []struct {
		unit, want string
	}{
		{"", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		{"ms", "min=0.001 max=0.004 sum=0.008 count=2 hist=[0.002:1 0.004:1] unit=SECOND"},
		{"MS", "min=0.001 max=0.004 sum=0.008 count=2 hist=[0.002:1 0.004:1] unit=SECOND"},
		{"Milliseconds", "min=0.001 max=0.004 sum=0.008 count=2 hist=[0.002:1 0.004:1] unit=SECOND"},
		{"millisecond", "min=0.001 max=0.004 sum=0.008 count=2 hist=[0.002:1 0.004:1] unit=SECOND"},
		{"s", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=SECOND"},
		{"SECONDS", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=SECOND"},
		{"Second", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=SECOND"},
		{"us", "min=1e-06 max=4e-06 sum=8e-06 count=2 hist=[2e-06:1 4e-06:1] unit=SECOND"},
		{"microseconds", "min=1e-06 max=4e-06 sum=8e-06 count=2 hist=[2e-06:1 4e-06:1] unit=SECOND"},
		{"ns", "min=1e-09 max=4e-09 sum=8e-09 count=2 hist=[2e-09:1 4e-09:1] unit=SECOND"},
		{"NanoSecond", "min=1e-09 max=4e-09 sum=8e-09 count=2 hist=[2e-09:1 4e-09:1] unit=SECOND"},
		{"sec", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		{"msec", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		{"ms ", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		{"min", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		{"By", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		{"{request}", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		// Java lower-cases İ to "i̇" (two chars) outside a Turkish locale.
		{"mİcroseconds", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
		// The Kelvin sign lower-cases to k, in no unit name.
		{"\u212As", "min=1 max=4 sum=8 count=2 hist=[2:1 4:1] unit=none"},
	} {
		o := decode(t, marshal(t, rm(nil, hist("h", c.unit, p()))))
		if want := line("h", ``, c.want); len(o.lines) != 1 || o.lines[0] != want {
			t.Errorf("unit %q: got %q; want %q", c.unit, o.lines, want)
		}
	}
	// Exponential: the same, and the zero bucket stays 0.
	o := decode(t, marshal(t, rm(nil, exph("e", "ms", &metricpb.ExponentialHistogramDataPoint{TimeUnixNano: tn,
		ZeroCount: 1, Negative: buckets(1, 1), Count: 2, Sum: f64(-2)}))))
	if want := line("e", ``, "min=-0.003 max=0 sum=-0.002 count=2 hist=[-0.003:1 0:1] unit=SECOND"); len(o.lines) != 1 || o.lines[0] != want {
		t.Errorf("got %q; want %q", o.lines, want)
	}
}

// TestUnsupported: Summary points, metrics without data.
func TestUnsupported(t *testing.T) {
	summary := func(n int) *metricpb.Metric {
		s := &metricpb.Summary{}
		for range n {
			s.DataPoints = append(s.DataPoints, &metricpb.SummaryDataPoint{TimeUnixNano: tn, Count: 1, Sum: 2})
		}
		return &metricpb.Metric{Name: "s", Data: &metricpb.Metric_Summary{Summary: s}}
	}
	runRules(t, []ruleCase{
		{"summary points", func(t testing.TB) []byte { return marshal(t, rm(nil, summary(3))) }, outcome{stats: Stats{Unsupported: 3}}},
		{"summary without points", func(t testing.TB) []byte { return marshal(t, rm(nil, summary(0))) }, outcome{stats: Stats{Unsupported: 1}}},
		{"no data", func(t testing.TB) []byte { return marshal(t, rm(nil, &metricpb.Metric{Name: "x", Unit: "ms"})) }, outcome{stats: Stats{Unsupported: 1}}},
		{"with others", func(t testing.TB) []byte {
			return marshal(t, rm(nil, summary(2), gauge("g", num(tn, 1)), &metricpb.Metric{Name: "x"}))
		}, outcome{lines: []string{line("g", ``, "v=1 unit=none")}, counts: sample.Counts{Records: 1, Samples: 1}, stats: Stats{Unsupported: 3}}},
	})
	// A metric whose data is a field MAD's protos do not have (number 13):
	// unknown to Java, so no data.
	metric := []byte{0x0a, 1, 'x', 0x6a, 2, 0x08, 0x01}
	sm := append([]byte{0x12, byte(len(metric))}, metric...)
	rms := append([]byte{0x12, byte(len(sm))}, sm...)
	body := append([]byte{0x0a, byte(len(rms))}, rms...)
	check(t, decode(t, body), outcome{stats: Stats{Unsupported: 1}})
}

// TestTooLong: keys longer than sample.MaxKeyLen are dropped; the longest
// key is kept.
func TestTooLong(t *testing.T) {
	// kind (1) + uvarint(len) (3) + name + dimension count (1)
	ok := strings.Repeat("x", sample.MaxKeyLen-5)
	long := ok + "x"
	o := decode(t, marshal(t, rm(nil, gauge(ok, num(tn, 1)), gauge(long, num(tn, 2), num(tn, 3)), gauge("m", num(tn, 4)))))
	check(t, o, outcome{lines: []string{line("m", ``, "v=4 unit=none"), line(ok, ``, "v=1 unit=none")},
		counts: sample.Counts{Records: 1, Samples: 2}, stats: Stats{TooLong: 2}})
	// A long dimension makes a short name too long.
	o = decode(t, marshal(t, rm(attrs(kv("k", str(strings.Repeat("v", sample.MaxKeyLen)))), gauge("m", num(tn, 1)),
		hist("h", "", &metricpb.HistogramDataPoint{TimeUnixNano: tn, ExplicitBounds: []float64{1}, BucketCounts: []uint64{1}}))))
	check(t, o, outcome{stats: Stats{TooLong: 2}})
}

// TestErrors: the kinds of refusal.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		body []byte
		want error
	}{
		{"garbage", []byte{0xff, 0xff}, sample.ErrMalformed},
		{"truncated", marshal(t, rm(nil, gauge("m", num(tn, 1))))[:10], sample.ErrMalformed},
		{"wrong message", []byte{0x0a, 0x02, 0x08, 0x01}, nil}, // ResourceMetrics{1: varint}: unknown, fine
		{"invalid UTF-8 name", invalidUTF8Body(), sample.ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := decode(t, c.body)
			if c.want == nil {
				if o.err != nil {
					t.Fatalf("got %v; want no error", o.err)
				}
				return
			}
			check(t, o, outcome{err: c.want})
		})
	}
}

// invalidUTF8Body is a request with a metric named "\xff".
func invalidUTF8Body() []byte {
	metric := []byte{0x0a, 1, 0xff}
	sm := append([]byte{0x12, byte(len(metric))}, metric...)
	rms := append([]byte{0x12, byte(len(sm))}, sm...)
	return append([]byte{0x0a, byte(len(rms))}, rms...)
}
