package cagg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/sinks"
)

// HTTPConfig configures an HTTPSink. Zero values take MAD's defaults.
type HTTPConfig struct {
	Name string
	// URI is the Cluster Aggregator endpoint (required), e.g.
	// http://localhost:7066/metrics/v1/data/persist.
	URI string
	// MaximumConcurrency bounds the requests in flight (MAD: 1).
	MaximumConcurrency int
	// MaximumQueueSize bounds the queued requests; when it is full the
	// oldest is evicted and counted (MAD: 25000).
	MaximumQueueSize int
	// SpreadPeriod: a random delay in [0, SpreadPeriod), drawn once per
	// sink, is waited before dispatching work that arrives on an empty
	// queue (MAD: 0).
	SpreadPeriod time.Duration
	// AcceptedStatusCodes are the statuses that count as success (MAD:
	// 200, 201, 202, 204).
	AcceptedStatusCodes []int

	// Not in MAD (CAGG's HttpPostSink keys), defaulting to MAD's
	// behaviour.
	//
	// MaximumAttempts is the attempts per request (default 1: no retry).
	MaximumAttempts int
	// BaseBackoff is the delay before the first retry; it doubles at each
	// further one, with jitter (default 50 ms).
	BaseBackoff time.Duration
	// MaximumDelay caps a retry delay (default 60 s).
	MaximumDelay time.Duration
	// RetryableStatusCodes are the statuses retried when MaximumAttempts
	// > 1 (default 408, 429, 502, 503). Transport errors are retried too.
	RetryableStatusCodes []int

	// RequestTimeout bounds one attempt (default 60 s).
	RequestTimeout time.Duration
	// CloseTimeout bounds how long Close drains the queue (default 10 s).
	CloseTimeout time.Duration
	// Client, if set, is used instead of the sink's own client.
	Client *http.Client
	// Log receives warnings (default slog.Default()); they are throttled.
	Log *slog.Logger
}

// Counters are an HTTPSink's or a TCPSink's counters. Counts are records
// (one StatisticSetRecord each: one HTTP request per metric).
type Counters struct {
	// Sent records accepted by the Cluster Aggregator (HTTP), or known to
	// have been read by it (TCP: see TCPSink).
	Sent uint64
	// InFlight records handed on and not yet settled: requests being sent
	// (HTTP), records written to the connection and not yet known read
	// (TCP). A gauge: every record is queued, in flight, sent or dropped.
	InFlight uint64
	// Rejected records: final status not accepted (HTTP).
	Rejected uint64
	// Failed records: transport errors on the last attempt (HTTP), or
	// in flight or being written when a connection broke (TCP): not known
	// to have been read, and never sent again.
	Failed uint64
	// Retried attempts (HTTP, MaximumAttempts > 1).
	Retried uint64
	// Evicted records: the oldest of a full queue.
	Evicted uint64
	// MissingDimensions records dropped because their bucket has no
	// service or no cluster dimension.
	MissingDimensions uint64
	// ClosedDrops records still queued (or, TCP, in flight) when Close
	// gave up.
	ClosedDrops uint64
	// SamplesSent and SamplesDropped are MAD's samples_sent /
	// samples_dropped: population sizes of the records.
	SamplesSent, SamplesDropped uint64
	// Requests and LatencyNanos: attempts made (HTTP) or writes (TCP:
	// batches of records, heartbeats) and their total duration;
	// LatencyNanos / Requests is the mean latency.
	Requests, LatencyNanos uint64
	// Connects and Heartbeats (TCP).
	Connects, Heartbeats uint64
}

type counters struct {
	sent, rejected, failed, retried, evicted, missing, closed atomic.Uint64
	samplesSent, samplesDropped, requests, latency            atomic.Uint64
	connects, heartbeats                                      atomic.Uint64
	inflight                                                  atomic.Int64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Sent: c.sent.Load(), Rejected: c.rejected.Load(), Failed: c.failed.Load(),
		InFlight: uint64(max(c.inflight.Load(), 0)),
		Retried:  c.retried.Load(), Evicted: c.evicted.Load(), MissingDimensions: c.missing.Load(),
		ClosedDrops: c.closed.Load(), SamplesSent: c.samplesSent.Load(), SamplesDropped: c.samplesDropped.Load(),
		Requests: c.requests.Load(), LatencyNanos: c.latency.Load(),
		Connects: c.connects.Load(), Heartbeats: c.heartbeats.Load(),
	}
}

