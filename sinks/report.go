package sinks

import sm "github.com/gomad/mad/internal/selfmetric"

// The counters sinks report (selfmetric.Reporter): Prometheus families
// mad_sink_*, labelled with the sink's name.

// ReportCounts reports what every counting sink counts: items written,
// dropped (queue full, write errors, late buckets, missing dimensions) and
// write errors. It returns the sink's labels for further values.
func ReportCounts(emit func(sm.Value), name string, written, dropped, errors uint64) []string {
	l := []string{"sink", name}
	emit(sm.Value{Name: "mad_sink_written_total", Help: "Items a sink wrote.", Labels: l, V: float64(written)})
	emit(sm.Value{Name: "mad_sink_dropped_total", Help: "Items a sink dropped (queue full, write errors, late buckets, missing dimensions).", Labels: l, V: float64(dropped)})
	emit(sm.Value{Name: "mad_sink_errors_total", Help: "Sink write errors.", Labels: l, V: float64(errors)})
	return l
}

// ReportQueue reports the length of a sink's queue.
func ReportQueue(emit func(sm.Value), labels []string, n int) sm.Value {
	v := sm.Value{Name: "mad_sink_queue_length", Help: "Items waiting in a sink's queue.", Kind: sm.Gauge, Labels: labels, V: float64(n)}
	emit(v)
	return v
}
