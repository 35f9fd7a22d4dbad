package engine

import (
	"encoding/binary"
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
	"time"
)

// TestShippedPipelineEndToEnd runs MAD's shipped pipeline.conf, with its
// Kafka source removed, with a test Cluster Aggregator at the address its
// environment variables name, and sends V3 data with service and cluster
// dimensions: the Cluster Aggregator receives framed StatisticSetRecords
// (one request per metric, application/protobuf) for the PT1M buckets.
func TestShippedPipelineEndToEnd(t *testing.T) {
	if c, err := net.ListenPacket("udp", "0.0.0.0:8125"); err != nil {
		t.Skip("UDP port 8125, which the shipped pipeline binds, is taken")
	} else {
		c.Close()
	}
	for _, port := range []string{"2003", "8094"} {
		l, err := net.Listen("tcp", "0.0.0.0:"+port)
		if err != nil {
			t.Skipf("TCP port %s, which the shipped pipeline binds, is taken", port)
		}
		l.Close()
	}
	var mu sync.Mutex
	var frames, requests int
	var types []string
	cagg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		types = append(types, r.Header.Get("Content-Type"))
		for len(body) >= 5 {
			n := int(binary.BigEndian.Uint32(body))
			if n < 5 || n > len(body) {
				t.Errorf("bad frame length %d of %d", n, len(body))
				break
			}
			frames++
			body = body[n:]
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer cagg.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(cagg.URL, "http://"))

	text, err := os.ReadFile(filepath.Join(vectorConfigs, "pipeline.conf"))
	must(t, err)
	lines := strings.Split(string(text), "\n")
	// The Kafka source is the block of lines 145-167 (1-based).
	if !strings.Contains(lines[146], "kafka_source") {
		t.Fatalf("the shipped pipeline changed: line 147 is %q", lines[146])
	}
	lines = append(lines[:144], lines[167:]...)
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "pipeline.conf", strings.Join(lines, "\n"))
	main := writeFile(t, dir, "config.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\nmonitoringCluster=\"mad\"\n", pipes))
	d, err := Open(main, nil, LoadOptions{Env: env("CLUSTER_AGGREGATOR_HOST", host, "CLUSTER_AGGREGATOR_PORT", port)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Pipelines()) != 1 {
		d.Stop()
		t.Fatal("the shipped pipeline did not start")
	}
	url := "http://" + d.HTTPAddr().String() + "/metrics/v3/application"
	body := v3Request([]v3Record{{end: time.Now().UnixMilli(), dims: [][2]string{{"service", "shop"}, {"cluster", "prod"}, {"host", "web-1"}},
		metrics: []v3Metric{{name: "checkout/latency", samples: []float64{1, 2, 3}}, {name: "checkout/items", samples: []float64{4}}}}})
	if code, msg := post(t, &http.Client{}, url, "", body); code != http.StatusOK {
		t.Fatalf("V3: %d %s", code, msg)
	}
	// Graphite with carbon tags off (the shipped default): no service, so
	// the Cluster Aggregator sink counts it as dropped rather than crash;
	// Telegraf through its MappingSource ("." → "/").
	g, err := net.Dial("tcp", "127.0.0.1:2003")
	must(t, err)
	fmt.Fprintf(g, "shop.graphite 1.5 %d\n", time.Now().Unix())
	g.Close()
	tg, err := net.Dial("tcp", "127.0.0.1:8094")
	must(t, err)
	fmt.Fprintf(tg, `{"name":"shop","timestamp":%d,"tags":{"service":"shop","cluster":"prod"},"fields":{"t1":2.5}}`+"\n", time.Now().UnixNano())
	tg.Close()
	waitUntil(t, "the TCP lines", 30*time.Second, func() bool {
		var ok uint64
		for _, p := range d.Pipelines() {
			for _, s := range p.TCP() {
				ok += s.Stats().Lines[0]
			}
		}
		return ok >= 2
	})
	must(t, d.Stop()) // seals the PT1M buckets and drains the sink's queue
	mu.Lock()
	defer mu.Unlock()
	// Two metrics of service shop, plus mad's own metrics (service mad,
	// cluster mad) that reached the pipeline: one request per metric.
	t.Logf("the Cluster Aggregator got %d requests, %d frames", requests, frames)
	if requests < 2 || frames != requests {
		t.Errorf("%d requests, %d frames", requests, frames)
	}
	for _, ct := range types {
		if ct != "application/protobuf" {
			t.Errorf("Content-Type %q", ct)
			break
		}
	}
}

// TestShippedCollectdMapping: the shipped pipeline's MappingSource around
// CollectdHttpSourceV1 renames collectd's metrics as MAD does.
func TestShippedCollectdMapping(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(vectorConfigs, "pipeline.conf"))
	must(t, err)
	lines := strings.Split(string(text), "\n")
	if !strings.Contains(lines[106], "collectd_mapping_source") {
		t.Fatalf("the shipped pipeline changed: line 107 is %q", lines[106])
	}
	source := strings.Join(lines[104:144], "\n") // lines 105-144: the collectd MappingSource
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	out := filepath.Join(dir, "out.jsonl")
	writeFile(t, pipes, "p.conf", fmt.Sprintf("name=collectd\nperiods=[\"PT1S\"]\nsources=[\n%s\n]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n", source, out))
	main := writeFile(t, dir, "config.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../shared/vectors/mad/parsers/CollectdJsonParserTest/testParse.json")
	must(t, err)
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.HTTPAddr().String()+"/metrics/v1/collectd", strings.NewReader(string(body)))
	req.Header.Set("X-TAG-SERVICE", "MyService")
	req.Header.Set("X-TAG-CLUSTER", "MyCluster")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("collectd: %d", resp.StatusCode)
	}
	must(t, d.Stop())
	b, err := os.ReadFile(out)
	must(t, err)
	names := map[string]bool{}
	for _, l := range parseLines(t, string(b)) {
		names[l.Metric] = true
	}
	for _, want := range []string{"cpu/wait", "cpu/by_core/0/wait"} {
		if !names[want] {
			t.Errorf("no %s in %v", want, keysOf(names))
		}
	}
	if names["cpu/0/cpu/wait"] {
		t.Error("the original name was kept")
	}
}
