package engine

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	sm "github.com/gomad/mad/internal/selfmetric"

	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/sinks"
)

// selfMetrics feeds mad's own metrics back into the aggregation, as MAD's
// metrics client does by posting them to MAD's own V3 route (MAD-SPEC §11):
// every second, one record of service monitoringService, cluster
// monitoringCluster and host monitoringHost with the sources' and the
// aggregation's counters (MAD's names) and Go runtime figures (instead of
// the JVM's), plus the records sinks produce about what they see
// (PeriodicStatisticsSink, TracingSink). They go to the pipeline serving
// /metrics/v3/application; if none does they are dropped and counted, as
// MAD's loop-back would get 404s.
//
// The loop-back is on unless the configuration turns it off
// (monitoringSinks=[], config.MainSpec.LoopBack), as the embedded default
// configuration does: its one pipeline writes to standard output, where
// mad's own metrics (a line per self-metric and bucket: a dozen and more
// a second) would bury the user's.
// Off, nothing is collected or accumulated for it; the records sinks
// produce are dropped and counted (result "off"). /metrics has every
// counter either way.
type selfMetrics struct {
	d    *Daemon
	dims atomic.Pointer[selfDims] // the main file's monitoring dimensions (a reload sets them)

	mu      sync.Mutex
	pending []sinks.SelfRecord
	last    map[string]uint64 // cumulative counters at the previous report
	rest    map[restKey]*restStats

	loop                                  atomic.Bool // feed back (MainSpec.LoopBack)
	delivered, undelivered, overflow, off atomic.Uint64
}

// maxPendingSelf bounds the records waiting for the next delivery.
const maxPendingSelf = 100_000

// selfDims are the cluster, service and host of the daemon's own metrics
// (monitoringCluster, monitoringService, monitoringHost).
type selfDims struct{ cluster, service, host string }

func newSelfMetrics(d *Daemon, cluster, service, host string, loop bool) *selfMetrics {
	s := &selfMetrics{d: d, last: map[string]uint64{}, rest: map[restKey]*restStats{}}
	s.setDims(cluster, service, host)
	s.loop.Store(loop)
	return s
}

// setDims sets the dimensions of the metrics reported from now on (a
// reloaded main configuration: MAD restarts on a change of the main file,
// its metrics then carry the new ones).
func (s *selfMetrics) setDims(cluster, service, host string) {
	s.dims.Store(&selfDims{cluster, service, host})
}

// setLoopBack turns the loop-back on or off (a reloaded main
// configuration); what waits for delivery when it goes off is dropped and
// counted as off.
func (s *selfMetrics) setLoopBack(on bool) {
	if s.loop.Swap(on) == on || on {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.off.Add(uint64(len(s.pending)))
	s.pending = nil
	clear(s.rest)
}

// restKey and restStats accumulate MAD's rest_service metrics between two
// reports.
type restKey struct{ method, path string }

type restStats struct {
	durations, sizes []float64
	classes          [4]float64 // 2xx, 3xx, 4xx, 5xx
}

// maxRestValues bounds the values kept per route between two reports.
const maxRestValues = 10_000

// request accounts one HTTP request (MAD's Routes metrics): its route (or
// unknown_route for a 404), duration, declared body size and status.
func (s *selfMetrics) request(method, path string, status int, d time.Duration, size int64) {
	if s == nil || !s.loop.Load() {
		return
	}
	if status == 404 {
		path = "/unknown_route"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := restKey{method, path}
	st := s.rest[k]
	if st == nil {
		if len(s.rest) >= 1000 {
			s.overflow.Add(1)
			return
		}
		st = &restStats{}
		s.rest[k] = st
	}
	if len(st.durations) < maxRestValues {
		st.durations = append(st.durations, float64(d.Nanoseconds()))
		st.sizes = append(st.sizes, float64(max(size, 0)))
	}
	if c := status/100 - 2; c >= 0 && c < 4 {
		st.classes[c]++
	}
}

// restRecord turns the accumulated request metrics into metrics and starts
// over (under s.mu).
func (s *selfMetrics) restMetricsLocked() []sinks.SelfMetric {
	var out []sinks.SelfMetric
	for k, st := range s.rest {
		base := "rest_service/" + k.method + k.path
		if len(st.durations) > 0 {
			out = append(out, sinks.SelfMetric{Name: base + "/request", Type: "timer", Values: st.durations, Unit: "NANOSECOND"},
				sinks.SelfMetric{Name: base + "/body_size", Type: "gauge", Values: st.sizes, Unit: "BYTE"})
		}
		for i, class := range []string{"2xx", "3xx", "4xx", "5xx"} {
			out = append(out, sinks.SelfMetric{Name: base + "/status/" + class, Type: "counter", Values: []float64{st.classes[i]}})
		}
	}
	clear(s.rest)
	return out
}

// emit is a sinks.SelfEmitter: it queues a record for the next delivery.
func (s *selfMetrics) emit(r sinks.SelfRecord) {
	if s == nil {
		return
	}
	if !s.loop.Load() {
		s.off.Add(1)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= maxPendingSelf {
		s.overflow.Add(1)
		return
	}
	s.pending = append(s.pending, r)
}

// run reports every second until stop is closed.
func (s *selfMetrics) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			s.report()
			return
		case <-t.C:
			s.report()
		}
	}
}

