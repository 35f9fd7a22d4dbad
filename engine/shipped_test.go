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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/sinks/cagg/caggtest"
)

// TestShippedPipelineEndToEnd runs MAD's shipped pipeline.conf, with its
// Kafka source removed, with a test Cluster Aggregator at the address its
// environment variables name, and sends V3 data with service and cluster
// dimensions: the Cluster Aggregator receives framed StatisticSetRecords
// (one request per metric, application/protobuf) for the PT1M buckets.
//
// Only the ports of its sockets change (to 0: tests bind no fixed port).
func TestShippedPipelineEndToEnd(t *testing.T) {
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
	for i, l := range lines {
		switch strings.TrimSpace(l) {
		case `#port="8125"`: // StatsdSource's default port
			lines[i] = `    port="0"`
		case `port="2003"`, `port="8094"`:
			lines[i] = `port="0"`
		}
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "pipeline.conf", strings.Join(lines, "\n"))
	main := writeFile(t, dir, "config.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\nmonitoringCluster=\"mad\"\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env("CLUSTER_AGGREGATOR_HOST", host, "CLUSTER_AGGREGATOR_PORT", port)}, nil)
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
	tcp := map[string]string{}
	for _, s := range pipeline.SourcesOf[*ingest.TCPSource](d.Pipelines()[0]) {
		tcp[s.Name()] = "127.0.0.1:" + portOf(s.Addr().String())
	}
	g, err := net.Dial("tcp", tcp["graphite_plaintext_source"])
	must(t, err)
	fmt.Fprintf(g, "shop.graphite 1.5 %d\n", time.Now().Unix())
	g.Close()
	tg, err := net.Dial("tcp", tcp["telegraftcp_source"])
	must(t, err)
	fmt.Fprintf(tg, `{"name":"shop","timestamp":%d,"tags":{"service":"shop","cluster":"prod"},"fields":{"t1":2.5}}`+"\n", time.Now().UnixNano())
	tg.Close()
	waitUntil(t, "the TCP lines", 30*time.Second, func() bool {
		var ok uint64
		for _, p := range d.Pipelines() {
			for _, s := range pipeline.SourcesOf[*ingest.TCPSource](p) {
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
	d, out := openShippedSource(t, 105, 144, "collectd_mapping_source", nil) // the collectd MappingSource
	body, err := os.ReadFile("../testdata/mad/parsers/CollectdJsonParserTest/testParse.json")
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

// TestClusterAggregatorRecords: StatsD timers and counters in, the records
// MAD would send out of AggregationServerHttpSink, read by a test Cluster
// Aggregator with the protobuf runtime: one request per metric, MAD's
// fields, and the timer's histogram with precision 8.
func TestClusterAggregatorRecords(t *testing.T) {
	schema := caggtest.NewSchema()
	type stat struct {
		value   float64
		entries map[float64]uint64
		prec    uint32
	}
	type rec struct {
		service, cluster, metric, period, start string
		dims                                    map[string]string
		stats                                   map[string]stat
	}
	var mu sync.Mutex
	var recs []rec
	var bad []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if ct := r.Header.Get("Content-Type"); ct != "application/protobuf" {
			bad = append(bad, "Content-Type "+ct)
		}
		f, rest, err := caggtest.ReadFrame(body)
		if err != nil || len(rest) != 0 {
			bad = append(bad, fmt.Sprintf("frames: %v, %d bytes left", err, len(rest)))
			return
		}
		m, err := caggtest.Unmarshal(schema.StatisticSet, f.Payload)
		if err != nil {
			bad = append(bad, err.Error())
			return
		}
		fd := schema.StatisticSet.Fields()
		r0 := rec{service: m.Get(fd.ByName("service")).String(), cluster: m.Get(fd.ByName("cluster")).String(),
			metric: m.Get(fd.ByName("metric")).String(), period: m.Get(fd.ByName("period")).String(),
			start: m.Get(fd.ByName("period_start")).String(), dims: map[string]string{}, stats: map[string]stat{}}
		m.Get(fd.ByName("dimensions")).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			r0.dims[k.String()] = v.String()
			return true
		})
		sl := m.Get(fd.ByName("statistics")).List()
		sf := schema.Statistic.Fields()
		for i := 0; i < sl.Len(); i++ {
			sm := sl.Get(i).Message()
			st := stat{value: sm.Get(sf.ByName("value")).Float()}
			if sd := sm.Get(sf.ByName("supporting_data")).Bytes(); len(sd) > 0 {
				hf, _, err := caggtest.ReadFrame(sd)
				if err != nil {
					bad = append(bad, err.Error())
					continue
				}
				h, err := caggtest.Unmarshal(schema.Histogram, hf.Payload)
				if err != nil {
					bad = append(bad, err.Error())
					continue
				}
				hd := schema.Histogram.Fields()
				st.prec = uint32(h.Get(hd.ByName("precision")).Uint())
				st.entries = map[float64]uint64{}
				el := h.Get(hd.ByName("entries")).List()
				for j := 0; j < el.Len(); j++ {
					e := el.Get(j).Message()
					ef := e.Descriptor().Fields()
					st.entries[e.Get(ef.ByName("bucket")).Float()] = e.Get(ef.ByName("count")).Uint()
				}
			}
			r0.stats[sm.Get(sf.ByName("statistic")).String()] = st
		}
		recs = append(recs, r0)
	}))
	defer srv.Close()
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "p.conf", fmt.Sprintf(`name=cagg
periods=["PT1M"]
sources=[{ type=StatsdSource, name=s, host="127.0.0.1", port=0 }]
sinks=[{ type=AggregationServerHttpSink, name=cagg, uri=%q }]
`, srv.URL+"/metrics/v1/data/persist"))
	main := writeFile(t, dir, "config.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0]
	c, err := net.Dial("udp", src.Addr().String())
	must(t, err)
	fmt.Fprint(c, "api.latency:500|ms|#service:shop,cluster:prod,host:web-1\napi.latency:1000|ms|#service:shop,cluster:prod,host:web-1\napi.latency:2000|ms|#service:shop,cluster:prod,host:web-1\napi.calls:3|c|#service:shop,cluster:prod,host:web-1\n")
	c.Close()
	waitLines(t, d.Pipelines()[0], 4)
	must(t, d.Stop()) // seals the PT1M bucket, drains the sink
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Error(b)
	}
	got := map[string]rec{}
	for _, r := range recs {
		if r.service == "shop" {
			got[r.metric] = r
		}
	}
	lat, calls := got["api.latency"], got["api.calls"]
	if lat.cluster != "prod" || lat.period != "PT1M" || lat.dims["host"] != "web-1" || !strings.HasSuffix(lat.start, "Z") {
		t.Errorf("latency record %+v", lat)
	}
	if st := lat.stats["tp99"]; st.value != 2 {
		t.Errorf("tp99 %+v", st)
	}
	var hist stat
	for _, st := range lat.stats {
		if st.entries != nil {
			hist = st
		}
	}
	if hist.prec != 8 || len(hist.entries) != 3 || hist.entries[0.5] != 1 || hist.entries[1] != 1 || hist.entries[2] != 1 {
		t.Errorf("histogram %+v", hist)
	}
	if calls.stats["sum"].value != 3 || calls.stats["count"].value != 1 {
		t.Errorf("counter record %+v", calls)
	}
}

