package otlp

import (
	"fmt"
	"os"
	"testing"

	colpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// madVector is MAD's captured request (gRPC-framed in the file).
func madVector(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../testdata/mad/otlp/grpcrequest1.bin")
	if err != nil {
		tb.Fatal(err)
	}
	return b[5:]
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// workload builds a request as an SDK exports one: a resource with a few
// attributes, metrics of points with 3 attributes each; kind picks gauges,
// sums or explicit histograms.
func workload(points int, kind string) []byte {
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("service.name", "checkout"), str("host.name", "host-0042.example.com"), str("deployment.environment", "prod")}}
	sm := &metricspb.ScopeMetrics{Scope: &commonpb.InstrumentationScope{Name: "bench"}}
	const perMetric = 10
	for m := 0; m*perMetric < points; m++ {
		metric := &metricspb.Metric{Name: fmt.Sprintf("app.requests.%d", m), Unit: "ms"}
		var nps []*metricspb.NumberDataPoint
		var hps []*metricspb.HistogramDataPoint
		for p := 0; p < perMetric && m*perMetric+p < points; p++ {
			attrs := []*commonpb.KeyValue{str("route", fmt.Sprintf("/api/v1/item/%d", p)), str("method", "GET"), str("status", "200")}
			const t = 1_700_000_000_000_000_000
			if kind == "histogram" {
				hps = append(hps, &metricspb.HistogramDataPoint{Attributes: attrs, TimeUnixNano: t, Count: 10, Sum: proto.Float64(123),
					ExplicitBounds: []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000},
					BucketCounts:   []uint64{0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0}, Min: proto.Float64(1), Max: proto.Float64(49)})
			} else {
				nps = append(nps, &metricspb.NumberDataPoint{Attributes: attrs, TimeUnixNano: t, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: float64(p) + 0.5}})
			}
		}
		switch kind {
		case "gauge":
			metric.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: nps}}
		case "sum":
			metric.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: nps, IsMonotonic: true,
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA}}
		case "histogram":
			metric.Data = &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: hps,
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA}}
		}
		sm.Metrics = append(sm.Metrics, metric)
	}
	req := &colpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{Resource: res, ScopeMetrics: []*metricspb.ScopeMetrics{sm}}}}
	b, err := proto.Marshal(req)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeAllocs(t *testing.T) {
	for _, kind := range []string{"gauge", "sum", "histogram"} {
		body := workload(1000, kind)
		var b sample.Batch
		d := NewDecoder(Config{})
		route := func(uint64) *sample.Batch { return &b }
		run := func() {
			b.Reset()
			if _, err := d.Decode(body, 1, route); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if n := testing.AllocsPerRun(20, run); n != 0 {
			t.Errorf("%s: %v allocations per request of 1000 points", kind, n)
		}
	}
	body := madVector(t)
	var b sample.Batch
	d := NewDecoder(Config{})
	route := func(uint64) *sample.Batch { return &b }
	run := func() { b.Reset(); d.Decode(body, 1, route) }
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("MAD's vector: %v allocations", n)
	}
}

// BenchmarkDecode: ns per data point of a 1000-point request.
func BenchmarkDecode(b *testing.B) {
	for _, kind := range []string{"gauge", "sum", "histogram"} {
		b.Run(kind, func(b *testing.B) {
			body := workload(1000, kind)
			var batch sample.Batch
			d := NewDecoder(Config{})
			route := func(uint64) *sample.Batch { return &batch }
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				batch.Reset()
				if _, err := d.Decode(body, 1, route); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/point")
		})
	}
}

// TestMADHistogramVector: MAD-SPEC §13.1's vector, the OpenTelemetry SDK's
// default bounds after samples 0, 1, 2, 3 and 58: entries {0: 1, 5: 3,
// 75: 1}, max 58, count 5, sum 64 (and min 0).
func TestMADHistogramVector(t *testing.T) {
	req := &colpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
		Name: "my_histogram", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: []*metricspb.HistogramDataPoint{{
			TimeUnixNano: 1e18, Count: 5, Sum: proto.Float64(64), Min: proto.Float64(0), Max: proto.Float64(58),
			ExplicitBounds: []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000},
			BucketCounts:   []uint64{1, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}}}}}}}}}}
	body, _ := proto.Marshal(req)
	var b sample.Batch
	if _, err := NewDecoder(Config{}).Decode(body, 1, func(uint64) *sample.Batch { return &b }); err != nil {
		t.Fatal(err)
	}
	if len(b.Samples) != 1 || b.Samples[0].Flags&sample.FlagAgg == 0 {
		t.Fatalf("samples %+v", b.Samples)
	}
	a := b.Aggs[b.Samples[0].Agg]
	got := fmt.Sprint(b.HistOf(&a))
	if got != "[{0 1} {5 3} {75 1}]" || a.Max != 58 || a.Min != 0 || a.Count != 5 || a.Sum != 64 {
		t.Errorf("entries %s, agg %+v", got, a)
	}
	// Without min and max: the first non-empty bucket's bound, and the
	// bound of the last non-empty bucket that is not the overflow.
	p := req.ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetHistogram().DataPoints[0]
	p.Min, p.Max = nil, nil
	body, _ = proto.Marshal(req)
	b.Reset()
	if _, err := NewDecoder(Config{}).Decode(body, 1, func(uint64) *sample.Batch { return &b }); err != nil {
		t.Fatal(err)
	}
	if a := b.Aggs[b.Samples[0].Agg]; a.Min != 0 || a.Max != 75 || a.Has&(sample.HasMin|sample.HasMax) != sample.HasMin|sample.HasMax {
		t.Errorf("fallbacks: %+v", a)
	}
}
