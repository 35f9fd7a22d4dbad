package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/sinks"
)

const waitFor = 20 * time.Second

var start = time.UnixMilli(1700000000000).UTC()

type fixture struct {
	hub  *Hub
	sink *Sink
	srv  *httptest.Server
}

func newFixture(t *testing.T, cfg HubConfig) *fixture {
	t.Helper()
	h := NewHub(cfg)
	mux := http.NewServeMux()
	mux.Handle("/telemetry/v1/stream", h.Handler(1))
	mux.Handle("/telemetry/v2/stream", h.Handler(2))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &fixture{hub: h, sink: NewSink("telemetry", h), srv: srv}
}

func (f *fixture) url(version int) string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + map[int]string{1: "/telemetry/v1/stream", 2: "/telemetry/v2/stream"}[version]
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (f *fixture) dial(t *testing.T, version int) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, f.url(version), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(16 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return &client{t: t, ws: ws}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) next() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("frame type %v, want text", typ)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s: %v", b, err)
	}
	return m
}

// until reads messages until match accepts one; it returns that message
// and the ones read before it.
func (c *client) until(match func(map[string]any) bool) (map[string]any, []map[string]any) {
	c.t.Helper()
	var before []map[string]any
	for {
		m := c.next()
		if match(m) {
			return m, before
		}
		before = append(before, m)
	}
}

// sync sends a heartbeat and waits for its reply: the commands sent before
// it have been applied.
func (c *client) sync() []map[string]any {
	c.t.Helper()
	c.send(map[string]string{"command": "heartbeat"})
	_, before := c.until(func(m map[string]any) bool { return m["response"] == "ok" })
	return before
}

func isCommand(cmd string, data map[string]any) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["command"] != cmd {
			return false
		}
		d, _ := m["data"].(map[string]any)
		for k, v := range data {
			if d[k] != v {
				return false
			}
		}
		return true
	}
}

func pd(service string, metrics ...sinks.Metric) *sinks.PeriodicData {
	return &sinks.PeriodicData{
		Period: time.Second,
		Start:  start,
		Dimensions: []sinks.Dimension{
			{Key: []byte("host"), Value: []byte("h1")},
			{Key: []byte("service"), Value: []byte(service)},
		},
		Metrics: metrics,
	}
}

// latency is a timer with count (no unit), max (SECOND) and a min without
// a value.
func latency(name string, max float64) sinks.Metric {
	return sinks.Metric{
		Name: []byte(name), Type: "timer", Unit: "SECOND", PopulationSize: 3,
		Statistics: []sinks.Statistic{
			{Stat: hist.Count, Value: 3, HasValue: true},
			{Stat: hist.Min},
			{Stat: hist.Max, Value: max, HasValue: true, Unit: "SECOND"},
		},
	}
}

func sub(version int, service, metric, stat string) map[string]string {
	cmd := "subscribe"
	if version == 2 {
		cmd = "subscribeMetric"
	}
	return map[string]string{"command": cmd, "service": service, "metric": metric, "statistic": stat}
}

func unsub(version int, service, metric, stat string) map[string]string {
	m := sub(version, service, metric, stat)
	m["command"] = "un" + m["command"]
	if version == 2 {
		m["command"] = "unsubscribeMetric"
	}
	return m
}

func TestHeartbeat(t *testing.T) {
	f := newFixture(t, HubConfig{})
	for _, v := range []int{1, 2} {
		c := f.dial(t, v)
		c.send(map[string]string{"command": "heartbeat"})
		if got, want := c.next(), map[string]any{"response": "ok"}; !reflect.DeepEqual(got, want) {
			t.Errorf("v%d: got %v, want %v", v, got, want)
		}
	}
}

func TestNonUpgradeGets400(t *testing.T) {
	f := newFixture(t, HubConfig{})
	for _, p := range []string{"/telemetry/v1/stream", "/telemetry/v2/stream"} {
		resp, err := http.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", p, resp.StatusCode)
		}
	}
}

