package otlp

import (
	"testing"
	"time"

	colpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// sumReq is a request of one cumulative (or delta) monotonic sum "c" with
// points (start, time, value) and attribute k=v.
func sumReq(cumulative bool, unit string, pts ...[3]float64) []byte {
	temp := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	if cumulative {
		temp = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	}
	var dps []*metricspb.NumberDataPoint
	for _, p := range pts {
		dps = append(dps, &metricspb.NumberDataPoint{Attributes: []*commonpb.KeyValue{str("k", "v")}, StartTimeUnixNano: uint64(p[0]), TimeUnixNano: uint64(p[1]),
			Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: p[2]}})
	}
	req := &colpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
		{Name: "c", Unit: unit, Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true, AggregationTemporality: temp, DataPoints: dps}}}}}}}}}
	b, _ := proto.Marshal(req)
	return b
}

// decodeAll decodes body and returns the samples' values and kinds.
func decodeAll(t *testing.T, d *Decoder, body []byte) ([]float64, []sample.Kind, Stats) {
	t.Helper()
	var b sample.Batch
	if _, err := d.Decode(body, 1, func(uint64) *sample.Batch { return &b }); err != nil {
		t.Fatal(err)
	}
	var vs []float64
	var ks []sample.Kind
	for i := range b.Samples {
		vs = append(vs, b.Samples[i].Value)
		ks = append(ks, sample.Kind(b.Key(&b.Samples[i])[0]))
	}
	return vs, ks, d.Stats()
}

func TestCumulativeToDelta(t *testing.T) {
	tr := NewDeltas(0, 0)
	d := NewDecoder(Config{Deltas: tr})
	old := float64(tr.born - 1e9) // a counter started before the tracker
	// A baseline, then deltas (each point a later time: a request keeps
	// the later of two points of one time).
	vs, _, st := decodeAll(t, d, sumReq(true, "", [3]float64{old, 1e18, 100}))
	if len(vs) != 0 || st.NoDelta != 1 {
		t.Fatalf("baseline: %v %+v", vs, st)
	}
	vs, ks, _ := decodeAll(t, d, sumReq(true, "", [3]float64{old, 2e18, 130}, [3]float64{old, 3e18, 175}))
	if len(vs) != 2 || vs[0] != 30 || vs[1] != 45 || ks[0] != sample.KindCounter {
		t.Fatalf("deltas: %v %v", vs, ks)
	}
	// A stale point (a retry), a reset by value, a reset by start time.
	vs, _, st = decodeAll(t, d, sumReq(true, "", [3]float64{old, 3e18, 175}))
	if len(vs) != 0 || st.NoDelta != 1 {
		t.Fatalf("stale: %v %+v", vs, st)
	}
	vs, _, _ = decodeAll(t, d, sumReq(true, "", [3]float64{old, 4e18, 5}))
	if len(vs) != 1 || vs[0] != 5 {
		t.Fatalf("reset by value: %v", vs)
	}
	vs, _, _ = decodeAll(t, d, sumReq(true, "", [3]float64{old + 1e6, 5e18, 8}))
	if len(vs) != 1 || vs[0] != 8 {
		t.Fatalf("reset by start: %v", vs)
	}
	// A counter that started after the tracker: its whole value.
	tr2 := NewDeltas(0, 0)
	d2 := NewDecoder(Config{Deltas: tr2})
	young := float64(tr2.born + 1e6)
	if vs, _, _ = decodeAll(t, d2, sumReq(true, "", [3]float64{young, young + 1e9, 12})); len(vs) != 1 || vs[0] != 12 {
		t.Fatalf("young counter: %v", vs)
	}
	// Delta sums are counters as they are; without the option, gauges.
	if vs, ks, _ = decodeAll(t, d, sumReq(false, "", [3]float64{0, 6e18, 3})); len(vs) != 1 || vs[0] != 3 || ks[0] != sample.KindCounter {
		t.Fatalf("delta sum: %v %v", vs, ks)
	}
	if vs, ks, _ = decodeAll(t, NewDecoder(Config{}), sumReq(true, "", [3]float64{old, 1e18, 100})); len(vs) != 1 || vs[0] != 100 || ks[0] != sample.KindGauge {
		t.Fatalf("MAD's: %v %v", vs, ks)
	}
	if s := tr.Stats(); s.Streams != 1 || s.Converted != 2 || s.Baselines != 1 || s.Resets != 2 || s.Stale != 1 {
		t.Errorf("tracker stats %+v", s)
	}
}

