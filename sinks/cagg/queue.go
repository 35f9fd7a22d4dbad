package cagg

import (
	"log/slog"
	"sync"
	"time"

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

// throttledLog logs at most one line per interval per key; the lines it
// suppressed are counted in the next one.
type throttledLog struct {
	log      *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	missed   map[string]int
}

func newThrottledLog(l *slog.Logger, interval time.Duration) *throttledLog {
	if l == nil {
		l = slog.Default()
	}
	return &throttledLog{log: l, interval: interval, last: map[string]time.Time{}, missed: map[string]int{}}
}

func (t *throttledLog) warn(key, msg string, args ...any) {
	t.mu.Lock()
	now := time.Now()
	if last, ok := t.last[key]; ok && now.Sub(last) < t.interval {
		t.missed[key]++
		t.mu.Unlock()
		return
	}
	missed := t.missed[key]
	t.last[key] = now
	t.missed[key] = 0
	t.mu.Unlock()
	if missed > 0 {
		args = append(args, "suppressed", missed)
	}
	t.log.Warn(msg, args...)
}

// encodeBucket encodes every metric of pd as one record (MAD: one request
// per metric). A bucket without a service or cluster dimension is dropped
// whole, counted and logged (throttled): MAD's sink actor crashes on it.
func encodeBucket(enc *encoder, c *counters, log *throttledLog, name string, pd *sinks.PeriodicData) ([]request, bool) {
	if err := enc.prepare(pd); err != nil {
		c.missing.Add(uint64(len(pd.Metrics)))
		for i := range pd.Metrics {
			c.samplesDropped.Add(uint64(max(populationSize(&pd.Metrics[i]), 0)))
		}
		log.warn("missing-dims", "cagg: dropping bucket without service or cluster dimension",
			"sink", name, "metrics", len(pd.Metrics), "dimensions", dimString(pd))
		return nil, false
	}
	reqs := make([]request, len(pd.Metrics))
	for i := range pd.Metrics {
		m := &pd.Metrics[i]
		reqs[i] = request{body: enc.encodeMetric(nil, m), population: populationSize(m)}
	}
	return reqs, true
}
