package hocon

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectorDir holds MAD's shipped configuration files.
const vectorDir = "../../testdata/mad/config"

// parseVector parses one of MAD's files with the given environment and
// file-system mapping (never the real environment).
func parseVector(t *testing.T, name string, env map[string]string, read func(string) ([]byte, error)) (*Value, error) {
	t.Helper()
	path := filepath.Join(vectorDir, name)
	if read == nil {
		read = os.ReadFile
	}
	return ParseFile(path, Options{Env: mapEnv(env), ReadFile: read})
}

func mustVector(t *testing.T, name string, env map[string]string) *Value {
	t.Helper()
	v, err := parseVector(t, name, env, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func get(t *testing.T, v *Value, path ...string) *Value {
	t.Helper()
	got, ok := v.Path(path...)
	if !ok {
		t.Fatalf("%s missing", strings.Join(path, " / "))
	}
	return got
}

func wantString(t *testing.T, v *Value, want string, path ...string) {
	t.Helper()
	got := get(t, v, path...)
	if got.Kind != String || got.Str != want {
		t.Errorf("%s = %v %q, want string %q", strings.Join(path, " / "), got.Kind, got.Str, want)
	}
}

// element returns the element of array v whose field name is name.
func element(t *testing.T, v *Value, name string) *Value {
	t.Helper()
	for _, e := range v.Arr {
		if n, ok := e.Path("name"); ok && n.Str == name {
			return e
		}
	}
	t.Fatalf("no element named %q", name)
	return nil
}

func TestVectorConfig(t *testing.T) {
	v := mustVector(t, "config.conf", nil)
	port := get(t, v, "httpPort")
	if port.Kind != Number || port.Str != "7090" {
		t.Errorf("httpPort = %v %q, want number 7090", port.Kind, port.Str)
	}
	if p := get(t, v, "enableHttps"); p.Kind != Bool || !p.Bool {
		t.Errorf("enableHttps = %s", p.JSON())
	}
	wantString(t, v, "config/pipelines", "pipelinesDirectory")
	pekko := get(t, v, "pekkoConfiguration", "pekko")
	wantString(t, pekko, "on", "actor", "debug", "unhandled")
	wantString(t, pekko, "infinite", "http", "server", "parsing", "max-content-length")
	if e := get(t, pekko, "http", "server", "preview", "enable-http2"); e.Kind != String || e.Str != "on" {
		t.Errorf("enable-http2 = %s", e.JSON())
	}
	if l := get(t, pekko, "loggers"); l.Kind != Array || len(l.Arr) != 1 || l.Arr[0].Str != "org.apache.pekko.event.slf4j.Slf4jLogger" {
		t.Errorf("loggers = %s", l.JSON())
	}
	want := []string{"pipelinesDirectory", "httpHost", "httpPort", "httpsHost", "httpsPort", "enableHttps", "monitoringCluster", "logDirectory", "pekkoConfiguration"}
	if got := v.Obj.Keys; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("keys %v, want %v", got, want)
	}
	// actor.debug.unhandled and the http.* paths merge into one pekko object.
	if keys := strings.Join(pekko.Obj.Keys, ","); keys != "loggers,loglevel,stdout-loglevel,logging-filter,actor,http" {
		t.Errorf("pekko keys %s", keys)
	}
}

func kafkaConfigs(t *testing.T, v *Value) *Value {
	t.Helper()
	return get(t, element(t, get(t, v, "sources"), "kafka_source"), "consumer", "configs")
}

func TestVectorPipelineKafka(t *testing.T) {
	for _, c := range []struct {
		name      string
		env       map[string]string
		bootstrap string
		clientID  string
	}{
		{"no environment", nil, "localhost:9092", "default"},
		{"bootstrap host and port", map[string]string{"KAFKA_SOURCE_BOOTSTRAP_HOST": "kafka1", "KAFKA_SOURCE_BOOTSTRAP_PORT": "29092"}, "kafka1:29092", "default"},
		{"host only", map[string]string{"KAFKA_SOURCE_BOOTSTRAP_HOST": "kafka1"}, "kafka1:9092", "default"},
		{"hostname", map[string]string{"HOSTNAME": "box7"}, "localhost:9092", "box7"},
		{"hostname and consumer id", map[string]string{"HOSTNAME": "box7", "KAFKA_SOURCE_BOOTSTRAP_CONSUMER_ID": "consumer-3"}, "localhost:9092", "consumer-3"},
		{"consumer id only", map[string]string{"KAFKA_SOURCE_BOOTSTRAP_CONSUMER_ID": "consumer-3"}, "localhost:9092", "consumer-3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			configs := kafkaConfigs(t, mustVector(t, "pipeline.conf", c.env))
			wantString(t, configs, c.bootstrap, "bootstrap.servers")
			wantString(t, configs, c.clientID, "client.id")
			wantString(t, configs, "metrics-aggregator-daemon", "group.id")
			if _, nested := configs.Path("bootstrap"); nested {
				t.Error(`"bootstrap.servers" was split into a path`)
			}
			want := "bootstrap.servers,group.id,client.id,key.deserializer,value.deserializer,auto.offset.reset"
			if got := strings.Join(configs.Obj.Keys, ","); got != want {
				t.Errorf("configs keys %s, want %s", got, want)
			}
		})
	}
}

