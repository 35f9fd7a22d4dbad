package ingest

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	colpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// An OTLP source on a loopback h2c server, as the daemon serves it.
type otlpServer struct {
	src   *HTTPSource
	lanes Lanes
	url   string
	conn  *grpc.ClientConn
}

func startOTLP(t *testing.T, cfg HTTPConfig) *otlpServer {
	t.Helper()
	cfg.Name, cfg.Kind = "otel", HTTPOTLP
	cfg.Slots = 1
	lanes := NewLanes(1, 4)
	src, err := NewHTTPSource(cfg, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: src, Protocols: &protos}
	go srv.Serve(ln)
	target := ln.Addr().String()
	if a := src.GRPCAddr(); a != nil {
		target = a.String() // the source's own gRPC port
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); srv.Close(); src.Stop() })
	return &otlpServer{src: src, lanes: lanes, url: "http://" + ln.Addr().String(), conn: conn}
}

// drain pops what the source published and returns the samples.
func (o *otlpServer) drain() []sample.Sample {
	var out []sample.Sample
	for {
		b, ok := o.lanes.To[0].Pop()
		if !ok {
			return out
		}
		out = append(out, b.Samples...)
	}
}

func gaugeReq(points ...*metricspb.NumberDataPoint) *colpb.ExportMetricsServiceRequest {
	return &colpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "svc"}}}}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
			{Name: "g", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: points}}},
			{Name: "s", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{Count: 1}}}}},
		}}},
	}}}
}

func point(v float64, kv ...string) *metricspb.NumberDataPoint {
	p := &metricspb.NumberDataPoint{TimeUnixNano: 1_700_000_000_000_000_000, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
	for i := 0; i < len(kv); i += 2 {
		p.Attributes = append(p.Attributes, &commonpb.KeyValue{Key: kv[i], Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: kv[i+1]}}})
	}
	return p
}

// rawCodec sends bytes as they are (a malformed message).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)   { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error { *v.(*[]byte) = b; return nil }
func (rawCodec) Name() string                    { return "proto" }

var _ encoding.Codec = rawCodec{}

// TestOTLPGRPCAnswers: on MAD's route (the handler on the HTTP server) and
// on the source's own port (grpc-go's server), the same answers, the same
// counts.
func TestOTLPGRPCAnswers(t *testing.T) {
	var bytes [2]uint64
	for i, addr := range []string{"", "127.0.0.1:0"} {
		name := "MAD's route"
		if addr != "" {
			name = "own port"
		}
		t.Run(name, func(t *testing.T) { bytes[i] = testOTLPGRPCAnswers(t, addr) })
	}
	// The messages read, counted alike: their wire bytes and prefixes.
	if bytes[0] != bytes[1] || bytes[0] == 0 {
		t.Errorf("bytes counted: %d on MAD's route, %d on the own port", bytes[0], bytes[1])
	}
}

