//go:build linux

package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/engine/config"
)

// otlpReceiver is the receiving end of the sender tests: it decodes each
// request with the generated types, checks that every time was stamped
// between from and the check, counts the points, refuses every refuseEvery-th
// request and reports one point rejected in every accepted one.
type otlpReceiver struct {
	t           *testing.T
	from        time.Time
	refuseEvery int

	mu                         sync.Mutex
	requests, points, rejected int
	bad                        string
}

// take returns the response to one request body, or refuse.
func (o *otlpReceiver) take(body []byte) (resp *colmetricpb.ExportMetricsServiceResponse, refuse bool) {
	var req colmetricpb.ExportMetricsServiceRequest
	err := proto.Unmarshal(body, &req)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests++
	if err != nil {
		o.bad = err.Error()
		return nil, true
	}
	if o.requests%o.refuseEvery == 0 {
		return nil, true
	}
	lo, hi := uint64(o.from.UnixMilli())*1e6, uint64(time.Now().UnixMilli())*1e6
	check := func(tn uint64) {
		if tn < lo || tn > hi {
			o.bad = "a time not stamped at send time"
		}
	}
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case *metricpb.Metric_Gauge:
					for _, dp := range d.Gauge.DataPoints {
						check(dp.TimeUnixNano)
						o.points++
					}
				case *metricpb.Metric_Sum:
					for _, dp := range d.Sum.DataPoints {
						check(dp.TimeUnixNano)
						o.points++
					}
				case *metricpb.Metric_Histogram:
					for _, dp := range d.Histogram.DataPoints {
						check(dp.TimeUnixNano)
						o.points++
					}
				}
			}
		}
	}
	o.rejected++
	return &colmetricpb.ExportMetricsServiceResponse{PartialSuccess: &colmetricpb.ExportMetricsPartialSuccess{RejectedDataPoints: 1}}, false
}

func (o *otlpReceiver) check(t *testing.T, s Sent, want int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bad != "" {
		t.Fatal(o.bad)
	}
	if o.requests != want || s.Messages+len(s.Refused) != want || len(s.Refused) != want/o.refuseEvery {
		t.Fatalf("received %d requests; sent %d, %d refused; want %d", o.requests, s.Messages, len(s.Refused), want)
	}
	if s.Lines != o.points || s.Rejected != int64(o.rejected) || s.Messages != o.rejected {
		t.Fatalf("sent %d points, %d rejected; the receiver counted %d points, %d rejected", s.Lines, s.Rejected, o.points, o.rejected)
	}
}

type metricsService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	o *otlpReceiver
}

func (m metricsService) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	body, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, refuse := m.o.take(body)
	if refuse {
		return nil, status.Error(codes.ResourceExhausted, "refused by the test")
	}
	return resp, nil
}

