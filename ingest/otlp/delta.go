package otlp

import (
	"container/list"
	"math"
	"sync"
	"time"
)

// Deltas turns cumulative monotonic sums into deltas, per stream: a stream
// is a series key (name and dimensions, as mad keys it). It is mad's, off
// by default (Config.Deltas): MAD aggregates every sum's value as a gauge,
// whatever its temporality (MAD-SPEC §13.1).
//
// For each point of a cumulative monotonic sum:
//   - the first of a stream is its baseline: nothing is emitted (the
//     counter's value before mad saw it is not a delta), unless the stream
//     started (start_time_unix_nano) after the tracker did, in which case
//     its whole value is the delta;
//   - a later one emits value − previous; a value below the previous one,
//     or a later start time, is a reset (the process restarted): the new
//     value is the delta since the reset;
//   - a point no later than the stream's last (time_unix_nano) is stale
//     (a retry, or out of order) and emits nothing.
//
// State is bounded: at most Max streams (default 100 000); a stream not
// updated for Timeout (default 10 minutes) is forgotten, and when the
// table is full the least recently updated stream is evicted to make room
// (counted): its next point is a baseline again. Safe for concurrent use
// by the slots of one source.
//
// A request's points move the streams on as it is decoded; a request that
// is then refused (malformed further on, too large once decoded, the
// shards saturated) is undone (Decoder.Undo), so that its retry is not
// stale: each stream it moved goes back to where it was, unless another
// request moved it on since (that retry's points are then stale, as they
// would be had the two arrived in the other order). What undoing cannot
// bring back is a stream the request evicted to make room: its next point
// is a baseline, as for any eviction.
type Deltas struct {
	max     int
	timeout time.Duration
	born    uint64 // unix ns when the tracker started

	mu      sync.Mutex
	streams map[string]*list.Element
	lru     list.List // *stream, least recently updated first

	stats DeltaStats
}

// DeltaStats counts what a tracker did.
type DeltaStats struct {
	// Points converted; Baselines (first points, no delta), Resets,
	// Stale points dropped; Undone: points of refused requests taken back
	// (counted first by what they were made of).
	Converted, Baselines, Resets, Stale, Undone uint64
	// Streams tracked now; Expired (not updated for Timeout) and Evicted
	// (the table full) in all.
	Streams          int
	Expired, Evicted uint64
}

type stream struct {
	key   string
	start uint64
	t     uint64 // time_unix_nano of the last point
	v     float64
	seen  int64 // ms: the request time of the stream's last point
}

// change is what one point did to a stream, for undo: the stream, its
// state before the point (created: it had none) and the point's.
type change struct {
	s              *stream
	created        bool
	start, t       uint64
	v              float64
	seen           int64
	newStart, newT uint64
	newV           float64
}

// NewDeltas returns a tracker of at most max streams (0: 100 000), which
// forgets a stream after timeout without points (0: 10 minutes).
func NewDeltas(max int, timeout time.Duration) *Deltas {
	if max <= 0 {
		max = 100_000
	}
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	return &Deltas{max: max, timeout: timeout, born: uint64(time.Now().UnixNano()), streams: map[string]*list.Element{}}
}

// Max and Timeout return the tracker's bounds.
func (d *Deltas) Max() int               { return d.max }
func (d *Deltas) Timeout() time.Duration { return d.timeout }

// Stats returns the counters. Safe from any goroutine.
func (d *Deltas) Stats() DeltaStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Streams = len(d.streams)
	return s
}

// delta returns the delta of the point (start, t, v) of the stream key,
// and whether there is one to emit; now is the request's time (ms), read
// once per request by the decoder, not per point. What the point changed
// is appended to *log, for undo.
func (d *Deltas) delta(key []byte, start, t uint64, v float64, now int64, log *[]change) (float64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if e, ok := d.streams[string(key)]; ok {
		s := e.Value.(*stream)
		if t <= s.t {
			d.stats.Stale++
			return 0, false
		}
		*log = append(*log, change{s: s, start: s.start, t: s.t, v: s.v, seen: s.seen, newStart: start, newT: t, newV: v})
		prev, reset := s.v, v < s.v || start > s.start
		s.start, s.t, s.v, s.seen = start, t, v, now
		d.lru.MoveToBack(e)
		if reset {
			d.stats.Resets++
			return v, true
		}
		d.stats.Converted++
		return v - prev, true
	}
	if len(d.streams) >= d.max {
		old := d.lru.Front()
		delete(d.streams, old.Value.(*stream).key)
		d.lru.Remove(old)
		d.stats.Evicted++
	}
	s := &stream{key: string(key), start: start, t: t, v: v, seen: now}
	d.streams[s.key] = d.lru.PushBack(s)
	*log = append(*log, change{s: s, created: true, newStart: start, newT: t, newV: v})
	if start != 0 && start >= d.born {
		d.stats.Converted++
		return v, true
	}
	d.stats.Baselines++
	return 0, false
}

// undo takes back the changes of log, the last first: a stream goes back
// to its state before them if it is still where the changes left it (still
// tracked, and moved on by no other request since), and one they created
// is forgotten. Each point taken back is counted (Undone).
func (d *Deltas) undo(log []change) {
	if len(log) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(log) - 1; i >= 0; i-- {
		c := &log[i]
		s := c.s
		e, ok := d.streams[s.key]
		if !ok || e.Value.(*stream) != s || s.start != c.newStart || s.t != c.newT || math.Float64bits(s.v) != math.Float64bits(c.newV) {
			continue
		}
		if c.created {
			delete(d.streams, s.key)
			d.lru.Remove(e)
		} else {
			s.start, s.t, s.v, s.seen = c.start, c.t, c.v, c.seen
		}
		d.stats.Undone++
	}
}

// expire forgets the streams not updated for the timeout (the least
// recently updated first: it stops at the first one still fresh).
func (d *Deltas) expire(now int64) {
	for e := d.lru.Front(); e != nil; e = d.lru.Front() {
		s := e.Value.(*stream)
		if now-s.seen < d.timeout.Milliseconds() {
			return
		}
		delete(d.streams, s.key)
		d.lru.Remove(e)
		d.stats.Expired++
	}
}
