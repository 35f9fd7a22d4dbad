package otlpjson

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/testseed"
)

// TestRoundTrip: random requests, written by protojson.Marshal with random
// options (JSON or proto names, unpopulated fields as zeros and nulls,
// indented or not) and their ids in hex, transcode to the request
// (proto.Equal, and the same deterministic encoding) and agree with the
// reference.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	n := 300
	if testing.Short() {
		n = 50
	}
	var tr Transcoder
	var dst []byte
	for i := range n {
		want := genRequest(r)
		opts := protojson.MarshalOptions{
			UseProtoNames:   r.IntN(2) == 0,
			EmitUnpopulated: r.IntN(2) == 0,
			UseEnumNumbers:  r.IntN(2) == 0,
		}
		if r.IntN(2) == 0 {
			opts.Indent = strings.Repeat(" ", r.IntN(3))
		}
		b64, err := opts.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		body, err := rewrite(b64, rewriter{value: base64IDsToHex})
		if err != nil {
			t.Fatal(err)
		}
		dst, err = tr.Transcode(dst[:0], body)
		if err != nil {
			t.Fatalf("request %d: %v\n%s", i, err, body)
		}
		if len(dst) > 4*len(body) || len(dst) != proto.Size(want) {
			t.Fatalf("request %d: %d bytes for %d of JSON; proto.Size %d", i, len(dst), len(body), proto.Size(want))
		}
		got := decode(t, dst)
		if err := sameMessage(got, want); err != nil {
			t.Fatalf("request %d: %v\n%s\ngot  %v\nwant %v", i, err, body, got, want)
		}
		ref, err := reference(body)
		if err != nil {
			t.Fatalf("request %d: the reference refuses it: %v", i, err)
		}
		if err := sameMessage(ref, want); err != nil {
			t.Fatalf("request %d: the reference: %v", i, err)
		}
	}
}

// gen draws the random values of requests: every field set or not, zero
// or not, with the extremes of each type.
type gen struct{ r *rand.Rand }

func genRequest(r *rand.Rand) *colmetricspb.ExportMetricsServiceRequest {
	g := gen{r}
	m := &colmetricspb.ExportMetricsServiceRequest{}
	for range g.n(3) {
		m.ResourceMetrics = append(m.ResourceMetrics, g.resourceMetrics())
	}
	return m
}

// n is a small count: 0 a third of the time.
func (g gen) n(max int) int { return g.r.IntN(max + 1) }

func (g gen) maybe() bool { return g.r.IntN(3) != 0 }

func (g gen) str() string {
	alphabets := []string{"abc.xyz_", "\"\\/\b\f\n\r\t\x00\x1f\x7f", "é€😀\u2028\ufffd", "0123456789"}
	var b strings.Builder
	for range g.n(12) {
		a := []rune(alphabets[g.r.IntN(len(alphabets))])
		b.WriteRune(a[g.r.IntN(len(a))])
	}
	return b.String()
}

func (g gen) u64() uint64 {
	switch g.r.IntN(5) {
	case 0:
		return 0
	case 1:
		return math.MaxUint64
	case 2:
		return uint64(g.r.IntN(300))
	}
	return g.r.Uint64()
}

func (g gen) i64() int64 {
	switch g.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MinInt64
	case 2:
		return math.MaxInt64
	case 3:
		return int64(g.r.IntN(600)) - 300
	}
	return int64(g.r.Uint64())
}

func (g gen) i32() int32 {
	switch g.r.IntN(5) {
	case 0:
		return 0
	case 1:
		return math.MinInt32
	case 2:
		return math.MaxInt32
	}
	return int32(g.r.Uint32())
}

func (g gen) f64() float64 {
	switch g.r.IntN(10) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return math.NaN()
	case 3:
		return math.Inf(1 - 2*g.r.IntN(2))
	case 4:
		return math.SmallestNonzeroFloat64
	case 5:
		return -math.MaxFloat64
	case 6:
		return float64(g.r.IntN(1000))
	}
	return math.Float64frombits(g.r.Uint64()&^(0x7ff<<52) | uint64(g.r.IntN(0x7ff))<<52) // finite
}

func (g gen) optF64() *float64 {
	if g.maybe() {
		return nil
	}
	x := g.f64()
	return &x
}

