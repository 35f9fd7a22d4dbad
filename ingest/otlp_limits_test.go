package ingest

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	colpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// TestOTLPGRPCMaxBodyOnBothPorts: a gRPC message longer than MaxBody as
// sent (gRPC clients send no Content-Length) is refused on MAD's HTTP
// port as on the source's own gRPC port; on MAD's port it was bounded by
// MaxDecompressed only.
func TestOTLPGRPCMaxBodyOnBothPorts(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:0"} {
		o := startOTLP(t, HTTPConfig{Deadline: time.Second, MaxBody: 1024, MaxDecompressed: 1 << 20, GRPCAddr: addr})
		var ps []*metricspb.NumberDataPoint
		for range 200 {
			ps = append(ps, point(1, "k", strings.Repeat("v", 20)))
		}
		_, err := colpb.NewMetricsServiceClient(o.conn).Export(context.Background(), gaugeReq(ps...))
		if got := o.drain(); status.Code(err) != codes.ResourceExhausted || len(got) != 0 {
			t.Errorf("gRPC port %q: a message over MaxBody (1024 bytes) answered %v, %d samples published; want ResourceExhausted, none", addr, err, len(got))
		}
		if addr == "" {
			if n := o.src.Stats().Refusals[RefusedBodyTooLarge]; n != 1 {
				t.Errorf("MAD's route counted %d body_too_large; want 1 (%v)", n, o.src.Stats().Refusals)
			}
		}
	}
}

// TestOTLPGRPCOverHTTP1: a gRPC call over HTTP/1 on MAD's route is answered
// 505 and counted as such (http_version), not as an unsupported encoding.
func TestOTLPGRPCOverHTTP1(t *testing.T) {
	o := startOTLP(t, HTTPConfig{Deadline: time.Second})
	req, err := http.NewRequest(http.MethodPost, o.url+OTLPGRPCPath, bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := o.src.Stats(); resp.StatusCode != http.StatusHTTPVersionNotSupported || st.Refusals[RefusedHTTPVersion] != 1 {
		t.Fatalf("status %d, refusals %v; want 505 and one http_version", resp.StatusCode, st.Refusals)
	}
}

// drainNamed pops what the source published and returns, per metric name,
// the values of its samples.
func (o *otlpServer) drainNamed(t *testing.T) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for {
		b, ok := o.lanes.To[0].Pop()
		if !ok {
			return out
		}
		for i := range b.Samples {
			s := &b.Samples[i]
			pk, err := sample.ParseKey(b.Key(s))
			if err != nil {
				t.Fatal(err)
			}
			out[string(pk.Name)] = append(out[string(pk.Name)], s.Value)
		}
	}
}

// TestOTLPReplaceBehindMapper: a later point of a name, dimensions and time
// replaces the earlier one in a request (MAD), also behind a wrapping
// source with more than a staging batch's worth of points between them:
// the stage was mapped and reset every 1 024 samples, and the earlier point
// could no longer be found, so both were published.
func TestOTLPReplaceBehindMapper(t *testing.T) {
	spec, err := NewMappingSpec("m", []MappingRule{{Pattern: "^nomatch$", Replacements: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	var many []*metricspb.NumberDataPoint
	for i := range 1100 {
		many = append(many, point(float64(i), "k", strconv.Itoa(i)))
	}
	req := gaugeReq()
	req.ResourceMetrics[0].ScopeMetrics[0].Metrics = []*metricspb.Metric{
		{Name: "dup", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{point(1)}}}},
		{Name: "many", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: many}}},
		{Name: "dup", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{point(2)}}}},
	}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, mapped := range []bool{false, true} {
		cfg := HTTPConfig{Deadline: time.Second}
		if mapped {
			cfg.Mappers = MapperChain{spec}
		}
		o := startOTLP(t, cfg)
		resp, err := http.Post(o.url+OTLPHTTPPath, "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := o.drainNamed(t)
		if len(got["dup"]) != 1 || got["dup"][0] != 2 || len(got["many"]) != 1100 {
			t.Errorf("mapper %v: dup published as %v (%d of many); want [2] (the later point replaces the earlier)", mapped, got["dup"], len(got["many"]))
		}
	}
}

// TestOTLPNonFiniteHistogramRejected: a histogram point whose sum or max
// is not finite is left out and reported rejected (partial_success), not
// answered as taken and then refused by the shard.
func TestOTLPNonFiniteHistogramRejected(t *testing.T) {
	o := startOTLP(t, HTTPConfig{Deadline: time.Second})
	inf := math.Inf(1)
	req := gaugeReq()
	req.ResourceMetrics[0].ScopeMetrics[0].Metrics = []*metricspb.Metric{{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
		DataPoints: []*metricspb.HistogramDataPoint{{TimeUnixNano: 1_700_000_000_000_000_000, Count: 2, Sum: &inf,
			BucketCounts: []uint64{1, 1}, ExplicitBounds: []float64{1}, Max: proto.Float64(inf)}}}}}}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(o.url+OTLPHTTPPath, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var er colpb.ExportMetricsServiceResponse
	if err := proto.Unmarshal(out, &er); err != nil {
		t.Fatal(err)
	}
	if got := o.drain(); len(got) != 0 || er.GetPartialSuccess().GetRejectedDataPoints() != 1 {
		t.Fatalf("status %d, %d samples published, partial_success %v; want none published, 1 rejected", resp.StatusCode, len(got), er.PartialSuccess)
	}
}

// TestInjectThroughMappers: what the daemon injects into its V3 source (its
// own metrics, which MAD posts to its own V3 route) goes through the
// source's wrapping sources, as a request does; it skipped them on a slot
// no request had used.
func TestInjectThroughMappers(t *testing.T) {
	spec, err := NewMappingSpec("m", []MappingRule{{Pattern: "^a$", Replacements: []string{"mapped"}}})
	if err != nil {
		t.Fatal(err)
	}
	lanes := NewLanes(1, 4)
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, Mappers: MapperChain{spec}}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	injectGauge(t, s, "a")
	var names []string
	for b, ok := lanes.To[0].Pop(); ok; b, ok = lanes.To[0].Pop() {
		for i := range b.Samples {
			pk, _ := sample.ParseKey(b.Key(&b.Samples[i]))
			names = append(names, string(pk.Name))
		}
	}
	if len(names) != 1 || names[0] != "mapped" {
		t.Fatalf("injected sample published as %q; want [mapped] (the MappingSource around the V3 source)", names)
	}
}

// injectGauge injects one sample of gauge name (no dimensions) into s, as
// a request would.
func injectGauge(t *testing.T, s *HTTPSource, name string) {
	t.Helper()
	key, err := sample.AppendKey(nil, sample.KindGauge, []byte(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Inject(func(route sample.Route) (sample.Counts, error) {
		h := sample.Hash(key)
		b := route(h)
		b.AddValue(b.PutKeyBytes(key, h), 1, 0, 1, sample.UnitNone)
		return sample.Counts{Records: 1, Samples: 1}, nil
	}); err != nil {
		t.Fatal(err)
	}
}
