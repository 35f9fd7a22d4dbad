// Command otelcol-bench is madbench's OpenTelemetry Collector peer: the
// Collector's own OTLP receiver (go.opentelemetry.io/collector/receiver/
// otlpreceiver, gRPC and HTTP) feeding a consumer that only counts what it
// is given, which stands for a pipeline ending in a no-op exporter. It is
// its own module so that the Collector's dependencies stay out of mad's.
//
// It listens on loopback ports it picks (or the ones given), then writes
// one line to standard error,
//
//	otelcol-bench ready grpc=127.0.0.1:P http=127.0.0.1:Q metrics=127.0.0.1:R
//
// and serves, on the metrics address, GET /metrics in Prometheus text: the
// requests and data points the consumer was given and the Go runtime's
// cumulative heap allocation, for the harness's end-to-end and
// memory-per-request figures. It stops on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/metrics"
	"sync/atomic"
	"syscall"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

// counts is what the consumer was given.
type counts struct {
	requests, points atomic.Int64
}

// nopHost is the component.Host of a receiver outside a Collector service:
// no extensions.
type nopHost struct{}

func (nopHost) GetExtensions() map[component.ID]component.Component { return nil }

func main() {
	grpcAddr := flag.String("grpc", "127.0.0.1:0", "OTLP/gRPC listen address (port 0: one picked)")
	httpAddr := flag.String("http", "127.0.0.1:0", "OTLP/HTTP listen address (port 0: one picked)")
	metricsAddr := flag.String("metrics", "127.0.0.1:0", "address of GET /metrics")
	flag.Parse()
	if err := run(*grpcAddr, *httpAddr, *metricsAddr); err != nil {
		fmt.Fprintln(os.Stderr, "otelcol-bench:", err)
		os.Exit(1)
	}
}

// freePort returns addr with a port 0 replaced by a port the kernel has
// free (the receiver reports no address it bound).
func freePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func run(grpcAddr, httpAddr, metricsAddr string) error {
	var err error
	if grpcAddr, err = freePort(grpcAddr); err != nil {
		return err
	}
	if httpAddr, err = freePort(httpAddr); err != nil {
		return err
	}
	mln, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return err
	}

	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig()
	conf := confmap.NewFromStringMap(map[string]any{"protocols": map[string]any{
		"grpc": map[string]any{"endpoint": grpcAddr},
		"http": map[string]any{"endpoint": httpAddr},
	}})
	if err := conf.Unmarshal(cfg); err != nil {
		return fmt.Errorf("receiver configuration: %w", err)
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("receiver configuration: %w", err)
		}
	}

	var c counts
	next, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		c.requests.Add(1)
		c.points.Add(int64(md.DataPointCount()))
		return nil
	})
	if err != nil {
		return err
	}
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	logger, err := logCfg.Build()
	if err != nil {
		return err
	}
	set := receiver.Settings{
		ID: component.NewID(factory.Type()),
		TelemetrySettings: component.TelemetrySettings{
			Logger:         logger,
			TracerProvider: nooptrace.NewTracerProvider(),
			MeterProvider:  noopmetric.NewMeterProvider(),
			Resource:       pcommon.NewResource(),
		},
		BuildInfo: component.NewDefaultBuildInfo(),
	}
	rcv, err := factory.CreateMetrics(context.Background(), set, cfg, next)
	if err != nil {
		return err
	}
	if err := rcv.Start(context.Background(), nopHost{}); err != nil {
		return err
	}

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(s)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE otelcol_bench_requests_total counter\notelcol_bench_requests_total %d\n", c.requests.Load())
		fmt.Fprintf(w, "# TYPE otelcol_bench_data_points_total counter\notelcol_bench_data_points_total %d\n", c.points.Load())
		fmt.Fprintf(w, "# TYPE go_memstats_alloc_bytes_total counter\ngo_memstats_alloc_bytes_total %d\n", s[0].Value.Uint64())
	})}
	go srv.Serve(mln)

	fmt.Fprintf(os.Stderr, "otelcol-bench ready grpc=%s http=%s metrics=%s\n", grpcAddr, httpAddr, mln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	err = rcv.Shutdown(context.Background())
	srv.Close()
	fmt.Fprintf(os.Stderr, "otelcol-bench stopped requests=%d points=%d\n", c.requests.Load(), c.points.Load())
	return err
}
