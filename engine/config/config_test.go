package config

import (
	"fmt"
	"github.com/gomad/mad/sinks/telemetry"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/kafkaprops"
)

const vectorConfigs = "../../testdata/mad/config"

// env returns a LoadOptions.Env over a fixed map (tests never touch the
// process environment).
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestShippedMainConfig(t *testing.T) {
	m, ps := LoadMain(filepath.Join(vectorConfigs, "config.conf"), LoadOptions{Env: env()})
	if len(ps) > 0 || m == nil {
		t.Fatalf("config.conf refused: %v", ps)
	}
	if m.HTTPAddr() != "0.0.0.0:7090" || !m.EnableHTTPS || m.HTTPSPort != 7091 || m.PipelinesDirectory != "config/pipelines" ||
		m.MonitoringCluster != "mad" || m.HealthCheckPath != "/ping" || m.ReloadInterval != time.Minute {
		t.Errorf("config.conf bound as %+v", m)
	}
	for _, k := range []string{"pekkoConfiguration", "logDirectory"} {
		if !slices.Contains(m.JVMOnly, k) {
			t.Errorf("%s not reported as accepted and ignored: %v", k, m.JVMOnly)
		}
	}
}

// TestMonitoringSinks: mad feeds its own metrics back (MAD's default
// monitoring sink posts to MAD's own V3 route) unless monitoringSinks is an
// empty list, which leaves MAD's client without a sink; metricsClientHost
// or metricsClientPort bring MAD's loop-back back whatever monitoringSinks
// says.
func TestMonitoringSinks(t *testing.T) {
	for _, c := range []struct {
		text    string
		loop    bool
		jvmOnly bool
		problem string
	}{
		{text: "", loop: true},
		{text: "monitoringSinks=null", loop: true},
		{text: "monitoringSinks=[]", loop: false},
		{text: "monitoringSinks=[]\nmetricsClientPort=7090", loop: true, jvmOnly: true},
		{text: `monitoringSinks=[{class="com.arpnetworking.metrics.impl.ApacheHttpSink", uri="http://localhost:7090/metrics/v3/application"}]`, loop: true, jvmOnly: true},
		{text: "monitoringSinks=1", problem: "monitoringSinks: must be a list, not a number"},
	} {
		m, ps := ParseMain("main.conf", []byte("pipelinesDirectory=p\n"+c.text), LoadOptions{Env: env()})
		if c.problem != "" {
			if m != nil || len(ps) != 1 || !strings.Contains(ps[0].Error(), c.problem) {
				t.Errorf("%q: %v; want %q", c.text, ps, c.problem)
			}
			continue
		}
		if m == nil {
			t.Fatalf("%q: %v", c.text, ps)
		}
		if m.LoopBack != c.loop || (len(m.JVMOnly) > 0) != c.jvmOnly {
			t.Errorf("%q: loop-back %v, JVM-only keys %q; want %v, %v", c.text, m.LoopBack, m.JVMOnly, c.loop, c.jvmOnly)
		}
	}
	if m, _ := ParseMain(DefaultConfigName, DefaultConfigText, LoadOptions{Env: env()}); m.LoopBack {
		t.Error("the default configuration feeds mad's own metrics back into its output")
	}
}

func TestShippedExperimentalConfigIncludesMain(t *testing.T) {
	abs, _ := filepath.Abs(vectorConfigs)
	opt := LoadOptions{Env: env(), ReadFile: func(p string) ([]byte, error) {
		if rest, ok := strings.CutPrefix(p, "/opt/mad/config/"); ok {
			p = filepath.Join(abs, rest)
		}
		return os.ReadFile(p)
	}}
	m, ps := LoadMain(filepath.Join(vectorConfigs, "experimental.conf"), opt)
	if len(ps) > 0 || m == nil {
		t.Fatalf("experimental.conf refused: %v", ps)
	}
	if m.HTTPPort != 7090 || !slices.Contains(m.JVMOnly, "supplementalHttpRoutesClass") {
		t.Errorf("experimental.conf bound as %+v", m)
	}
	// Without the file the include names is an error naming it.
	_, ps = LoadMain(filepath.Join(vectorConfigs, "experimental.conf"), LoadOptions{Env: env(), ReadFile: func(p string) ([]byte, error) {
		if strings.HasPrefix(p, "/opt/") {
			return nil, os.ErrNotExist
		}
		return os.ReadFile(p)
	}})
	if len(ps) == 0 || !strings.Contains(ps.Error(), "config.conf") {
		t.Errorf("missing include not reported: %v", ps)
	}
}

