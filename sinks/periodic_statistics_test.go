package sinks

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomad/mad/hist"
)

// TestPeriodicStatisticsCounts drives PeriodicStatisticsSink with random
// parts (metrics named again within a part, across parts and across
// dimension sets; configured, mapped and defaulted dimensions; several
// periods) over several flushes, and checks every flushed bucket against
// a model kept with maps of strings: aggregated_data (statistics),
// unique_metrics (names), unique_statistics (name × dimensions),
// metric_samples (population sizes), age and request_age (maxima), and
// that a bucket without data for two flushes is forgotten.
func TestPeriodicStatisticsCounts(t *testing.T) {
	type model struct {
		aggregated, samples float64
		names, series       map[string]bool
		age, reqAge         float64
		hasReq              bool
	}
	var mu sync.Mutex
	var got []SelfRecord
	now := time.UnixMilli(1_700_000_100_000)
	s := NewPeriodicStatisticsSink(PeriodicStatisticsConfig{
		Name: "ps", Interval: time.Hour, Dimensions: []string{"service", "region"},
		MappedDimensions: [][2]string{{"host", "machine"}}, DefaultDimensionsValues: map[string]string{"region": "none"},
		Emit: func(r SelfRecord) { mu.Lock(); got = append(got, r); mu.Unlock() },
		Now:  func() time.Time { return now },
	})
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 6))
	stats := []Statistic{{Stat: hist.Count, Value: 1, HasValue: true}, {Stat: hist.Sum, Value: 2, HasValue: true}, {Stat: hist.Max, Value: 2, HasValue: true}}
	for flush := range 6 {
		want := map[string]*model{}
		active := 1 + r.IntN(3) // the services of this flush: others fall silent
		for range 200 {
			period := []time.Duration{time.Second, time.Minute}[r.IntN(2)]
			service := fmt.Sprintf("svc%d", r.IntN(active))
			dims := []Dimension{{Key: []byte("host"), Value: fmt.Appendf(nil, "h%d", r.IntN(3))}, {Key: []byte("service"), Value: []byte(service)}}
			region := "none"
			if r.IntN(2) == 0 {
				region = fmt.Sprintf("r%d", r.IntN(2))
				dims = append(dims, Dimension{Key: []byte("region"), Value: []byte(region)})
			}
			if r.IntN(4) == 0 { // a dimension no bucket is keyed by: only unique_statistics sees it
				dims = append(dims, Dimension{Key: []byte("zone"), Value: fmt.Appendf(nil, "z%d", r.IntN(2))})
			}
			pd := PeriodicData{Period: period, Start: now.Add(-time.Duration(r.IntN(5000)) * time.Millisecond).Add(-period), Dimensions: dims}
			if r.IntN(3) == 0 {
				pd.MinRequestTime = now.Add(-time.Duration(r.IntN(9000)) * time.Millisecond)
			}
			for range 1 + r.IntN(6) {
				pd.Metrics = append(pd.Metrics, Metric{Name: fmt.Appendf(nil, "m%d", r.IntN(8)), PopulationSize: int64(1 + r.IntN(9)), Statistics: stats[:1+r.IntN(3)]})
			}
			s.Record(&pd)

			key := fmt.Sprintf("_period=%s,service=%s,region=%s,machine=%s", FormatPeriod(period), service, region, dims[0].Value)
			m := want[key]
			if m == nil {
				m = &model{names: map[string]bool{}, series: map[string]bool{}, age: -1e18, reqAge: -1e18}
				want[key] = m
			}
			var all []string
			for _, d := range dims {
				all = append(all, string(d.Key)+"="+string(d.Value))
			}
			for _, mt := range pd.Metrics {
				m.aggregated += float64(len(mt.Statistics))
				m.samples += float64(mt.PopulationSize)
				m.names[string(mt.Name)] = true
				m.series[string(mt.Name)+"|"+strings.Join(all, ",")] = true
			}
			m.age = max(m.age, float64(now.Sub(pd.Start.Add(pd.Period)).Milliseconds()))
			if !pd.MinRequestTime.IsZero() {
				m.reqAge, m.hasReq = max(m.reqAge, float64(now.Sub(pd.MinRequestTime).Milliseconds())), true
			}
		}
		mu.Lock()
		got = got[:0]
		mu.Unlock()
		s.FlushStatistics()
		mu.Lock()
		seen := map[string]bool{}
		for _, rec := range got {
			var kv []string
			for _, d := range rec.Dimensions {
				kv = append(kv, d[0]+"="+d[1])
			}
			key := strings.Join(kv, ",")
			seen[key] = true
			m := want[key]
			if m == nil {
				t.Fatalf("flush %d: a record for %s, which had no data", flush, key)
			}
			vals := map[string]float64{}
			for _, sm := range rec.Metrics {
				vals[sm.Name[strings.LastIndexByte(sm.Name, '/')+1:]] = sm.Values[0]
			}
			wantVals := map[string]float64{"aggregated_data": m.aggregated, "unique_metrics": float64(len(m.names)),
				"unique_statistics": float64(len(m.series)), "metric_samples": m.samples, "age": m.age}
			if m.hasReq {
				wantVals["request_age"] = m.reqAge
			}
			if fmt.Sprint(vals) != fmt.Sprint(wantVals) {
				t.Errorf("flush %d, %s: %v; want %v", flush, key, vals, wantVals)
			}
		}
		for key := range want {
			if !seen[key] {
				t.Errorf("flush %d: no record for %s", flush, key)
			}
		}
		mu.Unlock()
	}
	// Buckets silent for two flushes are forgotten.
	s.FlushStatistics()
	s.FlushStatistics()
	s.mu.Lock()
	n := len(s.buckets)
	s.mu.Unlock()
	if n != 0 {
		keys := []string{}
		s.mu.Lock()
		for k := range s.buckets {
			keys = append(keys, fmt.Sprintf("%q", k))
		}
		s.mu.Unlock()
		sort.Strings(keys)
		t.Errorf("%d buckets kept after two empty flushes: %v", n, keys)
	}
}

