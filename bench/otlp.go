package bench

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// The OTLP protocols: an ExportMetricsServiceRequest over gRPC (the unary
// MetricsService/Export) or posted to /v1/metrics as protobuf.
const (
	OTLPGRPC Protocol = "otlp-grpc"
	OTLPHTTP Protocol = "otlp-http"
)

// IsOTLP reports whether p is one of the OTLP protocols.
func (p Protocol) IsOTLP() bool { return p == OTLPGRPC || p == OTLPHTTP }

// OTLPExportMethod is the gRPC method OTLP metrics are exported with.
const OTLPExportMethod = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

// OTLPStreams is how many streams (a metric and one set of point
// attributes) each resource of the OTLP workload has; a request carries at
// most that many points, all of one resource, each of a different stream.
const OTLPStreams = 1000

// OTLP is the OTLP metrics workload: requests of Points data points (1 to
// OTLPStreams) of one resource each, as an SDK exports its own metrics, the
// resources taken in turn. Each resource has the same OTLPStreams streams
// in a seeded order, so that any run of points mixes the types: 40 % delta
// sums, 40 % gauges, 20 % explicit-bucket histograms (Numbers: sums and
// gauges only). The same parameters give the same bytes.
type OTLP struct {
	Points    int
	Resources int // distinct resources (service × host); 0: 20
	Numbers   bool
	Seed      uint64
	// MaxMessages bounds the distinct requests built (0: 20,000); they
	// are also kept within 256 MiB.
	MaxMessages int
}

type otlpKind uint8

const (
	otlpSumInt otlpKind = iota
	otlpSumDouble
	otlpGaugeInt
	otlpGaugeDouble
	otlpHistogram
)

// otlpAttr is a point attribute: string values, or int values when Ints
// is set (what an SDK sends for a status code or a CPU number).
type otlpAttr struct {
	Key    string
	Values []string
	Ints   bool
}

// otlpFamily is one instrument: its metric and the attribute sets of its
// streams (the cross product of the attributes' values).
type otlpFamily struct {
	Name, Unit string
	Kind       otlpKind
	Attrs      []otlpAttr
	Bounds     []float64 // histograms
	// Value draws a number point, or a histogram sample.
	Value func(r *rand.Rand) float64
}

func (f otlpFamily) streams() int {
	n := 1
	for _, a := range f.Attrs {
		n *= len(a.Values)
	}
	return n
}

// attrs returns the point attributes of stream i of the family.
func (f otlpFamily) attrs(i int) [][2]string {
	out := make([][2]string, len(f.Attrs))
	for j := len(f.Attrs) - 1; j >= 0; j-- {
		a := f.Attrs[j]
		out[j] = [2]string{a.Key, a.Values[i%len(a.Values)]}
		i /= len(a.Values)
	}
	return out
}

func seq(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

var (
	otlpMethods = otlpAttr{Key: "http.request.method", Values: []string{"GET", "POST", "PUT", "DELETE"}}
	otlpRoutes  = otlpAttr{Key: "http.route", Values: seq("/api/v1/items/%02d", 25)}
	otlpRPC     = otlpAttr{Key: "rpc.method", Values: seq("Method%03d", 100)}
	// OpenTelemetry's semantic-convention bounds for request durations in
	// seconds, and the SDK's default bounds.
	otlpDurationBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	otlpDefaultBounds  = []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000}
)

