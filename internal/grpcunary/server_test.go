package grpcunary

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	resource "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/gomad/mad/internal/testseed"
)

// testCompressor is a grpc-go compressor under a name this package does
// not know, for clients that send an encoding the server lacks.
type testCompressor struct{}

func (testCompressor) Compress(w io.Writer) (io.WriteCloser, error) { return nopCloser{w}, nil }
func (testCompressor) Decompress(r io.Reader) (io.Reader, error)    { return r, nil }
func (testCompressor) Name() string                                 { return "x-unknown" }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func init() { encoding.RegisterCompressor(testCompressor{}) }

func dial(t testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// exportRequest is an OTLP request with a resource, a sum and a histogram.
func exportRequest(points int) *colmetrics.ExportMetricsServiceRequest {
	str := func(k, v string) *common.KeyValue {
		return &common.KeyValue{Key: k, Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: v}}}
	}
	var dps []*metrics.NumberDataPoint
	for i := range points {
		dps = append(dps, &metrics.NumberDataPoint{
			Attributes:   []*common.KeyValue{str("point", fmt.Sprint(i))},
			TimeUnixNano: 1700000000000000000 + uint64(i),
			Value:        &metrics.NumberDataPoint_AsDouble{AsDouble: float64(i) / 3},
		})
	}
	return &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{
		Resource: &resource.Resource{Attributes: []*common.KeyValue{str("service.name", "grpcunary-test"), str("host", "h1")}},
		ScopeMetrics: []*metrics.ScopeMetrics{{Metrics: []*metrics.Metric{
			{Name: "requests", Data: &metrics.Metric_Sum{Sum: &metrics.Sum{DataPoints: dps, IsMonotonic: true,
				AggregationTemporality: metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE}}},
			{Name: "latency", Unit: "ms", Data: &metrics.Metric_Histogram{Histogram: &metrics.Histogram{DataPoints: []*metrics.HistogramDataPoint{{
				TimeUnixNano: 1700000000000000000, Count: 5, Sum: proto.Float64(64), BucketCounts: []uint64{1, 3, 1}, ExplicitBounds: []float64{0, 5},
			}}}}},
		}}},
	}}}
}

// recorder is an unaryServer that keeps the requests it took, decoded
// with the generated OTLP types, and answers with a partial success.
type recorder struct {
	unaryServer
	mu    sync.Mutex
	got   []*colmetrics.ExportMetricsServiceRequest
	calls []Call
}

func newRecorder(t testing.TB) *recorder {
	rec := &recorder{}
	resp, err := proto.Marshal(&colmetrics.ExportMetricsServiceResponse{PartialSuccess: &colmetrics.ExportMetricsPartialSuccess{
		RejectedDataPoints: 2, ErrorMessage: "two points refused"}})
	if err != nil {
		t.Fatal(err)
	}
	rec.answer = func(c Call, msg []byte) ([]byte, error) {
		var req colmetrics.ExportMetricsServiceRequest
		if err := proto.Unmarshal(msg, &req); err != nil {
			return nil, New(InvalidArgument, err.Error())
		}
		rec.mu.Lock()
		rec.got = append(rec.got, &req)
		rec.calls = append(rec.calls, c)
		rec.mu.Unlock()
		return resp, nil
	}
	return rec
}