// shippedMain writes MAD's shipped config.conf with its pipelines directory
// holding MAD's shipped pipeline.conf into a temporary directory, and
// returns the main file's path. Only what a test cannot use is changed: the
// ports (to 0), the pipelines directory (to the temporary one) and the TLS
// files (a test certificate, where the shipped file leaves MAD's default
// paths commented).
func shippedMain(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cert, key, _ := writeCerts(t, dir, "pkcs8")
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	text, err := os.ReadFile(filepath.Join(vectorConfigs, "pipeline.conf"))
	must(t, err)
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		switch strings.TrimSpace(l) {
		case `#port="8125"`:
			lines[i] = `    port="0"`
		case `port="2003"`, `port="8094"`:
			lines[i] = `port="0"`
		}
	}
	writeFile(t, pipes, "pipeline.conf", strings.Join(lines, "\n"))
	text, err = os.ReadFile(filepath.Join(vectorConfigs, "config.conf"))
	must(t, err)
	lines = strings.Split(string(text), "\n")
	changed := 0
	for i, l := range lines {
		switch l {
		case `pipelinesDirectory="config/pipelines"`:
			lines[i] = fmt.Sprintf("pipelinesDirectory=%q", pipes)
		case `httpPort=7090`:
			lines[i] = "httpPort=0"
		case `httpsPort=7091`:
			lines[i] = "httpsPort=0"
		case `#httpsCertificatePath=/opt/mad/tls/cert.pem`:
			lines[i] = fmt.Sprintf("httpsCertificatePath=%q", cert)
		case `#httpsKeyPath=/opt/mad/tls/key.pem`:
			lines[i] = fmt.Sprintf("httpsKeyPath=%q", key)
		default:
			continue
		}
		changed++
	}
	if changed != 5 {
		t.Fatalf("the shipped config.conf changed: %d of the 5 lines to adapt found", changed)
	}
	return writeFile(t, dir, "config.conf", strings.Join(lines, "\n"))
}

