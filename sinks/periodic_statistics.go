package sinks

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"time"

	"github.com/gomad/mad/internal/selfmetric"
)

// PeriodicStatisticsSink is MAD's PeriodicStatisticsSink: metrics about the
// aggregated data that passes through it, per bucket of (period, chosen
// dimensions), emitted every Interval as mad's own metrics
// sinks/periodic_statistics/<name>/{aggregated_data, unique_metrics,
// unique_statistics, metric_samples} (counters) and {age, request_age}
// (timers, ms). Dimensions are copied from the data, MappedDimensions copied
// under another name, DefaultDimensionsValues fill absent ones; the period
// goes under PeriodDimensionName. A bucket that saw no data for two flushes
// is forgotten.
type PeriodicStatisticsSink struct {
	name                string
	interval            time.Duration
	dimensions          []string
	mapped              [][2]string
	defaults            map[string]string
	periodDimensionName string
	emit                SelfEmitter
	now                 func() time.Time

	mu         sync.Mutex
	buckets    map[string]*psBucket
	key, dims  []byte        // Record's scratch: a bucket's key, a PeriodicData's dimensions
	period     time.Duration // the last period Record formatted
	periodText string
	stop       chan struct{}
	done       chan struct{}
	closing    sync.Once
}

type psBucket struct {
	dims                  [][2]string
	aggregated, smpl      float64
	age, requestAge       float64
	hasAge, hasRequestAge bool
	empty                 int
	names, series         hashSet // unique_metrics, unique_statistics
}

// hashSet is a set of 64-bit hashes, emptied at each flush; its map keeps
// its size from one flush to the next unless a flush finds it under a
// quarter full.
type hashSet struct {
	m    map[uint64]struct{}
	peak int
}

func (h *hashSet) add(k uint64) {
	if h.m == nil {
		h.m = map[uint64]struct{}{}
	}
	h.m[k] = struct{}{}
}

func (h *hashSet) reset() {
	n := len(h.m)
	if h.peak = max(h.peak, n); 4*n < h.peak {
		h.m, h.peak = make(map[uint64]struct{}, n), n
		return
	}
	clear(h.m)
}

