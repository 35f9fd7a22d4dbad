package clientpb

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// MAD's parser test vectors (MAD-SPEC §14).

func TestVectorsEmpty(t *testing.T) {
	for v, dir := range map[int]string{1: "ProtobufV1ParserTest", 2: "ProtobufV2ParserTest", 3: "ProtobufV3ParserTest"} {
		body := vector(t, dir, "testParseEmpty")
		got, st, err := collect(t, v, body)
		if err != nil || len(got) != 0 || st != (Stats{}) {
			t.Errorf("v%d testParseEmpty: got %v, %+v, %v; want no records", v, got, st, err)
		}
	}
}

const vectorTime = 1513239602974

func TestVectorV1SingleRecord(t *testing.T) {
	got, st, err := collect(t, 1, vector(t, "ProtobufV1ParserTest", "testSingleRecord"))
	if err != nil {
		t.Fatal(err)
	}
	// timer1 = 508 with unit {scale=MILLI(7), type unset = SECOND(0)}:
	// MILLISECOND, normalised to 0.508 SECOND.
	want := []out{
		{kind: sample.KindCounter, name: "counter1", value: 1, time: vectorTime},
		{kind: sample.KindTimer, name: "timer1", value: 0.508, unit: sample.Second, time: vectorTime},
	}
	checkOuts(t, got, want)
	if st != (Stats{Counts: sample.Counts{Records: 1, Samples: 2}}) {
		t.Errorf("stats %+v; want 1 record, 2 samples", st)
	}
}

func TestVectorV2SingleRecord(t *testing.T) {
	got, st, err := collect(t, 2, vector(t, "ProtobufV2ParserTest", "testSingleRecord"))
	if err != nil {
		t.Fatal(err)
	}
	want := []out{
		{kind: sample.KindCounter, name: "counter1", value: 1, time: vectorTime},
		{kind: sample.KindCounter, name: "longCounter1", value: 1, time: vectorTime},
		{kind: sample.KindTimer, name: "timer1", value: 0.508, unit: sample.Second, time: vectorTime},
	}
	checkOuts(t, got, want)
	if st != (Stats{Counts: sample.Counts{Records: 1, Samples: 3}}) {
		t.Errorf("stats %+v; want 1 record, 3 samples", st)
	}
}

func TestVectorV3SingleRecord(t *testing.T) {
	got, st, err := collect(t, 3, vector(t, "ProtobufV3ParserTest", "testSingleRecord"))
	if err != nil {
		t.Fatal(err)
	}
	const dims = "browser=Chrome,region=North America"
	g := func(name string, v float64) out {
		return out{kind: sample.KindGauge, name: name, dims: dims, value: v, time: vectorTime}
	}
	a := func(name string, min, max, sum, count float64, hist ...sample.HistEntry) out {
		return out{kind: sample.KindGauge, name: name, dims: dims, time: vectorTime, agg: true,
			min: min, max: max, sum: sum, count: count, has: allStats, hist: hist}
	}
	h := func(v float64, n uint64) sample.HistEntry { return sample.HistEntry{Value: v, Count: n} }
	// All GAUGE, no units. combined1 is three entries: samples [1, 3]; stats;
	// samples [2, 4] and stats. MAD merges them: the samples in order, then
	// the two sets of statistics in order.
	want := []out{
		g("combined1", 1), g("combined1", 3), g("combined1", 2), g("combined1", 4),
		a("combined1", 2, 5, 14, 4, h(2, 1), h(3, 1), h(4, 1), h(5, 1)),
		a("combined1", 3, 3, 3, 1, h(3, 1)),
		g("timer1", 10.48), g("timer1", 108),
		a("histogram1", 1, 5, 27, 9, h(1, 1), h(2, 2), h(3, 3), h(4, 2), h(5, 1)),
	}
	checkOuts(t, sortByName(got, "combined1", "timer1", "histogram1"), want)
	if st != (Stats{Counts: sample.Counts{Records: 1, Samples: 9}}) {
		t.Errorf("stats %+v; want 1 record, 9 samples", st)
	}
}

// sortByName orders samples by the given metric order, keeping the order of
// each metric's samples (the order across metrics is free).
func sortByName(got []out, names ...string) []out {
	var res []out
	for _, n := range names {
		for _, o := range got {
			if o.name == n {
				res = append(res, o)
			}
		}
	}
	if len(res) != len(got) {
		return got
	}
	return res
}

func checkOuts(t *testing.T, got, want []out) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
	}
	for i := range want {
		if !equalOut(got[i], want[i]) {
			t.Errorf("sample %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func equalOut(a, b out) bool {
	if a.kind != b.kind || a.name != b.name || a.dims != b.dims || a.unit != b.unit || a.time != b.time ||
		a.req != b.req || a.agg != b.agg || !sameFloat(a.value, b.value) {
		return false
	}
	if !a.agg {
		return true
	}
	if !sameFloat(a.min, b.min) || !sameFloat(a.max, b.max) || !sameFloat(a.sum, b.sum) ||
		!sameFloat(a.count, b.count) || a.has != b.has || len(a.hist) != len(b.hist) {
		return false
	}
	for i := range a.hist {
		if !sameFloat(a.hist[i].Value, b.hist[i].Value) || a.hist[i].Count != b.hist[i].Count {
			return false
		}
	}
	return true
}
