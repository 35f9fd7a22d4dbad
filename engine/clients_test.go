package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

// Real clients against the HTTP routes, as they ship (Debian packages,
// installed by .ci/run; a test is skipped where its client is missing).

func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func httpSourceOf(d *Daemon, kind ingest.HTTPKind) *ingest.HTTPSource {
	for _, p := range d.Pipelines() {
		for _, h := range pipeline.SourcesOf[*ingest.HTTPSource](p) {
			if h.Kind() == kind {
				return h
			}
		}
	}
	return nil
}

// TestCollectdWriteHTTP runs collectd with its unixsock and write_http
// plugins (JSON, X-TAG headers, as MAD's README configures it), feeds it
// exact values through the socket, and checks mad's aggregates.
func TestCollectdWriteHTTP(t *testing.T) {
	bin, err := exec.LookPath("collectd")
	if err != nil {
		bin = "/usr/sbin/collectd"
	}
	if _, err := os.Stat(bin); err != nil {
		missingTool(t, "collectd is not installed (apt-get install collectd-core)")
	}
	plugins := "/usr/lib/collectd"
	if _, err := os.Stat(filepath.Join(plugins, "write_http.so")); err != nil {
		missingTool(t, "collectd's write_http plugin is missing")
	}
	var out lockedBuffer
	d := httpDaemon(t, &out, nil)
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()
	dir := t.TempDir()
	sock := filepath.Join(dir, "collectd.sock")
	conf := writeFile(t, dir, "collectd.conf", fmt.Sprintf(`Hostname "collectd-test"
FQDNLookup false
Interval 1
BaseDir %q
PIDFile %q
PluginDir %q
TypesDB "/usr/share/collectd/types.db"
LoadPlugin unixsock
LoadPlugin write_http
<Plugin unixsock>
  SocketFile %q
</Plugin>
<Plugin write_http>
  <Node "mad">
    URL "http://%s/metrics/v1/collectd"
    Format "JSON"
    Header "X-TAG-SERVICE: collectd"
    Header "X-TAG-CLUSTER: collectd_local"
    StoreRates true
    BufferSize 4096
  </Node>
</Plugin>
`, dir, filepath.Join(dir, "collectd.pid"), plugins, sock, d.HTTPAddr()))
	// Debian's collectd-core leaves write_http's libraries (libyajl2,
	// libcurl4) to Recommends: without them the plugin does not load, which
	// collectd -t does not notice (5.12 loads no plugin then): ldd does.
	if out, err := exec.Command(bin, "-t", "-C", conf).CombinedOutput(); err != nil {
		missingTool(t, "collectd refuses its configuration: %s", out)
	}
	if out, err := exec.Command("ldd", filepath.Join(plugins, "write_http.so")).CombinedOutput(); err != nil || bytes.Contains(out, []byte("not found")) {
		missingTool(t, "collectd cannot load write_http (apt-get install libyajl2 libcurl4): %s", out)
	}
	cmd := exec.Command(bin, "-f", "-C", conf)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	defer cmd.Process.Kill()
	waitUntil(t, "collectd's socket", 30*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	cmdline := func(line string) {
		t.Helper()
		fmt.Fprintln(c, line)
		status, err := rd.ReadString('\n')
		if err != nil || strings.HasPrefix(status, "-") {
			t.Fatalf("%s: %q %v\n%s", line, status, err, logs.String())
		}
		// Multi-line answers announce their line count.
		var n int
		fmt.Sscanf(status, "%d", &n)
		for ; n > 0; n-- {
			rd.ReadString('\n')
		}
	}
	now := time.Now().Unix()
	var sum float64
	const n = 10
	for i := 0; i < n; i++ {
		v := float64(i) + 0.5
		sum += v
		cmdline(fmt.Sprintf(`PUTVAL "collectd-test/probe-one/gauge-level" interval=1 %d:%g`, now-n+int64(i), v))
	}
	// collectd hands values to its write threads asynchronously, so a
	// FLUSH may come before write_http has them: flush until they arrive.
	src := httpSourceOf(d, ingest.HTTPCollectd)
	flushed := time.Time{}
	waitUntil(t, "collectd's records", 60*time.Second, func() bool {
		if time.Since(flushed) > 200*time.Millisecond {
			cmdline(`FLUSH timeout=0`) // write_http posts its buffer
			flushed = time.Now()
		}
		return src.Stats().Records >= n
	})
	must(t, cmd.Process.Kill())
	cmd.Wait()
	must(t, d.Stop())
	stopped = true
	var found bool
	for _, l := range parseLines(t, out.String()) {
		if l.Metric != "probe/one/gauge/level" {
			continue
		}
		found = true
		st := l.Statistics
		if *st["count"] != n || *st["min"] != 0.5 || *st["max"] != n-0.5 || *st["sum"] != sum ||
			l.Dimensions["host"] != "collectd-test" || l.Dimensions["service"] != "collectd" || l.Dimensions["cluster"] != "collectd_local" {
			t.Errorf("aggregated as %+v %+v", l.Dimensions, l.Statistics)
		}
	}
	if !found {
		t.Errorf("no probe/one/gauge/level in the output:\n%s", out.String())
	}
	if st := src.Stats(); st.BadRequest+st.TooLarge+st.Failed != 0 {
		t.Errorf("requests refused: %+v", st)
	}
}

// TestVmagentRemoteWrite has vmagent scrape a fixed exposition and remote
// write it to mad; mad aggregates MAD's way: gauges, `_total` series skipped.
func TestVmagentRemoteWrite(t *testing.T) {
	bin, err := exec.LookPath("vmagent")
	if err != nil {
		missingTool(t, "vmagent is not installed (apt-get install victoria-metrics)")
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE madtest_temperature gauge\nmadtest_temperature{room=\"a\"} 21.5\n# TYPE madtest_requests_total counter\nmadtest_requests_total 7\n")
	}))
	defer target.Close()
	var out lockedBuffer
	d := httpDaemon(t, &out, nil)
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()
	dir := t.TempDir()
	scrape := writeFile(t, dir, "scrape.yml", fmt.Sprintf(`scrape_configs:
  - job_name: madtest
    scrape_interval: 1s
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(target.URL, "http://")))
	cmd := exec.Command(bin,
		"-promscrape.config="+scrape,
		"-remoteWrite.url=http://"+d.HTTPAddr().String()+"/metrics/prometheus",
		"-remoteWrite.tmpDataPath="+filepath.Join(dir, "data"),
		"-remoteWrite.flushInterval=100ms",
		"-httpListenAddr=127.0.0.1:0",
		"-loggerLevel=ERROR")
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	must(t, cmd.Start())
	defer cmd.Process.Kill()
	src := httpSourceOf(d, ingest.HTTPPrometheus)
	waitUntil(t, "two scrapes written", 60*time.Second, func() bool { return src.Stats().Samples >= 2 })
	must(t, cmd.Process.Kill())
	cmd.Wait()
	must(t, d.Stop())
	stopped = true
	var found bool
	for _, l := range parseLines(t, out.String()) {
		switch l.Metric {
		case "madtest_temperature":
			found = true
			if l.Type != "gauge" || *l.Statistics["min"] != 21.5 || *l.Statistics["max"] != 21.5 || l.Dimensions["room"] != "a" || l.Dimensions["job"] != "madtest" {
				t.Errorf("aggregated as %s %+v %+v", l.Type, l.Dimensions, l.Statistics)
			}
		case "madtest_requests_total":
			t.Errorf("a _total series was not skipped: %+v", l)
		}
	}
	if !found {
		t.Errorf("no madtest_temperature in the output; vmagent said:\n%s", logs.String())
	}
	if st := src.Stats(); st.BadRequest+st.TooLarge+st.Failed != 0 {
		t.Errorf("requests refused: %+v\n%s", st, logs.String())
	}
}
