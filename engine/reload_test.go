package engine

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks/jsonlines"
)

// udpSender sends datagrams of 10 lines "name:1|c" to addr until stopped,
// counting the lines sent.
type udpSender struct {
	sent atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sendUDP(t *testing.T, addr, name string) *udpSender {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &udpSender{stop: make(chan struct{}), done: make(chan struct{})}
	dgram := []byte(strings.Repeat(name+":1|c\n", 10))
	go func() {
		defer close(s.done)
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			default:
			}
			if _, err := c.Write(dgram); err == nil {
				s.sent.Add(10)
			}
			if i%50 == 49 {
				time.Sleep(time.Millisecond) // a steady stream, not a flood
			}
		}
	}()
	return s
}

func (s *udpSender) halt() uint64 {
	close(s.stop)
	<-s.done
	return s.sent.Load()
}

// tcpSender writes lines "name:1|c" over one connection until stopped.
func sendTCP(t *testing.T, addr, name string) *udpSender {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &udpSender{stop: make(chan struct{}), done: make(chan struct{})}
	chunk := []byte(strings.Repeat(name+":1|c\n", 10))
	go func() {
		defer close(s.done)
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			default:
			}
			if _, err := c.Write(chunk); err != nil {
				t.Errorf("tcp write: %v", err)
				return
			}
			s.sent.Add(10)
			if i%50 == 49 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	return s
}

// sumOutput adds up the PT1S sums of metric name in every JSON-lines file
// matching glob.
func sumOutput(t *testing.T, glob, name string) uint64 {
	t.Helper()
	files, _ := filepath.Glob(glob)
	var total float64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l jsonLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: bad line %q: %v", f, sc.Text(), err)
			}
			if l.Metric == name && l.Period == "PT1S" {
				total += *l.Statistics["sum"]
			}
		}
		fh.Close()
	}
	return uint64(total)
}

type reloadFixture struct {
	t      *testing.T
	dir    string
	pipes  string
	d      *Daemon
	udpA   string
	tcpA   string
	udpB   string
	outDir string
}

