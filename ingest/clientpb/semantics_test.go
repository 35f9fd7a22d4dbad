package clientpb

import (
	"math"
	"slices"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

const t0 = 1513239602974

func gauge(name, dims string, v float64) out {
	return out{kind: sample.KindGauge, name: name, dims: dims, value: v, time: t0}
}

func none(dims string) out { return out{kind: sample.KindNone, dims: dims, time: t0} }

func withReq(o out, req int64) out { o.req = req; return o }

func withTime(o out, t int64) out { o.time = t; return o }

func agg(name string, min, max, sum, count float64, hist ...sample.HistEntry) out {
	return out{kind: sample.KindGauge, name: name, time: t0, agg: true, min: min, max: max, sum: sum,
		count: count, has: allStats, hist: hist}
}

func he(v float64, n uint64) sample.HistEntry { return sample.HistEntry{Value: v, Count: n} }

type semCase struct {
	name    string
	version int
	body    []byte
	want    []out
}

func v3SemCases() []semCase {
	cs := []semCase{
		{"record without metrics makes its bucket", 3, v3Record(v3Dim("host", "a")), []out{none("host=a")}},
		{"record without dimensions or metrics", 3, v3Record(), []out{none("")}},
		{"entry without data is skipped", 3, v3Record(fBytes(5, fBytes(1, v3Ident("m")))), []out{none("")}},
		{"entry with empty data is no metric", 3, v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")), fBytes(2, nil)))), []out{none("")}},
		{"no KindNone when a metric routes", 3, v3Record(v3Samples("m", 1), fBytes(5, fBytes(1, v3Ident("x")))), []out{gauge("m", "", 1)}},
		{"requestTime", 3, msg(v3Record(fVarint(6, 1513239603000), v3Samples("m", 1)), v3Record(fVarint(6, 7))),
			[]out{withReq(none(""), 7), withReq(gauge("m", "", 1), 1513239603000)}},
		{"time absent is 0", 3, fBytes(1, msg(fBytes(1, testID), v3Samples("m", 1))), []out{withTime(gauge("m", "", 1), 0)}},
		{"time past 2^63 is a Java long", 3, fBytes(1, msg(fBytes(1, testID), fVarint(2, 1<<63+5), v3Samples("m", 1))),
			[]out{withTime(gauge("m", "", 1), math.MinInt64+5)}},
		{"start time ignored", 3, v3Record(fVarint(3, 5), v3Samples("m", 1)), []out{gauge("m", "", 1)}},
		{"end time as fixed64 is an unknown field", 3, fBytes(1, msg(fBytes(1, testID), fDouble(2, 5), v3Samples("m", 1))),
			[]out{withTime(gauge("m", "", 1), 0)}},
		{"last end time wins", 3, v3Record(fVarint(2, 9), v3Samples("m", 1)), []out{withTime(gauge("m", "", 1), 9)}},
		{"ten-byte varint", 3, fBytes(1, msg(fBytes(1, testID), raw(0x10), longVar, v3Samples("m", 1))),
			[]out{withTime(gauge("m", "", 1), -1)}},
		{"id longer than 16 bytes", 3, fBytes(1, msg(fBytes(1, append(testID[:16:16], 1, 2, 3)), v3Samples("m", 1))),
			[]out{withTime(gauge("m", "", 1), 0)}},
		{"unpacked and packed samples in order", 3,
			v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")), fBytes(2, msg(fDouble(1, 1), fPacked(1, 2, 3), fDouble(1, 4)))))),
			[]out{gauge("m", "", 1), gauge("m", "", 2), gauge("m", "", 3), gauge("m", "", 4)}},
		{"dimensions sorted, empty key and value allowed", 3, v3Record(v3Dim("z", "1"), v3Dim("", ""), v3Dim("a", "2"), v3Samples("m", 1)),
			[]out{gauge("m", "=,a=2,z=1", 1)}},
		{"identifier: last set value wins, an empty one changes nothing", 3,
			v3Record(fBytes(4, msg(fBytes(1, v3Ident("a")), fBytes(2, v3Ident("v")), fBytes(1, v3Ident("b")), fBytes(1, nil))), v3Samples("m", 1)),
			[]out{gauge("m", "b=v", 1)}},
		{"metric name merged across name fields", 3,
			v3Record(fBytes(5, msg(fBytes(1, v3Ident("x")), fBytes(2, fPacked(1, 1)), fBytes(1, v3Ident("m"))))),
			[]out{gauge("m", "", 1)}},
		{"unknown fields and groups skipped everywhere", 3,
			v3Record(raw(0x3d, 1, 2, 3, 4), raw(0x43, 0x08, 0x01, 0x44), fBytes(5, msg(fBytes(1, msg(v3Ident("m"), fVarint(7, 1))), fBytes(3, raw(1)),
				fBytes(2, msg(fPacked(1, 1), fVarint(9, 3), fBytes(2, msg(fDouble(3, 1), fDouble(4, 2), fDouble(5, 3), fStr(6, "x")))))))),
			[]out{gauge("m", "", 1), agg("m", 1, 2, 3, 0)}},
		{"statistics without entries", 3, v3Record(v3Stats("m", v3Hist(0, 0, 0))), []out{agg("m", 0, 0, 0, 0)}},
		{"empty statistics message", 3, v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")), fBytes(2, fBytes(2, nil))))), []out{agg("m", 0, 0, 0, 0)}},
		{"precision ignored", 3, v3Record(v3Stats("m", msg(fVarint(2, 3), fBytes(1, msg(fVarint(1, 130944), fVarint(2, 2)))))),
			[]out{agg("m", 0, 0, 0, 2, he(1, 2))}},
		{"bucket keeps only its low 19 bits", 3, v3Record(v3Stats("m", v3Hist(1, 1, 1, hentry{130944 + 1<<19, 1}, hentry{-1, 1}))),
			[]out{agg("m", 1, 1, 1, 2, he(1, 1), he(math.Float64frombits(0x7FFFF<<45), 1))}},
		{"negative and zero buckets", 3, v3Record(v3Stats("m", v3Hist(-5.3, 0, -5.3, hentry{393385, 1}, hentry{0, 0}))),
			[]out{agg("m", -5.3, 0, -5.3, 1, he(-5.28125, 1), he(0, 0))}},
		{"count is a Java long", 3, v3Record(v3Stats("m", v3Hist(1, 1, 1, hentry{130944, 1 << 63}, hentry{130944, 1<<63 + 1}))),
			[]out{agg("m", 1, 1, 1, 1, he(1, 1<<63), he(1, 1<<63+1))}},
		{"count wraps negative", 3, v3Record(v3Stats("m", v3Hist(1, 1, 1, hentry{130944, math.MaxUint64}))),
			[]out{agg("m", 1, 1, 1, -1, he(1, math.MaxUint64))}},
		{"statistics merged within an entry: entries append, last min wins", 3,
			v3Record(fBytes(5, msg(fBytes(1, v3Ident("m")),
				fBytes(2, fBytes(2, v3Hist(1, 3, 4, hentry{130944, 1}, hentry{131136, 1}))),
				fBytes(2, msg(fPacked(1, 9), fBytes(2, msg(fBytes(1, msg(fVarint(1, 131072), fVarint(2, 2))), fDouble(3, 0.5)))))))),
			[]out{gauge("m", "", 9), agg("m", 0.5, 3, 4, 4, he(1, 1), he(3, 1), he(2, 2))}},
		{"same name in many entries: samples first, then statistics, each in order", 3,
			v3Record(v3Stats("m", v3Hist(1, 1, 1, hentry{130944, 1})), v3Samples("x", 7), v3Samples("m", 2),
				v3Stats("m", v3Hist(2, 2, 2, hentry{131072, 1})), v3Samples("m", 3)),
			[]out{gauge("m", "", 2), gauge("m", "", 3), agg("m", 1, 1, 1, 1, he(1, 1)), agg("m", 2, 2, 2, 1, he(2, 1)), gauge("x", "", 7)}},
		{"non-finite values pass (the shard counts them)", 3, v3Record(v3Samples("m", math.Inf(1))), []out{gauge("m", "", math.Inf(1))}},
	}
	return cs
}

func TestV3Semantics(t *testing.T) {
	for _, c := range v3SemCases() {
		t.Run(c.name, func(t *testing.T) {
			got, st, err := collect(t, 3, c.body)
			if err != nil {
				t.Fatal(err)
			}
			checkReference(t, 3, c.body, got, st, err)
			checkOuts(t, groupByName(got), c.want)
			if st.Samples != len(c.want) {
				t.Errorf("Stats.Samples %d; want %d", st.Samples, len(c.want))
			}
		})
	}
}

// groupByName orders samples by name and kind, keeping each metric's order
// (the order across metrics is free).
func groupByName(got []out) []out {
	var names []string
	seen := map[string]bool{}
	for _, o := range got {
		if k := o.name + "\x00" + o.kind.String(); !seen[k] {
			seen[k] = true
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var res []out
	for _, n := range names {
		for _, o := range got {
			if o.name+"\x00"+o.kind.String() == n {
				res = append(res, o)
			}
		}
	}
	return res
}

func TestV3ManyEntriesWithDuplicates(t *testing.T) {
	// More than 32 entries takes the sorting path of the duplicate check.
	var fields [][]byte
	for i := range 100 {
		fields = append(fields, v3Samples(string(rune('A'+i%40)), float64(i)))
	}
	got, st, err := collect(t, 3, v3Record(fields...))
	if err != nil {
		t.Fatal(err)
	}
	if st.Samples != 100 {
		t.Fatalf("got %d samples; want 100", st.Samples)
	}
	last := map[string]float64{}
	for _, o := range got {
		if p, ok := last[o.name]; ok && o.value <= p {
			t.Fatalf("metric %q: %v after %v: samples out of order", o.name, o.value, p)
		}
		last[o.name] = o.value
	}
	if len(last) != 40 {
		t.Fatalf("got %d metrics; want 40", len(last))
	}
}

func v12SemCases() []semCase {
	counter := func(name string, v float64) out { return out{kind: sample.KindCounter, name: name, value: v, time: t0} }
	timer := func(name string, v float64, u sample.Unit) out {
		return out{kind: sample.KindTimer, name: name, value: v, unit: u, time: t0}
	}
	return []semCase{
		{"record without metrics", 1, v12Record(v12Pair(2, "host", "a"), v12Pair(1, "host", "b")), []out{none("host=a")}},
		{"metric without samples", 2, v12Record(v12Metric(v12Gauges, "g")), []out{none("")}},
		{"V2 quantity without value skipped, its unit unchecked", 2,
			v12Record(v12Metric(v12Timers, "t", fBytes(2, fBytes(3, unitMsg(7, 0))), v2Qty(2, 1, 1))), []out{timer("t", 2, sample.Second)}},
		{"V2 only valueless quantities", 2, v12Record(v12Metric(v12Timers, "t", fBytes(2, nil))), []out{none("")}},
		{"V2 long value", 2, v12Record(v12Metric(v12Counters, "c", fBytes(2, fVarint(2, uint64(1<<64-5))))), []out{counter("c", -5)}},
		{"V2 oneof: last value wins", 2, v12Record(v12Metric(v12Counters, "c", fBytes(2, msg(fDouble(1, 1), fVarint(2, 2), fDouble(1, 3), fVarint(2, 4))))),
			[]out{counter("c", 4)}},
		{"V1 value unset is 0", 1, v12Record(v12Metric(v12Counters, "c", fBytes(2, nil))), []out{counter("c", 0)}},
		{"V1 unrecognised type: no unit", 1, v12Record(v12Metric(v12Timers, "t", v1Qty(5, 99, 7))), []out{timer("t", 5, 0)}},
		{"V1 negative type: no unit", 1, v12Record(v12Metric(v12Timers, "t", fBytes(2, msg(fDouble(1, 5), fBytes(2, fBytes(1, msg(fVarint(1, 1<<64-1), fVarint(2, 7)))))))), []out{timer("t", 5, 0)}},
		{"V1 scale UNIT (28): type only", 1, v12Record(v12Metric(v12Timers, "t", v1Qty(5, 1, 28))), []out{timer("t", 300, sample.Second)}},
		{"V1 unrecognised scale: type only", 1, v12Record(v12Metric(v12Timers, "t", v1Qty(5, 0, 99))), []out{timer("t", 5, sample.Second)}},
		{"V1 enum is the low 32 bits", 1, v12Record(v12Metric(v12Timers, "t", v1Qty(5, 1<<32, 1<<32+7))), []out{timer("t", 5e-3, sample.Second)}},
		{"V2 type UNKNOWN: no unit", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(5, 0, 9))), []out{timer("t", 5, 0)}},
		{"V2 unrecognised type: no unit", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(5, 14, 9))), []out{timer("t", 5, 0)}},
		{"V2 scale UNKNOWN: type only", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(5, 1, 0))), []out{timer("t", 5, sample.Second)}},
		{"V2 scale UNIT: type only", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(5, 7, 1))), []out{timer("t", 5, sample.Byte)}},
		{"V2 unrecognised scale: type only", 2, v12Record(v12Metric(v12Timers, "t", v2Qty(5, 13, 30))), []out{timer("t", 5, sample.Kelvin)}},
		{"only the first numerator counts; denominators ignored", 2,
			v12Record(v12Metric(v12Timers, "t", fBytes(2, msg(fDouble(1, 5), fBytes(3, msg(fBytes(2, fVarint(1, 8)), unitMsg(2, 1), unitMsg(8, 1))))))),
			[]out{timer("t", 300, sample.Second)}},
		{"unit field merged: first numerator of all", 1,
			v12Record(v12Metric(v12Timers, "t", fBytes(2, msg(fDouble(1, 5), fBytes(2, msg(fBytes(2, nil))), fBytes(2, unitMsg(2, 28)))))),
			[]out{timer("t", 18000, sample.Second)}},
		{"unknown unit in a denominator is fine", 1,
			v12Record(v12Metric(v12Timers, "t", fBytes(2, msg(fDouble(1, 5), fBytes(2, fBytes(2, msg(fVarint(1, 7)))))))),
			[]out{timer("t", 5, 0)}},
		{"annotation and dimension may share a name", 1, v12Record(v12Pair(1, "a", "x"), v12Pair(2, "a", "y"), v12Metric(v12Counters, "c", v1Qty(1, -1, -1))),
			[]out{{kind: sample.KindCounter, name: "c", dims: "a=y", value: 1, time: t0}}},
		{"empty metric name", 2, v12Record(fBytes(v12Counters, v2Qty(1, -1, -1))), []out{counter("", 1)}},
		{"same name different records", 1, msg(v12Record(v12Metric(v12Counters, "c", v1Qty(1, -1, -1))), v12Record(v12Metric(v12Counters, "c", v1Qty(2, -1, -1)))),
			[]out{counter("c", 1), counter("c", 2)}},
		{"last name wins", 1, v12Record(fBytes(v12Counters, msg(fStr(1, "x"), v1Qty(1, -1, -1), fStr(1, "c")))), []out{counter("c", 1)}},
		{"gauges", 1, v12Record(v12Metric(v12Gauges, "g", v1Qty(1, -1, -1))), []out{{kind: sample.KindGauge, name: "g", value: 1, time: t0}}},
		{"V2 units changing among a metric's values: each its own, in order", 2,
			v12Record(v12Metric(v12Timers, "t", v2Qty(1, 1, 1), v2Qty(2, 1, 1), v2Qty(3, 7, 1), v2Qty(4, 0, 9), v2Qty(5, 1, 1), v2Qty(6, 7, 1))),
			[]out{timer("t", 1, sample.Second), timer("t", 2, sample.Second), timer("t", 3, sample.Byte), timer("t", 4, 0),
				timer("t", 5, sample.Second), timer("t", 6, sample.Byte)}},
	}
}