// TestShippedConfigRuns: MAD's shipped config.conf and pipeline.conf run
// whole, the Kafka source included (its broker, named by the environment
// variables the file reads, a kfake cluster): a ClientV2 RecordSet produced
// to its topic is aggregated, and /ping is healthy. A pipeline with a class
// mad lacks (FileSource, out of scope) must not start a daemon that runs
// nothing: start-up is refused with the problem named; with
// SkipUnavailable the pipeline runs without it and the daemon is healthy.
func TestShippedConfigRuns(t *testing.T) {
	cagg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer cagg.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(cagg.URL, "http://"))
	_, broker := kafkaCluster(t, "topic", 2)
	bhost, bport, _ := net.SplitHostPort(broker)
	produce(t, broker, "topic", [][]byte{madV2Vector(t)})
	opt := config.LoadOptions{Env: env("CLUSTER_AGGREGATOR_HOST", host, "CLUSTER_AGGREGATOR_PORT", port,
		"KAFKA_SOURCE_BOOTSTRAP_HOST", bhost, "KAFKA_SOURCE_BOOTSTRAP_PORT", bport)}
	main := shippedMain(t)
	d, err := Open(main, nil, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks := pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])
	if len(ks) != 1 {
		t.Fatalf("%d Kafka sources", len(ks))
	}
	waitUntil(t, "the Kafka message", 30*time.Second, func() bool { return ks[0].Stats().Samples == 3 })
	if b := get(t, "http://"+d.HTTPAddr().String()+"/ping"); b != `{"status":"HEALTHY"}` {
		t.Errorf("/ping: %s", b)
	}
	d.Stop()

	// A class mad lacks.
	pipes := filepath.Join(filepath.Dir(main), "pipelines")
	text, err := os.ReadFile(filepath.Join(pipes, "pipeline.conf"))
	must(t, err)
	writeFile(t, pipes, "pipeline.conf", string(text)+"\nsources+={type=\"com.arpnetworking.metrics.common.sources.FileSource\", name=file_source, sourceFile=\"/var/log/app.log\"}\n")
	d, err = Open(main, nil, opt, nil)
	if err == nil {
		t.Errorf("the daemon started with %d pipelines; want start-up refused", len(d.Pipelines()))
		d.Stop()
	} else if msg := err.Error(); !strings.Contains(msg, "source com.arpnetworking.metrics.common.sources.FileSource is not available") {
		t.Errorf("the refusal does not name FileSource:\n%s", msg)
	}

	opt.SkipUnavailable = true
	d, err = Open(main, nil, opt, nil)
	if err != nil {
		t.Fatalf("with SkipUnavailable: %v", err)
	}
	defer d.Stop()
	if n := len(d.Pipelines()); n != 1 {
		t.Fatalf("with SkipUnavailable: %d pipelines; want 1", n)
	}
	if n := len(pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])); n != 1 {
		t.Errorf("with SkipUnavailable: %d StatsD sources; want 1", n)
	}
	if n := len(pipeline.SourcesOf[*ingest.KafkaSource](d.Pipelines()[0])); n != 1 {
		t.Errorf("with SkipUnavailable: %d Kafka sources; want 1", n)
	}
	resp, err := http.Get("http://" + d.HTTPAddr().String() + "/ping")
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != `{"status":"HEALTHY"}` {
		t.Errorf("/ping with SkipUnavailable: %d %s", resp.StatusCode, b)
	}
	body := v3Request([]v3Record{{end: time.Now().UnixMilli(), dims: [][2]string{{"service", "shop"}, {"cluster", "prod"}, {"host", "web-1"}},
		metrics: []v3Metric{{name: "checkout/latency", samples: []float64{1}}}}})
	if code, msg := post(t, &http.Client{}, "http://"+d.HTTPAddr().String()+"/metrics/v3/application", "", body); code != http.StatusOK {
		t.Errorf("V3 with SkipUnavailable: %d %s", code, msg)
	}
}

