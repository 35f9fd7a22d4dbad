package config

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/telemetry"
)

// minimal holds, for every class mad runs, the smallest object of that
// class a pipeline file may hold (its required keys, on loopback and port 0
// where it listens or connects). {dir} is a directory the test owns, {addr}
// the address of a listener it owns and {port} its port.
var minimal = map[string]string{
	"StatsdSource":                    `{type=StatsdSource, name=x, host="127.0.0.1", port=0}`,
	"TcpLineSource":                   `{type=TcpLineSource, name=x, host="127.0.0.1", port=0, parser={type=StatsdToRecordParser}}`,
	"StatsdToRecordParser":            `{type=TcpLineSource, name=x, host="127.0.0.1", port=0, parser={type=StatsdToRecordParser}}`,
	"GraphitePlaintextToRecordParser": `{type=TcpLineSource, name=x, host="127.0.0.1", port=0, parser={type=GraphitePlaintextToRecordParser}}`,
	"TelegrafJsonToRecordParser":      `{type=TcpLineSource, name=x, host="127.0.0.1", port=0, parser={type=TelegrafJsonToRecordParser}}`,
	"ClientHttpSourceV1":              `{type=ClientHttpSourceV1, name=x}`,
	"ClientHttpSourceV2":              `{type=ClientHttpSourceV2, name=x}`,
	"ClientHttpSourceV3":              `{type=ClientHttpSourceV3, name=x}`,
	"CollectdHttpSourceV1":            `{type=CollectdHttpSourceV1, name=x}`,
	"PrometheusHttpSource":            `{type=PrometheusHttpSource, name=x}`,
	"OpenTelemetryGrpcSource":         `{type=OpenTelemetryGrpcSource, name=x}`,
	"KafkaSource":                     `{type=KafkaSource, name=x, consumer={topics=[t], configs={"bootstrap.servers"="127.0.0.1:1", "group.id"=g}}, parser={type=ProtobufV2bytesToRecordParser}, pollTime=PT1S}`,
	"PartialsParser":                  `{type=KafkaSource, name=x, consumer={topics=[t], configs={"bootstrap.servers"="127.0.0.1:1", "group.id"=g}}, parser={type=PartialsParser}, pollTime=PT1S}`,
	"KafkaSink":                       `{type=KafkaSink, name=x, topic=t, configs={"bootstrap.servers"="127.0.0.1:1"}}`,
	"ProtobufV2bytesToRecordParser":   `{type=KafkaSource, name=x, consumer={topics=[t], configs={"bootstrap.servers"="127.0.0.1:1", "group.id"=g}}, parser={type=ProtobufV2bytesToRecordParser}, pollTime=PT1S}`,
	"MappingSource":                   `{type=MappingSource, name=x, findAndReplace={"a":["b"]}, source={type=StatsdSource, name=y, host="127.0.0.1", port=0}}`,
	"TimeStampingSource":              `{type=TimeStampingSource, name=x, source={type=StatsdSource, name=y, host="127.0.0.1", port=0}}`,
	"TransformingSource":              `{type=TransformingSource, name=x, transformations=[{injectDimensions={c={value=v}}}], source={type=StatsdSource, name=y, host="127.0.0.1", port=0}}`,
	"TagDroppingSource":               `{type=TagDroppingSource, name=x, dropSets=[{metricPattern=a, removeDimensions=[b]}], source={type=StatsdSource, name=y, host="127.0.0.1", port=0}}`,

	"MultiSink":                 `{type=MultiSink, name=x, sinks=[{type=JsonLinesSink, name=y, path="{dir}/m.jsonl"}]}`,
	"PeriodFilteringSink":       `{type=PeriodFilteringSink, name=x, sink={type=JsonLinesSink, name=y, path="{dir}/p.jsonl"}}`,
	"DimensionInjectingSink":    `{type=DimensionInjectingSink, name=x, sink={type=JsonLinesSink, name=y, path="{dir}/d.jsonl"}}`,
	"TimeThresholdSink":         `{type=TimeThresholdSink, name=x, threshold="PT1M", sink={type=JsonLinesSink, name=y, path="{dir}/t.jsonl"}}`,
	"PeriodicStatisticsSink":    `{type=PeriodicStatisticsSink, name=x}`,
	"TelemetrySink":             `{type=TelemetrySink, name=x}`,
	"TracingSink":               `{type=TracingSink, name=x, patterns={"a":"b"}}`,
	"AggregationServerHttpSink": `{type=AggregationServerHttpSink, name=x, uri="http://{addr}/metrics/v1/data/persist"}`,
	"AggregationServerSink":     `{type=AggregationServerSink, name=x, serverAddress="127.0.0.1", serverPort={port}}`,
	"MetricSeriesLoggingSink":   `{type=MetricSeriesLoggingSink, name=x, directory="{dir}"}`,
	"JsonLinesSink":             `{type=JsonLinesSink, name=x, path="{dir}/j.jsonl"}`,
}