func testOTLPGRPCAnswers(t *testing.T, grpcAddr string) uint64 {
	o := startOTLP(t, HTTPConfig{Deadline: 50 * time.Millisecond, MaxDecompressed: 4096, GRPCAddr: grpcAddr})
	if (o.src.GRPCAddr() != nil) != (grpcAddr != "") {
		t.Fatalf("GRPCAddr %v for %q", o.src.GRPCAddr(), grpcAddr)
	}
	client := colpb.NewMetricsServiceClient(o.conn)
	ctx := context.Background()

	// Taken, with two points left out: partial_success.
	resp, err := client.Export(ctx, gaugeReq(point(1.5, "a", "x"), point(math.NaN(), "a", "y")))
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.GetPartialSuccess()
	if ps.GetRejectedDataPoints() != 2 || !strings.Contains(ps.GetErrorMessage(), "not finite") || !strings.Contains(ps.GetErrorMessage(), "Summary") {
		t.Errorf("partial success %v", ps)
	}
	if got := o.drain(); len(got) != 1 || got[0].Value != 1.5 {
		t.Errorf("published %v", got)
	}
	// All taken: no partial_success.
	resp, err = client.Export(ctx, &colpb.ExportMetricsServiceRequest{})
	if err != nil || resp.PartialSuccess != nil {
		t.Errorf("empty request: %v, %v", resp, err)
	}
	// gzip, as the exporters send it.
	resp, err = client.Export(ctx, gaugeReq(point(3, "a", "z")), grpc.UseCompressor(gzip.Name))
	if err != nil || resp.GetPartialSuccess().GetRejectedDataPoints() != 1 {
		t.Errorf("gzip: %v, %v", resp, err)
	}
	if got := o.drain(); len(got) != 1 || got[0].Value != 3 {
		t.Errorf("gzip: published %v", got)
	}

	// A duplicate key among a point's attributes: MAD's parser throws.
	_, err = client.Export(ctx, gaugeReq(point(1, "a", "x", "a", "y")))
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "duplicate attribute") {
		t.Errorf("duplicate attribute: %v", err)
	}
	// Not a message protobuf-java reads.
	bad := []byte{0x0a, 0x05, 0x01}
	var out []byte
	err = o.conn.Invoke(ctx, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", &bad, &out, grpc.ForceCodec(rawCodec{}))
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("malformed: %v", err)
	}
	// Over MaxDecompressed.
	big := gaugeReq()
	for i := 0; i < 200; i++ {
		big.ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetGauge().DataPoints = append(big.ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetGauge().DataPoints, point(1, "k", strings.Repeat("v", 20)))
	}
	if _, err = client.Export(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("too large: %v", err)
	}
	if got := o.drain(); len(got) != 0 {
		t.Errorf("refused requests published %d samples", len(got))
	}

	// Saturated: the shard's ring is full.
	full := 0
	for o.lanes.To[0].Push(new(sample.Batch)) {
		full++
	}
	_, err = client.Export(ctx, gaugeReq(point(2)))
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("saturated: %v", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.RetryDelay.AsDuration() != time.Second {
		t.Errorf("saturated: details %v; want RetryInfo of 1s", st.Details())
	}
	for i := 0; i < full; i++ {
		if b, _ := o.lanes.To[0].Pop(); len(b.Samples) != 0 {
			t.Fatal("a refused request was published")
		}
	}
	if grpcAddr != "" {
		// What grpc-go refuses before the handler runs is counted too:
		// an encoding it does not know.
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		c := &http.Client{Transport: &http.Transport{Protocols: &protos}}
		req, _ := http.NewRequest("POST", "http://"+o.src.GRPCAddr().String()+OTLPGRPCPath, bytes.NewReader([]byte{1, 0, 0, 0, 1, 0}))
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Grpc-Encoding", "br")
		req.Header.Set("Te", "trailers")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
		if g := resp.Trailer.Get("Grpc-Status") + resp.Header.Get("Grpc-Status"); g != "12" {
			t.Errorf("grpc-encoding br: grpc-status %q; want 12 (UNIMPLEMENTED)", g)
		}
		deadline := time.Now().Add(10 * time.Second)
		for o.src.Stats().Refusals[RefusedUnsupportedEncoding] != 1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // the stats handler runs as the call ends
		}
		if n := o.src.Stats().Refusals[RefusedUnsupportedEncoding]; n != 1 {
			t.Errorf("grpc-encoding br: %d refusals counted", n)
		}
		// A method the port does not serve.
		var out []byte
		in := []byte{}
		err = o.conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &in, &out, grpc.ForceCodec(rawCodec{}))
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("unknown method: %v", err)
		}
		for o.src.Stats().Refusals[RefusedUnknownMethod] != 1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := o.src.Stats().Refusals[RefusedUnknownMethod]; n != 1 {
			t.Errorf("unknown method: %d refusals counted", n)
		}
		// gRPC's health service answers.
		hr, err := healthpb.NewHealthClient(o.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health: %v, %v", hr, err)
		}
		// The message limit is the port's: another needs the port opened
		// again, other limits do not.
		cc := *o.src.cfg.Load()
		if cc.Deadline++; !o.src.Retargetable(&cc) {
			t.Error("a new deadline: not retargetable")
		}
		if cc.MaxDecompressed++; o.src.Retargetable(&cc) {
			t.Error("a new message limit: retargetable")
		}
	}
	sts := o.src.Stats()
	if sts.Accepted != 3 || sts.Refusals[RefusedMADFails] != 1 || sts.Refusals[RefusedMalformed] != 1 ||
		sts.Refusals[RefusedDecompressedTooLarge] != 1 || sts.Refusals[RefusedShardsBehind] != 1 {
		t.Errorf("stats %+v", sts)
	}
	if n := o.src.otlpPoints[otlpAccepted].Load(); n != 2 {
		t.Errorf("%d points accepted; want 2", n)
	}
	if n := o.src.otlpPoints[otlpNonFinite].Load() + o.src.otlpPoints[otlpUnsupported].Load(); n != 3 {
		t.Errorf("%d points rejected; want 3", n)
	}
	return sts.Bytes
}