// TestShippedTelegrafMapping: the shipped pipeline's MappingSource around
// the Telegraf TcpLineSource turns every dot of a metric's name into a
// slash, as MAD does; on a second line the series is the rewriter's cached
// one.
func TestShippedTelegrafMapping(t *testing.T) {
	d, out := openShippedSource(t, 87, 104, "telegraftcp_mapping_source", // the Telegraf MappingSource
		strings.NewReplacer(`port="8094"`, `port="0"`, `host="0.0.0.0"`, `host="127.0.0.1"`))
	srcs := pipeline.SourcesOf[*ingest.TCPSource](d.Pipelines()[0])
	if len(srcs) != 1 {
		t.Fatalf("%d TCP sources", len(srcs))
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+portOf(srcs[0].Addr().String()))
	must(t, err)
	for range 2 {
		fmt.Fprintf(c, `{"name":"shop.web","timestamp":%d,"tags":{"host":"h1"},"fields":{"latency.p50":2.5}}`+"\n", time.Now().UnixNano())
	}
	c.Close()
	waitUntil(t, "the Telegraf lines", 30*time.Second, func() bool { return srcs[0].Stats().Lines[0] >= 2 })
	hits := 0.0
	srcs[0].Report(func(v selfmetric.Value) {
		if v.Name == "mad_source_rewrite_cache_lookups_total" && slices.Contains(v.Labels, "hit") {
			hits += v.V
		}
	})
	if hits < 1 {
		t.Errorf("%v cache hits; the second line's series should be the cached one", hits)
	}
	must(t, d.Stop())
	b, err := os.ReadFile(out)
	must(t, err)
	names := map[string]int{}
	for _, l := range parseLines(t, string(b)) {
		names[l.Metric]++
	}
	if len(names) != 1 || names["shop/web/latency/p50"] == 0 {
		t.Errorf("metrics %v; want only shop/web/latency/p50", names)
	}
}

// openShippedSource opens a daemon whose one pipeline (PT1S, a JSON lines
// sink) has the source at lines first to last (1-based) of the shipped
// pipeline.conf, checking that line first+2 names it, rewritten by r if
// not nil (ports and hosts). It returns the daemon and the sink's file.
func openShippedSource(t *testing.T, first, last int, name string, r *strings.Replacer) (*Daemon, string) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(vectorConfigs, "pipeline.conf"))
	must(t, err)
	lines := strings.Split(string(text), "\n")
	if !strings.Contains(lines[first+1], name) {
		t.Fatalf("the shipped pipeline changed: line %d is %q", first+2, lines[first+1])
	}
	source := strings.Join(lines[first-1:last], "\n")
	if r != nil {
		source = r.Replace(source)
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	out := filepath.Join(dir, "out.jsonl")
	writeFile(t, pipes, "p.conf", fmt.Sprintf("name=shipped\nperiods=[\"PT1S\"]\nsources=[\n%s\n]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n", source, out))
	main := writeFile(t, dir, "config.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d, out
}
