package sinks

import (
	"strings"
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

	mu      sync.Mutex
	buckets map[string]*psBucket
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

type psBucket struct {
	dims                                  [][2]string
	aggregated, metrics, statistics, smpl float64
	age, requestAge                       float64
	hasAge, hasRequestAge                 bool
	empty                                 int
	seen                                  map[string]bool
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

// Record accounts pd in its bucket.
func (s *PeriodicStatisticsSink) Record(pd *PeriodicData) {
	dims := [][2]string{{s.periodDimensionName, FormatPeriod(pd.Period)}}
	for _, k := range s.dimensions {
		if v, ok := pd.Dimension(k); ok {
			dims = append(dims, [2]string{k, string(v)})
		} else if v, ok := s.defaults[k]; ok {
			dims = append(dims, [2]string{k, v})
		}
	}
	for _, m := range s.mapped {
		if v, ok := pd.Dimension(m[0]); ok {
			dims = append(dims, [2]string{m[1], string(v)})
		} else if v, ok := s.defaults[m[1]]; ok {
			dims = append(dims, [2]string{m[1], v})
		}
	}
	var key strings.Builder
	for _, d := range dims {
		key.WriteString(d[0])
		key.WriteByte(0)
		key.WriteString(d[1])
		key.WriteByte(0)
	}
	var dimKey strings.Builder
	for _, d := range pd.Dimensions {
		dimKey.Write(d.Key)
		dimKey.WriteByte(0)
		dimKey.Write(d.Value)
		dimKey.WriteByte(0)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[key.String()]
	if b == nil {
		b = &psBucket{dims: dims, seen: map[string]bool{}}
		s.buckets[key.String()] = b
	}
	for _, m := range pd.Metrics {
		b.aggregated += float64(len(m.Statistics))
		id := string(m.Name) + "\x00" + dimKey.String()
		if !b.seen[string(m.Name)] {
			b.seen[string(m.Name)] = true
			b.metrics++
		}
		if !b.seen[id] {
			b.seen[id] = true
			b.statistics++
		}
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
			{Name: prefix + "unique_metrics", Type: "counter", Values: []float64{b.metrics}},
			{Name: prefix + "unique_statistics", Type: "counter", Values: []float64{b.statistics}},
			{Name: prefix + "metric_samples", Type: "counter", Values: []float64{b.smpl}},
			{Name: prefix + "age", Type: "timer", Values: []float64{b.age}, Unit: "MILLISECOND"},
		}}
		if b.hasRequestAge {
			r.Metrics = append(r.Metrics, SelfMetric{Name: prefix + "request_age", Type: "timer", Values: []float64{b.requestAge}, Unit: "MILLISECOND"})
		}
		recs = append(recs, r)
		*b = psBucket{dims: b.dims, seen: map[string]bool{}}
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