func postOTLP(t *testing.T, url, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url+OTLPHTTPPath, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestOTLPHTTPAnswers(t *testing.T) {
	o := startOTLP(t, HTTPConfig{Deadline: 50 * time.Millisecond})
	req := gaugeReq(point(1.5, "a", "x"), point(math.Inf(1), "a", "y"))
	pb, _ := proto.Marshal(req)
	js, _ := protojson.Marshal(req)

	code, h, body := postOTLP(t, o.url, "application/x-protobuf", pb)
	var resp colpb.ExportMetricsServiceResponse
	if code != 200 || h.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &resp) != nil || resp.GetPartialSuccess().GetRejectedDataPoints() != 2 {
		t.Errorf("protobuf: %d %q %v", code, h.Get("Content-Type"), &resp)
	}
	code, h, body = postOTLP(t, o.url, "application/json", js)
	resp.Reset()
	if code != 200 || h.Get("Content-Type") != "application/json" || protojson.Unmarshal(body, &resp) != nil || resp.GetPartialSuccess().GetRejectedDataPoints() != 2 {
		t.Errorf("json: %d %q %s", code, h.Get("Content-Type"), body)
	}
	if got := o.drain(); len(got) != 2 || got[0].Value != 1.5 || got[1].Value != 1.5 {
		t.Errorf("published %v", got)
	}
	// Everything taken: an empty response.
	code, _, body = postOTLP(t, o.url, "application/json", []byte(`{"resourceMetrics":[]}`))
	if code != 200 || string(body) != "{}" {
		t.Errorf("empty json request: %d %s", code, body)
	}

	if code, _, _ = postOTLP(t, o.url, "text/plain", pb); code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", code)
	}
	code, _, body = postOTLP(t, o.url, "application/x-protobuf", []byte{0x0a, 0x05, 0x01})
	var st statusMsg
	if code != 400 || st.unmarshal(body) != nil || st.Code != int32(codes.InvalidArgument) || !strings.Contains(st.Message, "truncated") {
		t.Errorf("malformed protobuf: %d %s", code, body)
	}
	if code, _, body = postOTLP(t, o.url, "application/json", []byte(`{"resourceMetrics":[{]}`)); code != 400 || !strings.Contains(string(body), `"code":3`) {
		t.Errorf("malformed json: %d %s", code, body)
	}
	for o.lanes.To[0].Push(new(sample.Batch)) {
	}
	if code, h, _ = postOTLP(t, o.url, "application/x-protobuf", pb); code != 503 || h.Get("Retry-After") == "" {
		t.Errorf("saturated: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
}

// statusMsg reads a google.rpc.Status.
type statusMsg struct {
	Code    int32
	Message string
}

func (s *statusMsg) unmarshal(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			s.Code, b = int32(v), b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			s.Message, b = string(v), b[n:]
		default:
			return io.ErrUnexpectedEOF
		}
	}
	return nil
}

