package otlpjson

import (
	"fmt"
	"strconv"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// benchRequest is an OTLP/JSON request of points data points, as an SDK
// sends them: one resource of 4 attributes, one scope, metrics of 10
// points each in turn a gauge (doubles), a cumulative sum (ints) and a
// histogram (10 bounds); each point has 3 attributes and both times.
// protojson writes it (int64s as strings, as OTLP/JSON exporters do).
func benchRequest(tb testing.TB, points int) []byte {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	sm := &metricspb.ScopeMetrics{Scope: &commonpb.InstrumentationScope{Name: "go.opentelemetry.io/otel/sdk/metric", Version: "1.47.0"}}
	const start, step = 1_700_000_000_000_000_000, 10_000_000_000
	for m := 0; m*10 < points; m++ {
		var nps []*metricspb.NumberDataPoint
		var hps []*metricspb.HistogramDataPoint
		for p := range min(10, points-m*10) {
			attrs := []*commonpb.KeyValue{str("http.route", "/api/v1/items/"+strconv.Itoa(p)), str("http.method", "GET"),
				{Key: "http.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}}}
			t := uint64(start + step*(m+1))
			switch m % 3 {
			case 0:
				nps = append(nps, &metricspb.NumberDataPoint{Attributes: attrs, StartTimeUnixNano: start, TimeUnixNano: t,
					Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 0.001 * float64(p*m+1)}})
			case 1:
				nps = append(nps, &metricspb.NumberDataPoint{Attributes: attrs, StartTimeUnixNano: start, TimeUnixNano: t,
					Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(1000*m + p)}})
			case 2:
				sum, mn, mx := 1234.5+float64(p), 0.5, 980.25
				hps = append(hps, &metricspb.HistogramDataPoint{Attributes: attrs, StartTimeUnixNano: start, TimeUnixNano: t,
					Count: 55, Sum: &sum, Min: &mn, Max: &mx,
					BucketCounts:   []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0},
					ExplicitBounds: []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 1000}})
			}
		}
		metric := &metricspb.Metric{Name: fmt.Sprintf("http.server.metric_%d", m), Unit: "ms", Description: "a benchmark metric"}
		switch m % 3 {
		case 0:
			metric.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: nps}}
		case 1:
			metric.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: nps, IsMonotonic: true,
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE}}
		case 2:
			metric.Data = &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: hps,
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA}}
		}
		sm.Metrics = append(sm.Metrics, metric)
	}
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "checkout"),
			str("service.version", "1.2.3"), str("host.name", "web-17.example.com"), str("telemetry.sdk.language", "go")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{sm},
	}}}
	b, err := (protojson.MarshalOptions{UseEnumNumbers: true}).Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkTranscode: the transcoder (reused, into a reused dst) against
// protojson.Unmarshal (into a reused message) and proto.Marshal (appending
// to a reused buffer), per request of 100 and 1000 points.
//
//	go test ./ingest/otlp/otlpjson -run '^$' -bench '^BenchmarkTranscode$' -benchmem -count 6
func BenchmarkTranscode(b *testing.B) {
	for _, points := range []int{100, 1000} {
		body := benchRequest(b, points)
		b.Run(fmt.Sprintf("impl=otlpjson/points=%d", points), func(b *testing.B) {
			var tr Transcoder
			dst, err := tr.Transcode(nil, body)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				dst, _ = tr.Transcode(dst[:0], body)
			}
			report(b, points, processCPU()-cpu)
		})
		b.Run(fmt.Sprintf("impl=protojson/points=%d", points), func(b *testing.B) {
			m := &colmetricspb.ExportMetricsServiceRequest{}
			opts := protojson.UnmarshalOptions{DiscardUnknown: true}
			var dst []byte
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if err := opts.Unmarshal(body, m); err != nil {
					b.Fatal(err)
				}
				var err error
				if dst, err = (proto.MarshalOptions{}).MarshalAppend(dst[:0], m); err != nil {
					b.Fatal(err)
				}
			}
			report(b, points, processCPU()-cpu)
		})
	}
}

// report adds the time per data point, and the process's CPU time per
// request and per point (on a shared machine wall time also counts what
// other processes run; CPU time counts the garbage collector's work too).
func report(b *testing.B, points int, cpu int64) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(cpu)/float64(b.N*points), "cpu-ns/point")
	}
}