// unavailableClasses returns the class names of the unavailable problems
// and fails on any other problem.
func unavailableClasses(t *testing.T, ps Problems) []string {
	t.Helper()
	var out []string
	for _, p := range ps {
		if !p.Unavailable {
			t.Errorf("unexpected problem: %v", p)
			continue
		}
		f := strings.Fields(p.Msg)
		out = append(out, f[1][strings.LastIndexByte(f[1], '.')+1:])
		if p.Pos.Line == 0 || !strings.HasSuffix(p.Pos.File, ".conf") {
			t.Errorf("problem without a position: %v", p)
		}
	}
	slices.Sort(out)
	return out
}

// TestShippedPipelineRuns: MAD's shipped pipeline.conf, its KafkaSource
// included, loads without a problem and builds, the Kafka source with
// MAD's consumer properties mapped.
func TestShippedPipelineRuns(t *testing.T) {
	path := filepath.Join(vectorConfigs, "pipeline.conf")
	spec, ps := LoadPipeline(path, LoadOptions{Env: env()})
	if spec == nil || len(ps) > 0 {
		t.Fatalf("pipeline.conf refused: %v", ps)
	}
	srcs, err := (&Builder{}).Sources(spec)
	if err != nil {
		t.Fatal(err)
	}
	var k *ingest.KafkaConfig
	for _, s := range srcs {
		if c, ok := s.(*ingest.KafkaConfig); ok {
			k = c
		}
	}
	if k == nil || k.Name != "kafka_source" || !slices.Equal(k.Topics, []string{"topic"}) || k.PollTime != time.Second ||
		k.BackoffTime != time.Second || k.ShutdownAwait != 10*time.Second || k.MaxRecords != 1000 || len(k.Props) != 6 {
		t.Fatalf("kafka source built as %+v", k)
	}
	if ps := kafkaprops.Problems(k.Props); len(ps) > 0 {
		t.Errorf("MAD's consumer properties: %v", ps)
	}
}

func bindShippedPipeline(t *testing.T, e func(string) (string, bool)) *PipelineSpec {
	t.Helper()
	spec, ps := LoadPipeline(filepath.Join(vectorConfigs, "pipeline.conf"), LoadOptions{Env: e, SkipUnavailable: true})
	if spec == nil {
		t.Fatalf("refused with SkipUnavailable: %v", ps)
	}
	unavailableClasses(t, ps)
	return spec
}

func find[T any](specs []ClassSpec, name string) T {
	var zero T
	for _, s := range specs {
		if s.Name == name {
			c, _ := s.Conf.(T)
			return c
		}
		var inner []ClassSpec
		switch c := s.Conf.(type) {
		case *PeriodFilteringSinkConf:
			inner = []ClassSpec{c.Sink}
		case *MappingSourceConf:
			inner = []ClassSpec{c.Source}
		}
		if len(inner) > 0 {
			if c, ok := any(find[T](inner, name)).(T); ok && !isNil(c) {
				return c
			}
		}
	}
	return zero
}

func isNil(v any) bool {
	switch p := v.(type) {
	case *KafkaSourceConf:
		return p == nil
	case *HTTPPostSinkConf:
		return p == nil
	case *PeriodFilteringSinkConf:
		return p == nil
	case *PeriodicStatisticsSinkConf:
		return p == nil
	case *StatsdSourceConf:
		return p == nil
	case *MappingSourceConf:
		return p == nil
	}
	return v == nil
}

