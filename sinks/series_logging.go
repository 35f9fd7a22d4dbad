package sinks

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/throttle"
)

// MetricSeriesLoggingSink is mad-experimental's MetricSeriesLoggingSink, a
// cardinality-analysis tool: it collects, per metric name, the dimension
// sets it was seen with, and whenever a bucket starts after the last start
// seen it writes what it collected as indented JSON to a file (truncating
// it) and starts over. MAD writes metrics_streams.json in the working
// directory; Dir and File change that. The file is written by the sink's
// own goroutine: Record never waits for the disk (a write that finds the
// previous one still running is dropped and counted). Failed and dropped
// writes are logged, throttled.
type MetricSeriesLoggingSink struct {
	name    string
	path    string
	log     *throttle.Log
	series  map[string][]map[string]string
	seen    map[string]map[string]bool // metric → dimension-set identity
	last    time.Time
	writes  chan []byte
	done    chan struct{}
	closing sync.Once

	written, dropped, errors atomic.Uint64
}

// NewMetricSeriesLoggingSink returns the sink writing dir/file (defaults:
// the working directory and metrics_streams.json).
func NewMetricSeriesLoggingSink(name, dir, file string, log *slog.Logger) *MetricSeriesLoggingSink {
	if file == "" {
		file = "metrics_streams.json"
	}
	s := &MetricSeriesLoggingSink{name: name, path: filepath.Join(dir, file), log: throttle.NewLog(log, throttle.Every),
		series: map[string][]map[string]string{}, seen: map[string]map[string]bool{},
		writes: make(chan []byte, 1), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *MetricSeriesLoggingSink) run() {
	defer close(s.done)
	for b := range s.writes {
		if err := os.WriteFile(s.path, b, 0o644); err != nil {
			s.errors.Add(1)
			s.log.Warn("write", "metric series log: cannot write", "sink", s.name, "file", s.path,
				"errors_so_far", s.errors.Load(), "error", err)
			continue
		}
		s.written.Add(1)
	}
}

// Record collects the bucket's series, first writing out what was
// collected if the bucket starts later than any before.
func (s *MetricSeriesLoggingSink) Record(pd *PeriodicData) {
	if pd.Start.After(s.last) {
		if !s.last.IsZero() {
			s.rollOver()
		}
		s.last = pd.Start
	}
	var id []byte
	dims := make(map[string]string, len(pd.Dimensions))
	for _, d := range pd.Dimensions {
		dims[string(d.Key)] = string(d.Value)
		id = append(append(append(append(id, d.Key...), 0), d.Value...), 0)
	}
	for _, m := range pd.Metrics {
		name := string(m.Name)
		ids := s.seen[name]
		if ids == nil {
			ids = map[string]bool{}
			s.seen[name] = ids
		}
		if ids[string(id)] {
			continue
		}
		ids[string(id)] = true
		s.series[name] = append(s.series[name], dims)
	}
}

// rollOver hands the collected series to the writer and starts over.
func (s *MetricSeriesLoggingSink) rollOver() {
	b, err := json.MarshalIndent(s.series, "", "  ")
	if err == nil {
		select {
		case s.writes <- b:
		default:
			s.dropped.Add(1)
			s.log.Warn("busy", "metric series log: previous write still running, snapshot dropped", "sink", s.name,
				"file", s.path, "dropped_so_far", s.dropped.Load())
		}
	}
	s.series = map[string][]map[string]string{}
	s.seen = map[string]map[string]bool{}
}

// Name returns the sink's name.
func (s *MetricSeriesLoggingSink) Name() string { return s.name }

// Stats reports files written, snapshots dropped (the previous write still
// running) and write errors.
func (s *MetricSeriesLoggingSink) Stats() (written, dropped, errors uint64) {
	return s.written.Load(), s.dropped.Load(), s.errors.Load()
}

// Report reports the sink's counters.
func (s *MetricSeriesLoggingSink) Report(emit func(selfmetric.Value)) {
	ReportCounts(emit, s.name, s.written.Load(), s.dropped.Load(), s.errors.Load())
}

// Close writes what was collected and waits for the writer.
func (s *MetricSeriesLoggingSink) Close() error {
	s.closing.Do(func() {
		if len(s.series) > 0 {
			b, err := json.MarshalIndent(s.series, "", "  ")
			if err == nil {
				s.writes <- b
			}
		}
		close(s.writes)
	})
	<-s.done
	return nil
}
