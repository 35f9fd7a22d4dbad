package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/sinks/cagg/caggtest"
)

// TestShippedExperimental runs MAD's shipped experimental.conf and
// experimental-pipeline.conf, changed only where a test must (ports to 0,
// the include's and the pipelines directory's paths, a test certificate):
// an OpenTelemetry SDK client exports through the TransformingSource around
// the OpenTelemetryGrpcSource, and its metrics reach the Cluster
// Aggregator with the injected cluster (and the service the resource
// gave, which injection does not overwrite).
func TestShippedExperimental(t *testing.T) {
	schema := caggtest.NewSchema()
	type rec struct {
		service, cluster, metric string
		dims                     map[string]string
	}
	var mu sync.Mutex
	var recs []rec
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f, _, err := caggtest.ReadFrame(body)
		if err != nil {
			t.Errorf("frame: %v", err)
			return
		}
		m, err := caggtest.Unmarshal(schema.StatisticSet, f.Payload)
		if err != nil {
			t.Errorf("record: %v", err)
			return
		}
		fd := schema.StatisticSet.Fields()
		r0 := rec{service: m.Get(fd.ByName("service")).String(), cluster: m.Get(fd.ByName("cluster")).String(),
			metric: m.Get(fd.ByName("metric")).String(), dims: map[string]string{}}
		m.Get(fd.ByName("dimensions")).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			r0.dims[k.String()] = v.String()
			return true
		})
		mu.Lock()
		recs = append(recs, r0)
		mu.Unlock()
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	dir := t.TempDir()
	cert, key, _ := writeCerts(t, dir, "pkcs8")
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	adapt := func(name string, repl map[string]string) string {
		t.Helper()
		text, err := os.ReadFile(filepath.Join(vectorConfigs, name))
		must(t, err)
		lines := strings.Split(string(text), "\n")
		n := 0
		for i, l := range lines {
			if r, ok := repl[strings.TrimSpace(l)]; ok {
				lines[i] = r
				n++
			}
		}
		if n != len(repl) {
			t.Fatalf("MAD's %s changed: %d of the %d lines to adapt found", name, n, len(repl))
		}
		return strings.Join(lines, "\n")
	}
	writeFile(t, pipes, "experimental-pipeline.conf", adapt("experimental-pipeline.conf",
		map[string]string{`port="8125"`: `port="0"`, `port="2003"`: `port="0"`, `port="8094"`: `port="0"`}))
	mainConf := writeFile(t, dir, "config.conf", adapt("config.conf", map[string]string{
		`pipelinesDirectory="config/pipelines"`:       fmt.Sprintf("pipelinesDirectory=%q", pipes),
		`httpHost="0.0.0.0"`:                          `httpHost="127.0.0.1"`,
		`httpPort=7090`:                               "httpPort=0",
		`httpsHost="0.0.0.0"`:                         `httpsHost="127.0.0.1"`,
		`httpsPort=7091`:                              "httpsPort=0",
		`#httpsCertificatePath=/opt/mad/tls/cert.pem`: fmt.Sprintf("httpsCertificatePath=%q", cert),
		`#httpsKeyPath=/opt/mad/tls/key.pem`:          fmt.Sprintf("httpsKeyPath=%q", key),
	}))
	exp := writeFile(t, dir, "experimental.conf", adapt("experimental.conf", map[string]string{
		`include required(file("/opt/mad/config/config.conf"))`: fmt.Sprintf(`include required(file(%q))`, mainConf),
	}))
	d, err := Open(exp, nil, config.LoadOptions{Env: env("CLUSTER_AGGREGATOR_HOST", host, "CLUSTER_AGGREGATOR_PORT", port)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()

	ctx := context.Background()
	ex, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(d.HTTPAddr().String()), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithTemporalitySelector(deltaTemporality))
	must(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "shop"))),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(ex)))
	c, err := mp.Meter("t").Int64Counter("otel.requests")
	must(t, err)
	c.Add(ctx, 5)
	must(t, mp.ForceFlush(ctx))
	must(t, mp.Shutdown(ctx))
	must(t, d.Stop()) // seals the PT1M bucket and drains the Cluster Aggregator sink
	stopped = true

	mu.Lock()
	defer mu.Unlock()
	for _, r := range recs {
		if r.metric == "otel.requests" {
			if r.cluster != "test_cluster" || r.service != "shop" || r.dims["service.name"] != "shop" {
				t.Errorf("record %+v; want cluster test_cluster injected, service shop kept", r)
			}
			return
		}
	}
	t.Errorf("otel.requests did not reach the Cluster Aggregator; got %d records", len(recs))
}