// otlpFamilies are the instruments of every resource: 1000 streams.
func otlpFamilies(numbers bool) []otlpFamily {
	fs := []otlpFamily{
		{Name: "http.server.request.count", Unit: "{request}", Kind: otlpSumInt,
			Attrs: []otlpAttr{otlpMethods, otlpRoutes, {Key: "http.response.status_code", Values: []string{"200", "404", "500"}, Ints: true}},
			Value: func(r *rand.Rand) float64 { return float64(1 + r.IntN(100)) }},
		{Name: "system.network.io", Unit: "By", Kind: otlpSumDouble,
			Attrs: []otlpAttr{{Key: "network.io.direction", Values: []string{"transmit", "receive"}}, {Key: "network.interface.name", Values: seq("eth%02d", 50)}},
			Value: func(r *rand.Rand) float64 { return math.Round(math.Exp(10+r.NormFloat64())*100) / 100 }},
		{Name: "system.cpu.utilization", Unit: "1", Kind: otlpGaugeDouble,
			Attrs: []otlpAttr{{Key: "cpu.logical_number", Values: seq("%d", 64), Ints: true}, {Key: "cpu.mode", Values: []string{"user", "system", "idle", "iowait"}}},
			Value: func(r *rand.Rand) float64 { return math.Round(r.Float64()*1e4) / 1e4 }},
		{Name: "system.memory.usage", Unit: "By", Kind: otlpGaugeInt,
			Attrs: []otlpAttr{{Key: "system.memory.state", Values: []string{"used", "free", "cached", "buffered"}}, {Key: "numa.node", Values: seq("%d", 36), Ints: true}},
			Value: func(r *rand.Rand) float64 { return float64(r.Int64N(1 << 34)) }},
	}
	if numbers {
		return append(fs,
			otlpFamily{Name: "http.server.active_requests", Unit: "{request}", Kind: otlpGaugeInt,
				Attrs: []otlpAttr{otlpMethods, otlpRoutes},
				Value: func(r *rand.Rand) float64 { return float64(r.IntN(200)) }},
			otlpFamily{Name: "rpc.server.call.count", Unit: "{call}", Kind: otlpSumInt,
				Attrs: []otlpAttr{otlpRPC},
				Value: func(r *rand.Rand) float64 { return float64(1 + r.IntN(1000)) }})
	}
	return append(fs,
		otlpFamily{Name: "http.server.request.duration", Unit: "s", Kind: otlpHistogram,
			Attrs: []otlpAttr{otlpMethods, otlpRoutes}, Bounds: otlpDurationBounds,
			Value: func(r *rand.Rand) float64 { return math.Round(math.Exp(-3+r.NormFloat64())*1e6) / 1e6 }},
		otlpFamily{Name: "rpc.server.request.size", Unit: "By", Kind: otlpHistogram,
			Attrs: []otlpAttr{otlpRPC}, Bounds: otlpDefaultBounds,
			Value: func(r *rand.Rand) float64 { return math.Round(math.Exp(5 + 1.5*r.NormFloat64())) }})
}

// otlpStream is stream s of a resource: its family and attribute set.
type otlpStream struct{ family, set int }

// otlpCatalogue lists the streams of a resource, family by family.
func otlpCatalogue(fs []otlpFamily) []otlpStream {
	var out []otlpStream
	for f, fam := range fs {
		for i := range fam.streams() {
			out = append(out, otlpStream{f, i})
		}
	}
	if len(out) != OTLPStreams {
		panic(fmt.Sprintf("bench: %d OTLP streams, want %d", len(out), OTLPStreams))
	}
	return out
}

var otlpServices = []string{"checkout", "cart", "payment", "shipping"}

// otlpResource returns the resource attributes of resource r, as an SDK
// sets them (values stringified as mad does; process.pid is an int).
func otlpResource(r int) [][2]string {
	return [][2]string{
		{"service.name", otlpServices[r%len(otlpServices)]},
		{"service.namespace", "shop"},
		{"service.version", "2.7.1"},
		{"service.instance.id", fmt.Sprintf("%08x-5eed-4000-8000-%012x", r, r*7919)},
		{"host.name", fmt.Sprintf("bench-host-%03d", r)},
		{"host.arch", "amd64"},
		{"os.type", "linux"},
		{"process.pid", strconv.Itoa(1000 + r)},
		{"deployment.environment.name", "production"},
		{"telemetry.sdk.language", "go"},
		{"telemetry.sdk.name", "opentelemetry"},
		{"telemetry.sdk.version", "1.47.0"},
	}
}

// otlpIdentity names series s (resource s / OTLPStreams, stream s %
// OTLPStreams of the catalogue) as mad's output does: the metric name, the
// resource's attributes with service = service.name, and the point's.
func otlpIdentity(fs []otlpFamily, cat []otlpStream, s int) string {
	dims := map[string]string{}
	for _, a := range otlpResource(s / OTLPStreams) {
		dims[a[0]] = a[1]
	}
	dims["service"] = dims["service.name"]
	st := cat[s%OTLPStreams]
	for _, a := range fs[st.family].attrs(st.set) {
		dims[a[0]] = a[1]
	}
	return Identity(fs[st.family].Name, dims)
}

