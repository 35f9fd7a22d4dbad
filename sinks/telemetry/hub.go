package telemetry

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/jsonstr"
)

// HubConfig configures a Hub. Zero values take the defaults.
type HubConfig struct {
	// ConnBuffer is each connection's outbound buffer, in messages
	// (default 256, MAD's). When it is full it is emptied (Akka's
	// drop-buffer) and its messages are counted as dropped.
	ConnBuffer int
	// MaxMetrics bounds the registry of (service, metric, statistic)
	// triples (default 100000; MAD's grows forever). Triples seen when it
	// is full get no newMetric and are not listed by getMetrics; they are
	// counted, and subscriptions to them still get reports.
	MaxMetrics int
	// MaxSubscriptions bounds the subscriptions of one connection
	// (default 10000); further subscribe commands are ignored.
	MaxSubscriptions int
	// MaxPending bounds the reports handed by sinks and not yet dispatched
	// (default 1<<20); a Record that would exceed it is dropped and counted
	// by its sink.
	MaxPending int
	// MaxConnections bounds the open websockets (default 1024); further
	// upgrade requests get 503.
	MaxConnections int
	// WriteTimeout is how long one message may take to write before the
	// connection is closed (default 60 s, akka-http's idle timeout).
	WriteTimeout time.Duration
	// ReadLimit bounds a client frame, in bytes (default 64 KiB).
	ReadLimit int64
	// OriginPatterns, if set, restricts cross-origin upgrades to these
	// host patterns (websocket.AcceptOptions.OriginPatterns). By default
	// any origin is accepted, as MAD does.
	OriginPatterns []string
}

// EnsureDefaults sets every unset option to its default.
func (c *HubConfig) EnsureDefaults() {
	if c.ConnBuffer <= 0 {
		c.ConnBuffer = 256
	}
	if c.MaxMetrics <= 0 {
		c.MaxMetrics = 100000
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 10000
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1 << 20
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 1024
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 64 << 10
	}
}

// HubStats are the Hub's counters.
type HubStats struct {
	// Connections is the number of open websockets.
	Connections int
	// Metrics is the number of registered (service, metric, statistic).
	Metrics int
	// Reports counts the reports dispatched (received from sinks).
	Reports uint64
	// Queued counts the messages put into connection buffers (replies
	// included).
	Queued uint64
	// Dropped counts the messages dropped from full connection buffers,
	// or left in one when its connection closed.
	Dropped uint64
	// RegistryFull counts reports of triples the full registry could
	// not register.
	RegistryFull uint64
	// Refused counts upgrade requests refused by MaxConnections.
	Refused uint64
	// Pending is the number of reports waiting for the dispatcher.
	Pending int
}

// Hub is MAD's global Telemetry actor: it receives the reports of every
// Sink, keeps the metric registry, and streams to websocket clients.
type Hub struct {
	cfg HubConfig

	// Hand-off from sinks (pmu guards pending, npending, closed).
	pmu      sync.Mutex
	pending  []*batch
	npending int
	closed   bool
	wake     chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
	pool     sync.Pool

	// Registry, subscriptions and connections, owned under mu. reg is
	// the registry by regKey: each metric's registered statistics, a bit
	// each; registered counts them. series holds the triples someone
	// subscribes to, by seriesKey.
	mu         sync.Mutex
	reg        map[string]*metricReg
	registered int
	series     map[string]*series
	conns      map[*conn]struct{}
	connClosed bool
	handlers   sync.WaitGroup

	reports      atomic.Uint64
	queued       atomic.Uint64
	dropped      atomic.Uint64
	registryFull atomic.Uint64
	refused      atomic.Uint64

	// The quiet fast path (see Sink.Record): subscriptions counts the
	// subscriptions of every connection; quiet is the registered
	// statistics of each service and metric as the dispatcher last
	// published them, nil until it has.
	subscriptions atomic.Int64
	quiet         atomic.Pointer[quietSet]
	stopping      atomic.Bool   // Close began: nothing is skipped any more
	quietAt       time.Time     // when quiet was published (dispatcher's)
	quietN        int           // registered then
	quietCost     time.Duration // what copying it took
	// quietAll is the dispatcher's own quietSet, kept as triples register;
	// publishing copies it. last is the registry entry of the latest
	// report's metric (nil if unregistered): the statistics of a metric
	// arrive together, and find it without a lookup.
	quietAll quietSet
	last     *metricReg

	// Scratch of the dispatcher goroutine.
	key []byte
}