// PeriodicStatisticsConfig configures a PeriodicStatisticsSink (MAD's keys).
type PeriodicStatisticsConfig struct {
	Name                    string
	Interval                time.Duration // MAD: intervalInMilliseconds, default 500 ms
	Dimensions              []string
	MappedDimensions        [][2]string // in → out
	DefaultDimensionsValues map[string]string
	PeriodDimensionName     string // default "_period"
	Emit                    SelfEmitter
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// EnsureDefaults sets MAD's defaults (intervalInMilliseconds 500,
// periodDimensionName "_period") where unset.
func (c *PeriodicStatisticsConfig) EnsureDefaults() {
	if c.Interval <= 0 {
		c.Interval = 500 * time.Millisecond
	}
	if c.PeriodDimensionName == "" {
		c.PeriodDimensionName = "_period"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// NewPeriodicStatisticsSink starts the sink's flushing goroutine.
func NewPeriodicStatisticsSink(c PeriodicStatisticsConfig) *PeriodicStatisticsSink {
	c.EnsureDefaults()
	s := &PeriodicStatisticsSink{name: c.Name, interval: c.Interval, dimensions: c.Dimensions, mapped: c.MappedDimensions,
		defaults: c.DefaultDimensionsValues, periodDimensionName: c.PeriodDimensionName, emit: c.Emit, now: c.Now,
		buckets: map[string]*psBucket{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *PeriodicStatisticsSink) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.FlushStatistics()
			return
		case <-t.C:
			s.FlushStatistics()
		}
	}
}

// Record accounts pd in its bucket. It allocates only a new bucket (and
// its sets as they grow): unique_metrics and unique_statistics count the
// 64-bit hashes (maphash, two seeds) of names and of (name, dimensions)
// pairs, not the strings, which would hold a hundred bytes a series for a
// count. Two pairs collide with probability 2⁻⁶⁴, under 3·10⁻⁸ for a
// million series in one interval, and a collision counts one less.
func (s *PeriodicStatisticsSink) Record(pd *PeriodicData) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucketOf(pd)
	dk := s.dims[:0]
	for _, d := range pd.Dimensions {
		dk = append(binary.AppendUvarint(dk, uint64(len(d.Key))), d.Key...)
		dk = append(binary.AppendUvarint(dk, uint64(len(d.Value))), d.Value...)
	}
	s.dims = dk
	dims := maphash.Bytes(psDimsSeed, dk)
	for i := range pd.Metrics {
		m := &pd.Metrics[i]
		b.aggregated += float64(len(m.Statistics))
		name := maphash.Bytes(psNameSeed, m.Name)
		b.names.add(name)
		b.series.add(name ^ dims)
		b.smpl += float64(m.PopulationSize)
	}
	if age := float64(now.Sub(pd.Start.Add(pd.Period)).Milliseconds()); !b.hasAge || age > b.age {
		b.age, b.hasAge = age, true
	}
	if !pd.MinRequestTime.IsZero() {
		if ra := float64(now.Sub(pd.MinRequestTime).Milliseconds()); !b.hasRequestAge || ra > b.requestAge {
			b.requestAge, b.hasRequestAge = ra, true
		}
	}
	b.empty = 0
}

// psNameSeed hashes names, psDimsSeed a PeriodicData's dimensions (each
// name and value, length first): two seeds, so that a name and a
// dimension set whose bytes swap places do not collide.
var psNameSeed, psDimsSeed = maphash.MakeSeed(), maphash.MakeSeed()

// bucketOf returns pd's bucket, made if new: its key is each of its
// dimensions' name and value (the period's, the configured ones present or
// defaulted, the mapped ones), each length first. Under mu.
func (s *PeriodicStatisticsSink) bucketOf(pd *PeriodicData) *psBucket {
	if pd.Period != s.period || s.periodText == "" {
		s.period, s.periodText = pd.Period, FormatPeriod(pd.Period)
	}
	k := appendPSDim(s.key[:0], s.periodDimensionName, s.periodText)
	for _, name := range s.dimensions {
		if v, ok := pd.Dimension(name); ok {
			k = appendPSDim(k, name, v)
		} else if v, ok := s.defaults[name]; ok {
			k = appendPSDim(k, name, v)
		}
	}
	for _, m := range s.mapped {
		if v, ok := pd.Dimension(m[0]); ok {
			k = appendPSDim(k, m[1], v)
		} else if v, ok := s.defaults[m[1]]; ok {
			k = appendPSDim(k, m[1], v)
		}
	}
	s.key = k
	if b := s.buckets[string(k)]; b != nil {
		return b
	}
	b := &psBucket{}
	for len(k) > 0 {
		var d [2]string
		for j := range d {
			n, w := binary.Uvarint(k)
			d[j], k = string(k[w:w+int(n)]), k[w+int(n):]
		}
		b.dims = append(b.dims, d)
	}
	s.buckets[string(s.key)] = b
	return b
}

// appendPSDim appends a dimension to a bucket's key.
func appendPSDim[T string | []byte](k []byte, name string, v T) []byte {
	k = append(binary.AppendUvarint(k, uint64(len(name))), name...)
	return append(binary.AppendUvarint(k, uint64(len(v))), v...)
}

// FlushStatistics emits every bucket's metrics and starts them over.
func (s *PeriodicStatisticsSink) FlushStatistics() {
	s.mu.Lock()
	var recs []SelfRecord
	prefix := "sinks/periodic_statistics/" + selfmetric.SinkName(s.name) + "/"
	for k, b := range s.buckets {
		if !b.hasAge {
			if b.empty++; b.empty >= 2 {
				delete(s.buckets, k)
			}
			continue
		}
		r := SelfRecord{Dimensions: b.dims, Metrics: []SelfMetric{
			{Name: prefix + "aggregated_data", Type: "counter", Values: []float64{b.aggregated}},
			{Name: prefix + "unique_metrics", Type: "counter", Values: []float64{float64(len(b.names.m))}},
			{Name: prefix + "unique_statistics", Type: "counter", Values: []float64{float64(len(b.series.m))}},
			{Name: prefix + "metric_samples", Type: "counter", Values: []float64{b.smpl}},
			{Name: prefix + "age", Type: "timer", Values: []float64{b.age}, Unit: "MILLISECOND"},
		}}
		if b.hasRequestAge {
			r.Metrics = append(r.Metrics, SelfMetric{Name: prefix + "request_age", Type: "timer", Values: []float64{b.requestAge}, Unit: "MILLISECOND"})
		}
		recs = append(recs, r)
		b.aggregated, b.smpl, b.age, b.requestAge, b.hasAge, b.hasRequestAge = 0, 0, 0, 0, false, false
		b.names.reset()
		b.series.reset()
	}
	s.mu.Unlock()
	if s.emit != nil {
		for _, r := range recs {
			s.emit(r)
		}
	}
}

// Name returns the sink's name.
func (s *PeriodicStatisticsSink) Name() string { return s.name }

// Close emits what is left and stops.
func (s *PeriodicStatisticsSink) Close() error {
	s.closing.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
