package sinks

import (
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/throttle"
)

// TimeThresholdSink is MAD's TimeThresholdSink: a bucket whose end plus
// Threshold is not after now (late data) is dropped whole, unless its
// service dimension is one of ExcludedServices; with LogOnly it is logged
// and forwarded instead. Drops are counted, a bucket once whatever the
// parts it comes in (PeriodicData.Part), and logged (throttled).
type TimeThresholdSink struct {
	Name             string
	Sink             Sink
	Threshold        time.Duration
	ExcludedServices []string
	LogOnly          bool
	Log              *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	dropped, late atomic.Uint64
	lateLog       throttle.Throttle
	// dropping: the current bucket (its first part) was dropped; Record
	// runs on the emitter's goroutine only.
	dropping bool
}

// Record forwards pd unless it is too late. A bucket is decided whole, at
// its first part: the parts of a bucket come one after another, and a
// later part may come after the threshold passed (a slow sink before this
// one held the emitter) while its first was forwarded.
func (s *TimeThresholdSink) Record(pd *PeriodicData) {
	if pd.Part != 0 {
		if !s.dropping { // (never set with LogOnly)
			s.Sink.Record(pd)
		}
		return
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	s.dropping = false
	if pd.Start.Add(pd.Period + s.Threshold).After(t) {
		s.Sink.Record(pd)
		return
	}
	if svc, ok := pd.Dimension("service"); ok && slices.Contains(s.ExcludedServices, string(svc)) {
		s.Sink.Record(pd)
		return
	}
	s.late.Add(1)
	if ok, _ := s.lateLog.Allow(t); ok && s.Log != nil {
		s.Log.Warn("late bucket", "sink", s.Name, "period", FormatPeriod(pd.Period), "start", pd.Start, "threshold", FormatPeriod(s.Threshold),
			"forwarded", s.LogOnly, "late_so_far", s.late.Load())
	}
	if s.LogOnly {
		s.Sink.Record(pd)
		return
	}
	s.dropping = true
	s.dropped.Add(1)
}

// Report reports the buckets dropped as too late.
func (s *TimeThresholdSink) Report(emit func(selfmetric.Value)) {
	ReportCounts(emit, s.Name, 0, s.dropped.Load(), 0)
}

// Flush flushes the wrapped sink.
func (s *TimeThresholdSink) Flush() { Flush(s.Sink) }

// Close closes the wrapped sink.
func (s *TimeThresholdSink) Close() error { return s.Sink.Close() }
