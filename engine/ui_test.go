package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	sm "github.com/gomad/mad/internal/selfmetric"
)

// reporterFunc is a Reporter of fixed values.
type reporterFunc func(emit func(sm.Value))

func (f reporterFunc) Report(emit func(sm.Value)) { f(emit) }

// parseMetricsText reads Prometheus text as /metrics writes it: series
// (name{labels}) → value.
func parseMetricsText(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad /metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestUIState(t *testing.T) {
	src := []string{"pipeline", "p", "source", "s", "protocol", "udp"}
	lines := func(result string, v float64) sm.Value {
		return sm.Value{Name: "mad_source_lines_total", Labels: sm.With(src, "result", result), V: v}
	}
	rep := reporterFunc(func(emit func(sm.Value)) {
		emit(sm.Value{Name: "mad_http_refusals_total", Labels: []string{"reason", "not_found"}, V: 2})
		emit(sm.Value{Name: "mad_http_refusals_total", Labels: []string{"reason", "malformed"}, V: 1})
		emit(lines("ok", 10))
		emit(lines("event", 1))
		emit(lines("syntax", 3))
		emit(lines("tag", 4))
		emit(sm.Value{Name: "mad_source_samples_total", Labels: src, V: 10, MAD: "sources/statsd/s/metric_samples"})
		emit(sm.Value{V: 99, MAD: "sources/http/h/requests"}) // MAD's only: not on /metrics
		emit(sm.Value{Name: "mad_source_ring_dropped_samples_total", Labels: src, V: 5})
		emit(sm.Value{Name: "mad_source_kernel_drops_total", Labels: src, V: 6})
		h := []string{"pipeline", "p", "source", "h", "protocol", "http", "path", "/metrics/v3/application"}
		emit(sm.Value{Name: "mad_source_requests_total", Labels: sm.With(h, "result", "accepted"), V: 7})
		emit(sm.Value{Name: "mad_source_requests_total", Labels: sm.With(h, "result", "too_large"), V: 2})
		for i, n := range []float64{20, 30} {
			l := []string{"pipeline", "p", "shard", strconv.Itoa(i)}
			emit(sm.Value{Name: "mad_shard_samples_total", Labels: l, V: n})
			emit(sm.Value{Name: "mad_shard_refused_total", Labels: sm.With(l, "reason", "bad_key"), V: n / 10})
			emit(sm.Value{Name: "mad_shard_rows_dropped_total", Labels: l, V: 0})
		}
		emit(sm.Value{Name: "mad_pipeline_series", Kind: sm.Gauge, Labels: []string{"pipeline", "p"}, V: 4})
		for _, s := range []string{"t", "weird \"sink\"\n"} {
			l := []string{"pipeline", "p", "sink", s}
			emit(sm.Value{Name: "mad_sink_written_total", Labels: l, V: 8})
			emit(sm.Value{Name: "mad_sink_dropped_total", Labels: l, V: 1})
			emit(sm.Value{Name: "mad_sink_errors_total", Labels: l, V: 0})
		}
		emit(sm.Value{Name: "mad_sink_written_total", Labels: []string{"pipeline", "q", "sink", "t"}, V: 3})
		emit(sm.Value{Name: "go_goroutines", Kind: sm.Gauge, V: 12})
	})
	st := uiStateOf(rep)

	type fig struct {
		column, unit string
		value        float64
		series       int
	}
	figs := func(c *uiComponent) []fig {
		var out []fig
		for _, f := range c.Figures {
			out = append(out, fig{f.Column, f.Unit, f.Value, len(f.Series)})
		}
		return out
	}
	if len(st.Pipelines) != 2 || st.Pipelines[0].Name != "p" || st.Pipelines[1].Name != "q" {
		t.Fatalf("got pipelines %+v; want p, q", st.Pipelines)
	}
	p := st.Pipelines[0]
	if len(p.Sources) != 2 || len(p.Sinks) != 2 {
		t.Fatalf("got %d sources and %d sinks; want 2 and 2", len(p.Sources), len(p.Sinks))
	}
	for _, tc := range []struct {
		name string
		c    *uiComponent
		want []fig
	}{
		{"udp source", p.Sources[0], []fig{{"received", "lines", 18, 4}, {"refused", "lines", 7, 2}, {"dropped", "samples", 5, 1}, {"dropped", "datagrams", 6, 1}}},
		{"http source", p.Sources[1], []fig{{"received", "requests", 9, 2}, {"refused", "requests", 2, 1}}},
		{"aggregation", p.Aggregation, []fig{{"received", "samples", 50, 2}, {"refused", "samples", 5, 2}, {"dropped", "rows", 0, 2}}},
		{"sink", p.Sinks[0], []fig{{"written", "", 8, 1}, {"dropped", "", 1, 1}, {"errors", "", 0, 1}}},
		{"other pipeline's sink", st.Pipelines[1].Sinks[0], []fig{{"written", "", 3, 1}}},
		{"daemon", st.Daemon, []fig{{"refused", "requests", 3, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := figs(tc.c)
			if len(got) != len(tc.want) {
				t.Fatalf("got figures %+v; want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("figure %d: got %+v; want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
	if s := p.Sources[0]; s.Name != "s" || s.Protocol != "udp" || len(s.Series) != 7 {
		t.Errorf("got source %q (%q) with %d series; want s (udp) with 7 (the MAD-only value left out)", s.Name, s.Protocol, len(s.Series))
	}
	if got := p.Sinks[1].Name; got != "weird \"sink\"\n" {
		t.Errorf("got sink name %q; want it as its label says", got)
	}

	// Every figure is the sum of the /metrics series it names, written as
	// /metrics writes them.
	var text bytes.Buffer
	if err := writeMetrics(&text, rep); err != nil {
		t.Fatal(err)
	}
	metrics := parseMetricsText(t, text.String())
	check := func(c *uiComponent) {
		for _, f := range c.Figures {
			sum := 0.0
			for _, s := range f.Series {
				v, ok := metrics[s]
				if !ok {
					t.Errorf("%s's figure %s %s names %s, which /metrics does not have", c.Name, f.Column, f.Unit, s)
				}
				sum += v
			}
			if sum != f.Value {
				t.Errorf("%s's figure %s %s: got %v; want %v, the sum of its series on /metrics", c.Name, f.Column, f.Unit, f.Value, sum)
			}
		}
		for _, s := range c.Series {
			if v, ok := metrics[s.Series]; !ok || v != s.Value {
				t.Errorf("series %s = %v; /metrics has %v (%v)", s.Series, s.Value, v, ok)
			}
		}
	}
	check(st.Daemon)
	for _, p := range st.Pipelines {
		check(p.Aggregation)
		for _, c := range append(p.Sources, p.Sinks...) {
			check(c)
		}
	}
}

// TestUIRoutes: the page, its state and files, and / redirecting to it,
// beside MAD's routes; a configured health check or status path keeps its
// route.
func TestUIRoutes(t *testing.T) {
	type want struct {
		method, path string
		status       int
		contains     string // in the body, or the Location of a redirect
	}
	page := want{"GET", "/ui", 200, `src="ui/static/ui.js"`}
	for _, tc := range []struct {
		name           string
		health, status string
		want           []want
	}{
		{"defaults", "", "", []want{
			{"GET", "/", 302, "/ui"},
			page,
			{"HEAD", "/ui", 200, ""},
			{"GET", "/ui/", 302, "/ui"},
			{"GET", "/ui/state", 200, `"pipelines":[]`},
			{"GET", "/ui/static/ui.js", 200, "telemetry/v2/stream"},
			{"GET", "/ui/static/ui.css", 200, ".chart"},
			{"GET", "/ui/static/uplot/uPlot.iife.min.js", 200, "(v1.6.32)"},
			{"GET", "/ui/static/uplot/uPlot.min.css", 200, ".uplot"},
			{"GET", "/ui/static/uplot/LICENSE", 200, "MIT"},
			{"GET", "/ui/static/nothing.js", 404, ""},
			{"GET", "/ui/other", 404, ""},
			{"POST", "/ui", 405, ""},
			{"GET", "/ping", 200, "HEALTHY"},
			{"GET", "/status", 200, "Metrics Aggregator Daemon"},
			{"GET", "/metrics", 200, "mad_http_refusals_total"},
			{"GET", "/telemetry/v2/stream", 400, ""}, // not an upgrade, as in MAD
			{"GET", "/nothing", 404, ""},
		}},
		{"status at /ui", "", "/ui", []want{
			{"GET", "/ui", 200, "Metrics Aggregator Daemon"},
			{"GET", "/ui/state", 404, ""},
			{"GET", "/", 404, ""},
			{"GET", "/ping", 200, "HEALTHY"},
		}},
		{"health check under /ui", "/ui/health", "", []want{
			{"GET", "/ui/health", 200, "HEALTHY"},
			{"GET", "/ui", 404, ""},
		}},
		// Paths that, as ServeMux patterns, conflicted with other routes
		// (a panic at start-up) or read as wildcards: they match exactly,
		// and first.
		{"health check at /, status at /metrics", "/", "/metrics", []want{
			{"GET", "/", 200, "HEALTHY"},
			{"HEAD", "/", 200, ""},
			{"POST", "/", 405, "Allow: GET, HEAD"},
			{"GET", "/metrics", 200, "Metrics Aggregator Daemon"},
			{"GET", "/ui", 200, `src="ui/static/ui.js"`},
			{"GET", "/nothing", 404, ""},
			{"POST", "/metrics/v3/application", 404, "no source serves"},
		}},
		{"health check at /reload", "/reload", "", []want{
			{"GET", "/reload", 200, "HEALTHY"},
			{"PUT", "/reload", 405, "Allow: GET, HEAD, POST"},
			{"POST", "/reload", 409, "nothing to reload"},
		}},
		{"braces", "/ping/{id}", "/status/{$}", []want{
			{"GET", "/ping/{id}", 200, "HEALTHY"},
			{"GET", "/ping/7", 404, ""},
			{"GET", "/status/{$}", 200, "Metrics Aggregator Daemon"},
			{"GET", "/ping", 404, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDaemon(DaemonConfig{HealthCheckPath: tc.health, StatusPath: tc.status, Log: slog.New(slog.DiscardHandler)})
			defer d.Stop()
			h := d.Handler()
			for _, w := range tc.want {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(w.method, w.path, nil))
				body, _ := io.ReadAll(rec.Body)
				if rec.Code != w.status {
					t.Errorf("%s %s: got %d; want %d (%.200s)", w.method, w.path, rec.Code, w.status, body)
					continue
				}
				got := string(body)
				switch w.status {
				case 302:
					got = rec.Header().Get("Location")
				case 405:
					got = "Allow: " + rec.Header().Get("Allow")
				}
				if !strings.Contains(got, w.contains) {
					t.Errorf("%s %s: got %.200q; want it to contain %q", w.method, w.path, got, w.contains)
				}
			}
			if tc.name != "defaults" {
				return
			}
			for path, ct := range map[string]string{"/ui": "text/html", "/ui/state": "application/json", "/ui/static/ui.js": "javascript", "/ui/static/uplot/uPlot.min.css": "text/css"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if got := rec.Header().Get("Content-Type"); !strings.Contains(got, ct) {
					t.Errorf("GET %s: got Content-Type %q; want %s", path, got, ct)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/state", nil))
			var st uiState
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Daemon == nil || len(st.Daemon.Figures) != 1 {
				t.Errorf("GET /ui/state: got %s (%v); want the daemon's refusals", rec.Body.Bytes(), err)
			}
		})
	}
}

// uiGet answers a GET against the daemon's HTTP server.
func uiGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
