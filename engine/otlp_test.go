package engine

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelmetric "go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc/credentials"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
)

// The OpenTelemetry Go SDK's exporters, as they ship, against mad's OTLP
// source: gRPC over h2c and over TLS, and OTLP/HTTP with protobuf. Each
// exports counters, up-down counters, gauges, explicit and exponential
// histograms with resource and point attributes, once, with delta
// temporality; mad aggregates each point as MAD does (doc.go of
// ingest/otlp), and the aggregates are checked exactly.

func deltaTemporality(sdkmetric.InstrumentKind) metricdata.Temporality {
	return metricdata.DeltaTemporality
}

// otlpRecord records the test's values through provider mp.
func otlpRecord(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	m := mp.Meter("mad-test")
	ctx := context.Background()
	attrs := otelmetric.WithAttributes(attribute.String("route", "/checkout"), attribute.Int("shard", 3))
	c, err := m.Int64Counter("requests")
	must(t, err)
	c.Add(ctx, 5, attrs)
	c.Add(ctx, 3, attrs)
	c.Add(ctx, 7, otelmetric.WithAttributes(attribute.String("route", "/cart"), attribute.Int("shard", 3)))
	ud, err := m.Float64UpDownCounter("queue.depth")
	must(t, err)
	ud.Add(ctx, 10, attrs)
	ud.Add(ctx, -4.5, attrs)
	g, err := m.Float64Gauge("temperature", otelmetric.WithUnit("Cel"))
	must(t, err)
	g.Record(ctx, 21.5, otelmetric.WithAttributes(attribute.Bool("indoor", true), attribute.Float64("floor", 2)))
	h, err := m.Float64Histogram("latency", otelmetric.WithUnit("ms"))
	must(t, err)
	for _, v := range []float64{0, 1, 2, 3, 58} {
		h.Record(ctx, v, attrs)
	}
	e, err := m.Float64Histogram("size")
	must(t, err)
	for _, v := range []float64{1, 2, 3, 58} {
		e.Record(ctx, v, attrs)
	}
}

// otlpProvider is a meter provider exporting through exp, with the SDK's
// base-2 exponential histogram for "size".
func otlpProvider(t *testing.T, exp sdkmetric.Exporter) *sdkmetric.MeterProvider {
	t.Helper()
	res := resource.NewSchemaless(attribute.String("service.name", "shop"), attribute.String("host.name", "host-1"),
		attribute.String("empty", ""))
	return sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "size"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
}

// otlpWant is what mad must emit for otlpRecord's values: per metric and
// dimensions, count, sum, min and max.
func otlpWant() map[string][4]float64 {
	key := func(name string, kv ...string) string {
		dims := []string{"host.name=host-1", "service=shop", "service.name=shop"}
		for i := 0; i < len(kv); i += 2 {
			dims = append(dims, kv[i]+"="+kv[i+1])
		}
		sortStrings(dims)
		return name + "{" + strings.Join(dims, ",") + "}"
	}
	pt := []string{"route", "/checkout", "shard", "3"}
	return map[string][4]float64{
		key("requests", pt...):                               {1, 8, 8, 8},
		key("requests", "route", "/cart", "shard", "3"):      {1, 7, 7, 7},
		key("queue.depth", pt...):                            {1, 5.5, 5.5, 5.5},
		key("temperature", "floor", "2.0", "indoor", "true"): {1, 21.5, 21.5, 21.5},
		// Milliseconds, normalised to seconds.
		key("latency", pt...): {5, 0.064, 0, 0.058},
		key("size", pt...):    {4, 64, 1, 58},
	}
}

func otlpDaemon(t *testing.T, out *lockedBuffer) (*Daemon, *ingest.HTTPSource) {
	t.Helper()
	d := httpDaemon(t, out, func(pc *pipeline.Config) {
		pc.Shard.GaugeStatistics = hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max)
		pc.Sources = []ingest.SourceConfig{&ingest.HTTPConfig{Name: "otel", Kind: ingest.HTTPOTLP}}
	})
	return d, httpSourceOf(d, ingest.HTTPOTLP)
}

