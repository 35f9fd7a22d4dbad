// Package jsonlines is mad's JsonLinesSink: one JSON object per metric of
// every closed bucket, one per line, to a file or standard output:
//
//	{"period":"PT1S","start":"2026-11-21T09:00:01Z","dimensions":{"host":"a"},
//	 "metric":"api.latency","type":"timer","unit":"SECOND","populationSize":3,
//	 "statistics":{"count":3,"histogram":1,"mean":0.2,"median":0.2,…}}
//
// Statistics are MAD's, every one MAD computes for the metric (specified or
// not), by canonical name; a statistic without a value, or a non-finite one,
// is null. Serialisation happens in Record; a goroutine writes, fed by a
// bounded queue, so a slow disk or pipe never stalls the emitter: when the
// queue is full the chunk is dropped and its lines counted.
//
// A line is counted written once the write that carried it returned (the
// output took it: a file's page cache, a pipe), and dropped when that write
// failed (a full disk, a pipe whose reader went away), with a throttled
// warning. Nothing is buffered past a write, so no count waits for a later
// flush.
package jsonlines

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/decimal"
	"github.com/gomad/mad/internal/jsonstr"
	"github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/throttle"
	"github.com/gomad/mad/sinks"
)

// Config configures a Sink.
type Config struct {
	Name string
	// Path is the file to append to; "-" or "" is standard output.
	Path string
	// Writer, if set, is written to instead of Path (tests, embedding).
	Writer io.Writer
	// QueueChunks bounds the chunks of 64 KiB waiting to be written
	// (default 1024).
	QueueChunks int
	// Block is how long Record waits for room in a full queue before it
	// drops a chunk (and counts its lines); default 10 s. Waiting holds
	// the emitter, not the data plane: shards keep aggregating.
	Block time.Duration
	// Log receives the sink's warnings (write errors, dropped chunks),
	// throttled (default slog.Default()).
	Log *slog.Logger
}

// Sink writes JSON lines.
type Sink struct {
	name    string
	output  string // what out is, in logs
	log     *throttle.Log
	out     io.Writer
	closer  io.Closer
	queue   chan *chunk
	done    chan struct{}
	pool    sync.Pool
	cur     *chunk
	lines   atomic.Uint64
	dropped atomic.Uint64
	errors  atomic.Uint64
	err     atomic.Pointer[error]
	closed  bool
	block   time.Duration
	torn    bool // the writer's: a failed write left a line unterminated

	// Scratch of Record (the emitter's goroutine): the head of the lines
	// of headPeriod and headStart, and the prefix of the current bucket.
	headPeriod time.Duration
	headStart  time.Time
	head       []byte
	prefix     []byte
	caches     *lineCaches
}

type chunk struct {
	buf   []byte
	lines int
}

// flushAt is the chunk size handed to the writer.
const flushAt = 64 << 10

// yieldAt is how many chunks may wait for the writer before Record yields
// the CPU to it after queuing one (runtime.Gosched: where the writer has a
// CPU of its own, a yield costs a scheduler call and nothing else). The
// queue's bound and what a full queue does are unchanged.
const yieldAt = 4

// EnsureDefaults sets the queue (1024 chunks of 64 KiB) and how long a full
// queue holds the emitter (10 s) where unset.
func (c *Config) EnsureDefaults() {
	if c.QueueChunks <= 0 {
		c.QueueChunks = 1024
	}
	if c.Block <= 0 {
		c.Block = 10 * time.Second
	}
}

// New opens the output and starts the writer.
func New(cfg Config) (*Sink, error) {
	s := &Sink{name: cfg.Name, output: cfg.Path, log: throttle.NewLog(cfg.Log, throttle.Every), done: make(chan struct{}),
		caches: new(lineCaches)}
	switch {
	case cfg.Writer != nil:
		s.out, s.output = cfg.Writer, "writer"
	case cfg.Path == "" || cfg.Path == "-":
		s.out, s.output = os.Stdout, "stdout"
	default:
		f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		s.out, s.closer = f, f
	}
	cfg.EnsureDefaults()
	s.queue = make(chan *chunk, cfg.QueueChunks)
	s.block = cfg.Block
	s.pool.New = func() any { return &chunk{buf: make([]byte, 0, flushAt+4096)} }
	go s.write()
	return s, nil
}

// NewWriter returns a sink that writes to w (tests, embedding).
func NewWriter(name string, w io.Writer) *Sink {
	s, _ := New(Config{Name: name, Writer: w})
	return s
}

func (s *Sink) write() {
	defer close(s.done)
	for c := range s.queue {
		s.writeChunk(c)
		c.buf, c.lines = c.buf[:0], 0
		s.pool.Put(c)
	}
}