// leaf and node build the getMetrics tree a test expects.
func leaf(n string) map[string]any { return map[string]any{"name": n, "children": []any{}} }

func node(n string, ch ...any) map[string]any { return map[string]any{"name": n, "children": ch} }

// expectMetrics sends getMetrics and checks the reply lists services.
func (c *client) expectMetrics(services ...any) {
	c.t.Helper()
	c.send(map[string]string{"command": "getMetrics"})
	got, _ := c.until(isCommand("metricsList", nil))
	want := map[string]any{"command": "metricsList", "data": map[string]any{"metrics": services}}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		c.t.Errorf("got  %s\nwant %s", g, w)
	}
}

func TestGetMetrics(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 2)
	c.sync()
	f.sink.Record(pd("svc", latency("lat", 2.5), latency("a.b", 1)))
	f.sink.Record(pd("other", sinks.Metric{Name: []byte("g"), Statistics: []sinks.Statistic{{Stat: hist.Mean, Value: 1, HasValue: true}}}))
	// Five newMetric messages: the registry is complete.
	for range 5 {
		c.until(isCommand("newMetric", nil))
	}
	c.expectMetrics(
		node("other", node("g", leaf("mean"))),
		node("svc", node("a.b", leaf("count"), leaf("max")), node("lat", leaf("count"), leaf("max"))),
	)
}

func TestSubscribeV1Report(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 1)
	c.send(sub(1, "svc", "lat", "max"))
	c.sync()
	f.sink.Record(pd("svc", latency("lat", 2.5)))
	got, before := c.until(isCommand("report", nil))
	want := map[string]any{"command": "report", "data": map[string]any{
		"server": "h1", "service": "svc", "metric": "lat", "timestamp": float64(1700000000000),
		"statistic": "max", "data": 2.5,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// count precedes max in the bucket: a report of it would have come first.
	for _, m := range before {
		if m["command"] != "newMetric" {
			t.Errorf("unexpected message %v", m)
		}
	}
	if len(before) != 2 {
		t.Errorf("%d newMetric messages before the report, want 2: %v", len(before), before)
	}
}

func TestSubscribeV2ReportMetric(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 2)
	c.send(sub(2, "svc", "lat", "max"))
	c.send(sub(2, "svc", "lat", "count"))
	c.sync()
	f.sink.Record(pd("svc", latency("lat", 0.25)))
	count, _ := c.until(isCommand("reportMetric", nil))
	max, _ := c.until(isCommand("reportMetric", nil))
	data := func(stat string, v float64, units []any) map[string]any {
		return map[string]any{"command": "reportMetric", "data": map[string]any{
			"server": "h1", "service": "svc", "metric": "lat", "timestamp": float64(1700000000000),
			"statistic": stat, "data": v, "numeratorUnits": units, "denominatorUnits": []any{},
		}}
	}
	if want := data("count", 3, []any{}); !reflect.DeepEqual(count, want) {
		t.Errorf("got %v, want %v", count, want)
	}
	if want := data("max", 0.25, []any{"SECOND"}); !reflect.DeepEqual(max, want) {
		t.Errorf("got %v, want %v", max, want)
	}
}

func TestV1IgnoresV2Commands(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 1)
	c.send(sub(2, "svc", "lat", "max"))
	c.send(map[string]any{"command": "subscribeLog", "log": "/var/log/x", "regexes": []string{".*"}})
	c.sync()
	f.sink.Record(pd("svc", latency("lat", 2.5)))
	f.sink.Record(pd("svc", latency("marker", 1)))
	_, before := c.until(isCommand("newMetric", map[string]any{"metric": "marker", "statistic": "max"}))
	for _, m := range before {
		if m["command"] != "newMetric" {
			t.Errorf("unexpected message %v", m)
		}
	}
}