func (f *reloadFixture) writeA(version int, extra string) {
	f.t.Helper()
	writeFile(f.t, f.pipes, "a.conf", fmt.Sprintf(`name=a
%s
sources=[
  { type=StatsdSource, name=statsd_a, host="127.0.0.1", port=%s }
  { type=TcpLineSource, name=tcp_a, actorName=tcp-a, host="127.0.0.1", port=%s, parser={ type=StatsdToRecordParser } }
]
sinks=[{ type=JsonLinesSink, name=out_a, path="%s/a-%d.jsonl" }]
`, extra, portOf(f.udpA), portOf(f.tcpA), f.outDir, version))
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func (f *reloadFixture) reload(want func(ReloadResult) bool) ReloadResult {
	f.t.Helper()
	r := f.d.Reload()
	if !want(r) {
		f.t.Fatalf("reload: %+v", r)
	}
	return r
}

func (f *reloadFixture) pipeline(name string) *pipeline.Pipeline {
	for _, p := range f.d.Pipelines() {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// TestReloadLosesNothing sends StatsD over UDP and TCP without pause while
// pipelines are changed (sinks, then aggregation), refused, added and
// removed, and checks that every line sent is in the output or counted as
// dropped by the kernel, with no internal loss, and that the sockets whose
// address did not change were never closed.
func TestReloadLosesNothing(t *testing.T) {
	dir := t.TempDir()
	// Port 0 at first; later versions name the ports the kernel chose,
	// which the running sockets keep.
	f := &reloadFixture{t: t, dir: dir, pipes: filepath.Join(dir, "pipelines"), outDir: filepath.Join(dir, "out"),
		udpA: "127.0.0.1:0", tcpA: "127.0.0.1:0", udpB: "127.0.0.1:0"}
	must(t, os.Mkdir(f.pipes, 0o755))
	must(t, os.Mkdir(f.outDir, 0o755))
	f.writeA(1, `periods=["PT1S"]`)
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", f.pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()
	a := f.pipeline("a")
	if a == nil {
		t.Fatal("pipeline a did not start")
	}
	udpSrc, tcpSrc := pipeline.SourcesOf[*ingest.UDPSource](a)[0], pipeline.SourcesOf[*ingest.TCPSource](a)[0]
	f.udpA, f.tcpA = udpSrc.Addr().String(), tcpSrc.Addr().String()
	sa := sendUDP(t, f.udpA, "reload.udp")
	ta := sendTCP(t, f.tcpA, "reload.tcp")
	pause := func() { time.Sleep(300 * time.Millisecond) } // traffic flows between changes (not a synchronisation)
	pause()

	// 1. Sinks change, aggregation does not: the shards carry on.
	f.writeA(2, `periods=["PT1S"]`)
	f.reload(func(r ReloadResult) bool { return len(r.Updated) == 1 && len(r.Errors) == 0 })
	pause()
	// 2. Aggregation changes (a period added): the shards are reconfigured in place, the open PT1S buckets carry on.
	f.writeA(3, `periods=["PT1S", "PT1M"]`)
	f.reload(func(r ReloadResult) bool { return len(r.Updated) == 1 && len(r.Errors) == 0 })
	pause()
	// 3. An invalid version is refused; the running pipeline keeps running.
	writeFile(t, f.pipes, "a.conf", "name=a\nperiods=[\"PT1X\"]\n")
	f.reload(func(r ReloadResult) bool {
		return len(r.Errors) == 1 && len(r.Updated) == 0 && strings.Contains(r.Errors[0], "a.conf:2")
	})
	metrics := get(t, "http://"+d.HTTPAddr().String()+"/metrics")
	if !strings.Contains(metrics, `mad_config_refused{file="`+filepath.Join(f.pipes, "a.conf")) {
		t.Errorf("refused file not in /metrics")
	}
	pause()
	// 4. A new pipeline, over POST /reload.
	writeFile(t, f.pipes, "b.conf", fmt.Sprintf("name=b\nperiods=[\"PT1S\"]\nsources=[{type=StatsdSource, name=statsd_b, host=\"127.0.0.1\", port=%s}]\nsinks=[{type=JsonLinesSink, name=out_b, path=%q}]\n",
		portOf(f.udpB), filepath.Join(f.outDir, "b.jsonl")))
	resp, err := http.Post("http://"+d.HTTPAddr().String()+"/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// a.conf is still invalid: 422, b started.
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"started":["`) {
		t.Fatalf("POST /reload: %d %s", resp.StatusCode, body)
	}
	b := f.pipeline("b")
	if b == nil {
		t.Fatal("pipeline b did not start")
	}
	bSrc := pipeline.SourcesOf[*ingest.UDPSource](b)[0]
	f.udpB = bSrc.Addr().String()
	sb := sendUDP(t, f.udpB, "reload.b")
	pause()
	// 5. a is fixed with other statistics (max needs data the open buckets never kept: they are sealed at the reload and emitted in two parts).
	f.writeA(5, "periods=[\"PT1S\", \"PT1M\"]\ncounterStatistics=[\"sum\", \"count\", \"max\"]")
	f.reload(func(r ReloadResult) bool { return len(r.Updated) == 1 && len(r.Errors) == 0 })
	pause()
	// 6. b is removed (its senders stop first: nothing listens after).
	sentB := sb.halt()
	must(t, os.Remove(filepath.Join(f.pipes, "b.conf")))
	f.reload(func(r ReloadResult) bool { return len(r.Stopped) == 1 && len(r.Errors) == 0 })
	// What b counted to its end stays on /metrics (its counters, not its
	// gauges), as the source's own last count.
	bSamples := bSrc.Stats().Samples
	metrics = get(t, "http://"+d.HTTPAddr().String()+"/metrics")
	if want := fmt.Sprintf(`mad_source_samples_total{pipeline="b",source="statsd_b",protocol="udp"} %d`, bSamples); bSamples == 0 || !strings.Contains(metrics, want) {
		t.Errorf("the removed pipeline's samples (%d) are not on /metrics as %s", bSamples, want)
	}
	// b's series went by handle once its loop had seen them.
	if h := bSrc.Stats().Handles; h == 0 || h > bSamples || !strings.Contains(metrics, fmt.Sprintf(`mad_source_handle_samples_total{pipeline="b",source="statsd_b",protocol="udp"} %d`, h)) {
		t.Errorf("the removed pipeline's samples by handle: %d of %d, or not on /metrics", h, bSamples)
	}
	if strings.Contains(metrics, `mad_pipeline_series{pipeline="b"`) {
		t.Error("the removed pipeline's gauges are still on /metrics")
	}
	pause()

	if got := pipeline.SourcesOf[*ingest.UDPSource](a)[0]; got != udpSrc || got.Addr().String() != f.udpA {
		t.Error("the UDP source of a was replaced although its address did not change")
	}
	if got := pipeline.SourcesOf[*ingest.TCPSource](a)[0]; got != tcpSrc {
		t.Error("the TCP source of a was replaced although its address did not change")
	}
	sentUDP, sentTCP := sa.halt(), ta.halt()
	// Everything sent has been read once the sources have counted it. On a
	// starved machine (the race detector beside other work) the sockets'
	// queues drain slowly: only 30 s without progress fails.
	deadline, last := time.Now().Add(30*time.Second), uint64(0)
	for {
		u, tc := udpSrc.Stats(), tcpSrc.Stats()
		if u.Lines[0]+u.KernelDrops*10 >= sentUDP && tc.Lines[0] >= sentTCP {
			break
		}
		if n := u.Lines[0] + u.KernelDrops + tc.Lines[0]; n != last {
			deadline, last = time.Now().Add(30*time.Second), n
		}
		if time.Now().After(deadline) {
			t.Fatalf("udp: %d lines read + %d datagrams dropped of %d sent; tcp: %d of %d (nothing more for 30 s)", u.Lines[0], u.KernelDrops, sentUDP, tc.Lines[0], sentTCP)
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(t, d.Stop())
	stopped = true

	u, tc, bs := udpSrc.Stats(), tcpSrc.Stats(), bSrc.Stats()
	for _, st := range []struct {
		name                     string
		dropped, kernel, sampled uint64
	}{{"udp a", u.Dropped, u.KernelDrops, u.SampledOut}, {"tcp a", tc.Dropped, 0, tc.SampledOut}, {"udp b", bs.Dropped, bs.KernelDrops, bs.SampledOut}} {
		switch {
		case st.dropped != 0 && raceEnabled:
			// Counted, and accounted for below: under the race detector a
			// shard can stay starved longer than a UDP loop waits for ring
			// room (50 ms), which an ordinary build does not see.
			t.Logf("%s: %d samples dropped internally (counted; race detector)", st.name, st.dropped)
		case st.dropped != 0:
			t.Errorf("%s: %d samples dropped internally", st.name, st.dropped)
		}
		if st.kernel != 0 {
			t.Logf("%s: %d datagrams dropped by the kernel (counted)", st.name, st.kernel)
		}
	}
	check := func(name string, sent, kernelLines uint64) {
		got := sumOutput(t, filepath.Join(f.outDir, "*.jsonl"), name)
		if got+kernelLines != sent {
			t.Errorf("%s: %d lines sent, %d in the output, %d dropped and counted: %d lost", name, sent, got, kernelLines, int64(sent)-int64(got+kernelLines))
		} else {
			t.Logf("%s: %d lines sent, %d in the output, %d dropped and counted", name, sent, got, kernelLines)
		}
	}
	// Drops are counted: what was sent is what came out plus what the
	// kernel and (under the race detector only) the rings dropped.
	check("reload.udp", sentUDP, u.KernelDrops*10+u.Dropped)
	check("reload.tcp", sentTCP, tc.Dropped)
	check("reload.b", sentB, bs.KernelDrops*10+bs.Dropped)
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestReloadKeepsRunningPipelineOnBadFile: a refused file changes nothing,
// and a file that cannot start (its address is taken) keeps the old one.
func TestReloadAddressConflicts(t *testing.T) {
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	port := 0
	src := func(name string) string {
		return fmt.Sprintf("name=%s\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=%d}]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n",
			name, port, filepath.Join(dir, name+".jsonl"))
	}
	writeFile(t, pipes, "a.conf", src("a"))
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpPort=0\nhttpHost=\"127.0.0.1\"\nreloadInterval=\"PT0S\"\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	// A second pipeline on the port a was given is refused, before and
	// after a names it.
	a := pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0]
	fmt.Sscan(portOf(a.Addr().String()), &port)
	writeFile(t, pipes, "b.conf", src("b"))
	if r := d.Reload(); len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "already used by") || len(d.Pipelines()) != 1 {
		t.Errorf("the port a was given, twice: %+v", r)
	}
	must(t, os.Remove(filepath.Join(pipes, "b.conf")))
	writeFile(t, pipes, "a.conf", src("a"))
	if r := d.Reload(); len(r.Updated) != 1 || len(r.Errors) != 0 {
		t.Fatalf("a names its port: %+v", r)
	}
	if got := pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0]; got != a {
		t.Error("naming the port a source was given replaced the source")
	}
	// A second pipeline on the same address is refused (SO_REUSEPORT
	// would otherwise split the traffic silently).
	writeFile(t, pipes, "b.conf", src("b"))
	r := d.Reload()
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "already used by") || len(d.Pipelines()) != 1 {
		t.Errorf("same address twice: %+v", r)
	}
	// The same name twice is refused too.
	writeFile(t, pipes, "b.conf", strings.Replace(src("a"), fmt.Sprint(port), "0", 1))
	r = d.Reload()
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], `pipeline name "a" is already used`) {
		t.Errorf("same name twice: %+v", r)
	}
	// An address taken by another process: b cannot start, a is untouched.
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	writeFile(t, pipes, "b.conf", strings.Replace(strings.Replace(src("b"), fmt.Sprint(port), portOf(busy.LocalAddr().String()), 1), "StatsdSource", "TcpLineSource, parser={type=StatsdToRecordParser}", 1))
	l, err := net.Listen("tcp", "127.0.0.1:"+portOf(busy.LocalAddr().String()))
	if err == nil {
		defer l.Close()
		r = d.Reload()
		if len(r.Errors) != 1 || len(r.Started) != 0 || len(d.Pipelines()) != 1 {
			t.Errorf("busy address: %+v", r)
		}
	}
	// Nothing changed: nothing happens.
	must(t, os.Remove(filepath.Join(pipes, "b.conf")))
	r = d.Reload()
	if len(r.Started)+len(r.Updated)+len(r.Stopped)+len(r.Errors) != 0 {
		t.Errorf("unchanged configuration reloaded: %+v", r)
	}
}

// TestMainConfigReload: a changed main file moves the HTTP server and its
// paths; an invalid one is refused.
func TestMainConfigReload(t *testing.T) {
	dir := t.TempDir()
	write := func(host, ping string) string {
		return writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=%q\nhttpPort=0\nhttpHealthCheckPath=%q\nreloadInterval=0\n",
			filepath.Join(dir, "none"), host, ping))
	}
	main := write("127.0.0.1", "/ping")
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	first := d.HTTPAddr().String()
	if got := get(t, "http://"+first+"/ping"); !strings.Contains(got, "HEALTHY") {
		t.Fatalf("/ping: %q", got)
	}
	// Another loopback address (Linux answers on all of 127/8).
	write("127.0.0.2", "/health")
	if r := d.Reload(); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	moved := d.HTTPAddr().String()
	if !strings.HasPrefix(moved, "127.0.0.2:") {
		t.Fatalf("the server is on %s; want 127.0.0.2", moved)
	}
	if got := get(t, "http://"+moved+"/health"); !strings.Contains(got, "HEALTHY") {
		t.Fatalf("/health on the new address: %q", got)
	}
	writeFile(t, dir, "main.conf", "httpPort=\"x\"")
	if r := d.Reload(); len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "httpPort") {
		t.Fatalf("invalid main file: %+v", r)
	}
	if got := get(t, "http://"+moved+"/health"); !strings.Contains(got, "HEALTHY") {
		t.Fatalf("the daemon stopped serving after an invalid main file: %q", got)
	}
}