func (g gen) bytes(n int) []byte {
	if n < 0 {
		n = g.n(6)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

func (g gen) attrs(depth int) []*commonpb.KeyValue {
	var kvs []*commonpb.KeyValue
	for range g.n(3) {
		kv := &commonpb.KeyValue{Key: g.str()}
		if g.maybe() {
			kv.Value = g.anyValue(depth)
		}
		if g.r.IntN(8) == 0 {
			kv.KeyStrindex = g.i32()
		}
		kvs = append(kvs, kv)
	}
	return kvs
}

func (g gen) anyValue(depth int) *commonpb.AnyValue {
	v := &commonpb.AnyValue{}
	k := g.r.IntN(9)
	if depth > 3 && (k == 5 || k == 6) {
		k = 0
	}
	switch k {
	case 0:
		v.Value = &commonpb.AnyValue_StringValue{StringValue: g.str()}
	case 1:
		v.Value = &commonpb.AnyValue_BoolValue{BoolValue: g.r.IntN(2) == 0}
	case 2:
		v.Value = &commonpb.AnyValue_IntValue{IntValue: g.i64()}
	case 3:
		v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: g.f64()}
	case 4:
		v.Value = &commonpb.AnyValue_BytesValue{BytesValue: g.bytes(-1)}
	case 5:
		a := &commonpb.ArrayValue{}
		for range g.n(3) {
			a.Values = append(a.Values, g.anyValue(depth+1))
		}
		v.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: a}
	case 6:
		v.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: g.attrs(depth + 1)}}
	case 7:
		v.Value = &commonpb.AnyValue_StringValueStrindex{StringValueStrindex: g.i32()}
	}
	return v // 8: unset
}

func (g gen) resourceMetrics() *metricspb.ResourceMetrics {
	rm := &metricspb.ResourceMetrics{}
	if g.maybe() {
		res := &resourcepb.Resource{Attributes: g.attrs(0), DroppedAttributesCount: uint32(g.u64())}
		for range g.n(2) {
			e := &commonpb.EntityRef{SchemaUrl: g.str(), Type: g.str()}
			for range g.n(2) {
				e.IdKeys = append(e.IdKeys, g.str())
			}
			for range g.n(2) {
				e.DescriptionKeys = append(e.DescriptionKeys, g.str())
			}
			res.EntityRefs = append(res.EntityRefs, e)
		}
		rm.Resource = res
	}
	if g.maybe() {
		rm.SchemaUrl = g.str()
	}
	for range g.n(3) {
		sm := &metricspb.ScopeMetrics{SchemaUrl: g.str()}
		if g.maybe() {
			sm.Scope = &commonpb.InstrumentationScope{Name: g.str(), Version: g.str(), Attributes: g.attrs(0),
				DroppedAttributesCount: uint32(g.u64())}
		}
		for range g.n(4) {
			sm.Metrics = append(sm.Metrics, g.metric())
		}
		rm.ScopeMetrics = append(rm.ScopeMetrics, sm)
	}
	return rm
}