// stats is engine.SinkStats: written = sent; dropped = evicted + missing
// dimensions + rejected + failed + dropped at close; errors = rejected +
// failed.
func (c *counters) stats() (written, dropped, errors uint64) {
	rej, fail := c.rejected.Load(), c.failed.Load()
	return c.sent.Load(), c.evicted.Load() + c.missing.Load() + rej + fail + c.closed.Load(), rej + fail
}

func (c *counters) drop(r request) {
	c.samplesDropped.Add(uint64(max(r.population, 0)))
}

// observe counts a request (HTTP) or a write (TCP) begun at start.
func (c *counters) observe(start time.Time) {
	c.requests.Add(1)
	c.latency.Add(uint64(time.Since(start)))
}

// HTTPSink is MAD's AggregationServerHttpSink: every metric of every bucket
// is POSTed to the Cluster Aggregator as one framed StatisticSetRecord.
type HTTPSink struct {
	front
	cfg      HTTPConfig
	uri      string
	client   *http.Client
	spread   time.Duration
	accepted []int
	retry    []int

	readyAt time.Time     // dispatch waits for it (spreadPeriod); under mu
	stop    chan struct{} // closed by Close: drain and exit
	ctx     context.Context
	cancel  context.CancelFunc // at the close deadline
	wg      sync.WaitGroup
	once    sync.Once
}

// EnsureDefaults sets every unset option to its default: MAD's, where MAD
// has the key (maximumConcurrency 1, maximumQueueSize 25000, acceptedStatusCodes
// 200, 201, 202, 204), and otherwise MAD's behaviour (maximumAttempts 1: no
// retry).
func (c *HTTPConfig) EnsureDefaults() {
	if c.MaximumConcurrency <= 0 {
		c.MaximumConcurrency = 1
	}
	if c.MaximumQueueSize <= 0 {
		c.MaximumQueueSize = 25000
	}
	if c.AcceptedStatusCodes == nil {
		c.AcceptedStatusCodes = []int{200, 201, 202, 204}
	}
	if c.MaximumAttempts <= 0 {
		c.MaximumAttempts = 1
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 50 * time.Millisecond
	}
	if c.MaximumDelay <= 0 {
		c.MaximumDelay = 60 * time.Second
	}
	if c.RetryableStatusCodes == nil {
		c.RetryableStatusCodes = []int{408, 429, 502, 503}
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 10 * time.Second
	}
}

// NewHTTP validates cfg and starts the sink's workers.
func NewHTTP(cfg HTTPConfig) (*HTTPSink, error) {
	if cfg.URI == "" {
		return nil, errors.New("cagg: uri is required")
	}
	u, err := url.Parse(cfg.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cagg: invalid uri %q", cfg.URI)
	}
	cfg.EnsureDefaults()
	if cfg.SpreadPeriod < 0 {
		return nil, errors.New("cagg: spreadPeriod must not be negative")
	}
	s := &HTTPSink{
		front:    newFront(cfg.Name, "requests", cfg.Log, cfg.MaximumQueueSize, cfg.MaximumConcurrency),
		cfg:      cfg,
		uri:      cfg.URI,
		client:   cfg.Client,
		accepted: slices.Clone(cfg.AcceptedStatusCodes),
		retry:    slices.Clone(cfg.RetryableStatusCodes),
		stop:     make(chan struct{}),
	}
	if s.client == nil {
		s.client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.MaximumConcurrency,
			IdleConnTimeout:     300 * time.Second, // MAD's connection TTL
			ForceAttemptHTTP2:   true,
		}}
	}
	if cfg.SpreadPeriod > 0 {
		s.spread = rand.N(cfg.SpreadPeriod)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range cfg.MaximumConcurrency {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// Record serialises every metric of pd into a request and queues them. It
// never blocks on I/O.
func (s *HTTPSink) Record(pd *sinks.PeriodicData) {
	n := s.enqueue(pd, func(empty bool) {
		if empty && s.spread > 0 {
			if now := time.Now(); !now.Before(s.readyAt) {
				s.readyAt = now.Add(s.spread)
			}
		}
	})
	s.signal(n)
}

// Close dispatches what is queued, waiting at most CloseTimeout, then
// aborts what is left (counted as ClosedDrops) and stops the workers.
func (s *HTTPSink) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		close(s.stop)
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		t := time.NewTimer(s.cfg.CloseTimeout)
		select {
		case <-done:
		case <-t.C:
			s.cancel()
			<-done
		}
		t.Stop()
		s.cancel()
		s.mu.Lock()
		for r, ok := s.q.pop(); ok; r, ok = s.q.pop() {
			s.c.closed.Add(1)
			s.c.drop(r)
		}
		s.mu.Unlock()
		if t, ok := s.client.Transport.(*http.Transport); ok && s.cfg.Client == nil {
			t.CloseIdleConnections()
		}
	})
	return nil
}