// TestReloadKeepsHTTPSource: an HTTP source whose kind stays keeps serving
// its route through reloads that replace the shards, without a refused
// request, and everything accepted is in the output.
func TestReloadKeepsHTTPSource(t *testing.T) {
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	write := func(periods string, n int) {
		writeFile(t, pipes, "h.conf", fmt.Sprintf("name=h\nperiods=%s\nsources=[{type=ClientHttpSourceV3, name=v3}]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n",
			periods, filepath.Join(dir, fmt.Sprintf("out-%d.jsonl", n))))
	}
	write(`["PT1S"]`, 1)
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := httpSourceOf(d, ingest.HTTPClientV3)
	url := "http://" + d.HTTPAddr().String() + "/metrics/v3/application"
	body := v3Request([]v3Record{{end: time.Now().UnixMilli(), dims: [][2]string{{"host", "a"}}, metrics: []v3Metric{{name: "reload/http", samples: []float64{1}}}}})
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		sent := 0
		c := &http.Client{}
		for {
			select {
			case <-stop:
				done <- sent
				return
			default:
			}
			if code, msg := post(t, c, url, "", body); code != http.StatusOK {
				t.Errorf("request %d during reloads: %d %s", sent, code, msg)
			}
			sent++
		}
	}()
	for i, periods := range []string{`["PT1S", "PT1M"]`, `["PT1S"]`, `["PT1S", "PT5S"]`} {
		time.Sleep(100 * time.Millisecond) // requests flow between reloads (not a synchronisation)
		write(periods, i+2)
		if r := d.Reload(); len(r.Updated) != 1 || len(r.Errors) > 0 {
			t.Fatalf("reload %d: %+v", i, r)
		}
		if httpSourceOf(d, ingest.HTTPClientV3) != src {
			t.Fatal("the HTTP source was replaced")
		}
	}
	close(stop)
	sent := <-done
	must(t, d.Stop())
	if got := sumOutput(t, filepath.Join(dir, "*.jsonl"), "reload/http"); got != uint64(sent) {
		t.Errorf("%d requests accepted, %d samples in the output", sent, got)
	}
}

