package cagg

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/sinks"
)

// caggServer is a test Cluster Aggregator HTTP endpoint: it decodes every
// request body (one framed StatisticSetRecord) with the protobuf runtime.
type caggServer struct {
	t   *testing.T
	srv *httptest.Server
	// status, if set, gives the response status of the n-th request (from 0).
	status func(n int, d decoded) int
	// gate, if set, is waited on before answering.
	gate chan struct{}

	mu       sync.Mutex
	n        int
	accepted []decoded // records answered with 200
	types    []string
	errs     []string
}

func newCaggServer(t *testing.T) *caggServer {
	c := &caggServer{t: t}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *caggServer) serve(w http.ResponseWriter, r *http.Request) {
	if c.gate != nil {
		<-c.gate
	}
	body, err := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n++
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/metrics/v1/data" {
		c.errs = append(c.errs, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c.types = append(c.types, r.Header.Get("Content-Type"))
	f, rest := readFrame(c.t, body)
	if f.typ != TypeStatisticSet || len(rest) != 0 {
		c.errs = append(c.errs, "bad frame")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d := decodeRecord(c.t, f.payload)
	status := http.StatusOK
	if c.status != nil {
		status = c.status(n, d)
	}
	if status == http.StatusOK {
		c.accepted = append(c.accepted, d)
	}
	w.WriteHeader(status)
}

func (c *caggServer) uri() string { return c.srv.URL + "/metrics/v1/data" }

func (c *caggServer) records() []decoded {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) > 0 {
		c.t.Errorf("server errors: %v", c.errs)
	}
	for _, ct := range c.types {
		if ct != "application/protobuf" {
			c.t.Errorf("Content-Type %q", ct)
		}
	}
	return append([]decoded(nil), c.accepted...)
}

func (c *caggServer) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func newHTTP(t *testing.T, cfg HTTPConfig) *HTTPSink {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestHTTPOneRequestPerMetric(t *testing.T) {
	srv := newCaggServer(t)
	s := newHTTP(t, HTTPConfig{Name: "cagg", URI: srv.uri()})
	s.Record(testData())
	s.Record(&sinks.PeriodicData{Period: time.Minute, Dimensions: dims("service", "s", "cluster", "c")}) // empty: ignored
	s.Close()
	got := srv.records()
	if len(got) != 3 || srv.requests() != 3 {
		t.Fatalf("%d records in %d requests, want 3", len(got), srv.requests())
	}
	seen := map[string]bool{}
	for _, d := range got {
		seen[d.metric] = true
		checkRecord(t, d)
	}
	if len(seen) != 3 {
		t.Errorf("metrics %v", seen)
	}
	if w, d, e := s.Stats(); w != 3 || d != 0 || e != 0 {
		t.Errorf("stats %d %d %d", w, d, e)
	}
	c := s.Counters()
	if c.Sent != 3 || c.Requests != 3 || c.SamplesSent != 10+4+5 {
		t.Errorf("counters %+v", c)
	}
	if s.Name() != "cagg" || s.QueueLen() != 0 {
		t.Errorf("name %q queue %d", s.Name(), s.QueueLen())
	}
}

// manyMetrics is a bucket of n counters m0…m(n-1).
func manyMetrics(n int, dim ...string) *sinks.PeriodicData {
	pd := testData()
	if dim != nil {
		pd.Dimensions = dims(dim...)
	}
	proto := pd.Metrics[0]
	pd.Metrics = nil
	for i := range n {
		m := proto
		m.Name = []byte("m" + itoa(i))
		pd.Metrics = append(pd.Metrics, m)
	}
	return pd
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// A downstream that fails every other request with 503.
func halfFailing(n int, _ decoded) int {
	if n%2 == 0 {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

func TestHTTPRetriesDeliverExactlyOnce(t *testing.T) {
	srv := newCaggServer(t)
	srv.status = halfFailing
	s := newHTTP(t, HTTPConfig{URI: srv.uri(), MaximumAttempts: 3, BaseBackoff: time.Millisecond})
	s.Record(manyMetrics(50))
	s.Close()
	checkOnce(t, s, srv, 50)

	// Concurrent requests: the first attempt of every metric fails.
	srv = newCaggServer(t)
	seen := map[string]bool{}
	srv.status = func(_ int, d decoded) int {
		if !seen[d.metric] {
			seen[d.metric] = true
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	s = newHTTP(t, HTTPConfig{URI: srv.uri(), MaximumAttempts: 2, BaseBackoff: time.Millisecond, MaximumConcurrency: 4})
	s.Record(manyMetrics(50))
	s.Close()
	checkOnce(t, s, srv, 50)
	if srv.requests() != 100 {
		t.Errorf("%d requests", srv.requests())
	}
}

func checkOnce(t *testing.T, s *HTTPSink, srv *caggServer, n int) {
	t.Helper()
	got := srv.records()
	count := map[string]int{}
	for _, d := range got {
		count[d.metric]++
	}
	for i := range n {
		if n := count["m"+itoa(i)]; n != 1 {
			t.Errorf("m%d received %d times", i, n)
		}
	}
	c := s.Counters()
	if c.Sent != uint64(n) || c.Rejected != 0 || c.Failed != 0 || c.Retried == 0 || c.Retried != uint64(srv.requests()-n) {
		t.Errorf("counters %+v, %d requests", c, srv.requests())
	}
	if _, d, _ := s.Stats(); d != 0 {
		t.Errorf("dropped %d", d)
	}
}

func TestHTTPNoRetryByDefault(t *testing.T) {
	srv := newCaggServer(t)
	srv.status = halfFailing
	s := newHTTP(t, HTTPConfig{URI: srv.uri()})
	s.Record(manyMetrics(20))
	s.Close()
	if got := len(srv.records()); got != 10 || srv.requests() != 20 {
		t.Fatalf("%d accepted of %d requests", got, srv.requests())
	}
	c := s.Counters()
	if c.Sent != 10 || c.Rejected != 10 || c.Retried != 0 {
		t.Errorf("counters %+v", c)
	}
	if w, d, e := s.Stats(); w != 10 || d != 10 || e != 10 {
		t.Errorf("stats %d %d %d", w, d, e)
	}
}

func TestHTTPTransportErrorRetried(t *testing.T) {
	srv := newCaggServer(t)
	var mu sync.Mutex
	broken := 0
	// The first request of every metric has its connection cut.
	seen := map[string]bool{}
	inner := srv.srv.Config.Handler
	srv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f, _ := readFrame(t, body)
		d := decodeRecord(t, f.payload)
		mu.Lock()
		first := !seen[d.metric]
		seen[d.metric] = true
		if first {
			broken++
		}
		mu.Unlock()
		if first {
			panic(http.ErrAbortHandler)
		}
		r.Body = io.NopCloser(bytesReader(body))
		inner.ServeHTTP(w, r)
	})
	srv.srv.Config.ErrorLog = nil
	s := newHTTP(t, HTTPConfig{URI: srv.uri(), MaximumAttempts: 5, BaseBackoff: time.Millisecond})
	s.Record(manyMetrics(5))
	s.Close()
	if got := len(srv.records()); got != 5 {
		t.Fatalf("%d records", got)
	}
	if c := s.Counters(); c.Sent != 5 || c.Retried < 5 || c.Failed != 0 {
		t.Errorf("counters %+v", c)
	}

	// Without retries a transport error is a counted failure.
	s2 := newHTTP(t, HTTPConfig{URI: "http://127.0.0.1:1/metrics/v1/data"})
	s2.Record(manyMetrics(2))
	s2.Close()
	if c := s2.Counters(); c.Failed != 2 || c.Sent != 0 {
		t.Errorf("counters %+v", c)
	}
	if _, d, e := s2.Stats(); d != 2 || e != 2 {
		t.Errorf("stats dropped %d errors %d", d, e)
	}
}

func TestHTTPEvictsOldest(t *testing.T) {
	srv := newCaggServer(t)
	srv.gate = make(chan struct{})
	s := newHTTP(t, HTTPConfig{URI: srv.uri(), MaximumQueueSize: 2})
	s.Record(manyMetrics(5)) // queued together: m0…m2 evicted
	if c := s.Counters(); c.Evicted != 3 {
		t.Errorf("evicted %d", c.Evicted)
	}
	if n := s.QueueLen(); n > 2 {
		t.Errorf("queue %d", n)
	}
	close(srv.gate)
	s.Close()
	got := srv.records()
	if len(got) != 2 || got[0].metric != "m3" || got[1].metric != "m4" {
		t.Errorf("received %v", got)
	}
	if w, d, _ := s.Stats(); w != 2 || d != 3 {
		t.Errorf("stats written %d dropped %d", w, d)
	}
}

func TestHTTPMissingDimensions(t *testing.T) {
	srv := newCaggServer(t)
	s := newHTTP(t, HTTPConfig{URI: srv.uri()})
	s.Record(manyMetrics(3, "cluster", "c", "host", "h")) // no service
	s.Record(manyMetrics(2, "service", "s", "host", "h")) // no cluster
	s.Record(manyMetrics(1, "cluster", "c", "service", "s"))
	s.Close()
	if got := len(srv.records()); got != 1 {
		t.Errorf("%d records", got)
	}
	if c := s.Counters(); c.MissingDimensions != 5 || c.Sent != 1 || c.SamplesDropped != 50 {
		t.Errorf("counters %+v", c)
	}
	if _, d, _ := s.Stats(); d != 5 {
		t.Errorf("dropped %d", d)
	}
}

func TestHTTPCloseTimeout(t *testing.T) {
	srv := newCaggServer(t)
	srv.gate = make(chan struct{})
	defer close(srv.gate)
	s := newHTTP(t, HTTPConfig{URI: srv.uri(), CloseTimeout: 50 * time.Millisecond})
	s.Record(manyMetrics(4))
	s.Close() // the in-flight request is aborted; the queue is dropped
	c := s.Counters()
	if c.Sent != 0 || c.Failed+c.ClosedDrops != 4 {
		t.Errorf("counters %+v", c)
	}
	s.Record(manyMetrics(1)) // after Close: dropped
	if c := s.Counters(); c.ClosedDrops+c.Failed != 5 {
		t.Errorf("counters %+v", c)
	}
}

func TestHTTPSpread(t *testing.T) {
	srv := newCaggServer(t)
	s := newHTTP(t, HTTPConfig{URI: srv.uri(), SpreadPeriod: 20 * time.Millisecond})
	if s.spread < 0 || s.spread >= 20*time.Millisecond {
		t.Errorf("spread %v", s.spread)
	}
	s.Record(manyMetrics(3))
	s.Close()
	if got := len(srv.records()); got != 3 {
		t.Errorf("%d records", got)
	}
}

func TestHTTPConfig(t *testing.T) {
	for _, cfg := range []HTTPConfig{{}, {URI: "localhost:7066"}, {URI: "ftp://x/"}, {URI: "http://x/", SpreadPeriod: -1}} {
		if _, err := NewHTTP(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	s := newHTTP(t, HTTPConfig{URI: "http://localhost:7066/metrics/v1/data/persist"})
	c := s.cfg
	if c.MaximumConcurrency != 1 || c.MaximumQueueSize != 25000 || c.SpreadPeriod != 0 || len(c.AcceptedStatusCodes) != 4 ||
		c.MaximumAttempts != 1 || c.BaseBackoff != 50*time.Millisecond || c.MaximumDelay != time.Minute || len(c.RetryableStatusCodes) != 4 {
		t.Errorf("defaults %+v", c)
	}
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestHTTPInFlight: a request being sent is in flight, neither queued nor
// sent, and /metrics says so (mad_sink_in_flight).
func TestHTTPInFlight(t *testing.T) {
	srv := newCaggServer(t)
	srv.gate = make(chan struct{})
	s := newHTTP(t, HTTPConfig{Name: "cagg", URI: srv.uri()})
	s.Record(manyMetrics(2))
	waitFor(t, "a request in flight", func() bool { return s.Counters().InFlight == 1 && s.QueueLen() == 1 })
	if v := reported(s, "mad_sink_in_flight"); v != 1 {
		t.Errorf("mad_sink_in_flight %v; want 1", v)
	}
	close(srv.gate)
	s.Close()
	if c := s.Counters(); c.InFlight != 0 || c.Sent != 2 {
		t.Errorf("counters %+v", c)
	}
}

// reported returns the value of family name that s reports.
func reported(s interface {
	Report(func(selfmetric.Value))
}, name string) float64 {
	v := -1.0
	s.Report(func(x selfmetric.Value) {
		if x.Name == name {
			v = x.V
		}
	})
	return v
}