func kv(kvs []KV, k string) string {
	for _, e := range kvs {
		if e.Key == k {
			return e.Value
		}
	}
	return "<absent>"
}

func TestShippedPipelineBindsWithDefaults(t *testing.T) {
	spec := bindShippedPipeline(t, env())
	if spec.Name != "example_pipeline" || !slices.Equal(spec.Shard.Periods, []time.Duration{time.Second, time.Minute}) || spec.MaxSeries != 0 ||
		spec.Shard.IdleTimeout != 5*time.Minute || spec.Shard.TimerStatistics != hist.SetOf(hist.Median, hist.TP90, hist.TP99, hist.Mean, hist.Count) {
		t.Errorf("pipeline bound as %+v", spec)
	}
	if len(spec.Sources) != 9 || len(spec.Sinks) != 3 {
		t.Fatalf("%d sources, %d sinks", len(spec.Sources), len(spec.Sinks))
	}
	st := find[*StatsdSourceConf](spec.Sources, "statsd_source")
	if st == nil || st.Host != "0.0.0.0" || st.Port != 8125 || st.Decoder != (statsd.Config{}) {
		t.Errorf("statsd_source bound as %+v", st)
	}
	k := find[*KafkaSourceConf](spec.Sources, "kafka_source")
	if k == nil || kv(k.Configs, "bootstrap.servers") != "localhost:9092" || kv(k.Configs, "client.id") != "default" ||
		k.PollTime != time.Second || k.ShutdownAwaitTime != 10*time.Second || !slices.Equal(k.Topics, []string{"topic"}) {
		t.Errorf("kafka_source bound as %+v", k)
	}
	m := find[*MappingSourceConf](spec.Sources, "collectd_mapping_source")
	if m == nil || len(m.FindAndReplace) != 30 || m.FindAndReplace[0].Key != `^cpu/([\d]+)/(cpu|percent)/([^/]+)(/value)?` ||
		!slices.Equal(m.FindAndReplace[0].Values, []string{"cpu/$3", "cpu/by_core/$1/$3"}) || len(m.FindAndReplace[28].Values) != 0 {
		t.Errorf("collectd mapping bound as %+v", m)
	}
	tele := find[*PeriodFilteringSinkConf](spec.Sinks, "telemetry_period_filtering_sink")
	if tele == nil || tele.ExcludeLessThan != 0 || tele.ExcludeGreaterThan != time.Second {
		t.Errorf("telemetry filter bound as %+v", tele)
	}
	http := find[*HTTPPostSinkConf](spec.Sinks, "cluster_http_sink")
	if http == nil || http.URI != "http://localhost:7066/metrics/v1/data/persist" || http.MaximumQueueSize != 25000 ||
		!slices.Equal(http.AcceptedStatusCodes, []int{200, 201, 202, 204}) {
		t.Errorf("cluster sink bound as %+v", http)
	}
	ps := find[*PeriodicStatisticsSinkConf](spec.Sinks, "periodic_statistics_sink")
	if ps == nil || ps.Interval != time.Second || ps.PeriodDimensionName != "_period" {
		t.Errorf("periodic statistics sink bound as %+v", ps)
	}
}