// metricReg is a registered service and metric: its key in the registry
// (regKey), the two parts (which share the key's bytes), and its
// registered statistics (1 << hist.Stat each).
type metricReg struct {
	key, service, metric string
	stats                uint64
}

// series is one (service, metric, statistic) someone subscribes to: its
// subscribers (the triple is its key in Hub.series).
type series struct {
	subs []*conn
}

// regKey appends the key of a service and metric: the service's length
// (a uvarint), the service, the metric. A separator byte would let two
// names meet (service "a" and metric "b\x00m", service "a\x00b" and metric
// "m"); the length keeps them apart whatever bytes they hold.
func regKey(dst []byte, service, metric []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(service)))
	return append(append(dst, service...), metric...)
}

// seriesKey appends the key of a (service, metric, statistic): regKey's,
// with the metric's length before the metric, then the statistic.
func seriesKey(dst []byte, service, metric []byte, statistic string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(service)))
	dst = binary.AppendUvarint(append(dst, service...), uint64(len(metric)))
	return append(append(dst, metric...), statistic...)
}

// quietSet maps a service and metric's regKey to the bit set (1 <<
// hist.Stat) of its registered statistics: reports of those need no
// dispatch while nobody subscribes to anything, for the dispatcher would
// only find them registered already and unsubscribed.
type quietSet map[string]uint64

var _ [64 - hist.NumStats]struct{} // a Stat is a bit of a uint64

// quietFor returns the published set, or nil if reports must go through the
// dispatcher: it has not published one, or someone subscribes to something.
func (h *Hub) quietFor() quietSet {
	if h.subscriptions.Load() != 0 || h.stopping.Load() {
		return nil
	}
	if q := h.quiet.Load(); q != nil {
		return *q
	}
	return nil
}

// quietDuty bounds the dispatcher's time spent copying the quiet set
// while registrations trickle in: after a copy that took d, the next one
// waits for at least quietDuty·d.
const quietDuty = 20

// publishQuiet publishes a copy of the registry's quietSet when the
// registry has grown by a quarter since the last one (amortised O(1) a
// registration), or when something registered since and a second has
// passed, but no sooner than quietDuty times the last copy's duration, so
// that a steady stream of new metrics (whose registry grows by less than a
// quarter a second) costs the dispatcher at most 1/quietDuty of its time
// in copies. h.mu is held; the dispatcher calls it.
func (h *Hub) publishQuiet() {
	if h.registered == h.quietN {
		return
	}
	now := time.Now()
	if h.registered < h.quietN+h.quietN/4 {
		if since := now.Sub(h.quietAt); since < time.Second || since < quietDuty*h.quietCost {
			return
		}
	}
	q := maps.Clone(h.quietAll)
	h.quiet.Store(&q)
	h.quietAt, h.quietN = now, h.registered
	h.quietCost = time.Since(now)
}

// NewHub starts a Hub's dispatcher.
func NewHub(cfg HubConfig) *Hub {
	cfg.EnsureDefaults()
	h := &Hub{
		cfg:      cfg,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
		reg:      map[string]*metricReg{},
		series:   map[string]*series{},
		conns:    map[*conn]struct{}{},
		quietAll: quietSet{},
	}
	h.pool.New = func() any { return new(batch) }
	go h.dispatch()
	return h
}

// Stats returns the Hub's counters. Safe from any goroutine.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	nc, nm := len(h.conns), h.registered
	h.mu.Unlock()
	h.pmu.Lock()
	np := h.npending
	h.pmu.Unlock()
	return HubStats{
		Connections:  nc,
		Metrics:      nm,
		Reports:      h.reports.Load(),
		Queued:       h.queued.Load(),
		Dropped:      h.dropped.Load(),
		RegistryFull: h.registryFull.Load(),
		Refused:      h.refused.Load(),
		Pending:      np,
	}
}

// Close stops the dispatcher (once it has dispatched the reports pending),
// closes every connection (going away; what its buffer still held is
// counted dropped) and waits for their handlers to return. Later
// upgrade requests get 503 and later Records are dropped.
func (h *Hub) Close() error {
	h.pmu.Lock()
	if h.closed {
		h.pmu.Unlock()
		return nil
	}
	h.closed = true
	h.stopping.Store(true) // later Records are dropped, not skipped (quietFor)
	h.pmu.Unlock()
	close(h.stop)
	<-h.stopped

	h.mu.Lock()
	h.connClosed = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		go c.shutdown()
	}
	h.handlers.Wait()
	return nil
}