// ping returns /ping's status code and body.
func ping(t *testing.T, d *Daemon) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.HTTPAddr().String() + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPingAfterReload: /ping is UNHEALTHY (MAD's 500) while a pipeline the
// configuration asks for does not run, naming it, and HEALTHY again once it
// runs; a refused change to a pipeline that keeps running its previous
// version leaves it HEALTHY.
func TestPingAfterReload(t *testing.T) {
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	good := func(name string) string {
		return fmt.Sprintf("name=%s\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=0}]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n",
			name, filepath.Join(dir, name+".jsonl"))
	}
	writeFile(t, pipes, "a.conf", good("a"))
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpPort=0\nhttpHost=\"127.0.0.1\"\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	healthy := func(what string) {
		t.Helper()
		if code, body := ping(t, d); code != http.StatusOK || body != `{"status":"HEALTHY"}` {
			t.Errorf("%s: /ping %d %s; want 200 HEALTHY", what, code, body)
		}
	}
	unhealthy := func(what, file string) {
		t.Helper()
		code, body := ping(t, d)
		var got struct {
			Status     string
			NotRunning []struct{ Pipeline, Problem string }
		}
		json.Unmarshal([]byte(body), &got)
		if code != http.StatusInternalServerError || got.Status != "UNHEALTHY" || len(got.NotRunning) != 1 ||
			got.NotRunning[0].Pipeline != filepath.Join(pipes, file) || got.NotRunning[0].Problem == "" {
			t.Errorf("%s: /ping %d %s; want 500 UNHEALTHY naming %s", what, code, body, file)
		}
	}
	healthy("at start")

	// A new pipeline with a class mad lacks: refused, not running.
	writeFile(t, pipes, "b.conf", good("b")+"sources+={type=FileSource, name=k, sourceFile=\"/var/log/x\"}\n")
	if r := d.Reload(); len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "FileSource is not available") {
		t.Fatalf("reload with b refused: %+v", r)
	}
	unhealthy("b refused", "b.conf")
	writeFile(t, pipes, "b.conf", good("b"))
	if r := d.Reload(); len(r.Started) != 1 || len(r.Errors) != 0 {
		t.Fatalf("reload with b fixed: %+v", r)
	}
	healthy("b fixed")

	// A change to a that is refused: a keeps running as it was.
	writeFile(t, pipes, "a.conf", "name=a\nperiods=[\"PT1X\"]\n")
	if r := d.Reload(); len(r.Errors) != 1 || len(d.Pipelines()) != 2 {
		t.Fatalf("reload with a refused: %+v", r)
	}
	healthy("a's change refused, a running")

	// A new pipeline that cannot start: its address is taken.
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer busy.Close()
	writeFile(t, pipes, "c.conf", strings.Replace(good("c"), "port=0", "port="+portOf(busy.LocalAddr().String()), 1))
	if r := d.Reload(); len(r.Errors) != 2 {
		t.Fatalf("reload with c's port taken: %+v", r)
	}
	unhealthy("c cannot bind", "c.conf")
	must(t, os.Remove(filepath.Join(pipes, "c.conf")))
	d.Reload()
	healthy("c removed")
}