// TestEveryAvailableClassBuilds builds and runs, for every class the
// registry says mad runs, a pipeline of that class from its minimal
// object: a class cannot be registered as available and fail to build.
func TestEveryAvailableClassBuilds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	hub := telemetry.NewHub(telemetry.HubConfig{})
	defer hub.Close()
	var available []*class
	for name, c := range registry {
		if name == c.fqcn && c.available() {
			available = append(available, c)
		}
	}
	slices.SortFunc(available, func(a, b *class) int { return strings.Compare(a.fqcn, b.fqcn) })
	if len(available) < 20 {
		t.Fatalf("only %d classes are available", len(available))
	}
	for _, c := range available {
		t.Run(c.simpleName(), func(t *testing.T) {
			obj, ok := minimal[c.simpleName()]
			if !ok {
				t.Fatalf("no minimal %s object in this test: add one", c.simpleName())
			}
			dir := t.TempDir()
			obj = strings.NewReplacer("{dir}", dir, "{addr}", ln.Addr().String(), "{port}", port).Replace(obj)
			list := "sources"
			if c.kind == kindSink {
				list = "sinks"
			}
			text := fmt.Sprintf("name=p\nperiods=[\"PT1S\"]\n%s=[%s]\n", list, obj)
			path := filepath.Join(dir, "p.conf")
			spec, ps := ParsePipeline(path, []byte(text), LoadOptions{Env: env(), ReadFile: func(string) ([]byte, error) { return []byte(text), nil }})
			if len(ps) > 0 {
				t.Fatalf("%s refused:\n%v", text, ps)
			}
			cfg, err := (&Builder{Hub: hub}).Pipeline(spec)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(cfg.Sources) + len(cfg.Sinks); n != 1 {
				t.Fatalf("built %d sources and %d sinks; want one", len(cfg.Sources), len(cfg.Sinks))
			}
			p, err := pipeline.Start(cfg)
			if err != nil {
				CloseSinks(cfg.Sinks)
				t.Fatal(err)
			}
			must(t, p.Stop())
		})
	}
}

// TestUnavailableClassesAreRefusedByName: a class mad does not run is
// bound, reported, and refused when built unless skipped.
func TestUnavailableClassesAreRefusedByName(t *testing.T) {
	text := "name=p\nsources=[{type=FileSource, name=x, sourceFile=/var/log/x, parser={type=ProtobufV2ToRecordParser}}]\n"
	spec, ps := ParsePipeline("p.conf", []byte(text), LoadOptions{Env: env(), SkipUnavailable: true, ReadFile: func(string) ([]byte, error) { return []byte(text), nil }})
	if spec == nil || len(ps) != 1 || !ps[0].Unavailable || !strings.Contains(ps[0].Msg, "FileSource is not available") {
		t.Fatalf("got %v; want the problem naming FileSource", ps)
	}
	if _, err := (&Builder{}).Sources(spec); err == nil || !strings.Contains(err.Error(), "FileSource") {
		t.Fatalf("built without SkipUnavailable: %v", err)
	}
	if srcs, err := (&Builder{SkipUnavailable: true}).Sources(spec); err != nil || len(srcs) != 0 {
		t.Fatalf("with SkipUnavailable: %d sources, %v; want none", len(srcs), err)
	}
}