func TestShippedPipelineEnvironmentOverrides(t *testing.T) {
	spec := bindShippedPipeline(t, env(
		"KAFKA_SOURCE_BOOTSTRAP_HOST", "kafka1", "KAFKA_SOURCE_BOOTSTRAP_PORT", "29092",
		"HOSTNAME", "host-7", "KAFKA_SOURCE_BOOTSTRAP_CONSUMER_ID", "consumer-9",
		"PERIODIC_STATISTICS_INTERVAL", "250", "TELEMETRY_MIN_PERIOD", "PT1S", "TELEMETRY_MAX_PERIOD", "PT1M",
		"CLUSTER_AGGREGATOR_MIN_PERIOD", "PT5M", "CLUSTER_AGGREGATOR_HOST", "cagg.internal", "CLUSTER_AGGREGATOR_PORT", "7067",
	))
	k := find[*KafkaSourceConf](spec.Sources, "kafka_source")
	if kv(k.Configs, "bootstrap.servers") != "kafka1:29092" || kv(k.Configs, "client.id") != "consumer-9" {
		t.Errorf("kafka overrides not applied: %+v", k.Configs)
	}
	tele := find[*PeriodFilteringSinkConf](spec.Sinks, "telemetry_period_filtering_sink")
	if tele.ExcludeLessThan != time.Second || tele.ExcludeGreaterThan != time.Minute {
		t.Errorf("telemetry overrides not applied: %+v", tele)
	}
	cagg := find[*PeriodFilteringSinkConf](spec.Sinks, "cluster_http_period_filtering_sink")
	if cagg.ExcludeLessThan != 5*time.Minute {
		t.Errorf("cluster filter override not applied: %+v", cagg)
	}
	if u := find[*HTTPPostSinkConf](spec.Sinks, "cluster_http_sink").URI; u != "http://cagg.internal:7067/metrics/v1/data/persist" {
		t.Errorf("uri %q", u)
	}
	if i := find[*PeriodicStatisticsSinkConf](spec.Sinks, "periodic_statistics_sink").Interval; i != 250*time.Millisecond {
		t.Errorf("interval %v", i)
	}
	// HOSTNAME alone names the consumer.
	spec = bindShippedPipeline(t, env("HOSTNAME", "host-7"))
	if c := kv(find[*KafkaSourceConf](spec.Sources, "kafka_source").Configs, "client.id"); c != "host-7" {
		t.Errorf("client.id %q with HOSTNAME set", c)
	}
}

func TestShippedExperimentalPipeline(t *testing.T) {
	spec, ps := LoadPipeline(filepath.Join(vectorConfigs, "experimental-pipeline.conf"), LoadOptions{Env: env(), SkipUnavailable: true})
	if spec == nil {
		t.Fatal(ps)
	}
	if got := unavailableClasses(t, ps); len(got) != 0 {
		t.Errorf("classes reported unavailable: %v", got)
	}
	var tr *TransformingSourceConf
	for _, s := range spec.Sources {
		if c, ok := s.Conf.(*TransformingSourceConf); ok {
			tr = c
		}
	}
	if tr == nil || len(tr.Transformations) != 1 || len(tr.Transformations[0].InjectDimensions) != 2 ||
		tr.Transformations[0].InjectDimensions[0] != (InjectDimension{Key: "cluster", Value: "test_cluster"}) {
		t.Errorf("TransformingSource bound as %+v", tr)
	}
}

