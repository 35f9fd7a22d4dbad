package otlpref

import (
	"errors"
	"slices"
	"strings"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// Builders of requests for the tests.

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func boolv(b bool) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
}
func intv(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}
func dbl(f float64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
}
func bytesv(b ...byte) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: b}}
}
func arr(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
}
func kvl(kvs ...*commonpb.KeyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
}
func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}
func attrs(kvs ...*commonpb.KeyValue) []*commonpb.KeyValue { return kvs }

func rm(res []*commonpb.KeyValue, ms ...*metricpb.Metric) *metricpb.ResourceMetrics {
	r := &metricpb.ResourceMetrics{ScopeMetrics: []*metricpb.ScopeMetrics{{Metrics: ms}}}
	if res != nil {
		r.Resource = &resourcepb.Resource{Attributes: res}
	}
	return r
}

func marshal(t testing.TB, rms ...*metricpb.ResourceMetrics) []byte {
	t.Helper()
	b, err := proto.Marshal(&colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: rms})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// num is a number point at time tn (ns) with value v: int64, float64 or
// nil (unset).
func num(tn uint64, v any, as ...*commonpb.KeyValue) *metricpb.NumberDataPoint {
	p := &metricpb.NumberDataPoint{TimeUnixNano: tn, Attributes: as}
	switch x := v.(type) {
	case int64:
		p.Value = &metricpb.NumberDataPoint_AsInt{AsInt: x}
	case int:
		p.Value = &metricpb.NumberDataPoint_AsInt{AsInt: int64(x)}
	case float64:
		p.Value = &metricpb.NumberDataPoint_AsDouble{AsDouble: x}
	}
	return p
}

func gauge(name string, ps ...*metricpb.NumberDataPoint) *metricpb.Metric {
	return &metricpb.Metric{Name: name, Data: &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{DataPoints: ps}}}
}

func sum(name string, ps ...*metricpb.NumberDataPoint) *metricpb.Metric {
	return &metricpb.Metric{Name: name, Data: &metricpb.Metric_Sum{Sum: &metricpb.Sum{DataPoints: ps,
		AggregationTemporality: metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true}}}
}

func hist(name, unit string, ps ...*metricpb.HistogramDataPoint) *metricpb.Metric {
	return &metricpb.Metric{Name: name, Unit: unit, Data: &metricpb.Metric_Histogram{Histogram: &metricpb.Histogram{DataPoints: ps}}}
}

func exph(name, unit string, ps ...*metricpb.ExponentialHistogramDataPoint) *metricpb.Metric {
	return &metricpb.Metric{Name: name, Unit: unit, Data: &metricpb.Metric_ExponentialHistogram{
		ExponentialHistogram: &metricpb.ExponentialHistogram{DataPoints: ps}}}
}

func f64(v float64) *float64 { return &v }

func buckets(offset int32, counts ...uint64) *metricpb.ExponentialHistogramDataPoint_Buckets {
	return &metricpb.ExponentialHistogramDataPoint_Buckets{Offset: offset, BucketCounts: counts}
}

// outcome is what Decode returned, rendered.
type outcome struct {
	lines  []string
	counts sample.Counts
	stats  Stats
	err    error
}

func decode(t testing.TB, body []byte) outcome {
	t.Helper()
	var b sample.Batch
	c, st, err := Decode(body, 7, &b)
	o := outcome{counts: c, stats: st, err: err}
	if err == nil {
		o.lines = Render(&b)
		if len(o.lines) != c.Samples {
			t.Fatalf("got %d samples in the batch; Counts.Samples is %d", len(o.lines), c.Samples)
		}
	} else {
		var de *sample.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("got error %T %v; want a *sample.DecodeError", err, err)
		}
	}
	return o
}

// short joins lines, each cut to 300 bytes.
func short(lines []string) string {
	var w strings.Builder
	for _, l := range lines {
		if len(l) > 300 {
			l = l[:150] + "…" + l[len(l)-150:]
		}
		w.WriteString(l + "\n")
	}
	return w.String()
}

// check compares an outcome with the expected one; want.err is compared
// with errors.Is.
func check(t *testing.T, got, want outcome) {
	t.Helper()
	if want.err != nil || got.err != nil {
		if !errors.Is(got.err, want.err) {
			t.Fatalf("got error %v; want %v", got.err, want.err)
		}
		return
	}
	if !slices.Equal(got.lines, want.lines) {
		t.Errorf("got lines\n%s\nwant\n%s", short(got.lines), short(want.lines))
	}
	if got.counts != want.counts {
		t.Errorf("got counts %+v; want %+v", got.counts, want.counts)
	}
	if got.stats != want.stats {
		t.Errorf("got stats %+v; want %+v", got.stats, want.stats)
	}
}