func (g gen) metric() *metricspb.Metric {
	m := &metricspb.Metric{Name: g.str(), Description: g.str(), Unit: g.str(), Metadata: g.attrs(0)}
	temporality := func() metricspb.AggregationTemporality {
		return metricspb.AggregationTemporality(g.r.IntN(4) - 1) // -1 and 3 are unknown values
	}
	switch g.r.IntN(6) {
	case 0:
		gauge := &metricspb.Gauge{}
		for range g.n(3) {
			gauge.DataPoints = append(gauge.DataPoints, g.numberPoint())
		}
		m.Data = &metricspb.Metric_Gauge{Gauge: gauge}
	case 1:
		sum := &metricspb.Sum{AggregationTemporality: temporality(), IsMonotonic: g.r.IntN(2) == 0}
		for range g.n(3) {
			sum.DataPoints = append(sum.DataPoints, g.numberPoint())
		}
		m.Data = &metricspb.Metric_Sum{Sum: sum}
	case 2:
		h := &metricspb.Histogram{AggregationTemporality: temporality()}
		for range g.n(3) {
			p := &metricspb.HistogramDataPoint{Attributes: g.attrs(0), StartTimeUnixNano: g.u64(), TimeUnixNano: g.u64(),
				Count: g.u64(), Sum: g.optF64(), Exemplars: g.exemplars(), Flags: uint32(g.u64()), Min: g.optF64(), Max: g.optF64()}
			for range g.n(5) {
				p.BucketCounts = append(p.BucketCounts, g.u64())
				p.ExplicitBounds = append(p.ExplicitBounds, g.f64())
			}
			h.DataPoints = append(h.DataPoints, p)
		}
		m.Data = &metricspb.Metric_Histogram{Histogram: h}
	case 3:
		h := &metricspb.ExponentialHistogram{AggregationTemporality: temporality()}
		for range g.n(3) {
			p := &metricspb.ExponentialHistogramDataPoint{Attributes: g.attrs(0), StartTimeUnixNano: g.u64(),
				TimeUnixNano: g.u64(), Count: g.u64(), Sum: g.optF64(), Scale: g.i32(), ZeroCount: g.u64(),
				Flags: uint32(g.u64()), Exemplars: g.exemplars(), Min: g.optF64(), Max: g.optF64(), ZeroThreshold: g.f64()}
			if g.maybe() {
				p.Positive = g.buckets()
			}
			if g.maybe() {
				p.Negative = g.buckets()
			}
			h.DataPoints = append(h.DataPoints, p)
		}
		m.Data = &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: h}
	case 4:
		s := &metricspb.Summary{}
		for range g.n(3) {
			p := &metricspb.SummaryDataPoint{Attributes: g.attrs(0), StartTimeUnixNano: g.u64(), TimeUnixNano: g.u64(),
				Count: g.u64(), Sum: g.f64(), Flags: uint32(g.u64())}
			for range g.n(3) {
				p.QuantileValues = append(p.QuantileValues, &metricspb.SummaryDataPoint_ValueAtQuantile{Quantile: g.f64(), Value: g.f64()})
			}
			s.DataPoints = append(s.DataPoints, p)
		}
		m.Data = &metricspb.Metric_Summary{Summary: s}
	}
	return m // 5: no data
}

func (g gen) buckets() *metricspb.ExponentialHistogramDataPoint_Buckets {
	b := &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: g.i32()}
	for range g.n(4) {
		b.BucketCounts = append(b.BucketCounts, g.u64())
	}
	return b
}

func (g gen) numberPoint() *metricspb.NumberDataPoint {
	p := &metricspb.NumberDataPoint{Attributes: g.attrs(0), StartTimeUnixNano: g.u64(), TimeUnixNano: g.u64(),
		Exemplars: g.exemplars(), Flags: uint32(g.u64())}
	switch g.r.IntN(3) {
	case 0:
		p.Value = &metricspb.NumberDataPoint_AsDouble{AsDouble: g.f64()}
	case 1:
		p.Value = &metricspb.NumberDataPoint_AsInt{AsInt: g.i64()}
	}
	return p
}

func (g gen) exemplars() []*metricspb.Exemplar {
	var es []*metricspb.Exemplar
	for range g.n(2) {
		e := &metricspb.Exemplar{FilteredAttributes: g.attrs(0), TimeUnixNano: g.u64()}
		switch g.r.IntN(3) {
		case 0:
			e.Value = &metricspb.Exemplar_AsDouble{AsDouble: g.f64()}
		case 1:
			e.Value = &metricspb.Exemplar_AsInt{AsInt: g.i64()}
		}
		if g.maybe() {
			e.TraceId = g.bytes(16)
		}
		if g.maybe() {
			e.SpanId = g.bytes(8)
		}
		es = append(es, e)
	}
	return es
}

// TestRoundTripLarge: one large random request in one piece.
func TestRoundTripLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	want := &colmetricspb.ExportMetricsServiceRequest{}
	for range 200 {
		want.ResourceMetrics = append(want.ResourceMetrics, genRequest(r).ResourceMetrics...)
	}
	b64, err := protojson.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	body, err := rewrite(b64, rewriter{value: base64IDsToHex})
	if err != nil {
		t.Fatal(err)
	}
	out, err := transcode(t, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameMessage(decode(t, out), want); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes of JSON, %d of protobuf (proto.Size %d)", len(body), len(out), proto.Size(want))
}