func otlpKV(k, v string, isInt bool) *commonpb.KeyValue {
	if isInt {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			panic(err)
		}
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}}
	}
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// OTLP record times are placeholders until stamped: fixed64 nanoseconds
// whose high half is otlpSentinel and low half numbers the placeholder, so
// that they can be found in the encoded request. A time is the send time;
// a start time (delta sums and histograms) is otlpInterval earlier.
const (
	otlpSentinel = 0x7E57A11C
	otlpInterval = 10_000 // ms, the SDK's export interval
)

// Build returns the workload's requests, encoded with the generated OTLP
// types, with the offsets of their record times (Payloads.Stamps, stamped
// at send time) and the exact totals mad must emit for them: per number
// point one sample of its value, per histogram point its count and sum
// (MAD-SPEC §13.1).
func (w OTLP) Build() *Payloads {
	if w.Points < 1 || w.Points > OTLPStreams {
		panic(fmt.Sprintf("bench: %d OTLP points per request; want 1 to %d", w.Points, OTLPStreams))
	}
	if w.Resources <= 0 {
		w.Resources = 20
	}
	if w.MaxMessages <= 0 {
		w.MaxMessages = 20_000
	}
	fs := otlpFamilies(w.Numbers)
	cat := otlpCatalogue(fs)
	r := rand.New(rand.NewPCG(w.Seed, 0x07))
	order := r.Perm(OTLPStreams)
	windows := (OTLPStreams + w.Points - 1) / w.Points
	n := min(w.MaxMessages, w.Resources*windows)
	p := &Payloads{Series: w.Resources * OTLPStreams, Path: "/v1/metrics", ContentType: "application/x-protobuf", Rejected: OTLPRejected}
	p.Identity = func(s int) string { return otlpIdentity(fs, cat, s) }
	for k := 0; k < n && p.bytes < maxS3Bytes; k++ {
		res := k % w.Resources
		start := (k / w.Resources) * w.Points % OTLPStreams
		body, stamps, exact := w.request(fs, cat, order, res, start, r)
		p.add(body, w.Points, exact, stamps)
	}
	mix := "mixed"
	if w.Numbers {
		mix = "numbers"
	}
	p.Name = fmt.Sprintf("OTLP %d points/request (%s), %s", w.Points, formatBytes(float64(p.bytes)/float64(len(p.Messages))), mix)
	return p
}