// newline ends a line a failed write left unterminated.
var newline = []byte{'\n'}

// writeChunk writes c's lines to the output (one write: the chunk is its
// own buffer) and counts them: written if the output took them whole,
// dropped otherwise.
func (s *Sink) writeChunk(c *chunk) {
	if s.torn {
		// A failed write left part of a line: end it, so that what
		// follows is read as lines of its own.
		if _, err := s.out.Write(newline); err != nil {
			s.fail(err, c.lines)
			return
		}
		s.torn = false
	}
	n, err := s.out.Write(c.buf)
	if err == nil {
		s.lines.Add(uint64(c.lines))
		return
	}
	n = min(max(n, 0), len(c.buf))
	whole := bytes.Count(c.buf[:n], newline)
	s.lines.Add(uint64(whole))
	s.torn = n > 0 && c.buf[n-1] != '\n'
	s.fail(err, c.lines-whole)
}

// fail counts a failed write and the lines it lost, and warns (throttled).
func (s *Sink) fail(err error, lines int) {
	s.errors.Add(1)
	s.dropped.Add(uint64(lines))
	s.err.Store(&err)
	s.log.Warn("write", "jsonlines: cannot write, lines dropped", "sink", s.name, "output", s.output,
		"lines", lines, "dropped_so_far", s.dropped.Load(), "error", err)
}

// Record serialises every metric of pd and queues the lines.
func (s *Sink) Record(pd *sinks.PeriodicData) {
	if s.closed {
		return
	}
	if len(pd.Metrics) == 0 {
		return
	}
	// The start of every line of pd is the same: built once. All buckets
	// of an emission round share a period and a start: their head is
	// formatted once.
	// (A start of the same representation is the same instant; the
	// emitter makes every start the same way. One made otherwise only
	// formats the head again.)
	if s.head == nil || pd.Period != s.headPeriod || pd.Start != s.headStart {
		s.headPeriod, s.headStart = pd.Period, pd.Start
		s.head = appendHead(s.head[:0], pd)
	}
	// A bucket of one metric (a dimension set per series) writes its
	// prefix straight into the line; several copy it from s.prefix.
	one := len(pd.Metrics) == 1
	if !one {
		s.prefix = appendPrefix(s.prefix[:0], pd, s.head)
	}
	for i := range pd.Metrics {
		if s.cur == nil {
			s.cur = s.pool.Get().(*chunk)
		}
		if one {
			s.cur.buf = appendPrefix(s.cur.buf, pd, s.head)
		} else {
			s.cur.buf = append(s.cur.buf, s.prefix...)
		}
		s.cur.buf = appendMetric(s.cur.buf, &pd.Metrics[i], s.caches)
		s.cur.lines++
		if len(s.cur.buf) >= flushAt {
			s.hand()
		}
	}
}

// Flush hands what Record batched to the writer (the emitter calls it
// after each emission round).
func (s *Sink) Flush() {
	if s.cur != nil && !s.closed {
		s.hand()
	}
}

// hand queues the current chunk, waiting up to the sink's Block for room;
// a chunk that still finds the queue full is dropped and counted.
func (s *Sink) hand() {
	select {
	case s.queue <- s.cur:
		if len(s.queue) > yieldAt {
			// Chunks are waiting: let the writer run (where it
			// shares the emitter's CPU, it otherwise waits for a
			// preemption while the emitter takes a new chunk for
			// every one queued: allocated, zeroed, and cold).
			runtime.Gosched()
		}
	default:
		t := time.NewTimer(s.block)
		select {
		case s.queue <- s.cur:
		case <-t.C:
			s.dropped.Add(uint64(s.cur.lines))
			s.log.Warn("queue-full", "jsonlines: output too slow, lines dropped", "sink", s.name, "output", s.output,
				"lines", s.cur.lines, "waited", s.block.String(), "dropped_so_far", s.dropped.Load())
			s.cur.buf, s.cur.lines = s.cur.buf[:0], 0
			s.pool.Put(s.cur)
		}
		t.Stop()
	}
	s.cur = nil
}

// Close writes what is queued and closes the output; it returns the last
// write error, if any.
func (s *Sink) Close() error {
	if s.closed {
		return nil
	}
	if s.cur != nil {
		s.hand()
	}
	s.closed = true
	close(s.queue)
	<-s.done
	var err error
	if s.closer != nil {
		err = s.closer.Close()
	}
	if e := s.err.Load(); e != nil && err == nil {
		err = *e
	}
	return err
}