func (s *HTTPSink) worker() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		closing := s.closing
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			return
		}
		if wait := time.Until(s.readyAt); wait > 0 && !closing && s.q.len() > 0 {
			s.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.stop:
			}
			t.Stop()
			continue
		}
		r, ok := s.q.pop()
		if ok {
			s.c.inflight.Add(1)
		}
		s.mu.Unlock()
		if ok {
			s.send(r)
			s.c.inflight.Add(-1)
			continue
		}
		if closing {
			return
		}
		select {
		case <-s.wake:
		case <-s.stop:
		}
	}
}

// send POSTs r, retrying retryable failures up to MaximumAttempts.
func (s *HTTPSink) send(r request) {
	for attempt := 1; ; attempt++ {
		status, body, err := s.post(r.body)
		if err == nil && slices.Contains(s.accepted, status) {
			s.c.sent.Add(1)
			s.c.samplesSent.Add(uint64(max(r.population, 0)))
			return
		}
		retryable := err != nil || slices.Contains(s.retry, status)
		if retryable && attempt < s.cfg.MaximumAttempts && s.ctx.Err() == nil {
			s.c.retried.Add(1)
			if s.backoff(attempt) {
				continue
			}
		}
		s.c.drop(r)
		if err != nil {
			s.c.failed.Add(1)
			s.log.Warn("failed", "cagg: request failed", "sink", s.cfg.Name, "uri", s.uri,
				"attempts", attempt, "error", err)
		} else {
			s.c.rejected.Add(1)
			s.log.Warn("rejected", "cagg: request rejected", "sink", s.cfg.Name, "uri", s.uri,
				"attempts", attempt, "status", status, "response", string(body))
		}
		return
	}
}

// backoff waits before retry attempt+1: BaseBackoff·2^(attempt-1), capped
// at MaximumDelay, with jitter in [½, 1) of it. It returns false when the
// sink is being aborted.
func (s *HTTPSink) backoff(attempt int) bool {
	d := s.cfg.BaseBackoff << min(attempt-1, 30)
	if d <= 0 || d > s.cfg.MaximumDelay {
		d = s.cfg.MaximumDelay
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// post makes one attempt; it returns the status and (for a status the
// caller may log) the start of the response body.
func (s *HTTPSink) post(body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.uri, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/protobuf")
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		s.c.observe(start)
		return 0, nil, err
	}
	var head []byte
	if !slices.Contains(s.accepted, resp.StatusCode) {
		head, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s.c.observe(start)
	return resp.StatusCode, head, nil
}

func dimString(pd *sinks.PeriodicData) string {
	var b []byte
	for i, d := range pd.Dimensions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d.Key...)
		b = append(b, '=')
		b = append(b, d.Value...)
	}
	return string(b)
}

var (
	_ sinks.Sink = (*HTTPSink)(nil)
	_ sinks.Sink = (*TCPSink)(nil)
)
