package grpcunary

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
)

// exportCounter exports one counter (requests=42, route=/a) of a
// resource with service.name through the OpenTelemetry Go SDK's gRPC
// exporter made with opts, once (the reader's Shutdown collects and
// exports), and returns what the export returned.
func exportCounter(t *testing.T, opts ...otlpmetricgrpc.Option) error {
	t.Helper()
	ctx := context.Background()
	exp, err := otlpmetricgrpc.New(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", "otel-test"))),
	)
	counter, err := mp.Meter("grpcunary").Int64Counter("requests")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(ctx, 42, metric.WithAttributes(attribute.String("route", "/a")))
	return mp.Shutdown(ctx)
}

// checkCounter checks that req is the export of exportCounter's counter.
func checkCounter(t *testing.T, req *colmetrics.ExportMetricsServiceRequest) {
	t.Helper()
	rms := req.GetResourceMetrics()
	if len(rms) != 1 {
		t.Fatalf("got %d resources; want 1", len(rms))
	}
	found := false
	for _, kv := range rms[0].GetResource().GetAttributes() {
		found = found || (kv.Key == "service.name" && kv.GetValue().GetStringValue() == "otel-test")
	}
	if !found {
		t.Fatalf("got resource %v; want service.name=otel-test", rms[0].GetResource())
	}
	sms := rms[0].GetScopeMetrics()
	if len(sms) != 1 || len(sms[0].GetMetrics()) != 1 {
		t.Fatalf("got %v; want one metric", sms)
	}
	m := sms[0].GetMetrics()[0]
	dps := m.GetSum().GetDataPoints()
	if m.GetName() != "requests" || len(dps) != 1 || dps[0].GetAsInt() != 42 {
		t.Fatalf("got metric %v; want the sum requests=42", m)
	}
	if a := dps[0].GetAttributes(); len(a) != 1 || a[0].Key != "route" || a[0].GetValue().GetStringValue() != "/a" {
		t.Fatalf("got attributes %v; want route=/a", a)
	}
}

// TestOTelExporter: the OpenTelemetry Go SDK's otlpmetricgrpc exporter
// exports a counter to the handler over h2c (as sent and gzip-compressed)
// and over TLS; the handler parses the ExportMetricsServiceRequest.
func TestOTelExporter(t *testing.T) {
	rec := newRecorder(t)
	h2c := serveH2C(t, rec)
	tlsAddr, pool := serveTLS(t, rec)
	for _, tc := range []struct {
		name string
		opts []otlpmetricgrpc.Option
		enc  Encoding
	}{
		{"h2c", []otlpmetricgrpc.Option{otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithEndpoint(h2c)}, Identity},
		{"h2c gzip", []otlpmetricgrpc.Option{otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithEndpoint(h2c), otlpmetricgrpc.WithCompressor("gzip")}, Gzip},
		{"tls", []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpoint(tlsAddr),
			otlpmetricgrpc.WithTLSCredentials(credentials.NewClientTLSFromCert(pool, ""))}, Identity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.got, rec.calls = nil, nil
			rec.mu.Unlock()
			// The exporter returns the handler's partial success as an
			// error: it read the response.
			if err := exportCounter(t, tc.opts...); err == nil || !strings.Contains(err.Error(), "two points refused (2 metric data points rejected)") {
				t.Fatalf("got %v; want the partial success the handler answered", err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.got) != 1 {
				t.Fatalf("got %d requests; want 1", len(rec.got))
			}
			checkCounter(t, rec.got[0])
			if c := rec.calls[0]; c.Encoding != tc.enc || !c.HasTimeout || c.Timeout > 10*time.Second {
				t.Fatalf("got call %+v; want encoding %v and the exporter's 10 s timeout", c, tc.enc)
			}
		})
	}
}

// TestOTelExporterRetry: answered UNAVAILABLE with a RetryInfo, the
// exporter retries, waiting at least the delay the server asked for
// (its own backoff here is 1 ms), and nothing is taken twice: the
// refused attempts applied nothing.
func TestOTelExporterRetry(t *testing.T) {
	const refusals, delay = 2, 150 * time.Millisecond
	saturated := NewUnavailable("aggregator saturated", delay)
	var mu sync.Mutex
	var attempts []time.Time
	var taken []*colmetrics.ExportMetricsServiceRequest
	srv := &unaryServer{answer: func(_ Call, msg []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, time.Now())
		if len(attempts) <= refusals {
			return nil, saturated
		}
		var req colmetrics.ExportMetricsServiceRequest
		if err := proto.Unmarshal(msg, &req); err != nil {
			return nil, New(InvalidArgument, err.Error())
		}
		taken = append(taken, &req)
		return nil, nil
	}}
	addr := serveH2C(t, srv)
	err := exportCounter(t, otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithEndpoint(addr),
		otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: true, InitialInterval: time.Millisecond,
			MaxInterval: time.Millisecond, MaxElapsedTime: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != refusals+1 || len(taken) != 1 {
		t.Fatalf("got %d attempts, %d taken; want %d attempts, 1 taken", len(attempts), len(taken), refusals+1)
	}
	checkCounter(t, taken[0])
	for i := 1; i < len(attempts); i++ {
		if gap := attempts[i].Sub(attempts[i-1]); gap < delay {
			t.Fatalf("attempt %d came %v after the previous; want at least the RetryInfo's %v", i+1, gap, delay)
		}
	}
}

// TestOTelExporterNoRetry: without RetryInfo, RESOURCE_EXHAUSTED (a
// message too large) is final: the exporter does not retry it, and the
// handler never saw it.
func TestOTelExporterNoRetry(t *testing.T) {
	var requests, applied atomic.Int64
	srv := &unaryServer{maxMessage: 10, answer: func(Call, []byte) ([]byte, error) {
		applied.Add(1)
		return nil, nil
	}}
	addr := serveH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		srv.ServeHTTP(w, r)
	}))
	err := exportCounter(t, otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithEndpoint(addr),
		otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: true, InitialInterval: time.Millisecond,
			MaxInterval: time.Millisecond, MaxElapsedTime: time.Minute}))
	if err == nil || !strings.Contains(err.Error(), "ResourceExhausted") {
		t.Fatalf("got %v; want RESOURCE_EXHAUSTED", err)
	}
	if requests.Load() != 1 || applied.Load() != 0 {
		t.Fatalf("got %d requests, %d applied; want 1, 0", requests.Load(), applied.Load())
	}
}