// Stats returns the lines written (taken by the output's write), the lines
// dropped (queue full, or a failed write) and the write errors. Safe from
// any goroutine.
func (s *Sink) Stats() (written, dropped, errors uint64) {
	return s.lines.Load(), s.dropped.Load(), s.errors.Load()
}

// QueueLen returns the chunks waiting for the writer. Safe from any goroutine.
func (s *Sink) QueueLen() int { return len(s.queue) }

// Report reports the sink's counters and queue.
func (s *Sink) Report(emit func(selfmetric.Value)) {
	w, d, e := s.Stats()
	sinks.ReportQueue(emit, sinks.ReportCounts(emit, s.name, w, d, e), s.QueueLen())
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.name }

// AppendLine appends the JSON line of metric m of pd, '\n' included.
func AppendLine(dst []byte, pd *sinks.PeriodicData, m *sinks.Metric) []byte {
	return appendMetric(appendPrefix(dst, pd, nil), m, nil)
}

// appendHead appends what every line of a period and start begins with, up
// to the dimensions' contents.
func appendHead(dst []byte, pd *sinks.PeriodicData) []byte {
	dst = append(dst, `{"period":"`...)
	dst = sinks.AppendPeriod(dst, pd.Period)
	dst = append(dst, `","start":"`...)
	dst = pd.Start.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `","dimensions":{`...)
}

// appendPrefix appends what every line of pd starts with, up to the metric
// name: its head (appendHead's, if given: head) and its dimensions.
func appendPrefix(dst []byte, pd *sinks.PeriodicData, head []byte) []byte {
	if head != nil {
		dst = append(dst, head...)
	} else {
		dst = appendHead(dst, pd)
	}
	dims := pd.Dimensions
	if len(dims) == 0 {
		return append(dst, `},"metric":`...)
	}
	if pd.PlainDimensions { // no byte to test (jsonstr.Plain)
		for i := range dims {
			d := &dims[i] // not a copy of its 48 bytes
			dst = append(jsonstr.AppendPlain(dst, d.Key), ':')
			dst = append(jsonstr.AppendPlain(dst, d.Value), ',')
		}
	} else {
		for i := range dims {
			d := &dims[i] // not a copy of its 48 bytes
			dst = append(jsonstr.Append(dst, d.Key), ':')
			dst = append(jsonstr.Append(dst, d.Value), ',')
		}
	}
	// Each pair ends with a comma: the last one's closes the object.
	dst[len(dst)-1] = '}'
	return append(dst, `,"metric":`...)
}

// appendMetric appends the rest of a line: the metric and its statistics,
// through the sink's caches if given (Record's: dst is then the sink's own
// chunk, which appendPadded may write past the line).
func appendMetric(dst []byte, m *sinks.Metric, c *lineCaches) []byte {
	if m.PlainName {
		dst = jsonstr.AppendPlain(dst, m.Name)
	} else {
		dst = jsonstr.Append(dst, m.Name)
	}
	if c != nil {
		dst = append(dst, c.kinds.of(m.Type, m.Unit)...)
	} else {
		dst = appendKind(dst, m.Type, m.Unit)
	}
	dst = decimal.AppendInt(dst, m.PopulationSize)
	// Each statistic is written after a comma; the first one's comma
	// becomes the object's opening brace.
	dst = append(dst, `,"statistics":`...)
	stats := m.Statistics
	if len(stats) == 0 {
		return append(dst, "{}}\n"...)
	}
	open := len(dst)
	for i := range stats {
		st := &stats[i] // not a copy of its 48 bytes
		if st.Stat >= hist.NumStats {
			dst = append(dst, ',')
			dst = append(jsonstr.AppendString(dst, st.Stat.String()), ':')
			dst = appendNumber(dst, st.Value, st.HasValue)
		} else {
			k := &statKeys[st.Stat]
			if c != nil { // the sink's own chunk (appendPadded)
				dst = appendPadded(dst, &k.comma, int(k.n))
			} else {
				dst = append(dst, k.comma[:k.n]...)
			}
			if c != nil && st.HasValue && k.percentile {
				dst = c.floats.append(dst, st.Value)
			} else {
				dst = appendNumber(dst, st.Value, st.HasValue)
			}
		}
	}
	dst[open] = '{'
	return append(dst, "}}\n"...)
}

// appendPadded appends the first n bytes of p, copying all 16 (a copy of a
// constant size, without a call to memmove) into room it makes if needed:
// unlike append, it writes past what it appends, which only a buffer the
// writer owns whole may take (the sink's chunk; AppendLine's caller may
// own bytes past the line).
func appendPadded(dst []byte, p *[16]byte, n int) []byte {
	at := len(dst)
	if cap(dst)-at < len(p) {
		dst = slices.Grow(dst, len(p))
	}
	*(*[16]byte)(dst[at : at+len(p)]) = *p
	return dst[:at+n]
}