// TestOpenRefusesWhatCannotRun: at start-up a configuration whose
// pipelines cannot all run is refused with every problem, and nothing is
// left running; a problem found without binding refuses it before any
// pipeline starts (the good pipeline's output file is never created).
func TestOpenRefusesWhatCannotRun(t *testing.T) {
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	out := filepath.Join(dir, "good.jsonl")
	writeFile(t, pipes, "good.conf", fmt.Sprintf("name=good\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=0}]\nsinks=[{type=JsonLinesSink, name=j, path=%q}]\n", out))
	writeFile(t, pipes, "bad.conf", "name=bad\nperiods=[\"PT1X\"]\n")
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpPort=0\nhttpHost=\"127.0.0.1\"\nreloadInterval=0\n", pipes))
	_, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	var re *RefusedError
	if !errors.As(err, &re) || len(re.Problems) != 1 || !strings.Contains(re.Problems[0], "bad.conf:2") {
		t.Fatalf("Open with a bad pipeline: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the good pipeline started before the configuration was refused (its output exists: %v)", err)
	}
	// A port taken by another process: found when binding; the good
	// pipeline that started is stopped.
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	must(t, err)
	defer busy.Close()
	writeFile(t, pipes, "bad.conf", fmt.Sprintf("name=bad\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=%s}]\n", portOf(busy.LocalAddr().String())))
	_, err = Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if !errors.As(err, &re) || len(re.Problems) != 1 || !strings.Contains(re.Problems[0], "bad.conf") {
		t.Fatalf("Open with a port taken: %v", err)
	}
	// Two sources of one pipeline on one address.
	writeFile(t, pipes, "bad.conf", "name=bad\nsources=[{type=StatsdSource, name=s, host=\"0.0.0.0\", port=18125}, {type=StatsdSource, name=t, host=\"127.0.0.1\", port=18125}]\n")
	_, err = Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if !errors.As(err, &re) || len(re.Problems) != 1 || !strings.Contains(re.Problems[0], "claimed by two sources of this pipeline") {
		t.Fatalf("Open with one address twice: %v", err)
	}
	// With an empty pipelines directory nothing is configured: the daemon
	// runs its control plane, healthy.
	must(t, os.Remove(filepath.Join(pipes, "bad.conf")))
	must(t, os.Remove(filepath.Join(pipes, "good.conf")))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	if code, body := ping(t, d); code != http.StatusOK {
		t.Errorf("no pipelines: /ping %d %s", code, body)
	}
}

