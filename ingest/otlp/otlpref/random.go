package otlpref

import (
	"math"
	"strings"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// Random builds a valid ExportMetricsServiceRequest from arbitrary bytes
// (fuzz input), deterministically, and returns it marshaled. Its choices
// are drawn from small pools so that requests collide and hit every rule:
// resources with and without service.name and service, attribute values of
// every kind (nested arrays and kvlists, bytes, doubles, empty strings,
// unset values, the strindex fields MAD's protos lack) and repeated keys;
// point attributes over resource ones and now and then a repeated point
// key; Sum and Gauge points with as_int,
// as_double, unset, NaN and infinities; points of one name, dimensions and
// time across metrics and types; explicit histograms (no bounds, one bound
// with and without max, empty buckets, bucket_counts longer and shorter
// than bounds+1, min/max present or not); exponential histograms at
// positive, zero, negative and out-of-range scales, with negative buckets,
// zero_count, and empty ones; units of every spelling; Summary points;
// metrics without data; rarely a name near or past sample.MaxKeyLen.
// Exhausted input reads as zeros, which choose the smallest request.
func Random(data []byte) []byte {
	r := &rnd{data: data}
	req := &colmetricpb.ExportMetricsServiceRequest{}
	for range r.intn(4) {
		req.ResourceMetrics = append(req.ResourceMetrics, r.resourceMetrics())
	}
	out, err := proto.Marshal(req)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return out
}

type rnd struct {
	data []byte
	i    int
}

func (r *rnd) byte() byte {
	if r.i >= len(r.data) {
		return 0
	}
	c := r.data[r.i]
	r.i++
	return c
}

// intn returns a number in [0, n) (n <= 256), 0 once the input is used up.
func (r *rnd) intn(n int) int { return int(r.byte()) % n }

// oneIn is true about once in k draws, never once the input is used up.
func (r *rnd) oneIn(k int) bool { return int(r.byte())%k == k-1 }

func (r *rnd) u64() uint64 {
	var x uint64
	for range 8 {
		x = x<<8 | uint64(r.byte())
	}
	return x
}

func pick[T any](r *rnd, pool []T) T { return pool[r.intn(len(pool))] }

var (
	keyPool    = []string{"service.name", "service", "host", "a", "b", "", "http.method", "ключ"}
	stringPool = []string{"", "x", "central-services", "1.1", "a,b", "k: v", "é", "GET"}
	intPool    = []int64{0, 1, -1, 5000, math.MaxInt64, math.MinInt64, 1<<53 + 1}
	doublePool = []float64{0, math.Copysign(0, -1), 1, 1.5, -2.25, 1e7, 9999999, 0.001, 1e-4, 1e21, 1.8e24,
		4.9e-324, math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 58, 0.1}
	bytesPool = [][]byte{{}, {1, 0xfe}, {0x80, 0x7f, 0}}
	namePool  = []string{"m", "n", "http.server.duration", "", "runtime.python.asyncio.task_lag"}
	unitPool  = []string{"", "ms", "MS", "Ms", "s", "S", "us", "ns", "second", "Seconds", "MILLISECONDS",
		"microsecond", "nanoseconds", "sec", "By", "{requests}", "1", "mİcroseconds", "ms ", "NanoSecond"}
	timePool = []uint64{0, 1_000_000, 1_999_999, 1_000_000_000_000_000_000, 1685564155071711218,
		1 << 63, math.MaxUint64, math.MaxUint64 - 999_999}
	boundPool  = []float64{-1, 0, 0.5, 1, 5, 10, 25, 75, 1e300, math.Inf(1), math.NaN()}
	countPool  = []uint64{0, 0, 1, 2, 3, 7, 1 << 63, math.MaxUint64}
	scalePool  = []int32{-11, -10, -4, -3, -2, -1, 0, 0, 1, 2, 3, 7, 8, 20, 21, -32, -33, 1023, 1024, math.MinInt32, math.MaxInt32}
	offsetPool = []int32{0, 0, -1, 1, -5, 127, -24925891, 1 << 21, -(1 << 21), 1 << 22, 1074, -1075, 1023, -1023,
		-1022, math.MaxInt32, math.MinInt32}
)

func (r *rnd) double() float64 {
	if r.oneIn(8) {
		return math.Float64frombits(r.u64())
	}
	return pick(r, doublePool)
}

func (r *rnd) anyValue(depth int) *commonpb.AnyValue {
	switch r.intn(11) {
	case 0:
		return &commonpb.AnyValue{}
	case 1, 2:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: pick(r, stringPool)}}
	case 3:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: r.oneIn(2)}}
	case 4:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: pick(r, intPool)}}
	case 5:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: r.double()}}
	case 6:
		a := &commonpb.ArrayValue{}
		if depth < 3 {
			for range r.intn(4) {
				a.Values = append(a.Values, r.anyValue(depth+1))
			}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: a}}
	case 7:
		l := &commonpb.KeyValueList{}
		if depth < 3 {
			for range r.intn(4) {
				l.Values = append(l.Values, r.keyValue(depth+1))
			}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: l}}
	case 8:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: pick(r, bytesPool)}}
	case 9:
		// a member MAD's protos do not have: unset to MAD
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValueStrindex{StringValueStrindex: 5}}
	}
	return nil // a KeyValue without value
}