// TestOTLPExpandingRequestStoppedWhileDecoding: an OTLP request of about
// 60 KB whose resource attribute of 30 000 bytes is part of each of its
// 2 000 points' keys (60 MB once decoded) is refused, over HTTP (413) and over
// gRPC on MAD's route and on a port of its own (RESOURCE_EXHAUSTED), and
// its decoding stops near maxRequestSampleBytes: what a request allocates
// stays a small multiple of the bound (the batch's keys, the decoder's
// record table and its section buffer each grow to about the bound, by
// append's steps of a quarter: some five times what they hold), not the
// 60 MB it expands to (some 900 MB allocated without the stop). The
// next request on the slot (its decoders dropped and made again) is
// accepted.
func TestOTLPExpandingRequestStoppedWhileDecoding(t *testing.T) {
	defer func(old int64) { maxRequestSampleBytes = old }(maxRequestSampleBytes)
	maxRequestSampleBytes = 1 << 20
	req := gaugeReq()
	req.ResourceMetrics[0].Resource.Attributes = append(req.ResourceMetrics[0].Resource.Attributes,
		&commonpb.KeyValue{Key: "big", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", 30_000)}}})
	gauge := req.ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetGauge()
	for i := range 2000 {
		gauge.DataPoints = append(gauge.DataPoints, point(float64(i), "i", strconv.Itoa(i)))
	}
	pb, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	// The fewest bytes the process allocated over three tries of f (the
	// count is the whole process's: the fewest leaves out what anything
	// else allocated meanwhile).
	allocated := func(f func()) uint64 {
		fewest := uint64(math.MaxUint64)
		for range 3 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f()
			runtime.ReadMemStats(&after)
			fewest = min(fewest, after.TotalAlloc-before.TotalAlloc)
		}
		return fewest
	}
	const most = 32 << 20
	for _, addr := range []string{"", "127.0.0.1:0"} {
		o := startOTLP(t, HTTPConfig{Deadline: time.Second, GRPCAddr: addr})
		if addr == "" {
			n := allocated(func() {
				if code, _, body := postOTLP(t, o.url, "application/x-protobuf", pb); code != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "decodes into more than") {
					t.Errorf("HTTP: %d %s; want 413", code, body)
				}
			})
			if n > most {
				t.Errorf("HTTP: the refused request allocated %d bytes; want at most %d", n, most)
			}
		}
		client := colpb.NewMetricsServiceClient(o.conn)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n := allocated(func() {
			if _, err := client.Export(ctx, req); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "decodes into more than") {
				t.Errorf("gRPC (%q): %v; want RESOURCE_EXHAUSTED", addr, err)
			}
		})
		if n > most {
			t.Errorf("gRPC (%q): the refused call allocated %d bytes; want at most %d", addr, n, most)
		}
		if got := o.drain(); len(got) != 0 {
			t.Errorf("a refused request published %d samples", len(got))
		}
		if _, err := client.Export(ctx, gaugeReq(point(1, "a", "x"))); err != nil {
			t.Errorf("the next call: %v", err)
		}
		if got := o.drain(); len(got) != 1 {
			t.Errorf("the next call published %d samples; want 1", len(got))
		}
		cancel()
	}
}

// TestOTLPRefusedRequestUndoesDeltas: with cumulativeToDelta, a request
// refused after its points moved their streams on (malformed further on:
// 400) leaves the streams as they were, so that its retry is converted
// (not stale, as it was when the refusal kept the points' effect) and the
// delta reaches the shards once.
func TestOTLPRefusedRequestUndoesDeltas(t *testing.T) {
	o := startOTLP(t, HTTPConfig{Deadline: time.Second, OTLP: OTLPOptions{CumulativeToDelta: true}})
	start := uint64(time.Now().Add(-time.Hour).UnixNano()) // started before the tracker
	sum := func(ts time.Duration, v float64) []byte {
		req := &colpb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
			{Name: "c", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
				DataPoints: []*metricspb.NumberDataPoint{{StartTimeUnixNano: start, TimeUnixNano: 1_700_000_000_000_000_000 + uint64(ts), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}}}}}}}}}}}
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if code, _, body := postOTLP(t, o.url, "application/x-protobuf", sum(time.Second, 100)); code != 200 {
		t.Fatalf("the baseline: %d %s", code, body)
	}
	if got := o.drain(); len(got) != 0 {
		t.Fatalf("the baseline emitted %d samples", len(got))
	}
	// The next point, then a truncated ResourceMetrics: refused.
	bad := protowire.AppendVarint(protowire.AppendTag(sum(2*time.Second, 130), 1, protowire.BytesType), 100)
	if code, _, body := postOTLP(t, o.url, "application/x-protobuf", bad); code != http.StatusBadRequest {
		t.Fatalf("the malformed request: %d %s; want 400", code, body)
	}
	if got := o.drain(); len(got) != 0 {
		t.Fatalf("a refused request published %d samples", len(got))
	}
	// Its retry, well formed: the delta since the baseline.
	if code, _, body := postOTLP(t, o.url, "application/x-protobuf", sum(2*time.Second, 130)); code != 200 {
		t.Fatalf("the retry: %d %s", code, body)
	}
	if got := o.drain(); len(got) != 1 || got[0].Value != 30 {
		t.Fatalf("the retry published %v; want one sample of 30", got)
	}
	if ds := o.src.deltas.Load().Stats(); ds.Undone != 1 || ds.Stale != 0 || ds.Converted != 2 { // both tries converted, the first undone
		t.Errorf("tracker: %+v", ds)
	}
}