// TestSendGRPC exports the OTLP workload to a grpc-go server of the
// generated MetricsService over several connections and streams: every
// request arrives, decodes, carries the send time, and the sender counts
// what was refused (by status) and rejected (partial_success).
func TestSendGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &otlpReceiver{t: t, from: time.Now(), refuseEvery: 7}
	srv := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(srv, metricsService{o: o})
	go srv.Serve(ln)
	defer srv.Stop()
	p := OTLP{Points: 30, Resources: 2, Seed: 1}.Build()
	s, err := SendGRPC(context.Background(), ln.Addr().String(), 2, 3, Load{Payloads: p, Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	o.check(t, s, 100)
	if s.Status[200] != s.Messages || s.Status[GRPCStatus(codes.ResourceExhausted)] != len(s.Refused) {
		t.Fatalf("statuses %v", s.Status)
	}
	r := Result{Protocol: OTLPGRPC, Sent: s, E2E: &EndToEnd{PointsOnly: true, Expected: float64(s.Lines), Emitted: float64(s.Lines)}}
	if cell := r.e2eCell(); !strings.Contains(cell, "gRPC ResourceExhausted ×14") || !strings.Contains(cell, "86 points rejected") {
		t.Fatalf("end-to-end cell %q", cell)
	}
}

// TestSendOTLPHTTP posts the OTLP workload to /v1/metrics as protobuf, for
// a duration with no rate (as fast as it goes): the load ends by itself,
// and every request is accounted for as for gRPC.
func TestSendOTLPHTTP(t *testing.T) {
	o := &otlpReceiver{t: t, from: time.Now(), refuseEvery: 5}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "wrong route or type", http.StatusNotFound)
			return
		}
		resp, refuse := o.take(body)
		if refuse {
			http.Error(w, "refused by the test", http.StatusServiceUnavailable)
			return
		}
		b, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	}))
	defer srv.Close()
	p := OTLP{Points: 10, Resources: 1, Seed: 2}.Build()
	s, err := SendHTTP(context.Background(), srv.URL+p.Path, 2, Load{Payloads: p, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.Messages == 0 {
		t.Fatal("nothing sent")
	}
	o.check(t, s, s.Messages+len(s.Refused))
	if s.Status[http.StatusServiceUnavailable] != len(s.Refused) {
		t.Fatalf("statuses %v", s.Status)
	}
}

// TestMadConfigOTLP: mad's configuration for an OTLP run, which mad binds,
// runs MAD's OpenTelemetryGrpcSource (the embedded default has it).
func TestMadConfigOTLP(t *testing.T) {
	sources := func(proto Protocol) []string {
		text, err := madConfig(PeerOptions{StatsD: "127.0.0.1:8125", Protocol: proto})
		if err != nil {
			t.Fatal(err)
		}
		m, ps := config.ParseMain("mad.conf", text, config.LoadOptions{})
		if len(ps) > 0 || m == nil || len(m.Pipelines) != 1 {
			t.Fatalf("%s: mad refuses the configuration: %v", proto, ps)
		}
		var classes []string
		for _, s := range m.Pipelines[0].Sources {
			classes = append(classes, s.Class)
		}
		return classes
	}
	const class = "com.arpnetworking.metrics.mad.experimental.sources.OpenTelemetryGrpcSource"
	for _, proto := range []Protocol{OTLPGRPC, OTLPHTTP} {
		if got := sources(proto); !slices.Contains(got, class) {
			t.Fatalf("%s: sources %v", proto, got)
		}
	}
}

// TestSmokeMadOTLP is the OTLP workload end to end through mad: over gRPC
// (h2c on mad's HTTP port) and OTLP/HTTP, the JSON lines must account for
// every point sent, by series, counts and sums, with no internal loss.
func TestSmokeMadOTLP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs mad")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "mad")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gomad/mad/cmd/mad").CombinedOutput()
	if err != nil {
		t.Fatalf("building mad: %v\n%s", err, out)
	}
	mad, _ := PeerByName("mad")
	b := &Bench{Dir: dir, Options: PeerOptions{StatsD: "127.0.0.1:0", HTTP: "127.0.0.1:0", Flush: time.Second, Mad: bin}, DaemonCPUs: []int{0}}
	defer b.Close()
	p := OTLP{Points: 200, Resources: 4, Seed: 1}.Build()
	for _, proto := range []Protocol{OTLPGRPC, OTLPHTTP} {
		sc := Scenario{Protocol: proto, Conns: 2, Streams: 2, Load: Load{Payloads: p, Count: 400, Rate: 200}}
		r, err := b.RunPeer(context.Background(), mad, sc)
		if err != nil {
			t.Fatal(err)
		}
		if r.Sent.Messages != 400 || len(r.Sent.Refused) != 0 || r.Sent.Rejected != 0 {
			t.Fatalf("%s: sent %+v", proto, r.Sent)
		}
		if r.E2E == nil || !r.E2E.Exact() || r.E2E.Series != 4000 {
			t.Fatalf("%s: end to end: %+v", proto, r.E2E)
		}
		if r.Internal == nil || r.Internal.Total() != 0 {
			t.Fatalf("%s: internal loss %+v", proto, r.Internal)
		}
		if table := OTLPTable([]Result{r}); !strings.Contains(table, "exact (") {
			t.Fatalf("table:\n%s", table)
		}
	}
}
