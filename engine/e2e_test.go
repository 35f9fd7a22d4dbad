package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
)

// decade is a period no test run crosses the end of, so that one bucket
// holds every sample and percentiles are exact.
const decade = 10 * 365 * 24 * time.Hour

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// jsonLine is the JsonLinesSink format.
type jsonLine struct {
	Period         string              `json:"period"`
	Start          string              `json:"start"`
	Dimensions     map[string]string   `json:"dimensions"`
	Metric         string              `json:"metric"`
	Type           string              `json:"type"`
	Unit           string              `json:"unit"`
	PopulationSize int64               `json:"populationSize"`
	Statistics     map[string]*float64 `json:"statistics"`
}

func parseLines(t *testing.T, out string) []jsonLine {
	t.Helper()
	var lines []jsonLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l jsonLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// startDaemon runs a daemon with one StatsD pipeline on loopback writing
// JSON lines into out.
func startDaemon(t *testing.T, out *lockedBuffer, periods []time.Duration, shards int) (*Daemon, string, string) {
	return startDaemonBuffer(t, out, periods, shards, 64<<20, pipeline.InlineAuto)
}

// startDaemonBuffer is startDaemon with the UDP sockets' receive buffer and
// the pipeline's Inline mode given.
func startDaemonBuffer(t *testing.T, out *lockedBuffer, periods []time.Duration, shards, readBuffer int, inline pipeline.InlineMode) (*Daemon, string, string) {
	t.Helper()
	d, err := Start(DaemonConfig{
		HTTPAddr: "127.0.0.1:0",
		Pipelines: []pipeline.Config{{
			Name:   "e2e",
			Shards: shards,
			Inline: inline,
			// Rings that hold every batch the tests send, even of one
			// sample each: the tests must not depend on the shards keeping
			// up (overload is counted; loss_test checks that at speed).
			RingSize: 16384,
			Shard: shard.Config{
				Periods: periods,
				// Percentiles for everything, so that they can be checked.
				TimerStatistics: hist.SetOf(hist.Count, hist.Sum, hist.Min, hist.Max, hist.Mean, hist.Median, hist.TP90, hist.TP99, hist.TP99p9),
				GaugeStatistics: hist.SetOf(hist.Count, hist.Min, hist.Max, hist.Mean),
			},
			Sources: []ingest.SourceConfig{
				&ingest.UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Loops: 2, ReadBuffer: readBuffer},
				&ingest.TCPConfig{Name: "statsd-tcp", Addr: "127.0.0.1:0"},
			},
			Sinks: []sinks.Sink{jsonlines.NewWriter("json", out)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := d.Pipelines()[0]
	return d, pipeline.SourcesOf[*ingest.UDPSource](p)[0].Addr().String(), pipeline.SourcesOf[*ingest.TCPSource](p)[0].Addr().String()
}

// waitLines waits until the pipeline's UDP sources have parsed n lines.
func waitLines(t *testing.T, p *pipeline.Pipeline, n uint64) {
	t.Helper()
	waitParsed(t, "UDP", n, func() (got uint64) {
		for _, u := range pipeline.SourcesOf[*ingest.UDPSource](p) {
			for _, c := range u.Stats().Lines {
				got += c
			}
		}
		return got
	})
}

// waitTCPLines waits until the pipeline's TCP sources have parsed n lines.
func waitTCPLines(t *testing.T, p *pipeline.Pipeline, n uint64) {
	t.Helper()
	waitParsed(t, "TCP", n, func() (got uint64) {
		for _, src := range pipeline.SourcesOf[*ingest.TCPSource](p) {
			for _, c := range src.Stats().Lines {
				got += c
			}
		}
		return got
	})
}

// waitParsed waits until parsed reports at least n lines.
func waitParsed(t *testing.T, what string, n uint64, parsed func() uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := parsed()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d %s lines arrived", got, n, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exactPercentile is MAD's percentile computed from scratch: sort the
// truncated values, take the value at ceil(n*p/100).
func exactPercentile(values []float64, p float64) float64 {
	b := make([]float64, len(values))
	for i, v := range values {
		b[i] = hist.Truncate(v)
	}
	sort.Float64s(b)
	target := int(math.Min(math.Ceil(float64(len(b))*p/100), float64(len(b))))
	return b[max(target, 1)-1]
}

// TestDatadogClient: a real StatsD client (datadog-go, no client-side
// aggregation) sends a known workload; the JSON lines show exactly the
// expected count, sum, min, max and MAD percentiles per period: with the
// shards' threads applying the UDP loops' batches, and with the loops
// applying them (run to completion, the default on one CPU).
func TestDatadogClient(t *testing.T) { inlineModes(t, testDatadogClient) }

// inlineModes runs test with the shards' threads applying every batch and
// with the sources applying theirs (pipeline Inline).
func inlineModes(t *testing.T, test func(*testing.T, pipeline.InlineMode)) {
	t.Run("shard-threads", func(t *testing.T) { test(t, pipeline.InlineOff) })
	t.Run("inline", func(t *testing.T) { test(t, pipeline.InlineOn) })
}

// checkSteps checks that the sources ran rounds of p's shards (Step) if and
// only if p ran inline. Call it after the daemon stopped.
func checkSteps(t *testing.T, p *pipeline.Pipeline, inline pipeline.InlineMode) {
	t.Helper()
	var steps uint64
	for _, s := range p.Shards() {
		steps += s.Stats().Steps
	}
	if (inline == pipeline.InlineOn) != (steps > 0) {
		t.Errorf("inline %v: the sources ran %d rounds of the shards", inline == pipeline.InlineOn, steps)
	}
}

func testDatadogClient(t *testing.T, inline pipeline.InlineMode) {
	out := &lockedBuffer{}
	d, udpAddr, tcpAddr := startDaemonBuffer(t, out, []time.Duration{time.Second, decade}, 2, 64<<20, inline)
	c, err := statsd.New(udpAddr, statsd.WithoutClientSideAggregation(), statsd.WithoutTelemetry(),
		statsd.WithoutOriginDetection(), statsd.WithMaxBytesPerPayload(1400))
	if err != nil {
		t.Fatal(err)
	}
	var latencies []float64
	const n = 2000
	var lines uint64
	for i := 0; i < n; i++ {
		ms := time.Duration(i%997+1) * time.Millisecond / 4
		latencies = append(latencies, ms.Seconds()*1000) // sent as milliseconds
		must(t, c.Timing("api.latency", ms, []string{"endpoint:/users", "host:web-1"}, 1))
		must(t, c.Count("api.requests", 2, []string{"host:web-1", "endpoint:/users"}, 1)) // tag order differs
		must(t, c.Gauge("queue.depth", float64(i%50), []string{"host:web-1"}, 1))
		must(t, c.Histogram("payload.bytes", float64(i%100), nil, 1))
		lines += 4
	}
	must(t, c.Event(statsd.NewEvent("deploy", "v2")))
	must(t, c.Flush())
	must(t, c.Close())
	// And counters over StatsD's TCP source, in writes that split lines.
	tc, err := net.Dial("tcp", tcpAddr)
	must(t, err)
	var tcpLines strings.Builder
	for i := range n {
		fmt.Fprintf(&tcpLines, "tcp.hits:%d|c\n", i%3+1)
	}
	for b := []byte(tcpLines.String()); len(b) > 0; b = b[min(len(b), 777):] {
		_, err := tc.Write(b[:min(len(b), 777)])
		must(t, err)
	}
	must(t, tc.Close())
	p := d.Pipelines()[0]
	waitLines(t, p, lines+1)
	waitTCPLines(t, p, n)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	checkSteps(t, p, inline)

	got := totalsBySeries(t, out.String())
	if len(got) != 5 {
		t.Fatalf("got series %v; want 5 (tag order must not split series)", keysOf(got))
	}
	if th := got["tcp.hits"+fmt.Sprint(map[string]string{})]; th == nil || th.count != n || th.sum != 2*n-1 {
		// i%3+1 for i < 2000: 667×1 + 667×2 + 666×3
		t.Errorf("tcp.hits: %+v; want count %d sum %d", th, n, 2*n-1)
	}
	lat := got["api.latency"+fmt.Sprint(map[string]string{"endpoint": "/users", "host": "web-1"})]
	if lat == nil || lat.decade == nil {
		t.Fatalf("api.latency missing: %v", keysOf(got))
	}
	var wantSum float64
	for _, v := range latencies {
		wantSum += v / 1000
	}
	if lat.count != n || math.Abs(lat.sum-wantSum) > 1e-9 || lat.min != 0.00025 || lat.max != 0.24925 {
		t.Errorf("api.latency PT1S totals: count %v sum %v min %v max %v; want %d %v 0.00025 0.24925", lat.count, lat.sum, lat.min, lat.max, n, wantSum)
	}
	dl := lat.decade
	if dl.Type != "timer" || dl.Unit != "SECOND" || dl.PopulationSize != n {
		t.Errorf("api.latency decade: %+v", dl)
	}
	seconds := make([]float64, len(latencies))
	for i, v := range latencies {
		seconds[i] = 1e6 / 1e9 * v // MAD's ms → s normalisation
	}
	for st, p := range map[string]float64{"median": 50, "tp90": 90, "tp99": 99, "tp99.9": 99.9} {
		if got, want := *dl.Statistics[st], exactPercentile(seconds, p); got != want {
			t.Errorf("api.latency %s = %v; want %v", st, got, want)
		}
	}
	req := got["api.requests"+fmt.Sprint(map[string]string{"endpoint": "/users", "host": "web-1"})]
	if req == nil || req.count != n || req.sum != 2*n {
		t.Errorf("api.requests: %+v; want count %d sum %d", req, n, 2*n)
	}
	q := got["queue.depth"+fmt.Sprint(map[string]string{"host": "web-1"})]
	if q == nil || q.count != n || q.min != 0 || q.max != 49 {
		t.Errorf("queue.depth: %+v", q)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
