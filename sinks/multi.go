package sinks

import "errors"

// MultiSink is MAD's MultiSink: it forwards every bucket to each of its
// sinks, in order. The root of every pipeline is one, named after the
// pipeline.
type MultiSink struct {
	Name  string
	Sinks []Sink
}

// Record forwards pd to every sink.
func (m *MultiSink) Record(pd *PeriodicData) {
	for _, s := range m.Sinks {
		s.Record(pd)
	}
}

// Flush flushes every sink that batches.
func (m *MultiSink) Flush() {
	for _, s := range m.Sinks {
		Flush(s)
	}
}

// Close closes every sink and returns their errors joined.
func (m *MultiSink) Close() error {
	var errs []error
	for _, s := range m.Sinks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Children returns the sinks a wrapping sink forwards to (none for others),
// so that the whole tree can be walked (for counters).
func Children(s Sink) []Sink {
	switch w := s.(type) {
	case *MultiSink:
		return w.Sinks
	case *PeriodFilteringSink:
		return []Sink{w.Sink}
	case *DimensionInjectingSink:
		return []Sink{w.Sink}
	case *TimeThresholdSink:
		return []Sink{w.Sink}
	}
	return nil
}