// request encodes the request of resource res with the streams
// order[start], order[start+1], … (wrapping), one point each.
func (w OTLP) request(fs []otlpFamily, cat []otlpStream, order []int, res, start int, r *rand.Rand) ([]byte, []StampAt, []Contribution) {
	var resAttrs []*commonpb.KeyValue
	for _, a := range otlpResource(res) {
		resAttrs = append(resAttrs, otlpKV(a[0], a[1], a[0] == "process.pid"))
	}
	sm := &metricpb.ScopeMetrics{Scope: &commonpb.InstrumentationScope{Name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", Version: "0.72.0"}}
	metrics := map[int]*metricpb.Metric{}
	var exact []Contribution
	var want []int32 // placeholder number → Before (ms)
	stamp := func(before int32) uint64 {
		want = append(want, before)
		return otlpSentinel<<32 | uint64(len(want)-1)
	}
	for i := range w.Points {
		s := order[(start+i)%OTLPStreams]
		st := cat[s]
		f := fs[st.family]
		m := metrics[st.family]
		if m == nil {
			m = &metricpb.Metric{Name: f.Name, Unit: f.Unit}
			switch f.Kind {
			case otlpSumInt, otlpSumDouble:
				m.Data = &metricpb.Metric_Sum{Sum: &metricpb.Sum{AggregationTemporality: metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, IsMonotonic: f.Kind == otlpSumInt}}
			case otlpGaugeInt, otlpGaugeDouble:
				m.Data = &metricpb.Metric_Gauge{Gauge: &metricpb.Gauge{}}
			case otlpHistogram:
				m.Data = &metricpb.Metric_Histogram{Histogram: &metricpb.Histogram{AggregationTemporality: metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA}}
			}
			metrics[st.family] = m
			sm.Metrics = append(sm.Metrics, m)
		}
		var attrs []*commonpb.KeyValue
		for j, a := range f.attrs(st.set) {
			attrs = append(attrs, otlpKV(a[0], a[1], f.Attrs[j].Ints))
		}
		series := int32(res*OTLPStreams + s)
		switch f.Kind {
		case otlpSumInt, otlpSumDouble, otlpGaugeInt, otlpGaugeDouble:
			v := f.Value(r)
			dp := &metricpb.NumberDataPoint{Attributes: attrs}
			if f.Kind == otlpSumInt || f.Kind == otlpSumDouble {
				dp.StartTimeUnixNano = stamp(otlpInterval)
			}
			dp.TimeUnixNano = stamp(0)
			if f.Kind == otlpSumInt || f.Kind == otlpGaugeInt {
				dp.Value = &metricpb.NumberDataPoint_AsInt{AsInt: int64(v)}
			} else {
				dp.Value = &metricpb.NumberDataPoint_AsDouble{AsDouble: v}
			}
			if g := m.GetGauge(); g != nil {
				g.DataPoints = append(g.DataPoints, dp)
			} else {
				m.GetSum().DataPoints = append(m.GetSum().DataPoints, dp)
			}
			exact = append(exact, Contribution{Series: series, Counter: true, N: 1, Value: v})
		case otlpHistogram:
			k := 1 + r.IntN(20)
			counts := make([]uint64, len(f.Bounds)+1)
			sum, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
			for range k {
				v := f.Value(r)
				sum += v
				lo, hi = min(lo, v), max(hi, v)
				b := 0
				for b < len(f.Bounds) && v > f.Bounds[b] {
					b++
				}
				counts[b]++
			}
			dp := &metricpb.HistogramDataPoint{Attributes: attrs, Count: uint64(k), Sum: &sum, Min: &lo, Max: &hi,
				BucketCounts: counts, ExplicitBounds: f.Bounds}
			dp.StartTimeUnixNano = stamp(otlpInterval)
			dp.TimeUnixNano = stamp(0)
			m.GetHistogram().DataPoints = append(m.GetHistogram().DataPoints, dp)
			exact = append(exact, Contribution{Series: series, Counter: true, N: int32(k), Value: sum})
		}
	}
	req := &colmetricpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricpb.ResourceMetrics{{
		Resource:     &resourcepb.Resource{Attributes: resAttrs},
		ScopeMetrics: []*metricpb.ScopeMetrics{sm},
	}}}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		panic(err)
	}
	return body, otlpStamps(body, want), exact
}

// otlpStamps finds the placeholder times in body: before[i] is the Before
// of placeholder i. It panics unless each is found exactly once, as a
// fixed64 field (wire type 1).
func otlpStamps(body []byte, before []int32) []StampAt {
	stamps := make([]StampAt, len(before))
	found := 0
	for off := 1; off+8 <= len(body); off++ {
		v := binary.LittleEndian.Uint64(body[off:])
		if v>>32 != otlpSentinel || body[off-1]&7 != 1 {
			continue
		}
		i := int(uint32(v))
		if i >= len(before) || stamps[i].Nanos {
			panic("bench: OTLP time placeholder found twice or out of range")
		}
		stamps[i] = StampAt{Off: off, Before: before[i], Nanos: true}
		found++
		off += 7
	}
	if found != len(before) {
		panic(fmt.Sprintf("bench: %d of %d OTLP time placeholders found", found, len(before)))
	}
	return stamps
}

// GRPCStatus is how a gRPC status is counted in Sent.Status, beside HTTP
// statuses: OK as 200, any other code c as 1000 + c.
func GRPCStatus(c codes.Code) int {
	if c == codes.OK {
		return 200
	}
	return 1000 + int(c)
}

// grpcCode undoes GRPCStatus for the codes other than OK.
func grpcCode(status int) (codes.Code, bool) {
	if status < 1000 || status > 1000+int(codes.Unauthenticated) {
		return 0, false
	}
	return codes.Code(status - 1000), true
}

// OTLPRejected returns the rejected_data_points of an
// ExportMetricsServiceResponse's partial_success (0 for none, or for a
// body that is not one).
func OTLPRejected(body []byte) int64 {
	var resp colmetricpb.ExportMetricsServiceResponse
	if len(body) == 0 || proto.Unmarshal(body, &resp) != nil {
		return 0
	}
	return resp.GetPartialSuccess().GetRejectedDataPoints()
}