func (r *rnd) keyValue(depth int) *commonpb.KeyValue {
	kv := &commonpb.KeyValue{Key: pick(r, keyPool), Value: r.anyValue(depth)}
	if r.oneIn(16) {
		kv.KeyStrindex = 3 // unknown to MAD's protos
	}
	return kv
}

func (r *rnd) attributes(n int) []*commonpb.KeyValue {
	var kvs []*commonpb.KeyValue
	for range n {
		kvs = append(kvs, r.keyValue(0))
	}
	return kvs
}

// pointAttributes returns attributes with distinct keys but, now and then,
// one repeated.
func (r *rnd) pointAttributes() []*commonpb.KeyValue {
	var kvs []*commonpb.KeyValue
	seen := map[string]bool{}
	for range r.intn(4) {
		kv := r.keyValue(0)
		if !seen[kv.Key] {
			seen[kv.Key] = true
			kvs = append(kvs, kv)
		}
	}
	if len(kvs) > 0 && r.oneIn(24) {
		kvs = append(kvs, &commonpb.KeyValue{Key: kvs[r.intn(len(kvs))].Key, Value: r.anyValue(0)})
	}
	return kvs
}

func (r *rnd) resourceMetrics() *metricpb.ResourceMetrics {
	rm := &metricpb.ResourceMetrics{}
	if r.intn(4) != 0 {
		rm.Resource = &resourcepb.Resource{Attributes: r.attributes(r.intn(5))}
	}
	for range 1 + r.intn(2) {
		sm := &metricpb.ScopeMetrics{}
		if r.oneIn(4) {
			sm.Scope = &commonpb.InstrumentationScope{Name: "scope", Attributes: r.attributes(1)}
		}
		for range r.intn(5) {
			sm.Metrics = append(sm.Metrics, r.metric())
		}
		rm.ScopeMetrics = append(rm.ScopeMetrics, sm)
	}
	return rm
}

func (r *rnd) name() string {
	if r.oneIn(256) {
		// Around the longest key: kind, name length (3 bytes), name, then
		// the dimensions.
		return strings.Repeat("x", sample.MaxKeyLen-4-r.intn(64))
	}
	return pick(r, namePool)
}