func checkOTLP(t *testing.T, out string) {
	t.Helper()
	checkOTLPTimes(t, out, 1)
}

// checkOTLPTimes checks the aggregates of n exports of otlpRecord's points
// into one bucket: counts and sums n times those of one.
func checkOTLPTimes(t *testing.T, out string, n float64) {
	t.Helper()
	got := map[string][4]float64{}
	for _, l := range parseLines(t, out) {
		var dims []string
		for k, v := range l.Dimensions {
			dims = append(dims, k+"="+v)
		}
		sortStrings(dims)
		st := func(n string) float64 {
			if p := l.Statistics[n]; p != nil {
				return *p
			}
			return math.NaN()
		}
		got[l.Metric+"{"+strings.Join(dims, ",")+"}"] = [4]float64{st("count"), st("sum"), st("min"), st("max")}
	}
	want := otlpWant()
	for k, w := range want {
		w[0], w[1] = n*w[0], n*w[1]
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: not emitted; emitted %v", k, got)
			continue
		}
		for i := range w {
			if math.Abs(g[i]-w[i]) > 1e-12*math.Max(1, math.Abs(w[i])) {
				t.Errorf("%s: count, sum, min, max = %v; want %v", k, g, w)
				break
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("emitted %d series; want %d: %v", len(got), len(want), got)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// exportGRPC records otlpRecord's points with the SDK's gRPC exporter
// (plaintext, gzip) to endpoint, and flushes them.
func exportGRPC(t *testing.T, endpoint string) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(endpoint), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithTemporalitySelector(deltaTemporality), otlpmetricgrpc.WithCompressor("gzip"))
	must(t, err)
	mp := otlpProvider(t, exp)
	otlpRecord(t, mp)
	must(t, mp.ForceFlush(ctx))
	must(t, mp.Shutdown(ctx))
}

func TestOTLPGRPCExporter(t *testing.T) {
	var out lockedBuffer
	d, src := otlpDaemon(t, &out)
	exportGRPC(t, d.HTTPAddr().String())
	// The export of ForceFlush, and Shutdown's (with nothing new). MAD's
	// records are by dimensions and time: 3 dimension sets, whose points
	// the SDK may stamp with different times.
	if st := src.Stats(); st.Accepted < 1 || st.Samples != 6 || st.Records < 3 || st.Records > 6 || st.Bytes == 0 {
		t.Fatalf("source stats %+v; want 6 samples in 3 to 6 records accepted", st)
	}
	d.Stop()
	checkOTLP(t, out.String())
}

func TestOTLPHTTPExporter(t *testing.T) {
	var out lockedBuffer
	d, src := otlpDaemon(t, &out)
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(d.HTTPAddr().String()), otlpmetrichttp.WithInsecure(),
		otlpmetrichttp.WithTemporalitySelector(deltaTemporality), otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	must(t, err)
	mp := otlpProvider(t, exp)
	otlpRecord(t, mp)
	must(t, mp.ForceFlush(ctx))
	must(t, mp.Shutdown(ctx))
	// The export of ForceFlush, and Shutdown's (with nothing new). MAD's
	// records are by dimensions and time: 3 dimension sets, whose points
	// the SDK may stamp with different times.
	if st := src.Stats(); st.Accepted < 1 || st.Samples != 6 || st.Records < 3 || st.Records > 6 || st.Bytes == 0 {
		t.Fatalf("source stats %+v; want 6 samples in 3 to 6 records accepted", st)
	}
	d.Stop()
	checkOTLP(t, out.String())
}

func TestOTLPGRPCExporterTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool := writeCerts(t, dir, "pkcs8")
	main := writeFile(t, dir, "main.conf", fmt.Sprintf(`pipelinesDirectory=%q
httpHost="127.0.0.1"
httpPort=0
httpsHost="127.0.0.1"
httpsPort=0
enableHttps=true
httpsCertificatePath=%q
httpsKeyPath=%q
reloadInterval=0
monitoringSinks=[]
`, filepath.Join(dir, "pipelines"), cert, key))
	out := filepath.Join(dir, "out.jsonl")
	must(t, os.Mkdir(filepath.Join(dir, "pipelines"), 0o755))
	writeFile(t, filepath.Join(dir, "pipelines"), "otel.conf", fmt.Sprintf(`name="otel"
periods=["P3650D"]
gaugeStatistics=["count","sum","min","max"]
sources=[{type="com.arpnetworking.metrics.mad.experimental.sources.OpenTelemetryGrpcSource", name="otel"}]
sinks=[{type="io.gomad.mad.sinks.JsonLinesSink", name="out", path=%q}]
`, out))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	must(t, err)
	ctx := context.Background()
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(d.HTTPSAddr().String()),
		otlpmetricgrpc.WithTLSCredentials(credentials.NewClientTLSFromCert(pool, "")),
		otlpmetricgrpc.WithTemporalitySelector(deltaTemporality))
	must(t, err)
	mp := otlpProvider(t, exp)
	otlpRecord(t, mp)
	must(t, mp.ForceFlush(ctx))
	must(t, mp.Shutdown(ctx))
	d.Stop()
	b, err := os.ReadFile(out)
	must(t, err)
	checkOTLP(t, string(b))
}