func TestUnsubscribeStopsReports(t *testing.T) {
	for _, v := range []int{1, 2} {
		f := newFixture(t, HubConfig{})
		c := f.dial(t, v)
		cmd := map[int]string{1: "report", 2: "reportMetric"}[v]
		c.send(sub(v, "svc", "a", "max"))
		c.send(sub(v, "svc", "b", "max"))
		c.sync()
		f.sink.Record(pd("svc", latency("a", 1), latency("b", 2)))
		c.until(isCommand(cmd, map[string]any{"metric": "a"}))
		c.until(isCommand(cmd, map[string]any{"metric": "b"}))
		c.send(unsub(v, "svc", "a", "max"))
		c.sync()
		f.sink.Record(pd("svc", latency("a", 3), latency("b", 4)))
		_, before := c.until(isCommand(cmd, map[string]any{"metric": "b", "data": 4.0}))
		for _, m := range before {
			if m["command"] == cmd {
				t.Errorf("v%d: report after unsubscribe: %v", v, m)
			}
		}
	}
}

func TestNewMetricOnce(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c1, c2 := f.dial(t, 1), f.dial(t, 2)
	c1.sync()
	c2.sync()
	f.sink.Record(pd("svc", latency("lat", 1)))
	f.sink.Record(pd("svc", latency("lat", 2)))
	f.sink.Record(pd("svc", latency("marker", 1)))
	for _, c := range []*client{c1, c2} {
		_, before := c.until(isCommand("newMetric", map[string]any{"metric": "marker", "statistic": "max"}))
		n := 0
		for _, m := range before {
			if isCommand("newMetric", map[string]any{"service": "svc", "metric": "lat", "statistic": "max"})(m) {
				n++
				if want := map[string]any{"command": "newMetric", "data": map[string]any{"service": "svc", "metric": "lat", "statistic": "max"}}; !reflect.DeepEqual(m, want) {
					t.Errorf("got %v, want %v", m, want)
				}
			}
		}
		if n != 1 {
			t.Errorf("newMetric lat/max sent %d times, want 1", n)
		}
	}
}

func TestRegistryBounded(t *testing.T) {
	f := newFixture(t, HubConfig{MaxMetrics: 3})
	c := f.dial(t, 1)
	c.send(sub(1, "svc", "c", "max"))
	c.sync()
	f.sink.Record(pd("svc", latency("a", 1), latency("b", 1), latency("c", 7)))
	// c/max is beyond the registry but subscribed: it is still reported.
	_, before := c.until(isCommand("report", map[string]any{"metric": "c", "statistic": "max"}))
	if len(before) != 3 {
		t.Errorf("%d newMetric, want 3: %v", len(before), before)
	}
	deadline := time.Now().Add(waitFor)
	for f.hub.Stats().Reports < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := f.hub.Stats()
	if st.Metrics != 3 || st.RegistryFull != 3 {
		t.Errorf("stats %+v, want 3 metrics, 3 registry-full", st)
	}
}

func TestSlowClientDoesNotBlock(t *testing.T) {
	f := newFixture(t, HubConfig{MaxMetrics: 1 << 30})
	c := f.dial(t, 1)
	c.send(sub(1, "svc", "m0", "max"))
	c.sync()
	// The client no longer reads. Every new metric is sent to it (about
	// 15 MB of newMetric messages): its socket buffers fill, its writer
	// blocks, and its 256-message buffer overflows. Record must not care.
	const records, perRecord = 600, 100
	metrics := make([]sinks.Metric, perRecord)
	for i := range records {
		for j := range metrics {
			metrics[j] = latency(strings.Repeat("x", 60)+itoa(i*perRecord+j), 1)
		}
		f.sink.Record(pd("svc", metrics...))
	}
	deadline := time.Now().Add(waitFor)
	for {
		written, sinkDropped, _ := f.sink.Stats()
		st := f.hub.Stats()
		if st.Dropped > 0 && st.Reports == written {
			t.Logf("hub %+v, sink dropped %d", st, sinkDropped)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no drops counted: hub %+v, sink dropped %d", st, sinkDropped)
		}
		time.Sleep(time.Millisecond)
	}
	// The hub still serves: another client gets its replies and reports.
	c2 := f.dial(t, 2)
	c2.send(sub(2, "svc", "late", "max"))
	c2.sync()
	f.sink.Record(pd("svc", latency("late", 5)))
	c2.until(isCommand("reportMetric", map[string]any{"metric": "late", "data": 5.0}))
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestClosedHubDropsAndClosesConnections(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 1)
	c.sync()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	read := make(chan error, 1)
	go func() {
		_, _, err := c.ws.Read(ctx)
		read <- err
	}()
	f.hub.Close()
	err := <-read
	if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
		t.Errorf("read after Close: %v, want going away", err)
	}
	f.sink.Record(pd("svc", latency("lat", 1)))
	if w, d, _ := f.sink.Stats(); w != 0 || d != 2 {
		t.Errorf("written %d dropped %d, want 0 and 2", w, d)
	}
	if _, _, err := websocket.Dial(ctx, f.url(1), nil); err == nil {
		t.Error("dial after Close succeeded")
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("timed out")
	}
}