func TestDefaultConfig(t *testing.T) {
	m, ps := ParseMain(DefaultConfigName, DefaultConfigText, LoadOptions{Env: env()})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if len(m.Pipelines) != 1 || m.HTTPAddr() != "0.0.0.0:7090" || len(m.Unknown) > 0 {
		t.Fatalf("default config bound as %+v", m)
	}
	hub := telemetry.NewHub(telemetry.HubConfig{})
	defer hub.Close()
	cfg, err := (&Builder{HTTP: m.HTTP, Hub: hub}).Pipeline(m.Pipelines[0])
	if err != nil {
		t.Fatal(err)
	}
	defer CloseSinks(cfg.Sinks)
	var keys []string
	for _, s := range cfg.Sources {
		keys = append(keys, s.SourceKey())
	}
	want := []string{"http /metrics/v1/application", "http /metrics/v2/application", "http /metrics/v3/application",
		"http /metrics/v1/collectd", "http /metrics/prometheus", "http /opentelemetry.proto.collector.metrics.v1.MetricsService/Export", "udp 0.0.0.0:8125", "tcp 0.0.0.0:8125"}
	if !slices.Equal(keys, want) || len(cfg.Sinks) != 2 {
		t.Errorf("default pipeline built with sources %q and %d sinks; want %q and 2 (JSON lines, telemetry)", keys, len(cfg.Sinks), want)
	}
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInvalidValuesAreReportedWithPosition(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"port", "name=p\nsources=[{type=StatsdSource, name=s,\n port=\"abc\"}]", `p.conf:3:7: sources[0].port: must be an integer, not "abc"`},
		{"port range", "name=p\nsources=[{type=StatsdSource, name=s, port=70000}]", "sources[0].port: must be between 0 and 65535"},
		{"a list's element", "name=p\nsinks=[{type=AggregationServerHttpSink, name=h, uri=\"http://x/\", acceptedStatusCodes=[200, \"abc\"]}]",
			`sinks[0].acceptedStatusCodes[1]: must be an integer, not "abc"`},
		{"period", "name=p\nperiods=[\"PT1X\"]", `periods[0]: must be an ISO-8601 duration`},
		{"sub-millisecond period", "name=p\nperiods=[\"PT0.0005S\"]", `a period must be a positive whole number of milliseconds`},
		{"statistic", "name=p\nstatistics={ \"metric-name\"=[\"tp65\"] }", `statistics.metric-name: unknown statistic "tp65"`},
		{"empty statistics", "name=p\ngaugeStatistics=[]", `gaugeStatistics: empty statistics set`},
		{"unknown class", "name=p\nsinks=[{type=com.example.Nope, name=x}]", `sinks[0].type: unknown sink class "com.example.Nope"`},
		{"wrong kind", "name=p\nsources=[{type=PeriodFilteringSink, name=x}]", `is a sink, not a source`},
		{"missing name", "sources=[]", `name: is required`},
		{"missing type", "name=p\nsinks=[{name=x}]", `sinks[0].type: is required`},
		{"nested sink", "name=p\nsinks=[{type=PeriodFilteringSink, name=f, excludeLessThan=\"1s\", sink={type=JsonLinesSink, name=j}}]", `sinks[0].excludeLessThan: must be an ISO-8601 duration`},
		{"regexp", "name=p\nstatistics={ \"(?<=a)b\"=[\"max\"] }", `no look-around`},
		{"syntax", "name=p\nsources=[{", `p.conf:2`},
		{"undefined substitution", "name=${nope}", `nope`},
		{"tcp without port", "name=p\nsources=[{type=TcpLineSource, name=t, parser={type=StatsdToRecordParser}}]", `sources[0].port: is required`},
		{"bool", "name=p\nsources=[{type=StatsdSource, name=s, negativeGaugeDelta=maybe}]", `negativeGaugeDelta: must be true or false`},
		{"enum", "name=p\nsources=[{type=StatsdSource, name=s, sampleRateMode=sometimes}]", `sampleRateMode: must be one of resample, scale`},
		{"series limit zero", "name=p\nmaxSeries=0", `maxSeries: must be between 1 and 2147483648, not 0`},
		{"series limit negative", "name=p\nmaxSeries=-5", `maxSeries: must be between 1 and 2147483648`},
		{"series limit too large", "name=p\nmaxSeries=4294967296", `maxSeries: must be between 1 and 2147483648`},
		{"series limit not a number", "name=p\nmaxSeries=lots", `maxSeries: must be an integer, not "lots"`},
		{"relay without destinations", "name=p\nsources=[{type=StatsdSource, name=s, relay={}}]", `relay.destinations: must be a non-empty list`},
		{"relay destination", "name=p\nsources=[{type=StatsdSource, name=s, relay={destinations=[\"nohost\"]}}]", `relay.destinations[0]: "nohost" is not host:port`},
		{"relay twice", "name=p\nsources=[{type=StatsdSource, name=s, relay={destinations=[\"a:1\", \"a:1\"]}}]", `relay.destinations[1]: "a:1" is listed twice`},
		{"relay probe", "name=p\nsources=[{type=StatsdSource, name=s, relay={destinations=[{address=\"a:1\", probe=\"udp://a:2\"}]}}]", `want tcp://host:port or http://host:port/path`},
		{"relay malformedTo", "name=p\nsources=[{type=StatsdSource, name=s, relay={destinations=[\"a:1\"], malformedTo=\"b:2\"}}]", `malformedTo: "b:2" is not one of the destinations`},
		{"relay tcp probe", "name=p\nsources=[{type=StatsdSource, name=s, relay={destinations=[{address=\"tcp://a:1\", probe=\"tcp://a:2\"}]}}]", `a tcp:// destination is up while connected`},
		{"relay datagram", "name=p\nsources=[{type=StatsdSource, name=s, relay={destinations=[\"a:1\"], maxDatagram=70000}}]", `maxDatagram: must be between 64 and 65507`},
		{"relay too many", "name=p\nsources=[{type=StatsdSource, name=s, relay={destinations=[" + func() string {
			var ds []string
			for i := range 257 {
				ds = append(ds, fmt.Sprintf("\"a:%d\"", i+1))
			}
			return strings.Join(ds, ", ")
		}() + "]}}]", `relay.destinations: lists 257 destinations; a relay takes 256 at most`},
		{"unix socket mode", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=/tmp/d.sock, unixSocketMode=rw}]", `sources[0].unixSocketMode: must be permission bits in octal, at most 0777 (as "0660"), not "rw"`},
		{"unix socket mode not octal", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=/tmp/d.sock, unixSocketMode=\"0680\"}]", `not "0680"`},
		{"unix socket mode sticky", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=/tmp/d.sock, unixSocketMode=\"01666\"}]", `not "01666"`},
		{"unix socket mode unwritable", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=/tmp/d.sock, unixSocketMode=\"0444\"}]", `"0444" lets nobody send`},
		{"unix socket mode alone", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketMode=\"0660\"}]", `unixSocketMode: applies to unixSocketPath's socket, which is not set`},
		{"unix socket path empty", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=\"\"}]", `unixSocketPath: must not be empty`},
		{"unix socket path too long", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=\"/run/" + strings.Repeat("m", 103) + "\"}]", `is 108 bytes long; at most 107 fit`},
		{"unix socket path abstract", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=\"@dsd\"}]", `abstract namespace`},
		{"unix socket and port", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=/tmp/d.sock, port=8125}]", `sources[0].port: a StatsdSource with unixSocketPath listens on that socket only`},
		{"unix socket and host", "name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=/tmp/d.sock, host=\"0.0.0.0\"}]", `sources[0].host: a StatsdSource with unixSocketPath`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "p.conf", tc.text)
			spec, ps := LoadPipeline(p, LoadOptions{Env: env()})
			if spec != nil {
				t.Fatalf("accepted: %+v", spec)
			}
			if !strings.Contains(ps.Error(), tc.want) {
				t.Errorf("problems\n%v\ndo not contain %q", ps, tc.want)
			}
			if !strings.Contains(ps.Error(), p) {
				t.Errorf("problems do not name the file: %v", ps)
			}
		})
	}
}

