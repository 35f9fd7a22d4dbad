package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

// The live page in a real browser: headless Chromium (Debian's chromium,
// installed by .ci/run), driven through the DevTools protocol over its
// websocket, so that the test waits for what the page shows rather than
// for a time.

// browser is a headless Chromium this test started, and a DevTools session
// on its page.
type browser struct {
	cmd  *exec.Cmd
	ws   *websocket.Conn
	next int
	logs lockedBuffer
}

// startBrowser starts headless Chromium with a fresh profile under dir
// and attaches to its page; the test's cleanup stops it.
func startBrowser(t *testing.T, dir string) *browser {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		missingTool(t, "chromium is not installed (apt-get install chromium)")
	}
	profile := filepath.Join(dir, "profile")
	b := &browser{}
	b.cmd = exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--window-size=1400,1100", "about:blank")
	b.cmd.Stdout, b.cmd.Stderr = &b.logs, &b.logs
	// Its own process group: the cleanup ends the browser and every
	// process it started, and nothing else.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		missingTool(t, "chromium does not start: %v", err)
	}
	exited := make(chan struct{})
	go func() { b.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		if b.ws != nil {
			b.ws.CloseNow()
		}
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	// Chromium writes the port it chose, and its browser target's path,
	// into the profile.
	var port string
	waitUntil(t, "chromium's DevTools port", 60*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("chromium exited: %s", b.logs.String())
		default:
		}
		data, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if f := strings.Fields(string(data)); err == nil && len(f) == 2 {
			port = f[0]
			return true
		}
		return false
	})
	var targets []struct{ Type, WebSocketDebuggerURL string }
	must(t, json.Unmarshal([]byte(uiGet(t, "http://127.0.0.1:"+port+"/json/list")), &targets))
	i := slices.IndexFunc(targets, func(x struct{ Type, WebSocketDebuggerURL string }) bool { return x.Type == "page" })
	if i < 0 {
		t.Fatalf("chromium has no page: %+v", targets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, targets[i].WebSocketDebuggerURL, nil)
	if err != nil {
		t.Fatalf("DevTools: %v", err)
	}
	ws.SetReadLimit(64 << 20) // screenshots
	b.ws = ws
	return b
}