// TestReloadAppliedDespiteOldSinkError: a reload whose change was applied
// keeps its new sinks running even when closing the old ones failed (a
// JSON lines sink reports the last write error it saw at its close): the
// problem is a warning, not a refusal. Before, the daemon took the error
// for a refusal and closed the new sinks the emitter was writing to, so
// every later bucket was lost uncounted, and the next reload closed them
// again (a periodic statistics sink panicked).
func TestReloadAppliedDespiteOldSinkError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fail writes with")
	}
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	conf := func(port, path string) {
		writeFile(t, pipes, "a.conf", fmt.Sprintf("name=a\nperiods=[\"PT1S\"]\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=%s}]\n"+
			"sinks=[{type=JsonLinesSink, name=out, path=%q}, {type=PeriodicStatisticsSink, name=stats, intervalInMilliseconds=500}]\n", port, path))
	}
	conf("0", "/dev/full")
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	p := d.Pipelines()[0]
	addr := pipeline.SourcesOf[*ingest.UDPSource](p)[0].Addr().String()
	old := p.Sinks()[0].(*jsonlines.Sink)
	s := sendUDP(t, addr, "applied")
	defer s.halt()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, _, errs := old.Stats(); errs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sink on /dev/full never failed a write")
		}
	}
	out := filepath.Join(dir, "out.jsonl")
	conf(portOf(addr), out)
	r := d.Reload()
	if len(r.Updated) != 1 || len(r.Errors) != 0 || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "no space left") {
		t.Fatalf("reload: %+v; want a.conf updated, the old sink's write error a warning", r)
	}
	nw := d.Pipelines()[0].Sinks()[0].(*jsonlines.Sink)
	for deadline := time.Now().Add(20 * time.Second); sumOutput(t, out, "applied") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			w, dr, e := nw.Stats()
			t.Fatalf("nothing written by the new sink after the reload (written %d, dropped %d, errors %d)", w, dr, e)
		}
	}
	// Another change closes the sinks of the last one, once.
	writeFile(t, pipes, "a.conf", fmt.Sprintf("name=a\nperiods=[\"PT1S\"]\nsources=[{type=StatsdSource, name=s, host=\"127.0.0.1\", port=%s}]\nsinks=[{type=JsonLinesSink, name=out, path=%q}]\n",
		portOf(addr), filepath.Join(dir, "out2.jsonl")))
	if r := d.Reload(); len(r.Updated) != 1 || len(r.Errors) != 0 || len(r.Warnings) != 0 {
		t.Fatalf("second reload: %+v", r)
	}
}