func TestCoercionsAndAliases(t *testing.T) {
	p := writeFile(t, t.TempDir(), "p.json", `{
  "name": "j",
  "periods": ["PT0.5S", "PT1M", "PT1M", "P1D"],
  "idleTimeout": 600,
  "maxSeries": "1e6",
  "counterStatistics": ["sum", "p99", "tp50"],
  "unknownKey": {"anything": [1, 2]},
  "sources": [{"type": "com.arpnetworking.metrics.common.sources.StatsdSource", "name": "s", "port": "8126", "poolSize": "2",
               "sampleRateMode": "scale", "negativeGaugeDelta": "true"}],
  "sinks": [{"type": "PeriodFilteringSink", "name": "f", "excludeLessThan": null, "include": ["PT1M"],
             "sink": {"type": "io.gomad.mad.sinks.JsonLinesSink", "name": "j", "path": "-"}}]
}`)
	spec, ps := LoadPipeline(p, LoadOptions{Env: env()})
	if spec == nil || len(ps) > 0 {
		t.Fatal(ps)
	}
	if !slices.Equal(spec.Shard.Periods, []time.Duration{500 * time.Millisecond, time.Minute, 24 * time.Hour}) || spec.Shard.IdleTimeout != 10*time.Minute ||
		spec.Shard.CounterStatistics != hist.SetOf(hist.Sum, hist.TP99, hist.Median) || spec.MaxSeries != 1_000_000 {
		t.Errorf("bound as %+v, maxSeries %d", spec.Shard, spec.MaxSeries)
	}
	st := spec.Sources[0].Conf.(*StatsdSourceConf)
	if st.Port != 8126 || st.Host != "localhost" || st.Decoder.RateMode != statsd.RateScale || !st.Decoder.NegativeGaugeDelta {
		t.Errorf("statsd source bound as %+v", st)
	}
	if len(spec.Unknown) != 1 || !strings.Contains(spec.Unknown[0], "unknownKey") {
		t.Errorf("unknown keys %v", spec.Unknown)
	}
	// Strict JSON: a comment is an error.
	bad := writeFile(t, t.TempDir(), "bad.json", "{\"name\": \"x\" // no\n}")
	if spec, _ := LoadPipeline(bad, LoadOptions{}); spec != nil {
		t.Error("a comment in a .json pipeline was accepted")
	}
}

func TestParseISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT1S": time.Second, "PT0.5S": 500 * time.Millisecond, "PT1.0S": time.Second, "PT5M": 5 * time.Minute,
		"PT1H30M": 90 * time.Minute, "P1D": 24 * time.Hour, "P1DT1S": 24*time.Hour + time.Second, "pt1m": time.Minute,
		"-PT6H3M": -(6*time.Hour + 3*time.Minute), "PT-1S": -time.Second, "PT0.000000001S": 1, "PT-0.5S": -500 * time.Millisecond,
	} {
		got, err := ParseISODuration(in)
		if err != nil || got != want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "1S", "PT1", "PT1.S5", "P1W", "PT1.0000000001S", "1s"} {
		if _, err := ParseISODuration(in); err == nil {
			t.Errorf("ParseISODuration(%q) accepted", in)
		}
	}
}

func TestSystemPropertiesResolve(t *testing.T) {
	p := writeFile(t, t.TempDir(), "p.conf", "name=${pipeline.name}\nsources=[{type=StatsdSource, name=s, host=${?bind.host}, port=${?bind.port}}]")
	spec, ps := LoadPipeline(p, LoadOptions{Env: env(), Properties: map[string]string{"pipeline.name": "props", "bind.port": "9125"}})
	if spec == nil {
		t.Fatal(ps)
	}
	if st := spec.Sources[0].Conf.(*StatsdSourceConf); spec.Name != "props" || st.Port != 9125 || st.Host != "localhost" {
		t.Errorf("bound as %q %+v", spec.Name, st)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRelayBinds: a StatsdSource's relay object, with destinations as
// strings and as objects with a probe, becomes the UDP source's relay.
func TestRelayBinds(t *testing.T) {
	p := writeFile(t, t.TempDir(), "p.conf", `name=p
sources=[{type=StatsdSource, name=s, port=0, relay={
  destinations=["127.0.0.1:9001", {address="127.0.0.1:9002", probe="http://127.0.0.1:7090/ping"}, "tcp://127.0.0.1:9003", "udp://127.0.0.1:9004"]
  maxDatagram=8972, flushInterval="PT0.05S", queueDatagrams=64, probeInterval="PT2S", probeTimeout="PT0.25S",
  malformedTo="127.0.0.1:9001"}}]
`)
	spec, ps := LoadPipeline(p, LoadOptions{Env: env()})
	if spec == nil {
		t.Fatal(ps)
	}
	got := spec.Sources[0].Conf.(*StatsdSourceConf).Relay
	want := &ingest.RelayConfig{
		Destinations: []ingest.RelayDestination{{Addr: "127.0.0.1:9001"}, {Addr: "127.0.0.1:9002", Probe: "http://127.0.0.1:7090/ping"},
			{Addr: "127.0.0.1:9003", TCP: true}, {Addr: "127.0.0.1:9004"}},
		MaxDatagram:    8972,
		QueueDatagrams: 64,
		FlushInterval:  50 * time.Millisecond,
		ProbeInterval:  2 * time.Second,
		ProbeTimeout:   250 * time.Millisecond,
		MalformedTo:    "127.0.0.1:9001",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("relay %+v\nwant %+v", got, want)
	}
}

// TestUnixSocketBinds: a StatsdSource's unixSocketPath and unixSocketMode
// become a unixgram UDP source of one loop, keyed by its cleaned path; the
// mode is octal, as a string or a number, 0622 unless given; with Check,
// building refuses a path whose directory is missing or that holds
// something other than a socket, without binding or removing anything.
func TestUnixSocketBinds(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, keys string
		path       string
		mode       os.FileMode
	}{
		{"default mode", `unixSocketPath="/run/mad//dsd.socket"`, "/run/mad/dsd.socket", 0o622},
		{"string mode", `unixSocketPath=/run/dsd.socket, unixSocketMode="0660"`, "/run/dsd.socket", 0o660},
		{"0o mode", `unixSocketPath=/run/dsd.socket, unixSocketMode="0o600"`, "/run/dsd.socket", 0o600},
		{"number mode", `unixSocketPath=/run/dsd.socket, unixSocketMode=620`, "/run/dsd.socket", 0o620},
		{"relative path", `unixSocketPath="./run/../dsd.socket"`, "dsd.socket", 0o622},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, "p.conf", "name=p\nsources=[{type=StatsdSource, name=s, "+tc.keys+"}]")
			spec, ps := LoadPipeline(p, LoadOptions{Env: env()})
			if spec == nil || len(ps) > 0 {
				t.Fatal(ps)
			}
			st := spec.Sources[0].Conf.(*StatsdSourceConf)
			if st.UnixSocketPath != tc.path || st.UnixSocketMode != tc.mode {
				t.Fatalf("bound as %q %v; want %q %v", st.UnixSocketPath, st.UnixSocketMode, tc.path, tc.mode)
			}
			srcs, err := (&Builder{}).Sources(spec)
			if err != nil {
				t.Fatal(err)
			}
			u := srcs[0].(*ingest.UDPConfig)
			if u.UnixPath != tc.path || u.UnixMode != tc.mode || u.Loops != 1 || u.Addr != "" || u.SourceKey() != "unixgram "+tc.path {
				t.Fatalf("built %+v (key %q); want a unixgram source at %q of one loop", u, u.SourceKey(), tc.path)
			}
		})
	}

	file := filepath.Join(dir, "file")
	must(t, os.WriteFile(file, []byte("x"), 0o644))
	for _, tc := range []struct {
		name, path, want string
	}{
		{"free", filepath.Join(dir, "dsd.socket"), ""},
		{"no directory", filepath.Join(dir, "none", "dsd.socket"), "cannot use its directory"},
		{"directory is a file", filepath.Join(file, "dsd.socket"), "is not a directory"},
		{"regular file", file, "exists and is not a socket"},
	} {
		t.Run("check "+tc.name, func(t *testing.T) {
			p := writeFile(t, dir, "p.conf", fmt.Sprintf("name=p\nsources=[{type=StatsdSource, name=s, unixSocketPath=%q}]", tc.path))
			spec, ps := LoadPipeline(p, LoadOptions{Env: env()})
			if spec == nil {
				t.Fatal(ps)
			}
			_, err := (&Builder{Check: true}).Sources(spec)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check: %v; want %q", err, tc.want)
			}
			if _, err := os.Lstat(tc.path); tc.want == "" && err == nil {
				t.Fatal("checking created the socket file")
			}
		})
	}
}