func TestAppendDouble(t *testing.T) {
	// Java's Double.toString, as MAD's Jackson writes a double.
	for v, want := range map[float64]string{1: "1.0", 2.5: "2.5", 0: "0.0", 1e7: "1.0E7", 0.0001: "1.0E-4", -3: "-3.0",
		1.5e10: "1.5E10", 123456789: "1.23456789E8", math.Copysign(0, -1): "-0.0", math.Inf(1): "null", math.NaN(): "null"} {
		if got := string(appendDouble(nil, v)); got != want {
			t.Errorf("%v: %s, want %s", v, got, want)
		}
	}
}

func TestNoHostAndNonFinite(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 2)
	c.send(sub(2, "svc", "g", "mean"))
	c.sync()
	p := pd("svc", sinks.Metric{Name: []byte("g"), Statistics: []sinks.Statistic{{Stat: hist.Mean, Value: math.Inf(1), HasValue: true}}})
	p.Dimensions = p.Dimensions[1:] // service only
	f.sink.Record(p)
	got, _ := c.until(isCommand("reportMetric", nil))
	want := map[string]any{"command": "reportMetric", "data": map[string]any{
		"server": nil, "service": "svc", "metric": "g", "timestamp": float64(1700000000000),
		"statistic": "mean", "data": nil, "numeratorUnits": []any{}, "denominatorUnits": []any{},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEmptyMetricsList(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 1)
	c.send(map[string]string{"command": "getMetrics"})
	got := c.next()
	want := map[string]any{"command": "metricsList", "data": map[string]any{"metrics": []any{}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestMaxConnections(t *testing.T) {
	f := newFixture(t, HubConfig{MaxConnections: 1})
	c := f.dial(t, 1)
	c.sync()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, f.url(2), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second connection: %v %v, want 503", resp, err)
	}
	if f.hub.Stats().Refused != 1 {
		t.Errorf("stats %+v, want 1 refused", f.hub.Stats())
	}
}

// TestQuietFastPath checks that reports the sink keeps from the dispatcher
// while nobody subscribes (their statistics registered already) change
// nothing a client sees: a new statistic of a known metric is still
// announced, a subscription gets its reports again at once, and every
// report is counted as written and dispatched.
func TestQuietFastPath(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 2)
	c.sync()
	f.sink.Record(pd("svc", latency("lat", 1))) // registers lat's count and max
	c.until(isCommand("newMetric", map[string]any{"metric": "lat", "statistic": "max"}))
	deadline := time.Now().Add(waitFor)
	for f.hub.quietFor() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the registry was never published")
		}
		time.Sleep(time.Millisecond)
	}
	if q := f.hub.quietFor(); q[string(regKey(nil, []byte("svc"), []byte("lat")))] != 1<<hist.Count|1<<hist.Max {
		t.Fatalf("published %v", q)
	}

	// Known statistics go nowhere; a new one of the same metric (mean) is
	// still registered and announced.
	m := latency("lat", 2)
	m.Statistics = append(m.Statistics, sinks.Statistic{Stat: hist.Mean, Value: 0.5, HasValue: true})
	f.sink.Record(pd("svc", m))
	c.until(isCommand("newMetric", map[string]any{"metric": "lat", "statistic": "mean"}))

	// A subscription turns the fast path off at once.
	c.send(sub(2, "svc", "lat", "max"))
	c.sync()
	if f.hub.quietFor() != nil {
		t.Fatal("fast path on with a subscription")
	}
	f.sink.Record(pd("svc", latency("lat", 3)))
	got, _ := c.until(isCommand("reportMetric", nil))
	if d := got["data"].(map[string]any); d["metric"] != "lat" || d["statistic"] != "max" || d["data"] != 3.0 {
		t.Fatalf("report %v", got)
	}
	c.send(unsub(2, "svc", "lat", "max"))
	c.sync()
	if f.hub.quietFor() == nil {
		t.Fatal("fast path off without subscriptions")
	}
	f.sink.Record(pd("svc", latency("lat", 4)))

	// Every report counted: 2 + 3 + 2 + 2 statistics with values.
	written, dropped, _ := f.sink.Stats()
	for f.hub.Stats().Reports < 9 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if written != 9 || dropped != 0 || f.hub.Stats().Reports != 9 {
		t.Fatalf("written %d, dropped %d, dispatched %d; want 9, 0, 9", written, dropped, f.hub.Stats().Reports)
	}

	// A closed hub takes nothing: known statistics are dropped too.
	f.hub.Close()
	f.sink.Record(pd("svc", latency("lat", 5)))
	if written, dropped, _ := f.sink.Stats(); written != 9 || dropped != 2 || f.hub.Stats().Reports != 9 {
		t.Fatalf("after Close: written %d, dropped %d, dispatched %d; want 9, 2, 9", written, dropped, f.hub.Stats().Reports)
	}
}