// TestExcludeGreaterThanZero: excludeGreaterThan="PT0S" excludes every
// period, as MAD's check is "present and greater" (MAD-SPEC §5); an unset
// bound excludes nothing. Both bound to 0 and counted as unset before.
func TestExcludeGreaterThanZero(t *testing.T) {
	for _, tc := range []struct {
		bound  string
		passes bool
	}{{`, excludeGreaterThan="PT0S"`, false}, {"", true}} {
		text := "name=p\nsinks=[{type=PeriodFilteringSink, name=f" + tc.bound + ", sink={type=JsonLinesSink, name=j, path=\"/dev/null\"}}]\n"
		spec, ps := ParsePipeline("p.conf", []byte(text), LoadOptions{Env: env(), ReadFile: func(string) ([]byte, error) { return []byte(text), nil }})
		if len(ps) != 0 {
			t.Fatal(ps)
		}
		sks, err := (&Builder{}).Sinks(spec)
		if err != nil {
			t.Fatal(err)
		}
		f := sks[0].(*sinks.PeriodFilteringSink)
		if got := f.Passes(time.Second); got != tc.passes {
			t.Errorf("bound %q: PT1S passes %v; want %v", tc.bound, got, tc.passes)
		}
		CloseSinks(sks)
	}
}

// TestRewriteCacheKeys: mad's maxCachedSeries and maxCachedBytes bound the
// series cache of each rewriting source's producers (absent: 65 536 series
// in 16 MiB), and a value outside its range is refused by its key.
func TestRewriteCacheKeys(t *testing.T) {
	inner := `source={type=StatsdSource, name=y, host="127.0.0.1", port=0}`
	for _, class := range []string{
		`type=MappingSource, findAndReplace={"a":["b"]}`,
		`type=TransformingSource, transformations=[{injectDimensions={c={value=v}}}]`,
		`type=TagDroppingSource, dropSets=[{metricPattern=a, removeDimensions=[b]}]`,
	} {
		for _, tc := range []struct {
			keys          string
			series, bytes int
			refused       string // the key refused
		}{
			{"", ingest.DefaultRewriteCacheSeries, ingest.DefaultRewriteCacheBytes, ""},
			{", maxCachedSeries=300000, maxCachedBytes=67108864", 300000, 64 << 20, ""},
			{", maxCachedSeries=0", 0, 0, "maxCachedSeries"},
			{", maxCachedSeries=4194305", 0, 0, "maxCachedSeries"},
			{", maxCachedBytes=1023", 0, 0, "maxCachedBytes"},
			{", maxCachedBytes=268435456", 0, 0, "maxCachedBytes"},
			{`, maxCachedBytes="lots"`, 0, 0, "maxCachedBytes"},
		} {
			text := "name=p\nsources=[{name=x, " + class + tc.keys + ", " + inner + "}]\n"
			spec, ps := ParsePipeline("p.conf", []byte(text), LoadOptions{Env: env(), ReadFile: func(string) ([]byte, error) { return []byte(text), nil }})
			if tc.refused != "" {
				if len(ps) != 1 || !strings.Contains(ps[0].Error(), tc.refused) {
					t.Errorf("%s%s: problems %v; want one naming %s", class, tc.keys, ps, tc.refused)
				}
				continue
			}
			if len(ps) != 0 {
				t.Fatalf("%s%s: %v", class, tc.keys, ps)
			}
			src, err := (&Builder{}).Source(spec.Sources[0])
			if err != nil {
				t.Fatal(err)
			}
			ms := src.(*ingest.UDPConfig).Mappers
			rs, ok := ms[len(ms)-1].(*ingest.RewriteSpec)
			if !ok || rs.MaxSeries != tc.series || rs.MaxBytes != tc.bytes {
				t.Errorf("%s%s: the cache bounded at %d series, %d bytes; want %d, %d", class, tc.keys, rs.MaxSeries, rs.MaxBytes, tc.series, tc.bytes)
			}
		}
	}
}