// TestGRPCExport: grpc-go's generated OTLP client exports to the handler
// over h2c and over TLS, as sent and gzip-compressed; the handler reads
// the request the client sent and the client reads the response.
func TestGRPCExport(t *testing.T) {
	rec := newRecorder(t)
	h2cAddr := serveH2C(t, rec)
	tlsAddr, pool := serveTLS(t, rec)
	req := exportRequest(100)
	for _, tc := range []struct {
		name  string
		addr  string
		creds credentials.TransportCredentials
		opts  []grpc.CallOption
	}{
		{"h2c", h2cAddr, insecure.NewCredentials(), nil},
		{"h2c gzip", h2cAddr, insecure.NewCredentials(), []grpc.CallOption{grpc.UseCompressor(gzip.Name)}},
		{"tls", tlsAddr, credentials.NewClientTLSFromCert(pool, ""), nil},
		{"tls gzip", tlsAddr, credentials.NewClientTLSFromCert(pool, ""), []grpc.CallOption{grpc.UseCompressor(gzip.Name)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.got, rec.calls = nil, nil
			rec.mu.Unlock()
			client := colmetrics.NewMetricsServiceClient(dial(t, tc.addr, tc.creds))
			resp, err := client.Export(context.Background(), req, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if ps := resp.GetPartialSuccess(); ps.GetRejectedDataPoints() != 2 || ps.GetErrorMessage() != "two points refused" {
				t.Fatalf("got response %v; want 2 rejected points", resp)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.got) != 1 || !proto.Equal(rec.got[0], req) {
				t.Fatalf("got %d requests; want the one sent", len(rec.got))
			}
			wantEnc := Identity
			if tc.opts != nil {
				wantEnc = Gzip
			}
			if rec.calls[0].Encoding != wantEnc {
				t.Fatalf("got encoding %v; want %v", rec.calls[0].Encoding, wantEnc)
			}
		})
	}
}

// TestGRPCEcho: concurrent calls of random sizes (up to 256 KiB,
// across HTTP/2 frames and flow-control windows), as sent and compressed,
// each answered with its own message: no call sees another's bytes.
func TestGRPCEcho(t *testing.T) {
	srv := &unaryServer{maxMessage: 1 << 20, answer: func(_ Call, msg []byte) ([]byte, error) { return msg, nil }}
	cc := dial(t, serveH2C(t, srv), insecure.NewCredentials())
	seed := testseed.Seed(t)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			calls := 8
			if testing.Short() {
				calls = 3
			}
			for i := 0; i < calls && !failed.Load(); i++ {
				// Sizes spread over 0 to 256 KiB, log-uniformly.
				msg := make([]byte, (1<<r.IntN(19))-1+r.IntN(64))
				for j := 0; j < len(msg); j += 8 {
					var w [8]byte
					binary.LittleEndian.PutUint64(w[:], r.Uint64()&0x0303030303030303) // compressible
					copy(msg[j:], w[:])
				}
				opts := []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}
				if r.IntN(2) == 0 {
					opts = append(opts, grpc.UseCompressor(gzip.Name))
				}
				var got []byte
				if err := cc.Invoke(context.Background(), exportMethod, &msg, &got, opts...); err != nil {
					failed.Store(true)
					t.Errorf("call of %d bytes: %v", len(msg), err)
					return
				}
				if !bytes.Equal(got, msg) {
					failed.Store(true)
					t.Errorf("call of %d bytes: got %d bytes back, not the message", len(msg), len(got))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestGRPCErrors: what grpc-go's client makes of the handler's errors.
func TestGRPCErrors(t *testing.T) {
	var answer atomic.Pointer[Status]
	srv := &unaryServer{maxMessage: 1 << 10, answer: func(Call, []byte) ([]byte, error) {
		if s := answer.Load(); s != nil {
			return nil, s
		}
		return nil, nil
	}}
	cc := dial(t, serveH2C(t, srv), insecure.NewCredentials())
	small, large := make([]byte, 100), make([]byte, 2<<10)
	for _, tc := range []struct {
		name    string
		answer  *Status
		msg     []byte
		opts    []grpc.CallOption
		code    codes.Code
		text    string
		retry   time.Duration // RetryInfo's delay, if the status has one
		details bool
	}{
		{name: "unavailable with retry info", answer: NewUnavailable("aggregator saturated; retry", 1500*time.Millisecond), msg: small,
			code: codes.Unavailable, text: "aggregator saturated; retry", retry: 1500 * time.Millisecond, details: true},
		{name: "percent-encoded message", answer: New(Internal, "100% é\nline"), msg: small, code: codes.Internal, text: "100% é\nline"},
		{name: "resource exhausted", msg: large, code: codes.ResourceExhausted, text: "grpc: received message larger than max (2048 vs. 1024)"},
		// Refused at its prefix, while the client still has megabytes
		// to send past the flow-control windows.
		{name: "resource exhausted early", msg: make([]byte, 8<<20), code: codes.ResourceExhausted, text: "grpc: received message larger than max (8388608 vs. 1024)"},
		{name: "compressed too large", msg: make([]byte, 64<<10), opts: []grpc.CallOption{grpc.UseCompressor(gzip.Name)},
			code: codes.ResourceExhausted, text: "grpc: received message after decompression larger than max 1024"},
		{name: "unknown encoding", msg: small, opts: []grpc.CallOption{grpc.UseCompressor("x-unknown")},
			code: codes.Unimplemented, text: `grpc: Decompressor is not installed for grpc-encoding "x-unknown"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store(tc.answer)
			var header, trailer metadata.MD
			opts := append([]grpc.CallOption{grpc.ForceCodecV2(rawCodec{}), grpc.Header(&header), grpc.Trailer(&trailer)}, tc.opts...)
			var got []byte
			err := cc.Invoke(context.Background(), exportMethod, &tc.msg, &got, opts...)
			s, ok := status.FromError(err)
			if !ok || s.Code() != tc.code || s.Message() != tc.text {
				t.Fatalf("got %v; want %v %q", err, tc.code, tc.text)
			}
			// Trailers-only: the client saw no header block of its own.
			if len(header) != 0 {
				t.Fatalf("got headers %v; want a trailers-only answer", header)
			}
			if got := trailer.Get("grpc-accept-encoding"); len(got) != 1 || got[0] != AcceptEncoding {
				t.Fatalf("got grpc-accept-encoding %q; want %q", got, AcceptEncoding)
			}
			if !tc.details {
				if len(s.Details()) != 0 {
					t.Fatalf("got details %v; want none", s.Details())
				}
				return
			}
			ds := s.Details()
			if len(ds) != 1 {
				t.Fatalf("got details %v; want one RetryInfo", ds)
			}
			ri, ok := ds[0].(*errdetails.RetryInfo)
			if !ok || ri.RetryDelay.AsDuration() != tc.retry {
				t.Fatalf("got detail %v; want RetryInfo of %v", ds[0], tc.retry)
			}
		})
	}
}

// TestGRPCDeadline: the handler sees the client's deadline.
func TestGRPCDeadline(t *testing.T) {
	rec := newRecorder(t)
	client := colmetrics.NewMetricsServiceClient(dial(t, serveH2C(t, rec), insecure.NewCredentials()))
	for _, timeout := range []time.Duration{0, 250 * time.Millisecond, time.Hour, 1000 * time.Hour} {
		rec.mu.Lock()
		rec.calls = nil
		rec.mu.Unlock()
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if timeout != 0 {
			ctx, cancel = context.WithTimeout(ctx, timeout)
		}
		deadline, _ := ctx.Deadline()
		_, err := client.Export(ctx, exportRequest(1))
		after := time.Now()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		c := rec.calls[0]
		rec.mu.Unlock()
		if timeout == 0 {
			if c.HasTimeout || !c.Deadline.IsZero() {
				t.Fatalf("got %+v; want no deadline", c)
			}
			continue
		}
		// grpc-go sends the time left, rounded up to its unit (at most 8
		// digits: 1 ms for an hour, 1 s for 1000 hours).
		unit := time.Millisecond
		if timeout > 27*time.Hour {
			unit = time.Second
		}
		if !c.HasTimeout || c.Timeout > timeout+unit || c.Deadline.Before(deadline.Add(-unit)) || c.Deadline.After(after.Add(timeout+unit)) {
			t.Fatalf("timeout %v: got %+v; want a deadline in [%v, %v]", timeout, c, deadline.Add(-unit), after.Add(timeout+unit))
		}
	}
}

// h2cClient sends raw requests over h2c with prior knowledge.
func h2cClient(t testing.TB) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestRawRequests: requests grpc-go's client would not send, written as
// HTTP/2 requests: every refusal is trailers-only (the status in the
// header block, no body), nothing of a refused request reaches the
// handler, and a taken call's status is in the trailers.
func TestRawRequests(t *testing.T) {
	var applied atomic.Int64
	srv := &unaryServer{maxMessage: 1 << 10, answer: func(_ Call, msg []byte) ([]byte, error) {
		applied.Add(1)
		return msg, nil
	}}
	url := "http://" + serveH2C(t, srv) + exportMethod
	client := h2cClient(t)
	msg := []byte("one message")
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		body   []byte
		http   int
		status string // grpc-status
		text   string // grpc-message, percent-encoded
		echo   bool   // the call is taken and answered with msg
	}{
		{name: "taken", body: frame(0, uint32(len(msg)), msg), http: 200, status: "0", echo: true},
		{name: "te absent", header: map[string]string{"Te": ""}, body: frame(0, uint32(len(msg)), msg), http: 200, status: "0", echo: true},
		{name: "get", method: "GET", http: 405, status: "13", text: "invalid gRPC request method: want POST"},
		{name: "json", header: map[string]string{"Content-Type": "application/json"}, body: []byte("{}"),
			http: 415, status: "3", text: `invalid gRPC request content-type "application/json"`},
		{name: "bad timeout", header: map[string]string{"Grpc-Timeout": "10"}, body: frame(0, uint32(len(msg)), msg),
			http: 400, status: "13", text: `malformed grpc-timeout: "10"`},
		{name: "unknown encoding", header: map[string]string{"Grpc-Encoding": "br"}, body: frame(0, uint32(len(msg)), msg),
			http: 200, status: "12", text: `grpc: Decompressor is not installed for grpc-encoding "br"`},
		{name: "no message", http: 200, status: "13", text: "grpc: cardinality violation: received no request message from non-client-streaming RPC"},
		{name: "two messages", body: cat(frame(0, 1, []byte("a")), frame(0, 1, []byte("b"))),
			http: 200, status: "13", text: "grpc: cardinality violation: received multiple request messages for non-client-streaming RPC"},
		{name: "stray bytes", body: cat(frame(0, 1, []byte("a")), []byte{0, 0}), http: 200, status: "13", text: "unexpected EOF"},
		{name: "truncated", body: frame(0, 100, msg), http: 200, status: "13", text: "unexpected EOF"},
		{name: "flag without encoding", body: frame(1, uint32(len(msg)), msg), http: 200, status: "13",
			text: "grpc: compressed flag set with identity or empty encoding"},
		{name: "bad flag", body: frame(7, uint32(len(msg)), msg), http: 200, status: "13", text: "grpc: received unexpected payload format 7"},
		{name: "corrupt gzip", header: map[string]string{"Grpc-Encoding": "gzip"}, body: frame(1, uint32(len(msg)), msg),
			http: 200, status: "13", text: "grpc: failed to decompress the received message: gzip: invalid header"},
		{name: "too large", body: frame(0, 5000, make([]byte, 5000)), http: 200, status: "8",
			text: "grpc: received message larger than max (5000 vs. 1024)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := applied.Load()
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("Te", "trailers")
			for k, v := range tc.header {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != 2 || resp.StatusCode != tc.http {
				t.Fatalf("got %s %d; want HTTP/2 %d", resp.Proto, resp.StatusCode, tc.http)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/grpc" {
				t.Fatalf("got content-type %q; want application/grpc", ct)
			}
			if resp.Header.Get("Date") != "" {
				t.Fatalf("got a Date header %q; want none", resp.Header.Get("Date"))
			}
			if tc.echo {
				if !bytes.Equal(body, frame(0, uint32(len(msg)), msg)) || resp.Header.Get("Grpc-Status") != "" ||
					resp.Trailer.Get("Grpc-Status") != "0" || applied.Load() != before+1 {
					t.Fatalf("got body %q, header status %q, trailer %v; want the message framed and grpc-status 0 in the trailers",
						body, resp.Header.Get("Grpc-Status"), resp.Trailer)
				}
				return
			}
			if applied.Load() != before {
				t.Fatal("the handler applied a refused request")
			}
			if len(body) != 0 || len(resp.Trailer) != 0 {
				t.Fatalf("got body %q and trailers %v; want a trailers-only answer", body, resp.Trailer)
			}
			if got := resp.Header.Get("Grpc-Status"); got != tc.status {
				t.Fatalf("got grpc-status %q; want %q", got, tc.status)
			}
			if got := resp.Header.Get("Grpc-Message"); got != tc.text {
				t.Fatalf("got grpc-message %q; want %q", got, tc.text)
			}
			if tc.http == 405 && resp.Header.Get("Allow") != "POST" {
				t.Fatalf("got Allow %q; want POST", resp.Header.Get("Allow"))
			}
		})
	}
}

// TestRawDetails: grpc-status-details-bin is unpadded base64 of the
// google.rpc.Status, which holds the code and the message unencoded.
func TestRawDetails(t *testing.T) {
	want := NewUnavailable("saturé", 2*time.Second)
	srv := &unaryServer{answer: func(Call, []byte) ([]byte, error) { return nil, want }}
	url := "http://" + serveH2C(t, srv) + exportMethod
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(frame(0, 0, nil)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	resp, err := h2cClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	v := resp.Header.Get("Grpc-Status-Details-Bin")
	if strings.HasSuffix(v, "=") {
		t.Fatalf("got %q; want unpadded base64", v)
	}
	b, err := base64.RawStdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	var st spb.Status
	if err := proto.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Code != int32(Unavailable) || st.Message != "saturé" || len(st.Details) != 1 || st.Details[0].TypeUrl != RetryInfoTypeURL {
		t.Fatalf("got %v; want UNAVAILABLE, the message and a RetryInfo", &st)
	}
	if got := resp.Header.Get("Grpc-Message"); got != "satur%C3%A9" {
		t.Fatalf("got grpc-message %q; want satur%%C3%%A9", got)
	}
}

// TestHTTP1: an HTTP/1.1 request, which cannot carry a gRPC call (no
// trailers a client could count on), gets a 505 it can read, as from
// grpc-go's ServeHTTP, over plain HTTP and over TLS.
func TestHTTP1(t *testing.T) {
	srv := &unaryServer{answer: func(Call, []byte) ([]byte, error) { return nil, nil }}
	tlsAddr, pool := serveTLS(t, srv)
	for _, tc := range []struct {
		name string
		url  string
		pool *x509.CertPool
	}{
		{"plain", "http://" + serveH2C(t, srv), nil},
		{"tls", "https://" + tlsAddr, pool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p http.Protocols
			p.SetHTTP1(true)
			tr := &http.Transport{Protocols: &p}
			if tc.pool != nil {
				tr.TLSClientConfig = tlsConfig(tc.pool)
			}
			defer tr.CloseIdleConnections()
			req, err := http.NewRequest(http.MethodPost, tc.url+exportMethod, bytes.NewReader(frame(0, 0, nil)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/grpc")
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.ProtoMajor != 1 || resp.StatusCode != 505 || string(body) != "gRPC requires HTTP/2\n" || resp.Header.Get("Grpc-Status") != "12" {
				t.Fatalf("got %s %d %q grpc-status %q; want HTTP/1.1 505 and a readable reason", resp.Proto, resp.StatusCode, body, resp.Header.Get("Grpc-Status"))
			}
		})
	}
}
