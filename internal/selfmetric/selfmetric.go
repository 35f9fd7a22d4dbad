// Package selfmetric is the vocabulary in which mad's components report
// their own counters and gauges to the control plane. Sources, sinks and the
// aggregator each implement Reporter; the daemon collects every Reporter of
// every pipeline in one walk and exports what it gets twice: as Prometheus
// text on /metrics (Name, Help, Labels), and, for the values MAD also has,
// as MAD-named metrics fed back into the aggregation every second (MAD,
// MAD-SPEC §11).
//
// Reporting is control-plane work: it may allocate and is called about once
// a second. Data-plane loops publish their counters as typed atomics
// (ingest/counters.go); their Reporter reads what was published.
package selfmetric

// Kind says how a value behaves.
type Kind uint8

const (
	// Counter only grows (it restarts from zero when its component is
	// replaced). Among MAD's metrics it is fed back as its growth since the
	// previous report.
	Counter Kind = iota
	// Gauge is a level, fed back as it is.
	Gauge
)

// Value is one counter or gauge of a component.
type Value struct {
	// Name is the Prometheus family ("mad_source_samples_total"); Help its
	// help text (the first value of a family that has one gives it).
	Name, Help string
	Kind       Kind
	// Labels are label pairs, name then value, that tell this value apart
	// from the family's others (the component's name, a result, a reason).
	Labels []string
	V      float64
	// MAD is the value's name among mad's own metrics, as MAD names it
	// ("sources/statsd/<source>/metric_samples"); empty when MAD has no
	// such metric. Values of one MAD name in one report are summed (a
	// counter of every shard, of every pipeline). Unit is its MAD unit
	// ("BYTE", "NANOSECOND"; empty for none).
	MAD, Unit string
	// MADType is MAD's metric type, when it is not the Kind's ("counter"
	// for a Counter, "gauge" for a Gauge): MAD's aggregator/samples is the
	// growth of a counter recorded as a gauge.
	MADType string
	// Sparse marks a MAD counter MAD only records when it grew: a report in
	// which it did not grow leaves it out.
	Sparse bool
}

// Reporter is implemented by every component that counts.
type Reporter interface {
	// Report calls emit once per value. It may be called from any
	// goroutine, concurrently with the component's work.
	Report(emit func(Value))
}

// With returns labels extended by more pairs, without sharing storage with
// labels.
func With(labels []string, pairs ...string) []string {
	return append(append(make([]string, 0, len(labels)+len(pairs)), labels...), pairs...)
}

// SourceName is MAD's getMetricSafeName of a source (BaseSource,
// MAD-SPEC §3): "/", "." and " " become "_", so that the name is one
// segment of a MAD metric name.
func SourceName(name string) string { return safe(name, " ") }

// SinkName is MAD's getMetricSafeName of a sink (BaseSink, MAD-SPEC §9):
// only "/" and "." become "_".
func SinkName(name string) string { return safe(name, "") }

func safe(name, also string) string {
	b := []byte(name)
	for i, c := range b {
		if c == '/' || c == '.' || (also != "" && c == also[0]) {
			b[i] = '_'
		}
	}
	return string(b)
}