// call calls a DevTools method and decodes its result into result (if not
// nil), skipping the events that arrive meanwhile.
func (b *browser) call(t *testing.T, method string, params, result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b.next++
	req, _ := json.Marshal(map[string]any{"id": b.next, "method": method, "params": params})
	if err := b.ws.Write(ctx, websocket.MessageText, req); err != nil {
		t.Fatalf("DevTools %s: %v", method, err)
	}
	for {
		_, msg, err := b.ws.Read(ctx)
		if err != nil {
			t.Fatalf("DevTools %s: %v\nchromium: %s", method, err, b.logs.String())
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		must(t, json.Unmarshal(msg, &resp))
		if resp.ID != b.next {
			continue
		}
		if resp.Error != nil {
			t.Fatalf("DevTools %s: %s", method, resp.Error.Message)
		}
		if result != nil {
			must(t, json.Unmarshal(resp.Result, result))
		}
		return
	}
}

// eval evaluates a JavaScript expression in the page whose value is a
// string (JSON.stringify(…) for anything else).
func (b *browser) eval(t *testing.T, expr string) string {
	t.Helper()
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("in the page, %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	s, _ := r.Result.Value.(string)
	return s
}

// uiFigures reads the figures the page shows: "pipeline/kind/name/column
// unit" → value, from the data attributes of the cells' figures.
const uiFiguresJS = `JSON.stringify(Array.from(document.querySelectorAll("tr[data-kind] td[data-column] .fig")).map(f => {
	const tr = f.closest("tr"), td = f.closest("td");
	return [tr.dataset.pipeline + "/" + tr.dataset.kind + "/" + tr.dataset.name + "/" + td.dataset.column + " " + f.dataset.unit, Number(f.dataset.value)];
}))`

func (b *browser) figures(t *testing.T) map[string]float64 {
	t.Helper()
	var pairs [][2]any
	must(t, json.Unmarshal([]byte(b.eval(t, uiFiguresJS)), &pairs))
	out := map[string]float64{}
	for _, p := range pairs {
		out[p[0].(string)] = p[1].(float64)
	}
	return out
}

// uiWantFigures computes, from /metrics alone, what the page must show for
// the test's pipeline.
func uiWantFigures(m map[string]float64) map[string]float64 {
	sum := func(prefix string, keep func(series string) bool) float64 {
		s := 0.0
		for k, v := range m {
			if strings.HasPrefix(k, prefix) && (keep == nil || keep(k)) {
				s += v
			}
		}
		return s
	}
	src := `{pipeline="p",source="statsd_source",protocol="udp"`
	refused := func(k string) bool {
		return !strings.Contains(k, `result="ok"`) && !strings.Contains(k, `result="event"`) && !strings.Contains(k, `result="service_check"`)
	}
	sink := func(family, name string) float64 { return m[family+`{pipeline="p",sink="`+name+`"}`] }
	return map[string]float64{
		"p/source/statsd_source/received lines":      sum("mad_source_lines_total"+src, nil),
		"p/source/statsd_source/refused lines":       sum("mad_source_lines_total"+src, refused),
		"p/source/statsd_source/dropped samples":     m["mad_source_ring_dropped_samples_total"+src+"}"],
		"p/source/statsd_source/dropped datagrams":   m["mad_source_kernel_drops_total"+src+"}"],
		"p/aggregation/aggregation/received samples": sum(`mad_shard_samples_total{pipeline="p",`, nil),
		"p/aggregation/aggregation/refused samples":  sum(`mad_shard_refused_total{pipeline="p",`, nil),
		"p/aggregation/aggregation/dropped rows":     sum(`mad_shard_rows_dropped_total{pipeline="p",`, nil),
		"p/sink/telemetry_sink/written ":             sink("mad_sink_written_total", "telemetry_sink"),
		"p/sink/telemetry_sink/dropped ":             sink("mad_sink_dropped_total", "telemetry_sink"),
		"p/sink/telemetry_sink/errors ":              sink("mad_sink_errors_total", "telemetry_sink"),
		"p/sink/json_lines_sink/written ":            sink("mad_sink_written_total", "json_lines_sink"),
		"p/sink/json_lines_sink/dropped ":            sink("mad_sink_dropped_total", "json_lines_sink"),
		"p/sink/json_lines_sink/errors ":             sink("mad_sink_errors_total", "json_lines_sink"),
		"/daemon/daemon/refused requests":            sum("mad_http_refusals_total{", nil),
	}
}

// TestUIBrowser loads the live page in headless Chromium against a daemon
// fed StatsD over loopback UDP: the page lists the metric from the
// telemetry stream, charts it when clicked, with the value the stream
// carries, and shows the figures /metrics has. A screenshot is kept under
// $MAD_ARTIFACTS, else in the test's artifact directory (t.ArtifactDir:
// kept by go test -artifacts, under -outputdir).
func TestUIBrowser(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	main := writeFile(t, dir, "main.conf", fmt.Sprintf(`httpHost="127.0.0.1"
httpPort=0
reloadInterval=0
monitoringSinks=[]
pipelines=[{
  name=p
  periods=["PT1S"]
  sources=[{ type="com.arpnetworking.metrics.common.sources.StatsdSource", name=statsd_source, host="127.0.0.1", port=0 }]
  sinks=[
    { type="com.arpnetworking.tsdcore.sinks.PeriodFilteringSink", name=telemetry_filter, excludeGreaterThan="PT1S"
      sink={ type="com.arpnetworking.tsdcore.sinks.TelemetrySink", name=telemetry_sink } }
    { type="io.gomad.mad.sinks.JsonLinesSink", name=json_lines_sink, path=%q }
  ]
}]
`, out))
	d, err := Open(main, nil, config.LoadOptions{Env: env()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	base := "http://" + d.HTTPAddr().String()

	b := startBrowser(t, dir)

	// Traffic until told to stop: a timer of 250 ms from web-1 and a line
	// the StatsD parser refuses, one datagram each.
	c, err := net.Dial("udp", pipeline.SourcesOf[*ingest.UDPSource](d.Pipelines()[0])[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, line := range []string{"ui.latency:250|ms|#service:checkout,host:web-1", "not a statsd line"} {
				if _, err := c.Write([]byte(line)); err == nil {
					sent.Add(1)
				}
			}
		}
	}()
	stopTraffic := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopTraffic()

	// The page opens once the stream knows the metric, so that it learns
	// the metrics from getMetrics's sorted list, and charts the first
	// three unasked (the address names none): count, mean, median.
	waitUntil(t, "the telemetry sink to write", 60*time.Second, func() bool {
		return parseMetricsText(t, uiGet(t, base+"/metrics"))[`mad_sink_written_total{pipeline="p",sink="telemetry_sink"}`] > 0
	})
	b.call(t, "Page.navigate", map[string]any{"url": base + "/ui"}, nil)

	// tp90 is listed, not charted: click it.
	const chip = `document.querySelector('.chip[data-service="checkout"][data-metric="ui.latency"][data-statistic="tp90"]')`
	waitUntil(t, "the page to list ui.latency's tp90", 60*time.Second, func() bool {
		return b.eval(t, `String(`+chip+` !== null)`) == "true"
	})
	if got := b.eval(t, chip+`.className`); got != "chip" {
		t.Fatalf("tp90 chip: got class %q; want it not charted before the click", got)
	}
	b.eval(t, `(`+chip+`.click(), "")`)
	if got := b.eval(t, chip+`.className`); got != "chip on" {
		t.Errorf("tp90 chip after the click: got class %q; want %q", got, "chip on")
	}
	if got := b.eval(t, `location.hash`); !strings.Contains(got, "checkout|ui.latency|tp90") {
		t.Errorf("address after the click: got %q; want the chart in it", got)
	}

	// Its chart shows the stream's value for web-1: 250 ms is 0.25 s.
	const last = `document.querySelector('[data-chart][data-metric="ui.latency"][data-statistic="tp90"] .last [data-server="web-1"]')`
	waitUntil(t, "the tp90 chart to show web-1's value", 60*time.Second, func() bool {
		return b.eval(t, `String(`+last+` !== null)`) == "true"
	})
	if got := b.eval(t, last+`.dataset.value`); got != "0.25" {
		t.Errorf("tp90 chart's last value for web-1: got %s; want 0.25", got)
	}
	charted := b.eval(t, `Array.from(document.querySelectorAll("[data-chart]")).map(c => c.dataset.statistic).join(" ")`)
	if charted != "count mean median tp90" {
		t.Errorf("got charts of %q; want count mean median (unasked) tp90", charted)
	}
	if got := b.eval(t, `document.getElementById("stream-status").dataset.state`); got != "open" {
		t.Errorf("stream status: got %q; want open", got)
	}

	// Once every datagram sent was read (or counted as dropped by the
	// kernel) and the buckets are out, the page's figures are those of
	// /metrics. The page refreshes every second: compare until they agree.
	stopTraffic()
	n := float64(sent.Load())
	var m map[string]float64
	waitUntil(t, "mad to read every datagram sent", 60*time.Second, func() bool {
		m = parseMetricsText(t, uiGet(t, base+"/metrics"))
		w := uiWantFigures(m)
		return w["p/source/statsd_source/received lines"]+w["p/source/statsd_source/dropped datagrams"] == n
	})
	var got, want map[string]float64
	agree := func() bool {
		got = b.figures(t)
		want = uiWantFigures(parseMetricsText(t, uiGet(t, base+"/metrics")))
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				return false
			}
		}
		return len(got) == len(want)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !agree() {
		if time.Now().After(deadline) {
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("page shows %s = %v (%v); /metrics says %v", k, g, ok, v)
				}
			}
			t.Fatalf("the page's figures never agreed with /metrics (page: %v)", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// And /metrics with what was sent: every other line refused.
	if r, all := got["p/source/statsd_source/refused lines"], got["p/source/statsd_source/received lines"]; r == 0 || r != all-m[`mad_source_lines_total{pipeline="p",source="statsd_source",protocol="udp",result="ok"}`] {
		t.Errorf("page shows %v lines refused of %v received; want the bad lines, about half", r, all)
	}
	if got["p/sink/telemetry_sink/written "] == 0 || got["p/aggregation/aggregation/received samples"] == 0 {
		t.Errorf("page shows nothing written or aggregated: %v", got)
	}

	// A screenshot, kept.
	var shot struct {
		Data string `json:"data"`
	}
	b.call(t, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	artifacts := os.Getenv("MAD_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.ArtifactDir() // kept with go test -artifacts (-outputdir)
	}
	must(t, os.MkdirAll(artifacts, 0o755))
	path := filepath.Join(artifacts, "ui-"+strconv.FormatInt(time.Now().Unix(), 10)+".png")
	must(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}