func (r *rnd) metric() *metricpb.Metric {
	m := &metricpb.Metric{Name: r.name(), Unit: pick(r, unitPool)}
	n := r.intn(4)
	switch r.intn(7) {
	case 0, 6:
		g := &metricpb.Gauge{}
		for range n {
			g.DataPoints = append(g.DataPoints, r.numberPoint())
		}
		m.Data = &metricpb.Metric_Gauge{Gauge: g}
	case 1:
		s := &metricpb.Sum{AggregationTemporality: metricpb.AggregationTemporality(r.intn(3)), IsMonotonic: r.oneIn(2)}
		for range n {
			s.DataPoints = append(s.DataPoints, r.numberPoint())
		}
		m.Data = &metricpb.Metric_Sum{Sum: s}
	case 2:
		h := &metricpb.Histogram{AggregationTemporality: metricpb.AggregationTemporality(r.intn(3))}
		for range n {
			h.DataPoints = append(h.DataPoints, r.histogramPoint())
		}
		m.Data = &metricpb.Metric_Histogram{Histogram: h}
	case 3:
		h := &metricpb.ExponentialHistogram{AggregationTemporality: metricpb.AggregationTemporality(r.intn(3))}
		for range n {
			h.DataPoints = append(h.DataPoints, r.exponentialPoint())
		}
		m.Data = &metricpb.Metric_ExponentialHistogram{ExponentialHistogram: h}
	case 4:
		s := &metricpb.Summary{}
		for range n {
			s.DataPoints = append(s.DataPoints, &metricpb.SummaryDataPoint{
				Attributes: r.pointAttributes(), TimeUnixNano: r.time(), Count: pick(r, countPool), Sum: r.double(),
				QuantileValues: []*metricpb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: r.double()}},
			})
		}
		m.Data = &metricpb.Metric_Summary{Summary: s}
	}
	// case 5: no data
	return m
}

func (r *rnd) time() uint64 {
	if r.oneIn(16) {
		return r.u64()
	}
	return pick(r, timePool)
}

func (r *rnd) numberPoint() *metricpb.NumberDataPoint {
	p := &metricpb.NumberDataPoint{Attributes: r.pointAttributes(), TimeUnixNano: r.time()}
	switch r.intn(4) {
	case 1:
		p.Value = &metricpb.NumberDataPoint_AsInt{AsInt: pick(r, intPool)}
	case 2, 3:
		p.Value = &metricpb.NumberDataPoint_AsDouble{AsDouble: r.double()}
	}
	return p
}

func (r *rnd) optDouble() *float64 {
	if r.oneIn(2) {
		v := r.double()
		return &v
	}
	return nil
}

func (r *rnd) counts(n int) []uint64 {
	var cs []uint64
	for range n {
		cs = append(cs, pick(r, countPool))
	}
	return cs
}

func (r *rnd) histogramPoint() *metricpb.HistogramDataPoint {
	p := &metricpb.HistogramDataPoint{Attributes: r.pointAttributes(), TimeUnixNano: r.time(),
		Count: pick(r, countPool), Sum: r.optDouble(), Min: r.optDouble(), Max: r.optDouble()}
	nb := pick(r, []int{0, 1, 1, 2, 3, 4})
	for range nb {
		p.ExplicitBounds = append(p.ExplicitBounds, pick(r, boundPool))
	}
	if !r.oneIn(4) {
		// usually increasing, as OTLP requires
		for i := 1; i < len(p.ExplicitBounds); i++ {
			for j := i; j > 0 && p.ExplicitBounds[j] < p.ExplicitBounds[j-1]; j-- {
				p.ExplicitBounds[j], p.ExplicitBounds[j-1] = p.ExplicitBounds[j-1], p.ExplicitBounds[j]
			}
		}
	}
	p.BucketCounts = r.counts(max(0, nb+1+pick(r, []int{0, 0, 0, -1, -2, 1, 2})))
	return p
}

func (r *rnd) buckets() *metricpb.ExponentialHistogramDataPoint_Buckets {
	if r.intn(4) == 0 {
		return nil
	}
	return &metricpb.ExponentialHistogramDataPoint_Buckets{Offset: pick(r, offsetPool), BucketCounts: r.counts(r.intn(4))}
}

func (r *rnd) exponentialPoint() *metricpb.ExponentialHistogramDataPoint {
	return &metricpb.ExponentialHistogramDataPoint{Attributes: r.pointAttributes(), TimeUnixNano: r.time(),
		Count: pick(r, countPool), Sum: r.optDouble(), Min: r.optDouble(), Max: r.optDouble(),
		Scale: pick(r, scalePool), ZeroCount: pick(r, []uint64{0, 0, 1, 2, 1 << 63}),
		Positive: r.buckets(), Negative: r.buckets()}
}
