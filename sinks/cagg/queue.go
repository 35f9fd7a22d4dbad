package cagg

import (
	"log/slog"
	"sync"

	"github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/throttle"
	"github.com/gomad/mad/sinks"
)

// request is one queued message: a framed record (TCP) or a request body
// (HTTP), and MAD's population size for the samples counters.
type request struct {
	body       []byte
	population int64
}

// evictingQueue is a FIFO bounded at max elements: pushing into a full
// queue evicts the oldest element (Guava's EvictingQueue, as MAD uses).
// The caller synchronises.
type evictingQueue struct {
	buf   []request
	head  int
	n     int
	max   int
	bytes int
}

func newEvictingQueue(max int) *evictingQueue {
	return &evictingQueue{max: max}
}

// push appends r and returns the evicted element, if any.
func (q *evictingQueue) push(r request) (evicted request, ok bool) {
	if q.n == q.max {
		evicted, ok = q.pop()
	}
	if q.n == len(q.buf) {
		// Grow (the queue starts small: most sinks never fill it).
		size := 2 * len(q.buf)
		if size < 64 {
			size = 64
		}
		if size > q.max {
			size = q.max
		}
		nb := make([]request, size)
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
	q.bytes += len(r.body)
	return evicted, ok
}

// pop removes and returns the oldest element.
func (q *evictingQueue) pop() (request, bool) {
	if q.n == 0 {
		return request{}, false
	}
	r := q.buf[q.head]
	q.buf[q.head] = request{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.bytes -= len(r.body)
	return r, true
}

func (q *evictingQueue) len() int { return q.n }

// encodeBucket encodes the metrics of pd as one record per name (MAD: one
// request per name). A bucket without a service or cluster dimension is dropped
// whole, counted and logged (throttled): MAD's sink actor crashes on it.
func encodeBucket(enc *encoder, c *counters, log *throttle.Log, name string, pd *sinks.PeriodicData) ([]request, bool) {
	if err := enc.prepare(pd); err != nil {
		c.missing.Add(uint64(len(pd.Metrics)))
		for i := range pd.Metrics {
			c.samplesDropped.Add(uint64(max(populationOf(pd.Metrics, i, nil), 0)))
		}
		log.Warn("missing-dims", "cagg: dropping bucket without service or cluster dimension",
			"sink", name, "metrics", len(pd.Metrics), "dimensions", dimString(pd))
		return nil, false
	}
	// One record per name (MAD-SPEC §9.3): a name reported as two types
	// is two metrics of pd, one record.
	enc.groupByName(pd.Metrics)
	reqs := make([]request, 0, len(pd.Metrics))
	for i := range pd.Metrics {
		if enc.later[i] {
			continue
		}
		reqs = append(reqs, request{body: enc.encodeMetrics(nil, pd.Metrics, i, enc.next), population: populationOf(pd.Metrics, i, enc.next)})
	}
	return reqs, true
}

// report reports a Cluster Aggregator sink's counters: on /metrics, and as
// MAD's sinks/http_post/<name>/… metrics (MAD-SPEC §11).
func report(emit func(selfmetric.Value), name string, c *counters, queued int) {
	w, d, e := c.stats()
	l := sinks.ReportCounts(emit, name, w, d, e)
	cs := c.snapshot()
	mad := "sinks/http_post/" + selfmetric.SinkName(name) + "/"
	q := sinks.ReportQueue(emit, l, queued)
	emit(selfmetric.Value{Kind: selfmetric.Gauge, V: q.V, MAD: mad + "queue_size"})
	emit(selfmetric.Value{Name: "mad_sink_in_flight", Help: "Items a sink handed on whose fate is not known yet (HTTP requests being sent; TCP records written and not yet known read).",
		Kind: selfmetric.Gauge, Labels: l, V: float64(cs.InFlight)})
	emit(selfmetric.Value{Name: "mad_sink_retried_total", Help: "Requests a sink retried (retries enabled with maximumAttempts).", Labels: l, V: float64(cs.Retried)})
	emit(selfmetric.Value{Name: "mad_sink_evicted_total", Help: "Requests evicted from a full sink queue (the oldest).", Labels: l, V: float64(cs.Evicted),
		MAD: mad + "evicted_requests"})
	emit(selfmetric.Value{Name: "mad_sink_missing_dimensions_total", Help: "Records dropped for a missing service or cluster dimension.", Labels: l, V: float64(cs.MissingDimensions)})
	emit(selfmetric.Value{Name: "mad_sink_requests_total", Help: "Requests (HTTP) or writes (TCP) a sink made.", Labels: l, V: float64(cs.Requests)})
	emit(selfmetric.Value{Name: "mad_sink_request_latency_seconds_total", Help: "Total time of a sink's requests; divided by mad_sink_requests_total, the mean latency.",
		Labels: l, V: float64(cs.LatencyNanos) / 1e9})
	emit(selfmetric.Value{V: float64(cs.SamplesSent), MAD: mad + "samples_sent"})
	emit(selfmetric.Value{V: float64(cs.SamplesDropped), MAD: mad + "samples_dropped"})
	emit(selfmetric.Value{V: float64(cs.Sent), MAD: mad + "success"})
}

// front is what the two Cluster Aggregator sinks share: the encoder (the
// emitter's goroutine's), the evicting queue of encoded records under mu,
// the counters and the throttled log. A sink embeds it and drains q in its
// own way (HTTP workers, one TCP connection); wake tells it there is work.
type front struct {
	name string
	what string // what the queue holds, in logs: "requests", "records"
	log  *throttle.Log
	enc  encoder
	c    counters

	mu      sync.Mutex
	q       *evictingQueue
	closing bool
	wake    chan struct{}
}

func newFront(name, what string, log *slog.Logger, queue, wakers int) front {
	return front{name: name, what: what, log: throttle.NewLog(log, throttle.Every), q: newEvictingQueue(queue), wake: make(chan struct{}, wakers)}
}

// Name returns the sink's name.
func (f *front) Name() string { return f.name }

// Stats returns the records sent (HTTP: accepted; TCP: known read), the
// records dropped (evicted, missing dimensions, rejected, failed, lost with
// a connection, left at close) and errors (rejected, failed, lost). Safe
// from any goroutine.
func (f *front) Stats() (written, dropped, errors uint64) { return f.c.stats() }

// Counters returns every counter. Safe from any goroutine.
func (f *front) Counters() Counters { return f.c.snapshot() }

// QueueLen returns the records waiting. Safe from any goroutine.
func (f *front) QueueLen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.q.len()
}

// Report reports the sink's counters.
func (f *front) Report(emit func(selfmetric.Value)) { report(emit, f.name, &f.c, f.QueueLen()) }

// enqueue serialises every metric of pd as one record and queues them,
// evicting the oldest of a full queue (counted, logged); first runs under
// the lock before the records are pushed, with whether the queue was empty.
// It returns how many it queued, and never blocks on I/O.
func (f *front) enqueue(pd *sinks.PeriodicData, first func(empty bool)) int {
	if len(pd.Metrics) == 0 {
		return 0
	}
	reqs, ok := encodeBucket(&f.enc, &f.c, f.log, f.name, pd)
	if !ok {
		return 0
	}
	var evicted int
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		for _, r := range reqs {
			f.c.closed.Add(1)
			f.c.drop(r)
		}
		return 0
	}
	if first != nil {
		first(f.q.len() == 0)
	}
	for _, r := range reqs {
		if old, ok := f.q.push(r); ok {
			evicted++
			f.c.evicted.Add(1)
			f.c.drop(old)
		}
	}
	f.mu.Unlock()
	if evicted > 0 {
		f.log.Warn("evicted", "cagg: queue full, evicted oldest "+f.what, "sink", f.name, "evicted", evicted)
	}
	return len(reqs)
}

// signal wakes up to n of the sink's goroutines, without blocking.
func (f *front) signal(n int) {
	for range min(n, cap(f.wake)) {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}