func TestVectorPipelineSinks(t *testing.T) {
	v := mustVector(t, "pipeline.conf", nil)
	if m := get(t, v, "telemetry_min_period"); m.Kind != Null {
		t.Errorf("telemetry_min_period = %s, want null", m.JSON())
	}
	wantString(t, v, "1000", "periodic_statistics_interval")
	sinks := get(t, v, "sinks")
	if len(sinks.Arr) != 3 {
		t.Fatalf("%d sinks", len(sinks.Arr))
	}
	wantString(t, sinks.Arr[0], "1000", "intervalInMilliseconds")
	if m := get(t, sinks.Arr[1], "excludeLessThan"); m.Kind != Null {
		t.Errorf("excludeLessThan = %s, want null", m.JSON())
	}
	wantString(t, sinks.Arr[1], "PT1S", "excludeGreaterThan")
	last := sinks.Arr[len(sinks.Arr)-1]
	wantString(t, last, "http://localhost:7066/metrics/v1/data/persist", "sink", "uri")
	wantString(t, last, "PT1M", "excludeLessThan")

	env := map[string]string{
		"CLUSTER_AGGREGATOR_HOST": "cagg.example", "CLUSTER_AGGREGATOR_PORT": "8080",
		"PERIODIC_STATISTICS_INTERVAL": "500", "TELEMETRY_MIN_PERIOD": "PT1M",
	}
	v = mustVector(t, "pipeline.conf", env)
	sinks = get(t, v, "sinks")
	wantString(t, sinks.Arr[2], "http://cagg.example:8080/metrics/v1/data/persist", "sink", "uri")
	wantString(t, sinks.Arr[0], "500", "intervalInMilliseconds")
	wantString(t, sinks.Arr[1], "PT1M", "excludeLessThan")
	wantString(t, v, "PT1M", "telemetry_min_period")
}

func TestVectorPipelineMappings(t *testing.T) {
	v := mustVector(t, "pipeline.conf", nil)
	sources := get(t, v, "sources")
	names := make([]string, len(sources.Arr))
	for i, s := range sources.Arr {
		names[i] = get(t, s, "name").Str
	}
	want := "http_v1_source,http_v2_source,http_v3_source,prometheus_source,statsd_source,graphite_plaintext_source,telegraftcp_mapping_source,collectd_mapping_source,kafka_source"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("sources %s", got)
	}
	if _, ok := element(t, sources, "statsd_source").Path("port"); ok {
		t.Error("commented-out port is set")
	}
	telegraf := get(t, element(t, sources, "telegraftcp_mapping_source"), "findAndReplace")
	if r := get(t, telegraf, `\.`); len(r.Arr) != 1 || r.Arr[0].Str != "/" {
		t.Errorf(`findAndReplace["\\."] = %s`, r.JSON())
	}
	collectd := element(t, sources, "collectd_mapping_source")
	far := get(t, collectd, "findAndReplace")
	if len(far.Obj.Keys) != 30 || len(far.Obj.Fields) != 30 {
		t.Fatalf("%d findAndReplace keys", len(far.Obj.Keys))
	}
	const first = `^cpu/([\d]+)/(cpu|percent)/([^/]+)(/value)?`
	if far.Obj.Keys[0] != first {
		t.Errorf("first key %q, want %q", far.Obj.Keys[0], first)
	}
	if r := get(t, far, first); len(r.Arr) != 2 || r.Arr[0].Str != "cpu/$3" || r.Arr[1].Str != "cpu/by_core/$1/$3" {
		t.Errorf("first replacements %s", r.JSON())
	}
	if far.Obj.Keys[29] != `^uptime/uptime(/value)?` || far.Obj.Keys[27] != `^memcached/ps_count/.*` {
		t.Errorf("keys out of file order: %q", far.Obj.Keys)
	}
	if r := get(t, far, `^memcached/ps_count/.*`); r.Kind != Array || len(r.Arr) != 0 {
		t.Errorf("ps_count replacements %s", r.JSON())
	}
	wantString(t, collectd, "com.arpnetworking.metrics.common.sources.CollectdHttpSourceV1", "source", "type")
}