// submit hands a batch of reports to the dispatcher; it reports false (and
// keeps nothing) when the hub is closed or the queue has no room.
func (h *Hub) submit(b *batch) bool {
	h.pmu.Lock()
	if h.closed || h.npending+len(b.reports) > h.cfg.MaxPending {
		h.pmu.Unlock()
		return false
	}
	h.pending = append(h.pending, b)
	h.npending += len(b.reports)
	h.pmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return true
}

func (h *Hub) getBatch() *batch { return h.pool.Get().(*batch) }

func (h *Hub) putBatch(b *batch) {
	b.reset()
	h.pool.Put(b)
}

func (h *Hub) dispatch() {
	defer close(h.stopped)
	var work []*batch
	for {
		stopping := false
		select {
		case <-h.stop:
			// Close: submit refuses from now on; what the sinks handed
			// over before (and counted written) is dispatched, to the
			// connections still open, before they are closed.
			stopping = true
		case <-h.wake:
		}
		h.pmu.Lock()
		work, h.pending = h.pending, work[:0]
		h.npending = 0
		h.pmu.Unlock()
		for i, b := range work {
			h.mu.Lock()
			for j := range b.reports {
				h.dispatchOne(b, &b.reports[j])
			}
			h.publishQuiet()
			h.mu.Unlock()
			h.reports.Add(uint64(len(b.reports)))
			h.putBatch(b)
			work[i] = nil
		}
		if stopping {
			return
		}
	}
}

// dispatchOne registers r's triple and sends it to its subscribers; h.mu
// is held. Registering a statistic allocates only its metric's first entry
// (and the newMetric message while someone is connected); the statistics
// of a metric, which come together, find its entry without a lookup; and
// while nobody subscribes to anything a report's triple is not looked up
// (BENCHMARKS.md, "The telemetry registry by metric").
func (h *Hub) dispatchOne(b *batch, r *report) {
	if r.stat >= hist.NumStats {
		return // no statistic (the emitter makes none such)
	}
	service, metric, bit := b.span(r.service), b.span(r.metric), uint64(1)<<r.stat
	h.key = regKey(h.key[:0], service, metric)
	m := h.last
	if m == nil || m.key != string(h.key) {
		m = h.reg[string(h.key)]
		h.last = m
	}
	if m == nil || m.stats&bit == 0 {
		if h.registered >= h.cfg.MaxMetrics {
			h.registryFull.Add(1)
		} else {
			if m == nil {
				k := string(h.key)
				at := len(k) - len(service) - len(metric)
				m = &metricReg{key: k, service: k[at : at+len(service)], metric: k[at+len(service):]}
				h.reg[k] = m
				h.last = m
			}
			m.stats |= bit
			h.registered++
			h.quietAll[m.key] = m.stats
			if len(h.conns) > 0 { // else nobody to tell
				// A fresh slice: connections keep it until written.
				stat := statName(r.stat)
				msg := make([]byte, 0, 80+len(service)+len(metric)+len(stat))
				msg = append(msg, `{"command":"newMetric","data":{"service":`...)
				msg = jsonstr.Append(msg, service)
				msg = append(msg, `,"metric":`...)
				msg = jsonstr.Append(msg, metric)
				msg = append(msg, `,"statistic":"`...)
				msg = append(msg, stat...)
				msg = append(msg, `"}}`...)
				for c := range h.conns {
					c.push(msg)
				}
			}
		}
	}
	if len(h.series) == 0 {
		return // nobody subscribes to anything
	}
	h.key = seriesKey(h.key[:0], service, metric, statName(r.stat))
	s := h.series[string(h.key)]
	if s == nil || len(s.subs) == 0 {
		return
	}
	var m1, m2 []byte
	for _, c := range s.subs {
		if c.version == 1 {
			if m1 == nil {
				m1 = b.appendReport(nil, r, 1)
			}
			c.push(m1)
		} else {
			if m2 == nil {
				m2 = b.appendReport(nil, r, 2)
			}
			c.push(m2)
		}
	}
}