// TestCloseDispatchesPending: the reports a sink handed to the hub (and
// counted written) before Close are dispatched, not discarded uncounted;
// a connection's buffer left at close is counted dropped.
func TestCloseDispatchesPending(t *testing.T) {
	for range 50 {
		h := NewHub(HubConfig{})
		s := NewSink("telemetry", h)
		s.Record(pd("svc", latency("lat", 1)))
		h.Close()
		w, d, _ := s.Stats()
		if st := h.Stats(); w != 2 || d != 0 || st.Reports != w {
			t.Fatalf("sink wrote %d, dropped %d; the hub dispatched %d of them", w, d, st.Reports)
		}
	}
	h := NewHub(HubConfig{})
	c := newConn(h, nil, 1, func() {})
	c.push([]byte("a"))
	c.push([]byte("b"))
	c.close()
	if st := h.Stats(); st.Queued != 2 || st.Dropped != 2 {
		t.Errorf("a connection closed with 2 messages buffered: queued %d, dropped %d; want 2 and 2", st.Queued, st.Dropped)
	}
	h.Close()
}

// TestRegistryModel records random buckets (metrics of a few services,
// their statistics drawn at random, the same metric often in consecutive
// buckets and split across them) into a hub with a small registry, and
// checks the hub against a model written here: which triples registered
// (the first to come while the registry had room), what getMetrics lists,
// and how many reports found it full.
func TestRegistryModel(t *testing.T) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 7))
		limit := 5 + r.IntN(40)
		h := NewHub(HubConfig{MaxMetrics: limit})
		sink := NewSink("telemetry", h)
		type triple struct{ service, metric, stat string }
		registered := map[triple]bool{}
		full, reports := 0, 0
		stats := []hist.Stat{hist.Count, hist.Min, hist.Max, hist.Mean, hist.Sum, hist.TP99, hist.Median}
		for range 300 {
			service := []string{"svc", "other", "svc.b"}[r.IntN(3)]
			var ms []sinks.Metric
			for range 1 + r.IntN(4) {
				m := sinks.Metric{Name: []byte("m" + strconv.Itoa(r.IntN(12)))}
				for _, st := range stats {
					if r.IntN(3) == 0 {
						m.Statistics = append(m.Statistics, sinks.Statistic{Stat: st, Value: 1, HasValue: r.IntN(8) != 0})
					}
				}
				for _, st := range m.Statistics {
					if !st.HasValue {
						continue
					}
					reports++
					k := triple{service, string(m.Name), st.Stat.String()}
					switch {
					case registered[k]:
					case len(registered) < limit:
						registered[k] = true
					default:
						full++
					}
				}
				ms = append(ms, m)
			}
			sink.Record(pd(service, ms...))
		}
		deadline := time.Now().Add(waitFor)
		for h.Stats().Reports < uint64(reports) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if st := h.Stats(); st.Reports != uint64(reports) || st.Metrics != len(registered) || st.RegistryFull != uint64(full) {
			t.Fatalf("seed %d: stats %+v; want %d reports, %d metrics, %d registry-full", seed, st, reports, len(registered), full)
		}
		var got struct {
			Data struct {
				Metrics []struct {
					Name     string
					Children []struct {
						Name     string
						Children []struct{ Name string }
					}
				}
			}
		}
		if err := json.Unmarshal(h.metricsList(), &got); err != nil {
			t.Fatal(err)
		}
		listed := map[triple]bool{}
		var order []string
		for _, s := range got.Data.Metrics {
			for _, m := range s.Children {
				for _, st := range m.Children {
					listed[triple{s.Name, m.Name, st.Name}] = true
					order = append(order, s.Name+"\x00"+m.Name+"\x00"+st.Name)
				}
			}
		}
		if !reflect.DeepEqual(listed, registered) {
			t.Fatalf("seed %d: getMetrics lists %v, want %v", seed, listed, registered)
		}
		if !slices.IsSorted(order) {
			t.Fatalf("seed %d: getMetrics not sorted: %v", seed, order)
		}
		h.Close()
	}
}