// lineCaches are what the sink's Record remembers from line to line: the
// text of percentiles, and of types and units.
type lineCaches struct {
	floats floatCache
	kinds  kindCache
}

// floatCache remembers how the latest numbers it wrote were written, by
// their bits, in a direct-mapped table. A percentile is the value of a
// histogram bucket, and bucket values recur from row to row (a metric's
// values fall in a few hundred buckets, and a bucket's value is the same
// for every metric), where strconv's shortest formatting of a number with a
// fraction costs about 50 ns (a timer row of fractional milliseconds has
// three percentiles: a third of its emission went to formatting numbers).
// It belongs to the sink's Record (one goroutine).
type floatCache struct {
	slots [floatCacheSlots]floatSlot
}

// floatSlot is one number as appendNumber writes it.
type floatSlot struct {
	bits uint64
	n    uint8 // the length of text; 0: empty
	text [31]byte
}

const floatCacheBits = 11
const floatCacheSlots = 1 << floatCacheBits // 80 KiB

// append appends v as appendNumber(dst, v, true) does.
func (c *floatCache) append(dst []byte, v float64) []byte {
	bits := math.Float64bits(v)
	sl := &c.slots[bits*0x9E3779B97F4A7C15>>(64-floatCacheBits)]
	if sl.n != 0 && sl.bits == bits {
		return append(dst, sl.text[:sl.n]...)
	}
	at := len(dst)
	dst = appendNumber(dst, v, true)
	if n := len(dst) - at; n <= len(sl.text) {
		sl.bits, sl.n = bits, uint8(n)
		copy(sl.text[:], dst[at:])
	}
	return dst
}

// statKeys are the statistics' JSON keys after a comma, colon included
// (`,"tp99":`), in 16 bytes (appendPadded), their lengths, and whether each
// is a percentile (written through the sink's floatCache).
var statKeys = func() (k [hist.NumStats]struct {
	comma      [16]byte
	n          uint8
	percentile bool
}) {
	for st := range hist.NumStats {
		key := append(jsonstr.AppendString([]byte{','}, st.String()), ':')
		if len(key) > len(k[st].comma) {
			panic("jsonlines: a statistic's key is longer than 16 bytes")
		}
		k[st].n = uint8(copy(k[st].comma[:], key))
		k[st].percentile = st.IsPercentile()
	}
	return k
}()

// appendKind appends what a line holds between its metric's name and its
// population size: its type and its unit.
func appendKind(dst []byte, typ, unit string) []byte {
	dst = append(dst, `,"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","unit":"`...)
	dst = append(dst, unit...)
	return append(dst, `","populationSize":`...)
}

// kindCache remembers appendKind's text for the latest types and units it
// wrote, by their text, in a direct-mapped table: one copy a line instead of
// five. It keeps copies of them, not the strings it was given (a sink keeps
// nothing of a bucket past Record). It belongs to the sink's Record.
type kindCache struct {
	slots [8]struct {
		typ, unit string // copies
		text      []byte
	}
}

// of returns appendKind(nil, typ, unit), valid until the next call.
func (c *kindCache) of(typ, unit string) []byte {
	// The slot, by the lengths and the first bytes (the emitter's types
	// and units differ in one or the other).
	h := uint64(len(typ))<<8 | uint64(len(unit))
	if len(typ) > 0 {
		h |= uint64(typ[0]) << 16
	}
	if len(unit) > 0 {
		h |= uint64(unit[0]) << 24
	}
	sl := &c.slots[h*0x9E3779B97F4A7C15>>61]
	if sl.text != nil && sl.typ == typ && sl.unit == unit {
		return sl.text
	}
	sl.typ, sl.unit = strings.Clone(typ), strings.Clone(unit)
	sl.text = appendKind(sl.text[:0], typ, unit)
	return sl.text
}

// appendNumber writes v as encoding/json does ('f' notation between 1e-6
// and 1e21, 'e' outside), or null.
func appendNumber(dst []byte, v float64, ok bool) []byte {
	// Integers (counts, sums of integers) print the same through the
	// integer formatter, which is several times cheaper; -0 keeps its sign.
	// The test comes first: a number whose conversion to an integer and
	// back is itself is finite (NaN and the infinities convert to an
	// integer that is not them).
	if i := int64(v); ok && float64(i) == v && i < 1e15 && i > -1e15 && (i != 0 || !math.Signbit(v)) {
		return decimal.AppendInt(dst, i)
	}
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		dst = strconv.AppendFloat(dst, v, 'e', -1, 64)
		// encoding/json writes e-09 as e-9.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64)
}