// TestPeriodicStatisticsNamesWithSeparators: names and values holding NUL
// bytes neither merge two buckets nor two metrics. Joined with NUL bytes,
// {a:"x\0b\0y"} and {a:"x", b:"y"} were one bucket, and a metric "m\0"
// of data without dimensions was the pair id of metric "m".
func TestPeriodicStatisticsNamesWithSeparators(t *testing.T) {
	var mu sync.Mutex
	var got []SelfRecord
	s := NewPeriodicStatisticsSink(PeriodicStatisticsConfig{Name: "ps", Interval: time.Hour, Dimensions: []string{"a", "b"},
		Emit: func(r SelfRecord) { mu.Lock(); got = append(got, r); mu.Unlock() }})
	defer s.Close()
	start := time.UnixMilli(1_700_000_000_000)
	stat := []Statistic{{Stat: hist.Count, Value: 1, HasValue: true}}
	s.Record(&PeriodicData{Period: time.Second, Start: start, Dimensions: []Dimension{{Key: []byte("a"), Value: []byte("x\x00b\x00y")}},
		Metrics: []Metric{{Name: []byte("m"), PopulationSize: 1, Statistics: stat}}})
	s.Record(&PeriodicData{Period: time.Second, Start: start, Dimensions: []Dimension{{Key: []byte("a"), Value: []byte("x")}, {Key: []byte("b"), Value: []byte("y")}},
		Metrics: []Metric{{Name: []byte("m"), PopulationSize: 1, Statistics: stat}}})
	s.Record(&PeriodicData{Period: time.Minute, Start: start, Metrics: []Metric{{Name: []byte("m"), PopulationSize: 1, Statistics: stat}, {Name: []byte("m\x00"), PopulationSize: 1, Statistics: stat}}})
	s.FlushStatistics()
	mu.Lock()
	defer mu.Unlock()
	counts := map[string]float64{}
	for _, r := range got {
		for _, m := range r.Metrics {
			counts[fmt.Sprintf("%q %s", r.Dimensions, m.Name[strings.LastIndexByte(m.Name, '/')+1:])] = m.Values[0]
		}
	}
	for key, want := range map[string]float64{
		`[["_period" "PT1S"] ["a" "x\x00b\x00y"]] metric_samples`: 1,
		`[["_period" "PT1S"] ["a" "x"] ["b" "y"]] metric_samples`: 1,
		`[["_period" "PT1M"]] unique_metrics`:                     2,
		`[["_period" "PT1M"]] unique_statistics`:                  2,
	} {
		if counts[key] != want {
			t.Errorf("%s = %v; want %v (all: %v)", key, counts[key], want, counts)
		}
	}
}