func TestV12Semantics(t *testing.T) {
	for _, c := range v12SemCases() {
		t.Run(c.name, func(t *testing.T) {
			got, st, err := collect(t, c.version, c.body)
			if err != nil {
				t.Fatal(err)
			}
			checkReference(t, c.version, c.body, got, st, err)
			checkOuts(t, groupByName(got), c.want)
			if st.Samples != len(c.want) {
				t.Errorf("Stats.Samples %d; want %d", st.Samples, len(c.want))
			}
		})
	}
}

func TestKeyTooLong(t *testing.T) {
	big := string(make([]byte, sample.MaxKeyLen))
	for _, c := range []struct {
		name string
		body []byte
		want Stats
	}{
		{"long name", v3Record(v3Samples(big, 1), v3Samples("m", 1)), Stats{Counts: sample.Counts{Records: 1, Samples: 1}, TooLong: 1}},
		{"long dimensions", v3Record(v3Dim("k", big), v3Samples("m", 1), v3Samples("n", 1)), Stats{Counts: sample.Counts{Records: 1}, TooLong: 2}},
		{"long dimensions, no metric", v3Record(v3Dim("k", big)), Stats{Counts: sample.Counts{Records: 1}, TooLong: 1}},
		{"long name only", v3Record(v3Samples(big, 1)), Stats{Counts: sample.Counts{Records: 1, Samples: 1}, TooLong: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, st, err := collect(t, 3, c.body)
			if err != nil || st != c.want {
				t.Fatalf("got %+v, %v; want %+v", st, err, c.want)
			}
			if len(got) != c.want.Samples {
				t.Fatalf("routed %d samples; want %d", len(got), c.want.Samples)
			}
		})
	}
}