// delta returns how much a cumulative counter grew since the last report.
func (s *selfMetrics) delta(name string, v uint64) float64 {
	prev, ok := s.last[name]
	s.last[name] = v
	if !ok || v < prev {
		return float64(v)
	}
	return float64(v - prev)
}

// collect builds the periodic record from what the daemon reports under
// MAD's names: values of one name are summed; counters (and values MAD
// records as the growth of a counter) become their growth since the
// previous report.
func (s *selfMetrics) collect() sinks.SelfRecord {
	type acc struct {
		v    sm.Value
		kind string
	}
	var order []string
	byName := map[string]*acc{}
	s.d.Report(func(v sm.Value) {
		if v.MAD == "" {
			return
		}
		a := byName[v.MAD]
		if a == nil {
			kind := "counter"
			if v.Kind == sm.Gauge {
				kind = "gauge"
			}
			if v.MADType != "" {
				kind = v.MADType
			}
			byName[v.MAD] = &acc{v: v, kind: kind}
			order = append(order, v.MAD)
			return
		}
		a.v.V += v.V
	})
	var r sinks.SelfRecord
	for _, name := range order {
		a := byName[name]
		v := a.v.V
		if a.v.Kind == sm.Counter {
			v = s.delta(name, uint64(v))
			if a.v.Sparse && v == 0 {
				continue
			}
		}
		r.Metrics = append(r.Metrics, sinks.SelfMetric{Name: name, Type: a.kind, Values: []float64{v}, Unit: a.v.Unit})
	}
	return r
}

// Report reports what happened to the records of mad's own metrics.
func (s *selfMetrics) Report(emit func(sm.Value)) {
	if s == nil {
		return
	}
	const help = "Records of mad's own metrics (MAD-SPEC §11) by outcome: delivered to the V3 route's pipeline, undelivered (no V3 source, or saturated), overflow (too many waiting), off (records of sinks such as PeriodicStatisticsSink while the configuration turns the loop-back off with monitoringSinks=[])."
	for _, r := range []struct {
		result string
		n      uint64
	}{{"delivered", s.delivered.Load()}, {"undelivered", s.undelivered.Load()}, {"overflow", s.overflow.Load()}, {"off", s.off.Load()}} {
		emit(sm.Value{Name: "mad_self_records_total", Help: help, Labels: []string{"result", r.result}, V: float64(r.n)})
	}
}

// report delivers the periodic record and the sinks' records.
func (s *selfMetrics) report() {
	if !s.loop.Load() {
		return
	}
	rec := s.collect()
	s.mu.Lock()
	rec.Metrics = append(rec.Metrics, s.restMetricsLocked()...)
	recs := append([]sinks.SelfRecord{rec}, s.pending...)
	s.pending = nil
	s.mu.Unlock()
	var src *ingest.HTTPSource
	if m := s.d.routes.Load(); m != nil {
		src = (*m)[ingest.HTTPClientV3.Path()]
	}
	if src == nil {
		s.undelivered.Add(uint64(len(recs)))
		return
	}
	now := time.Now().UnixMilli()
	sd := s.dims.Load()
	err := src.Inject(func(route sample.Route) (sample.Counts, error) {
		samples := 0
		var key []byte
		for _, r := range recs {
			dims := []sample.Dim{{Key: []byte("cluster"), Value: []byte(sd.cluster)}, {Key: []byte("service"), Value: []byte(sd.service)},
				{Key: []byte("host"), Value: []byte(sd.host)}}
			for _, d := range r.Dimensions {
				dims = setDim(dims, d[0], d[1])
			}
			sort.Slice(dims, func(i, j int) bool { return string(dims[i].Key) < string(dims[j].Key) })
			for _, m := range r.Metrics {
				kind := sample.KindGauge
				switch m.Type {
				case "counter":
					kind = sample.KindCounter
				case "timer":
					kind = sample.KindTimer
				}
				var err error
				key, err = sample.AppendKey(key[:0], kind, []byte(m.Name), dims)
				if err != nil {
					continue // a key over 64 KiB: cannot be a real one
				}
				unit, _ := sample.ParseUnit(m.Unit)
				h := sample.Hash(key)
				b := route(h)
				ref := b.PutKeyBytes(key, h)
				for _, v := range m.Values {
					nv, nu := sample.Normalize(v, unit)
					b.AddValue(ref, now, 0, nv, nu)
					samples++
				}
			}
		}
		return sample.Counts{Records: len(recs), Samples: samples}, nil
	})
	if err != nil {
		s.undelivered.Add(uint64(len(recs)))
		return
	}
	s.delivered.Add(uint64(len(recs)))
}

func setDim(dims []sample.Dim, k, v string) []sample.Dim {
	for i := range dims {
		if string(dims[i].Key) == k {
			dims[i].Value = []byte(v)
			return dims
		}
	}
	return append(dims, sample.Dim{Key: []byte(k), Value: []byte(v)})
}