// TestMainReloadAllOrNothing: a main file whose change cannot be applied
// whole (a key file missing) is refused and changes nothing: HTTPS keeps
// serving, and the HTTP server stays where it was, so that the file, once
// mended, applies. The old HTTPS server was shut down before the new key
// was read, and a change of httpPort with it was applied half: every
// later reload then failed to bind the port the daemon itself held. A new
// certificate at the same address is served without closing the listener.
func TestMainReloadAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool := writeCerts(t, dir, "pkcs8")
	otherDir := t.TempDir()
	cert2, key2, pool2 := writeCerts(t, otherDir, "pkcs8")
	write := func(httpHost, cert, key string) {
		writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=%q\nhttpPort=0\nhttpsHost=\"127.0.0.1\"\nhttpsPort=0\nenableHttps=true\nhttpsCertificatePath=%q\nhttpsKeyPath=%q\nreloadInterval=0\n",
			filepath.Join(dir, "none"), httpHost, cert, key))
	}
	write("127.0.0.1", cert, key)
	d, err := Open(filepath.Join(dir, "main.conf"), nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	ping := func(pool *x509.CertPool) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		defer c.CloseIdleConnections()
		addr := d.HTTPSAddr()
		if addr == nil {
			return errors.New("no HTTPS server")
		}
		resp, err := c.Get("https://" + addr.String() + "/ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	must(t, ping(pool))
	httpAddr := d.HTTPAddr().String()
	// The key gone, and the HTTP host changed with it: refused whole.
	write("127.0.0.2", cert, filepath.Join(dir, "none.pem"))
	if r := d.Reload(); len(r.Errors) != 1 {
		t.Fatalf("reload with a missing key: %+v", r)
	}
	if err := ping(pool); err != nil {
		t.Fatalf("HTTPS after a refused reload: %v", err)
	}
	if got := d.HTTPAddr().String(); got != httpAddr {
		t.Fatalf("HTTP moved to %s though the reload was refused", got)
	}
	// Mended: applied whole.
	write("127.0.0.2", cert, key)
	if r := d.Reload(); len(r.Errors) != 0 {
		t.Fatalf("the mended file: %+v", r)
	}
	if got := d.HTTPAddr().String(); !strings.HasPrefix(got, "127.0.0.2:") {
		t.Fatalf("HTTP on %s; want 127.0.0.2", got)
	}
	must(t, ping(pool))
	// Another certificate at the same address: served at once.
	write("127.0.0.2", cert2, key2)
	if r := d.Reload(); len(r.Errors) != 0 {
		t.Fatalf("a new certificate: %+v", r)
	}
	if err := ping(pool2); err != nil {
		t.Fatalf("the new certificate is not served: %v", err)
	}
}

// TestMainReloadMonitoringDimensions: a reloaded main file's
// monitoringCluster, monitoringService and monitoringHost are those of the
// daemon's own metrics from then on (MAD restarts on a change of its main
// file); they were fixed at start-up.
func TestMainReloadMonitoringDimensions(t *testing.T) {
	dir := t.TempDir()
	write := func(cluster, service, host string) {
		writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\nmonitoringCluster=%q\nmonitoringService=%q\nmonitoringHost=%q\n",
			filepath.Join(dir, "none"), cluster, service, host))
	}
	write("old", "old-svc", "old-host")
	d, err := Open(filepath.Join(dir, "main.conf"), nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	write("new", "new-svc", "new-host")
	if r := d.Reload(); len(r.Errors) != 0 {
		t.Fatalf("reload: %+v", r)
	}
	if got := *d.self.dims.Load(); got != (selfDims{"new", "new-svc", "new-host"}) {
		t.Fatalf("the daemon's own metrics carry %+v after the reload; want the new dimensions", got)
	}
}