func TestVectorExperimental(t *testing.T) {
	abs, err := filepath.Abs(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	mapped := func(p string) ([]byte, error) {
		if rest, ok := strings.CutPrefix(filepath.ToSlash(p), "/opt/mad/config/"); ok {
			p = filepath.Join(abs, rest)
		}
		return os.ReadFile(p)
	}
	v, err := parseVector(t, "experimental.conf", nil, mapped)
	if err != nil {
		t.Fatal(err)
	}
	base := mustVector(t, "config.conf", nil)
	want := append(append([]string(nil), base.Obj.Keys...), "supplementalHttpRoutesClass")
	if got := strings.Join(v.Obj.Keys, ","); got != strings.Join(want, ",") {
		t.Errorf("keys %s, want %s", got, strings.Join(want, ","))
	}
	routes := get(t, v, "supplementalHttpRoutesClass")
	if !strings.HasSuffix(routes.Str, "OpenTelemetryGrpcSource$Routes") {
		t.Errorf("supplementalHttpRoutesClass = %q", routes.Str)
	}
	if p := get(t, v, "httpPort"); p.Kind != Number || p.Str != "7090" {
		t.Errorf("httpPort = %s", p.JSON())
	}
	if p := get(t, v, "httpPort").Pos; p.File != "/opt/mad/config/config.conf" || p.Line != 8 || p.Col != 10 {
		t.Errorf("httpPort at %s", p)
	}
	wantString(t, v, "infinite", "pekkoConfiguration", "pekko", "http", "server", "parsing", "max-content-length")

	// Without the mapping the required include fails, naming it.
	missing := func(p string) ([]byte, error) {
		if strings.HasPrefix(filepath.ToSlash(p), "/opt/mad/") {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return os.ReadFile(p)
	}
	_, err = parseVector(t, "experimental.conf", nil, missing)
	wantErr(t, err, "experimental.conf:1:1:", `include required(file("/opt/mad/config/config.conf"))`, "not found")
}

func TestVectorExperimentalPipeline(t *testing.T) {
	v := mustVector(t, "experimental-pipeline.conf", nil)
	sources := get(t, v, "sources")
	ts := element(t, sources, "opentelemetry_transforming_source")
	inj := get(t, ts, "transformations")
	if inj.Kind != Array || len(inj.Arr) != 1 {
		t.Fatalf("transformations = %s", inj.JSON())
	}
	dims := get(t, inj.Arr[0], "injectDimensions")
	if got := strings.Join(dims.Obj.Keys, ","); got != "cluster,service" {
		t.Errorf("injectDimensions keys %s", got)
	}
	wantString(t, dims, "test_cluster", "cluster", "value")
	if o := get(t, dims, "service", "overwrite"); o.Kind != Bool || o.Bool {
		t.Errorf("overwrite = %s", o.JSON())
	}
	wantString(t, ts, "com.arpnetworking.metrics.mad.experimental.sources.OpenTelemetryGrpcSource", "source", "type")
	wantString(t, element(t, sources, "statsd_source"), "8125", "port")
	if _, ok := v.Path("kafka_source_bootstrap_host"); ok {
		t.Error("unexpected kafka settings")
	}
	wantString(t, get(t, v, "sinks").Arr[2], "http://localhost:7066/metrics/v1/data/persist", "sink", "uri")
}

// TestVectorsRoundTrip checks that every vector renders to JSON that parses
// back (as JSON and as HOCON) to the same rendering.
func TestVectorsRoundTrip(t *testing.T) {
	for _, name := range []string{"config.conf", "pipeline.conf", "experimental-pipeline.conf"} {
		v := mustVector(t, name, nil)
		j := v.JSON()
		back, err := ParseJSON("back.json", j)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(back.JSON()) != string(j) {
			t.Errorf("%s: JSON round trip differs", name)
		}
		again, err := Parse("back.conf", j, testOptions(nil, nil))
		if err != nil || string(again.JSON()) != string(j) {
			t.Errorf("%s: HOCON round trip differs (%v)", name, err)
		}
	}
}