// TestNamesWithSeparators: a service and metric are kept apart whatever
// bytes they hold. With a separator byte between them, service "a" with
// metric "b\x00m" and service "a\x00b" with metric "m" were one key: a
// subscriber to one got the other's reports, the published registry
// (the quiet path) skipped the second's registration as known, and
// getMetrics listed both under one name.
func TestNamesWithSeparators(t *testing.T) {
	f := newFixture(t, HubConfig{})
	c := f.dial(t, 2)
	c.sync()
	one := func(service, metric string, st hist.Stat, v float64) *sinks.PeriodicData {
		return pd(service, sinks.Metric{Name: []byte(metric), Statistics: []sinks.Statistic{{Stat: st, Value: v, HasValue: true}}})
	}
	f.sink.Record(one("a", "b\x00m", hist.Min, 1))
	c.until(isCommand("newMetric", map[string]any{"service": "a", "metric": "b\x00m", "statistic": "min"}))
	deadline := time.Now().Add(waitFor)
	for f.hub.quietFor() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the registry was never published")
		}
		time.Sleep(time.Millisecond)
	}
	// Not known: registered and announced, not skipped.
	f.sink.Record(one("a\x00b", "m", hist.Min, 2))
	c.until(isCommand("newMetric", map[string]any{"service": "a\x00b", "metric": "m", "statistic": "min"}))

	c.send(sub(2, "a", "b\x00m", "min"))
	c.sync()
	f.sink.Record(one("a\x00b", "m", hist.Min, 3)) // not the subscribed triple
	f.sink.Record(one("a", "b\x00m", hist.Min, 4))
	got, before := c.until(isCommand("reportMetric", nil))
	if d := got["data"].(map[string]any); d["service"] != "a" || d["metric"] != "b\x00m" || d["data"] != 4.0 || len(before) != 0 {
		t.Fatalf("report %v after %v; want a/b\\x00m's 4 alone", got, before)
	}

	c.expectMetrics(
		node("a", node("b\x00m", leaf("min"))),
		node("a\x00b", node("m", leaf("min"))),
	)
}
