package telemetry

import (
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
	key     []byte // Record's scratch (one emitter calls it)
	scratch batch  // Record's reports before they are copied into a batch
}

// maxScratchReports bounds the reports a sink's scratch keeps room for
// between Records: a part of 4 096 metrics of five statistics.
const maxScratchReports = 4096 * 5

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
	// The reports are built in the sink's scratch, then copied into a
	// batch of their size: a fresh batch appended to grew by doubling (2-3 %
	// of the daemon's CPU in S1, where every metric of a bucket of 4 096
	// is new), and one reserved for the rest of the bucket held a bucket's
	// room for one new metric among known ones.
	sc := &s.scratch
	sc.reset()
	started := false
	var hostSp, serviceSp span
	host, hasHost := pd.Dimension("host")
	service, _ := pd.Dimension("service")
	ts := pd.Start.UnixMilli()
	quiet := s.hub.quietFor()
	skipped := 0
	for i := range pd.Metrics {
		m := &pd.Metrics[i]
		var metricSp span
		named := false
		var known uint64 // statistics registered already, while nobody subscribes
		if quiet != nil {
			s.key = regKey(s.key[:0], service, m.Name)
			known = quiet[string(s.key)]
		}
		for _, st := range m.Statistics {
			if !st.HasValue {
				continue
			}
			if known&(1<<st.Stat) != 0 {
				skipped++ // the dispatcher would find it registered, with no subscriber
				continue
			}
			if !started {
				started = true
				hostSp, serviceSp = sc.add(host), sc.add(service)
			}
			if !named {
				metricSp, named = sc.add(m.Name), true
			}
			sc.reports = append(sc.reports, report{
				host: hostSp, service: serviceSp, metric: metricSp, unit: sc.addString(st.Unit),
				hasHost: hasHost, stat: st.Stat, timestamp: ts, value: st.Value,
			})
		}
	}
	if skipped > 0 { // delivered to nobody, as the dispatcher would have
		s.written.Add(uint64(skipped))
		s.hub.reports.Add(uint64(skipped))
	}
	if !started {
		return
	}
	b := s.hub.getBatch()
	b.reports = append(b.reports[:0], sc.reports...)
	b.arena = append(b.arena[:0], sc.arena...)
	if cap(sc.reports) > maxScratchReports {
		*sc = batch{} // a burst's scratch is not kept
	}
	n := uint64(len(b.reports))
	if s.hub.submit(b) {
		s.written.Add(n)
	} else {
		s.dropped.Add(n)
		s.hub.putBatch(b)
	}
}

// Close stops the sink: later Records are ignored. The hub is shared by
// every TelemetrySink and is not closed.
func (s *Sink) Close() error {
	s.closed.Store(true)
	return nil
}
