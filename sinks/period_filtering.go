package sinks

import (
	"slices"
	"time"
)

// PeriodFilteringSink is MAD's PeriodFilteringSink: it forwards a bucket to
// Sink iff its period is in Include, or else is not in Exclude, not shorter
// than ExcludeLessThan and not longer than ExcludeGreaterThan (zero bounds
// are unset, but for an ExcludeGreaterThan of zero set by GreaterThanSet:
// MAD's PT0S, which excludes every period; the bounds are exclusive, so an
// equal period passes).
type PeriodFilteringSink struct {
	Name               string
	Sink               Sink
	Include, Exclude   []time.Duration
	ExcludeLessThan    time.Duration
	ExcludeGreaterThan time.Duration
	GreaterThanSet     bool
}

// Passes reports whether buckets of period p are forwarded.
func (f *PeriodFilteringSink) Passes(p time.Duration) bool {
	switch {
	case slices.Contains(f.Include, p):
		return true
	case slices.Contains(f.Exclude, p):
		return false
	case f.ExcludeLessThan != 0 && p < f.ExcludeLessThan:
		return false
	case (f.ExcludeGreaterThan != 0 || f.GreaterThanSet) && p > f.ExcludeGreaterThan:
		return false
	}
	return true
}

// Record forwards pd if its period passes.
func (f *PeriodFilteringSink) Record(pd *PeriodicData) {
	if f.Passes(pd.Period) {
		f.Sink.Record(pd)
	}
}

// Close closes the wrapped sink.
func (f *PeriodFilteringSink) Close() error { return f.Sink.Close() }

// Flush flushes the wrapped sink.
func (f *PeriodFilteringSink) Flush() { Flush(f.Sink) }
