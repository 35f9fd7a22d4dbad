package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	madstatsd "github.com/gomad/mad/ingest/statsd"
)

// TestDatadogClientUnixSocket: datadog-go, as it ships, sends counters,
// gauges, histograms and distributions with tags to "unix://" + the path
// of a StatsdSource's unixSocketPath (a daemon opened on MAD configuration
// files); the JSON lines hold exactly the expected count, sum, min, max
// and MAD percentiles; the socket file has the configured mode while mad
// runs and is gone when it stops; /metrics reports the source as
// protocol="unixgram", without kernel drops.
func TestDatadogClientUnixSocket(t *testing.T) {
	dir := t.TempDir()
	// t.TempDir's paths carry the test's name: too long for some TMPDIRs
	// under the 107 bytes of a socket address.
	sockDir, err := os.MkdirTemp("", "mad")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "dsd.socket")
	out := filepath.Join(dir, "out.jsonl")
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	writeFile(t, pipes, "dsd.conf", fmt.Sprintf(`name=dsd
periods=["PT1S", "P3650D"]
timerStatistics=["count", "sum", "min", "max", "mean", "median", "tp90", "tp99", "tp99.9"]
gaugeStatistics=["count", "min", "max", "mean"]
sources=[{ type=StatsdSource, name=dsd, unixSocketPath=%q, unixSocketMode="0660" }]
sinks=[{ type=JsonLinesSink, name=out, path=%q }]
`, sock, out))
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\nmonitoringSinks=[]\n", pipes))
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
	p := d.Pipelines()[0]
	src := pipeline.SourcesOf[*ingest.UDPSource](p)[0]
	if got, want := src.Key(), "unixgram "+sock; got != want {
		t.Fatalf("source key %q; want %q", got, want)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file %v (err %v); want a socket of mode 0660", fi.Mode(), err)
	}

	// datadog-go's defaults for UDS (8 KiB datagrams), except that a write
	// may wait a minute rather than drop after 100 ms if mad's loop is slow
	// on a loaded machine: the test must not depend on timing.
	c, err := statsd.New("unix://"+sock, statsd.WithoutClientSideAggregation(), statsd.WithoutTelemetry(),
		statsd.WithoutOriginDetection(), statsd.WithWriteTimeout(time.Minute))
	must(t, err)
	const n = 2000
	var latencies, payloads []float64
	for i := range n {
		tags := []string{"endpoint:/users", "host:web-1"}
		if i%2 == 1 {
			tags = []string{"host:web-1", "endpoint:/users"} // tag order must not split a series
		}
		lat := float64(i%997+1) / 4
		latencies = append(latencies, lat)
		payloads = append(payloads, float64(i%100))
		must(t, c.Count("dsd.requests", int64(i%3+1), tags, 1))
		must(t, c.Gauge("dsd.queue", float64(i%50), []string{"host:web-1"}, 1))
		must(t, c.Histogram("dsd.payload", float64(i%100), []string{"env:prod"}, 1))
		must(t, c.Distribution("dsd.latency", lat, tags, 1))
	}
	must(t, c.Flush())
	if tr := c.GetTransport(); tr != "uds" {
		t.Errorf("datadog-go's transport %q; want uds (unixgram)", tr)
	}
	must(t, c.Close())
	const lines = 4 * n
	waitParsed(t, "unix socket", lines, func() (got uint64) {
		for _, c := range src.Stats().Lines {
			got += c
		}
		return got
	})
	metrics := get(t, "http://"+d.HTTPAddr().String()+"/metrics")
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file after stop: %v; want it removed", err)
	}
	st := src.Stats()
	if st.Samples != lines || st.Truncated != 0 || st.Dropped != 0 || st.Datagrams == 0 || st.Bytes > 8192*st.Datagrams {
		t.Errorf("source stats %+v; want %d samples in datagrams of at most 8192 bytes, none truncated or dropped", st, lines)
	}
	t.Logf("%d lines in %d datagrams, %d bytes", lines, st.Datagrams, st.Bytes)
	if !strings.Contains(metrics, `mad_source_datagrams_total{pipeline="dsd",source="dsd",protocol="unixgram"}`) ||
		strings.Contains(metrics, `mad_source_kernel_drops_total{pipeline="dsd"`) {
		t.Errorf("/metrics does not report the source as unixgram without kernel drops:\n%s", metrics)
	}

	body, err := os.ReadFile(out)
	must(t, err)
	got := totalsBySeries(t, string(body))
	both := fmt.Sprint(map[string]string{"endpoint": "/users", "host": "web-1"})
	if len(got) != 4 {
		t.Fatalf("series %v; want 4 (tag order must not split a series)", keysOf(got))
	}
	sum := func(vs []float64) (s float64) {
		for _, v := range vs {
			s += v
		}
		return s
	}
	for _, tc := range []struct {
		key                  string
		count, sum, min, max float64
		values               []float64 // for percentiles, if any
	}{
		{"dsd.requests" + both, n, 2*n - 1, math.Inf(1), math.Inf(-1), nil},                          // i%3+1: 667×1 + 667×2 + 666×3
		{"dsd.queue" + fmt.Sprint(map[string]string{"host": "web-1"}), n, n / 50 * 1225, 0, 49, nil}, // mean's sum: 40 rounds of 0..49
		{"dsd.payload" + fmt.Sprint(map[string]string{"env": "prod"}), n, sum(payloads), 0, 99, payloads},
		{"dsd.latency" + both, n, sum(latencies), 0.25, 249.25, latencies},
	} {
		a := got[tc.key]
		if a == nil || a.decade == nil {
			t.Errorf("%s: missing (series %v)", tc.key, keysOf(got))
			continue
		}
		if a.count != tc.count || math.Abs(a.sum-tc.sum) > 1e-9 || a.min != tc.min || a.max != tc.max {
			t.Errorf("%s PT1S totals: count %v sum %v min %v max %v; want %v %v %v %v", tc.key, a.count, a.sum, a.min, a.max, tc.count, tc.sum, tc.min, tc.max)
		}
		if a.decade.PopulationSize != int64(tc.count) {
			t.Errorf("%s: population %d; want %v", tc.key, a.decade.PopulationSize, tc.count)
		}
		for st, pc := range map[string]float64{"median": 50, "tp90": 90, "tp99": 99, "tp99.9": 99.9} {
			if tc.values == nil {
				break
			}
			if v := a.decade.Statistics[st]; v == nil || *v != exactPercentile(tc.values, pc) {
				t.Errorf("%s %s = %v; want %v", tc.key, st, v, exactPercentile(tc.values, pc))
			}
		}
	}
	if q := got["dsd.queue"+fmt.Sprint(map[string]string{"host": "web-1"})]; q != nil && q.decade != nil {
		if m := q.decade.Statistics["mean"]; m == nil || *m != 24.5 { // i%50 over 40 rounds
			t.Errorf("dsd.queue mean %v; want 24.5", m)
		}
	}
}