// subscribe adds c to the subscribers of a triple; h.mu is held.
func (h *Hub) subscribe(c *conn, service, metric, statistic string) {
	k := string(seriesKey(nil, []byte(service), []byte(metric), statistic))
	if _, ok := c.subs[k]; ok || len(c.subs) >= h.cfg.MaxSubscriptions {
		return
	}
	s := h.series[k]
	if s == nil {
		s = &series{}
		h.series[k] = s
	}
	s.subs = append(s.subs, c)
	c.subs[k] = s
	h.subscriptions.Add(1)
}

// unsubscribe removes c from the subscribers of the triple k; h.mu is held.
func (h *Hub) unsubscribe(c *conn, k string) {
	s, ok := c.subs[k]
	if !ok {
		return
	}
	delete(c.subs, k)
	h.subscriptions.Add(-1)
	if i := slices.Index(s.subs, c); i >= 0 {
		s.subs = slices.Delete(s.subs, i, i+1)
	}
	if len(s.subs) == 0 {
		delete(h.series, k)
	}
}

// metricsList returns the getMetrics reply: service → metric → statistic,
// sorted by name.
func (h *Hub) metricsList() []byte {
	type node struct {
		Name     string  `json:"name"`
		Children []*node `json:"children"`
	}
	h.mu.Lock()
	tree := map[string]map[string][]string{}
	for _, m := range h.reg {
		ms := tree[m.service]
		if ms == nil {
			ms = map[string][]string{}
			tree[m.service] = ms
		}
		for st := range hist.NumStats {
			if m.stats&(1<<st) != 0 {
				ms[m.metric] = append(ms[m.metric], statName(st))
			}
		}
	}
	h.mu.Unlock()
	metrics := make([]*node, 0, len(tree))
	for svc, ms := range tree {
		sn := &node{Name: svc, Children: make([]*node, 0, len(ms))}
		for m, stats := range ms {
			mn := &node{Name: m, Children: make([]*node, 0, len(stats))}
			slices.Sort(stats)
			for _, st := range stats {
				mn.Children = append(mn.Children, &node{Name: st, Children: []*node{}})
			}
			sn.Children = append(sn.Children, mn)
		}
		slices.SortFunc(sn.Children, func(a, b *node) int { return strings.Compare(a.Name, b.Name) })
		metrics = append(metrics, sn)
	}
	slices.SortFunc(metrics, func(a, b *node) int { return strings.Compare(a.Name, b.Name) })
	out, _ := json.Marshal(map[string]any{
		"command": "metricsList",
		"data":    map[string]any{"metrics": metrics},
	})
	return out
}

// Handler returns the handler of /telemetry/v<version>/stream (version 1
// or 2). A request that is not a websocket upgrade gets 400, as in MAD.
func (h *Hub) Handler(version int) http.Handler {
	if version != 1 && version != 2 {
		panic("telemetry: version must be 1 or 2")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, version)
	})
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(hd http.Header, key, token string) bool {
	for _, v := range hd.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request, version int) {
	if !isUpgrade(r) {
		http.Error(w, "Expected WebSocket Upgrade request", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	if h.connClosed || len(h.conns) >= h.cfg.MaxConnections {
		h.mu.Unlock()
		h.refused.Add(1)
		http.Error(w, "telemetry unavailable", http.StatusServiceUnavailable)
		return
	}
	// Reserve the slot and the handler before the upgrade, so that Close
	// waits for this handler.
	h.handlers.Add(1)
	h.mu.Unlock()
	defer h.handlers.Done()

	opts := &websocket.AcceptOptions{InsecureSkipVerify: len(h.cfg.OriginPatterns) == 0, OriginPatterns: h.cfg.OriginPatterns}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		return // Accept wrote the response
	}
	ws.SetReadLimit(h.cfg.ReadLimit)
	ctx, cancel := context.WithCancel(context.Background())
	c := newConn(h, ws, version, cancel)
	h.mu.Lock()
	if h.connClosed {
		h.mu.Unlock()
		cancel()
		ws.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	h.conns[c] = struct{}{}
	h.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.write(ctx)
	}()
	c.read(ctx)

	h.mu.Lock()
	delete(h.conns, c)
	for k := range c.subs {
		h.unsubscribe(c, k)
	}
	h.mu.Unlock()
	c.close()
	cancel()
	<-writerDone
	ws.CloseNow()
}