func TestDeltasBounded(t *testing.T) {
	tr := NewDeltas(2, time.Hour)
	for i, k := range []string{"a", "b", "c"} {
		if _, ok := tr.delta([]byte(k), 1, uint64(i+1), 1, 0, new([]change)); ok {
			t.Fatal("a baseline emitted a delta")
		}
	}
	if s := tr.Stats(); s.Streams != 2 || s.Evicted != 1 {
		t.Fatalf("full table: %+v", s)
	}
	// "a" was evicted: its next point is a baseline again.
	if _, ok := tr.delta([]byte("a"), 1, 10, 5, 0, new([]change)); ok {
		t.Error("an evicted stream emitted a delta")
	}
	tr = NewDeltas(10, time.Second)
	tr.delta([]byte("a"), 1, 1, 1, 0, new([]change))
	tr.delta([]byte("b"), 1, 1, 1, 1000, new([]change)) // a second later: "a" is forgotten
	if s := tr.Stats(); s.Streams != 1 || s.Expired != 1 {
		t.Errorf("expiry: %+v", s)
	}
}

func TestNumberUnits(t *testing.T) {
	body := sumReq(false, "ms", [3]float64{0, 1e18, 250})
	vs, _, _ := decodeAll(t, NewDecoder(Config{NumberUnits: true}), body)
	if len(vs) != 1 || vs[0] != 0.25 {
		t.Errorf("with NumberUnits: %v", vs)
	}
	if vs, _, _ = decodeAll(t, NewDecoder(Config{}), body); len(vs) != 1 || vs[0] != 250 {
		t.Errorf("MAD's: %v", vs)
	}
}

// TestDeltasUndo: a request that is refused after it was decoded (Undo)
// leaves the streams as they were, so that its retry converts as it would
// have: a moved stream goes back, a created one is forgotten; a stream
// another request moved on since keeps that request's point, and the
// refused request's retry is then stale, as it would be in that order.
func TestDeltasUndo(t *testing.T) {
	tr := NewDeltas(0, 0)
	d := NewDecoder(Config{Deltas: tr})
	old := float64(tr.born - 1e9)
	decodeAll(t, d, sumReq(true, "", [3]float64{old, 1e18, 100})) // the baseline
	// Decoded, then refused: the retry converts the same points again.
	if vs, _, _ := decodeAll(t, d, sumReq(true, "", [3]float64{old, 2e18, 130}, [3]float64{old, 3e18, 175})); len(vs) != 2 {
		t.Fatalf("first try: %v", vs)
	}
	d.Undo()
	d.Undo() // twice: nothing more
	if vs, _, _ := decodeAll(t, d, sumReq(true, "", [3]float64{old, 2e18, 130}, [3]float64{old, 3e18, 175})); len(vs) != 2 || vs[0] != 30 || vs[1] != 45 {
		t.Fatalf("the retry after undo: %v; want [30 45]", vs)
	}
	if s := tr.Stats(); s.Undone != 2 || s.Stale != 0 {
		t.Errorf("stats: %+v", s)
	}
	// A request that created a stream: undone, the stream is forgotten,
	// and the retry is a baseline again (not stale).
	tr2 := NewDeltas(0, 0)
	d2 := NewDecoder(Config{Deltas: tr2})
	decodeAll(t, d2, sumReq(true, "", [3]float64{old, 1e18, 100}))
	d2.Undo()
	if s := tr2.Stats(); s.Streams != 0 {
		t.Fatalf("a created stream not forgotten: %+v", s)
	}
	if _, _, st := decodeAll(t, d2, sumReq(true, "", [3]float64{old, 1e18, 100})); st.NoDelta != 1 || tr2.Stats().Baselines != 2 || tr2.Stats().Stale != 0 {
		t.Fatalf("the retry: %+v %+v", st, tr2.Stats())
	}
	// Another decoder (another slot) moves the stream on before the undo:
	// its point stays.
	other := NewDecoder(Config{Deltas: tr2})
	decodeAll(t, d2, sumReq(true, "", [3]float64{old, 2e18, 110}))
	if vs, _, _ := decodeAll(t, other, sumReq(true, "", [3]float64{old, 3e18, 150})); len(vs) != 1 || vs[0] != 40 {
		t.Fatalf("the other slot: %v", vs)
	}
	d2.Undo()
	if vs, _, _ := decodeAll(t, other, sumReq(true, "", [3]float64{old, 4e18, 160})); len(vs) != 1 || vs[0] != 10 {
		t.Fatalf("after an undo that found the stream moved on: %v; want [10]", vs)
	}
}