// TestOTLPGRPCExporterOwnPort: the SDK's gRPC exporter against the source's
// own OTLP/gRPC port (grpcHost, grpcPort: grpc-go's server), before and
// after a reload that changes the pipeline but keeps the port: the
// aggregates are exact, and the port stays bound (the source is
// retargeted, not reopened).
func TestOTLPGRPCExporterOwnPort(t *testing.T) {
	dir := t.TempDir()
	main := writeFile(t, dir, "main.conf", fmt.Sprintf(`pipelinesDirectory=%q
httpHost="127.0.0.1"
httpPort=0
reloadInterval=0
monitoringSinks=[]
`, filepath.Join(dir, "pipelines")))
	must(t, os.Mkdir(filepath.Join(dir, "pipelines"), 0o755))
	pipelineConf := func(out string) string {
		return fmt.Sprintf(`name="otel"
periods=["P3650D"]
gaugeStatistics=["count","sum","min","max"]
sources=[{type="com.arpnetworking.metrics.mad.experimental.sources.OpenTelemetryGrpcSource", name="otel", grpcHost="127.0.0.1", grpcPort=0}]
sinks=[{type="io.gomad.mad.sinks.JsonLinesSink", name="out", path=%q}]
`, out)
	}
	outs := []string{filepath.Join(dir, "out1.jsonl"), filepath.Join(dir, "out2.jsonl")}
	writeFile(t, filepath.Join(dir, "pipelines"), "otel.conf", pipelineConf(outs[0]))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	must(t, err)
	defer d.Stop()
	src := httpSourceOf(d, ingest.HTTPOTLP)
	if src == nil || src.GRPCAddr() == nil {
		t.Fatalf("no OTLP source with a gRPC port: %v", src)
	}
	addr := src.GRPCAddr().String()
	exportGRPC(t, addr)
	if st := src.Stats(); st.Accepted < 1 || st.Samples != 6 || st.Bytes == 0 {
		t.Fatalf("source stats %+v; want 6 samples accepted", st)
	}
	// A reload to another sink: the shards keep their open bucket, which
	// takes both exports and is emitted once, to the new sink.
	writeFile(t, filepath.Join(dir, "pipelines"), "otel.conf", pipelineConf(outs[1]))
	if r := d.Reload(); len(r.Errors) != 0 || len(r.Updated) != 1 {
		t.Fatalf("reload: %+v", r)
	}
	if now := httpSourceOf(d, ingest.HTTPOTLP); now != src || now.GRPCAddr().String() != addr {
		t.Fatalf("after the reload: source %p at %v; want %p at %s", now, now.GRPCAddr(), src, addr)
	}
	exportGRPC(t, addr)
	d.Stop()
	b, err := os.ReadFile(outs[1])
	must(t, err)
	checkOTLPTimes(t, string(b), 2)
}