// TestReloadUnixSocket: a reload that changes a unixgram source's decoder
// and mode keeps its socket (a sender connected before still sends to it)
// and applies the mode in place; a second pipeline claiming the path is
// refused; another path is a new source, and the old file is removed.
func TestReloadUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "mad")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sockA, sockB := filepath.Join(sockDir, "a.socket"), filepath.Join(sockDir, "b.socket")
	pipes := filepath.Join(dir, "pipelines")
	must(t, os.Mkdir(pipes, 0o755))
	write := func(file, name, path, extra string) {
		writeFile(t, pipes, file, fmt.Sprintf("name=%s\nsources=[{ type=StatsdSource, name=dsd, unixSocketPath=%q %s }]\nsinks=[{ type=JsonLinesSink, name=out, path=%q }]\n",
			name, path, extra, filepath.Join(dir, name+".jsonl")))
	}
	write("a.conf", "a", sockA, "")
	main := writeFile(t, dir, "main.conf", fmt.Sprintf("pipelinesDirectory=%q\nhttpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=0\nmonitoringSinks=[]\n", pipes))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	source := func() *ingest.UDPSource { return pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0] }
	first := source()
	bound, err := os.Lstat(sockA)
	must(t, err)
	if bound.Mode().Perm() != ingest.DefaultUnixMode {
		t.Fatalf("mode %v; want %v", bound.Mode().Perm(), ingest.DefaultUnixMode)
	}
	conn, err := net.Dial("unixgram", sockA)
	must(t, err)
	defer conn.Close()
	sent := uint64(0)
	send := func() error {
		_, err := conn.Write([]byte("n:1|c\n"))
		if err == nil {
			sent++
		}
		return err
	}
	must(t, send())

	write("a.conf", "a", sockA, `, sampleRateMode=scale, unixSocketMode="0600"`)
	if r := d.Reload(); len(r.Errors) > 0 || len(r.Updated) != 1 {
		t.Fatalf("reload: %+v", r)
	}
	if source() != first {
		t.Fatal("a reload that changed the decoder and mode replaced the source")
	}
	if fi, err := os.Lstat(sockA); err != nil || !os.SameFile(fi, bound) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file after reload: %v (err %v, same %v); want the same socket, mode 0600", fi.Mode(), err, err == nil && os.SameFile(fi, bound))
	}
	must(t, send())
	waitParsed(t, "unix socket", sent, func() uint64 { return first.Stats().Lines[madstatsd.OK] })

	write("b.conf", "b", sockA, "")
	if r := d.Reload(); len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "unixgram "+sockA+" is already used by") {
		t.Fatalf("a second pipeline on the same path: %+v", r)
	}
	must(t, os.Remove(filepath.Join(pipes, "b.conf")))

	write("a.conf", "a", sockB, "")
	if r := d.Reload(); len(r.Errors) > 0 || len(r.Updated) != 1 {
		t.Fatalf("reload: %+v", r)
	}
	if source() == first || source().Key() != "unixgram "+sockB {
		t.Fatalf("source %s after the path changed; want a new one at %s", source().Key(), sockB)
	}
	if _, err := os.Lstat(sockA); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old socket file: %v; want it removed", err)
	}
	if err := send(); err == nil {
		t.Fatal("a sender to the old socket still sends")
	}
	if st := first.Stats(); st.Lines[madstatsd.OK] != sent {
		t.Fatalf("the old source parsed %d lines; want the %d sent", st.Lines[madstatsd.OK], sent)
	}
	b, err := net.Dial("unixgram", sockB)
	must(t, err)
	defer b.Close()
	_, err = b.Write([]byte("n:1|c\n"))
	must(t, err)
	waitParsed(t, "unix socket", 1, func() uint64 { return source().Stats().Lines[madstatsd.OK] })
}
