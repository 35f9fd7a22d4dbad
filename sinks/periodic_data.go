package sinks

import (
	"strconv"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
)

// PeriodicData is MAD's PeriodicData: the closed bucket of one dimension set
// for one period, with the aggregated data of every metric in it. A bucket
// whose metrics all had no usable data has no Metrics; MAD still emits it.
//
// Byte slices alias memory the emitter owns (the sealed tables' keys) and,
// like the whole value, are valid only during Sink.Record.
type PeriodicData struct {
	Period time.Duration
	// Start is the bucket start, UTC.
	Start time.Time
	// Dimensions are sorted by key, keys unique: the bucket's key.
	Dimensions []Dimension
	// PlainDimensions tells that every key and value of Dimensions is
	// plain JSON text (jsonstr.Plain), which a sink writing JSON may copy
	// as it is (jsonstr.AppendPlain). false tells nothing.
	PlainDimensions bool
	// MinRequestTime is the earliest request time of the bucket's records
	// (client protocol V3), or the zero time.
	MinRequestTime time.Time
	Metrics        []Metric
	// Part numbers the parts a bucket of many metrics reaches the sinks in
	// (the emitter's chunks): 0 for the first part, or the whole bucket.
	// Parts of one bucket share every other field but Metrics.
	Part int
}

// Dimension is one dimension of a bucket: a key's (package sample), so
// that the emitter fills a bucket's dimensions straight from its key
// (sample.AppendDims).
type Dimension = sample.Dim

// Dimension returns the value of dimension key, and whether there is one
// (MAD's Key.getHost/getService/getCluster read "host", "service", "cluster").
func (pd *PeriodicData) Dimension(key string) ([]byte, bool) {
	for _, d := range pd.Dimensions {
		if string(d.Key) == key {
			return d.Value, true
		}
	}
	return nil, false
}

// Metric is the aggregated data of one metric name in a bucket: MAD's
// multimap entries of that name.
type Metric struct {
	Name []byte
	// PlainName tells that Name is plain JSON text, as PeriodicData's
	// PlainDimensions does for the dimensions.
	PlainName bool
	// Type is "counter", "gauge", "timer" or "set"; it is empty for a
	// metric aggregated by a pipeline `statistics` override, which MAD
	// aggregates by name whatever the type.
	Type string
	// Unit is the metric's unit ("SECOND", …, "" for none).
	Unit string
	// PopulationSize is MAD's populationSize: the count statistic.
	PopulationSize int64
	Statistics     []Statistic
	// Histogram is the histogram statistic's supporting data (sorted
	// buckets), when the metric computes one.
	Histogram []hist.Bucket
}

// Statistic is one MAD AggregatedData.
type Statistic struct {
	Stat hist.Stat
	// Value is meaningful when HasValue; a statistic whose accumulator got
	// no data has no value (MAD's Quantity(null)).
	Value    float64
	HasValue bool
	// Unit is the statistic's unit ("" for none).
	Unit string
	// Specified is MAD's isSpecified: the statistic was configured, not
	// merely computed as a dependency (or the always-present count).
	Specified bool
}

// Sink receives closed buckets. Implementations are MAD's sinks and ours.
type Sink interface {
	// Record receives one bucket. It runs on the emitter's goroutine: it
	// must not block for long (a sink doing I/O queues its own work,
	// bounded, and counts what it drops) and must not retain pd or
	// anything it references after it returns.
	Record(pd *PeriodicData)
	// Close flushes and releases the sink and the sinks it wraps.
	Close() error
}

// Flusher is a sink that batches what Record gives it. The emitter calls
// Flush at the end of every emission round (a burst of buckets, after which
// the next may be a period away), so that batched data reaches the output
// promptly without a hand-off per bucket. Wrapping sinks forward it.
type Flusher interface {
	Flush()
}

// Flush calls s.Flush if s is a Flusher.
func Flush(s Sink) {
	if f, ok := s.(Flusher); ok {
		f.Flush()
	}
}

// FormatPeriod formats a period as Java's Duration.toString does, which is
// how MAD writes periods on its wires: "PT1S", "PT1M", "PT0.5S", "PT1H30M",
// "PT48H" (hours are not folded into days).
func FormatPeriod(d time.Duration) string {
	return string(AppendPeriod(nil, d))
}

// AppendPeriod appends FormatPeriod(d) to dst.
func AppendPeriod(dst []byte, d time.Duration) []byte {
	dst = append(dst, "PT"...)
	if d == 0 {
		return append(dst, "0S"...)
	}
	neg := d < 0
	if neg {
		d = -d
		dst = append(dst, '-')
	}
	h, m := d/time.Hour, d%time.Hour/time.Minute
	rest := d % time.Minute
	if h > 0 {
		dst = strconv.AppendInt(dst, int64(h), 10)
		dst = append(dst, 'H')
	}
	if m > 0 {
		dst = strconv.AppendInt(dst, int64(m), 10)
		dst = append(dst, 'M')
	}
	if rest > 0 {
		dst = strconv.AppendInt(dst, int64(rest/time.Second), 10)
		if frac := rest % time.Second; frac > 0 {
			f := strconv.AppendInt(nil, int64(frac)+int64(time.Second), 10)[1:]
			for len(f) > 0 && f[len(f)-1] == '0' {
				f = f[:len(f)-1]
			}
			dst = append(dst, '.')
			dst = append(dst, f...)
		}
		dst = append(dst, 'S')
	}
	return dst
}
