package engine

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks"
)

// TestSelfMetrics: mad's own metrics (MAD's names, service mad, the
// monitoring cluster and host) reach the pipeline serving the V3 route,
// with those of PeriodicStatisticsSink and TracingSink.
func TestSelfMetrics(t *testing.T) {
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	out := filepath.Join(dir, "out.jsonl")
	writeFile(t, pipes, "p.conf", fmt.Sprintf(`name=p
periods=["PT1S"]
sources=[
  { type=ClientHttpSourceV3, name=http_v3_source }
  { type=StatsdSource, name="statsd.source", host="127.0.0.1", port=0 }
]
sinks=[
  { type=JsonLinesSink, name=out, path=%q }
  { type=PeriodicStatisticsSink, name=stats, intervalInMilliseconds=200, dimensions=["service"] }
  { type=TracingSink, name=trace, patterns={ app="app\\..*" } }
]
`, out))
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\nmonitoringCluster=\"madtest\"\nmonitoringHost=\"self-host\"\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()
	c, err := net.Dial("udp", pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := []string{"sources/statsd/statsd_source/metric_samples", "sources/statsd/statsd_source/packets", "aggregator/samples",
		"go/goroutines", "sinks/periodic_statistics/stats/aggregated_data", "tracingSink/hit",
		"rest_service/GET/ping/request", "rest_service/GET/ping/status/2xx", "rest_service/GET/unknown_route/status/4xx"}
	found := map[string]jsonLine{}
	waitUntil(t, "mad's own metrics in the output", 60*time.Second, func() bool {
		fmt.Fprint(c, "app.requests:1|c\n")
		get(t, "http://"+d.HTTPAddr().String()+"/ping")
		get(t, "http://"+d.HTTPAddr().String()+"/nowhere")
		b, _ := os.ReadFile(out)
		// The sink may be writing: its last line may not be whole yet.
		b = b[:bytes.LastIndexByte(b, '\n')+1]
		for _, l := range parseLines(t, string(b)) {
			if l.Dimensions["service"] == "mad" {
				found[l.Metric] = l
			}
		}
		for _, w := range want {
			if _, ok := found[w]; !ok {
				return false
			}
		}
		return true
	})
	must(t, d.Stop())
	stopped = true
	l := found["sources/statsd/statsd_source/metric_samples"]
	if l.Dimensions["cluster"] != "madtest" || l.Dimensions["host"] != "self-host" || l.Type != "counter" {
		t.Errorf("self metric %+v", l)
	}
	if tr := found["tracingSink/hit"]; tr.Dimensions["sink"] != "trace" || tr.Dimensions["pattern"] != "app" {
		t.Errorf("tracing hit %+v", tr)
	}
	if ps := found["sinks/periodic_statistics/stats/aggregated_data"]; ps.Dimensions["_period"] != "PT1S" {
		t.Errorf("periodic statistics %+v", ps)
	}
}

// defaultConfig returns the embedded default configuration with its ports
// set to 0 and its JSON lines written to out instead of standard output,
// plus extra lines.
func defaultConfig(t *testing.T, out, extra string) []byte {
	t.Helper()
	text := string(config.DefaultConfigText)
	for _, r := range [][2]string{{"httpPort=7090", "httpPort=0"}, {`httpHost="0.0.0.0"`, `httpHost="127.0.0.1"`}, {"port=8125", "port=0"}, {`path="-"`, fmt.Sprintf("path=%q", out)}} {
		if !strings.Contains(text, r[0]) {
			t.Fatalf("the default configuration has no %s", r[0])
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	return []byte(text + "\n" + extra)
}

// TestDefaultOutputIsTheUsers: the default configuration writes the user's
// metrics to its output and not mad's own (they are on /metrics); a
// configuration that does not say monitoringSinks=[] feeds them back as
// MAD does. The daemon's last report before it stops is fed back and
// flushed with the open buckets, so the output shows it deterministically.
func TestDefaultOutputIsTheUsers(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra string
		self  bool
	}{
		{name: "default", self: false},
		{name: "MAD's default loop-back", extra: "monitoringSinks=null", self: true},
		{name: "a monitoring sink", extra: `monitoringSinks=[{class="com.arpnetworking.metrics.impl.ApacheHttpSink"}]`, self: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.jsonl")
			d, err := Open(config.DefaultConfigName, defaultConfig(t, out, c.extra), config.LoadOptions{Env: env()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("udp", pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0].Addr().String())
			must(t, err)
			fmt.Fprint(conn, "user.requests:1|c\n")
			conn.Close()
			waitLines(t, d.Pipelines()[0], 1)
			metrics := get(t, "http://"+d.HTTPAddr().String()+"/metrics")
			must(t, d.Stop())
			b, err := os.ReadFile(out)
			must(t, err)
			user, self := 0, 0
			for _, l := range parseLines(t, string(b)) {
				switch {
				case l.Dimensions["service"] == "mad":
					self++
				case l.Metric == "user.requests":
					user++
				}
			}
			if user == 0 {
				t.Errorf("the user's metric is not in the output")
			}
			if got := self > 0; got != c.self {
				t.Errorf("%d lines of mad's own metrics in the output; want them: %v", self, c.self)
			}
			if !strings.Contains(metrics, "go_goroutines") {
				t.Errorf("/metrics lacks mad's own metrics")
			}
		})
	}
}

// TestLoopBackFollowsReload: a reloaded main file turns the loop-back off
// (monitoringSinks=[]) and on again.
func TestLoopBackFollowsReload(t *testing.T) {
	dir := t.TempDir()
	write := func(extra string) string {
		return writeFile(t, dir, "main.conf", fmt.Sprintf(`httpHost="127.0.0.1"
httpPort=0
reloadInterval=0
pipelines=[{name=p, sources=[{type=ClientHttpSourceV3, name=v3}], sinks=[{type=JsonLinesSink, name=j, path=%q}]}]
%s
`, filepath.Join(dir, "out.jsonl"), extra))
	}
	d, err := Open(write(""), nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	s := d.self
	waitUntil(t, "a record fed back", 30*time.Second, func() bool { return s.delivered.Load() > 0 })
	write("monitoringSinks=[]")
	if r := d.Reload(); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	s.emit(sinks.SelfRecord{Metrics: []sinks.SelfMetric{{Name: "x", Type: "counter", Values: []float64{1}}}})
	if s.loop.Load() || s.off.Load() != 1 {
		t.Errorf("loop-back off: on %v, %d records off; want off, 1", s.loop.Load(), s.off.Load())
	}
	delivered := s.delivered.Load()
	write("")
	if r := d.Reload(); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	waitUntil(t, "a record fed back after the loop-back is on again", 30*time.Second, func() bool { return s.delivered.Load() > delivered })
}
