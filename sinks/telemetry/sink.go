package telemetry

import (
	"slices"
	"sync/atomic"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/decimal"
	"github.com/gomad/mad/internal/jsonstr"
	"github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/sinks"
)

// span is a slice of a batch's arena.
type span struct{ off, len uint32 }

// report is one (service, metric, statistic) value of a bucket.
type report struct {
	host, service, metric, unit span
	hasHost                     bool
	stat                        hist.Stat
	timestamp                   int64
	value                       float64
}

// batch is what one Record hands to the hub: the reports of a bucket, their
// strings copied into an arena (PeriodicData is valid only during Record).
type batch struct {
	arena   []byte
	reports []report
}

func (b *batch) reset() {
	b.arena, b.reports = b.arena[:0], b.reports[:0]
}

func (b *batch) add(s []byte) span {
	sp := span{uint32(len(b.arena)), uint32(len(s))}
	b.arena = append(b.arena, s...)
	return sp
}

func (b *batch) addString(s string) span {
	sp := span{uint32(len(b.arena)), uint32(len(s))}
	b.arena = append(b.arena, s...)
	return sp
}

func (b *batch) span(sp span) []byte { return b.arena[sp.off : sp.off+sp.len] }

// statNames are the canonical names, computed once.
var statNames = func() (n [hist.NumStats]string) {
	for s := range hist.NumStats {
		n[s] = s.String()
	}
	return n
}()

func statName(s hist.Stat) string {
	if s < hist.NumStats {
		return statNames[s]
	}
	return s.String()
}

// appendReport appends the report message of r for protocol version v.
func (b *batch) appendReport(dst []byte, r *report, v int) []byte {
	if v == 1 {
		dst = append(dst, `{"command":"report","data":{"server":`...)
	} else {
		dst = append(dst, `{"command":"reportMetric","data":{"server":`...)
	}
	if r.hasHost {
		dst = jsonstr.Append(dst, b.span(r.host))
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"service":`...)
	dst = jsonstr.Append(dst, b.span(r.service))
	dst = append(dst, `,"metric":`...)
	dst = jsonstr.Append(dst, b.span(r.metric))
	dst = append(dst, `,"timestamp":`...)
	dst = decimal.AppendInt(dst, r.timestamp)
	dst = append(dst, `,"statistic":"`...)
	dst = append(dst, statName(r.stat)...)
	dst = append(dst, `","data":`...)
	dst = appendDouble(dst, r.value)
	if v == 2 {
		dst = append(dst, `,"numeratorUnits":[`...)
		if r.unit.len > 0 {
			dst = jsonstr.Append(dst, b.span(r.unit))
		}
		dst = append(dst, `],"denominatorUnits":[]`...)
	}
	return append(dst, "}}"...)
}

// Sink is MAD's TelemetrySink: it sends every statistic with a value of
// every bucket it receives to a Hub, as (service, metric, statistic)
// reports. Record never blocks on the hub or its clients.
type Sink struct {
	name   string
	hub    *Hub
	closed atomic.Bool

	written atomic.Uint64
	dropped atomic.Uint64
	key     []byte   // Record's scratch (one emitter calls it)
	known   []uint64 // Record's: each metric's statistics registered already
}

var _ sinks.Sink = (*Sink)(nil)

// NewSink returns a sink named name feeding hub.
func NewSink(name string, hub *Hub) *Sink {
	return &Sink{name: name, hub: hub}
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.name }

// Stats returns the reports handed to the hub (including those skipped
// while nobody subscribes, delivered to nobody as the dispatcher would have
// delivered them: they need no room in its queue), the reports dropped
// (the hub's queue full, or the hub closed) and errors (always 0). Safe
// from any goroutine.
func (s *Sink) Stats() (written, dropped, errors uint64) {
	return s.written.Load(), s.dropped.Load(), 0
}

// Report reports the sink's counters.
func (s *Sink) Report(emit func(selfmetric.Value)) {
	w, d, e := s.Stats()
	sinks.ReportCounts(emit, s.name, w, d, e)
}

// Record copies the statistics with values of pd and queues them for the
// hub; when the hub's queue is full they are dropped and counted.
func (s *Sink) Record(pd *sinks.PeriodicData) {
	if s.closed.Load() || len(pd.Metrics) == 0 {
		return
	}
	host, hasHost := pd.Dimension("host")
	service, _ := pd.Dimension("service")
	quiet := s.hub.quietFor()
	// First the statistics each metric has registered already (while
	// nobody subscribes), and what the reports to dispatch need; then a
	// batch of that size (appending to a fresh batch grew it by doubling:
	// 2-3 % of the daemon's CPU in S1, where every metric of a bucket of
	// 4 096 is new).
	known := s.known[:0]
	skipped, n, size := 0, 0, len(host)+len(service)
	for i := range pd.Metrics {
		m := &pd.Metrics[i]
		var k uint64
		if quiet != nil {
			s.key = regKey(s.key[:0], service, m.Name)
			k = quiet[string(s.key)]
		}
		known = append(known, k)
		before := n
		for j := range m.Statistics {
			if st := &m.Statistics[j]; !st.HasValue {
				continue
			} else if k&(1<<st.Stat) != 0 {
				skipped++ // the dispatcher would find it registered, with no subscriber
			} else {
				n++
				size += len(st.Unit)
			}
		}
		if n > before {
			size += len(m.Name)
		}
	}
	s.known = known
	if skipped > 0 { // delivered to nobody, as the dispatcher would have
		s.written.Add(uint64(skipped))
		s.hub.reports.Add(uint64(skipped))
	}
	if n == 0 {
		return
	}
	b := s.hub.getBatch()
	b.reports = slices.Grow(b.reports, n)
	b.arena = slices.Grow(b.arena, size)
	hostSp, serviceSp := b.add(host), b.add(service)
	ts := pd.Start.UnixMilli()
	for i := range pd.Metrics {
		m := &pd.Metrics[i]
		var metricSp span
		named := false
		for _, st := range m.Statistics {
			if !st.HasValue || known[i]&(1<<st.Stat) != 0 {
				continue
			}
			if !named {
				metricSp, named = b.add(m.Name), true
			}
			b.reports = append(b.reports, report{
				host: hostSp, service: serviceSp, metric: metricSp, unit: b.addString(st.Unit),
				hasHost: hasHost, stat: st.Stat, timestamp: ts, value: st.Value,
			})
		}
	}
	if s.hub.submit(b) {
		s.written.Add(uint64(n))
	} else {
		s.dropped.Add(uint64(n))
		s.hub.putBatch(b)
	}
}

// Close stops the sink: later Records are ignored. The hub is shared by
// every TelemetrySink and is not closed.
func (s *Sink) Close() error {
	s.closed.Store(true)
	return nil
}
