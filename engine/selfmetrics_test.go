package engine

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
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
