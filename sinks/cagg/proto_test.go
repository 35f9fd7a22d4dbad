package cagg

import (
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/throttle"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/cagg/caggtest"
)

// The messages.proto schema of MAD-SPEC §9.3, built with the protobuf
// runtime (independent of the package's encoder).
var msgs = caggtest.NewSchema()

// frame is one decoded AggregationMessage.
type frame struct {
	typ, subtype byte
	payload      []byte
}

// readFrame decodes the frame at the start of b and returns the rest.
func readFrame(t *testing.T, b []byte) (frame, []byte) {
	t.Helper()
	f, rest, err := caggtest.ReadFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	return frame{typ: f.Type, subtype: f.Subtype, payload: f.Payload}, rest
}

// decoded is a StatisticSetRecord as read with the protobuf runtime.
type decoded struct {
	service, cluster, metric, period, periodStart, minReq string
	dims                                                  map[string]string
	stats                                                 map[string]decodedStat
}

type decodedStat struct {
	value         float64
	unit          string
	specified     bool
	histUnit      string
	histPrecision uint32
	entries       [][2]float64 // bucket, count
}

func unmarshal(t *testing.T, md protoreflect.MessageDescriptor, b []byte) *dynamicpb.Message {
	t.Helper()
	m, err := caggtest.Unmarshal(md, b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func decodeRecord(t *testing.T, payload []byte) decoded {
	t.Helper()
	m := unmarshal(t, msgs.StatisticSet, payload)
	f := msgs.StatisticSet.Fields()
	str := func(name protoreflect.Name) string { return m.Get(f.ByName(name)).String() }
	d := decoded{
		service: str("service"), cluster: str("cluster"), metric: str("metric"),
		period: str("period"), periodStart: str("period_start"), minReq: str("client_minimum_request_time"),
		dims: map[string]string{}, stats: map[string]decodedStat{},
	}
	m.Get(f.ByName("dimensions")).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		d.dims[k.String()] = v.String()
		return true
	})
	list := m.Get(f.ByName("statistics")).List()
	sf := msgs.Statistic.Fields()
	for i := range list.Len() {
		s := list.Get(i).Message()
		name := s.Get(sf.ByName("statistic")).String()
		if _, dup := d.stats[name]; dup {
			t.Fatalf("statistic %s twice", name)
		}
		ds := decodedStat{
			value:     s.Get(sf.ByName("value")).Float(),
			unit:      s.Get(sf.ByName("unit")).String(),
			specified: s.Get(sf.ByName("user_specified")).Bool(),
		}
		if sup := s.Get(sf.ByName("supporting_data")).Bytes(); len(sup) > 0 {
			fr, rest := readFrame(t, sup)
			if fr.typ != TypeSupportingData || fr.subtype != SubtypeSparseHistogram || len(rest) != 0 {
				t.Fatalf("supporting data frame %x/%x, %d bytes after", fr.typ, fr.subtype, len(rest))
			}
			h := unmarshal(t, msgs.Histogram, fr.payload)
			hf := msgs.Histogram.Fields()
			ds.histUnit = h.Get(hf.ByName("unit")).String()
			ds.histPrecision = uint32(h.Get(hf.ByName("precision")).Uint())
			es := h.Get(hf.ByName("entries")).List()
			for j := range es.Len() {
				e := es.Get(j).Message()
				ds.entries = append(ds.entries, [2]float64{
					e.Get(e.Descriptor().Fields().ByName("bucket")).Float(),
					float64(e.Get(e.Descriptor().Fields().ByName("count")).Uint()),
				})
			}
		}
		d.stats[name] = ds
	}
	return d
}

func dims(kv ...string) []sinks.Dimension {
	var d []sinks.Dimension
	for i := 0; i+1 < len(kv); i += 2 {
		d = append(d, sinks.Dimension{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return d
}

// testData is a bucket with a counter, a timer (tp99 and histogram) and a
// gauge histogram with a zero, a negative and an empty bucket.
func testData() *sinks.PeriodicData {
	st := func(s hist.Stat, v float64, unit string, spec bool) sinks.Statistic {
		return sinks.Statistic{Stat: s, Value: v, HasValue: true, Unit: unit, Specified: spec}
	}
	return &sinks.PeriodicData{
		Period:         time.Minute,
		Start:          time.Date(2019, 1, 1, 0, 1, 0, 0, time.UTC),
		Dimensions:     dims("cluster", "c1", "empty", "", "host", "h1", "service", "s1", "zone", "z"),
		MinRequestTime: time.Date(2019, 1, 1, 0, 0, 59, 500e6, time.UTC),
		Metrics: []sinks.Metric{
			{Name: []byte("requests"), Type: "counter", PopulationSize: 10, Statistics: []sinks.Statistic{
				st(hist.Count, 10, "", true), st(hist.Sum, 55, "", true), st(hist.Mean, 5.5, "", true),
			}},
			{Name: []byte("latency"), Type: "timer", Unit: "SECOND", PopulationSize: 4, Statistics: []sinks.Statistic{
				st(hist.Count, 4, "", false), st(hist.TP99, 0.5, "SECOND", true), st(hist.Histogram, 1, "", false), // the emitter's: no unit
				{Stat: hist.Max, HasValue: false, Specified: true},
			}, Histogram: []hist.Bucket{{Key: hist.Pack(0.1), Count: 1}, {Key: hist.Pack(0.2), Count: 2}, {Key: hist.Pack(0.5), Count: 1}}},
			{Name: []byte("temp"), Type: "gauge", PopulationSize: 5, Statistics: []sinks.Statistic{
				st(hist.Histogram, 1, "", true), st(hist.Min, -5.3, "", true), st(hist.Count, 5, "", false),
			}, Histogram: []hist.Bucket{{Key: hist.Pack(-5.3), Count: 2}, {Key: hist.Pack(0), Count: 3}, {Key: hist.Pack(10.48), Count: 0}}},
		},
	}
}

// checkRecord checks a decoded record of testData's metric name.
func checkRecord(t *testing.T, d decoded) {
	t.Helper()
	if d.service != "s1" || d.cluster != "c1" || d.period != "PT1M" || d.periodStart != "2019-01-01T00:01Z" ||
		d.minReq != "2019-01-01T00:00:59.500Z" {
		t.Errorf("header %+v", d)
	}
	if len(d.dims) != 5 || d.dims["empty"] != "" || d.dims["host"] != "h1" || d.dims["service"] != "s1" || d.dims["cluster"] != "c1" || d.dims["zone"] != "z" {
		t.Errorf("dimensions %v", d.dims)
	}
	eq := func(name string, want decodedStat) {
		t.Helper()
		got, ok := d.stats[name]
		if !ok {
			t.Errorf("%s: no statistic %s", d.metric, name)
			return
		}
		if got.value != want.value || got.unit != want.unit || got.specified != want.specified ||
			got.histUnit != want.histUnit || got.histPrecision != want.histPrecision || len(got.entries) != len(want.entries) {
			t.Errorf("%s %s = %+v, want %+v", d.metric, name, got, want)
			return
		}
		for i := range got.entries {
			if got.entries[i] != want.entries[i] || math.Signbit(got.entries[i][0]) != math.Signbit(want.entries[i][0]) {
				t.Errorf("%s %s entry %d = %v, want %v", d.metric, name, i, got.entries[i], want.entries[i])
			}
		}
	}
	switch d.metric {
	case "requests":
		if len(d.stats) != 3 {
			t.Errorf("requests: %d statistics", len(d.stats))
		}
		eq("count", decodedStat{value: 10, specified: true})
		eq("sum", decodedStat{value: 55, specified: true})
		eq("mean", decodedStat{value: 5.5, specified: true})
	case "latency":
		if len(d.stats) != 3 { // max has no value
			t.Errorf("latency: %d statistics", len(d.stats))
		}
		eq("count", decodedStat{value: 4})
		eq("tp99", decodedStat{value: 0.5, unit: "SECOND", specified: true})
		// MAD's histogram statistic is Quantity(1.0) without a unit; its
		// supporting data has the metric's.
		eq("histogram", decodedStat{value: 1, histUnit: "SECOND", histPrecision: 8,
			entries: [][2]float64{{0.099609375, 1}, {0.19921875, 2}, {0.5, 1}}})
	case "temp":
		eq("histogram", decodedStat{value: 1, specified: true, histPrecision: 8,
			entries: [][2]float64{{-5.28125, 2}, {0, 3}, {10.4375, 0}}})
		eq("min", decodedStat{value: -5.3, specified: true})
		eq("count", decodedStat{value: 5})
	default:
		t.Errorf("unexpected metric %q", d.metric)
	}
}

func TestEncodeRecords(t *testing.T) {
	pd := testData()
	var e encoder
	if err := e.prepare(pd); err != nil {
		t.Fatal(err)
	}
	for i := range pd.Metrics {
		b := e.encodeMetrics(nil, pd.Metrics, i, nil)
		f, rest := readFrame(t, b)
		if f.typ != TypeStatisticSet || len(rest) != 0 {
			t.Fatalf("frame type %x, %d bytes after", f.typ, len(rest))
		}
		d := decodeRecord(t, f.payload)
		if d.metric != string(pd.Metrics[i].Name) {
			t.Errorf("metric %q", d.metric)
		}
		checkRecord(t, d)
	}
	// No minimum request time: field 9 absent.
	pd.MinRequestTime = time.Time{}
	if err := e.prepare(pd); err != nil {
		t.Fatal(err)
	}
	f, _ := readFrame(t, e.encodeMetrics(nil, pd.Metrics, 0, nil))
	if d := decodeRecord(t, f.payload); d.minReq != "" {
		t.Errorf("client_minimum_request_time %q", d.minReq)
	}
	if err := e.prepare(&sinks.PeriodicData{Dimensions: dims("cluster", "c", "host", "h")}); err != errMissingDimension {
		t.Errorf("missing service: %v", err)
	}
	if err := e.prepare(&sinks.PeriodicData{Dimensions: dims("service", "s")}); err != errMissingDimension {
		t.Errorf("missing cluster: %v", err)
	}
}

func TestHeartbeat(t *testing.T) {
	b := AppendHeartbeat(nil, time.Date(2026, 11, 21, 13, 5, 7, 123456789, time.UTC))
	f, rest := readFrame(t, b)
	if f.typ != TypeHeartbeat || len(rest) != 0 {
		t.Fatalf("frame %x", b)
	}
	m := unmarshal(t, msgs.Heartbeat, f.payload)
	if ts := m.Get(msgs.Heartbeat.Fields().ByName("timestamp")).String(); ts != "2026-11-21T13:05:07.123456789Z" {
		t.Errorf("timestamp %q", ts)
	}
}

func TestJavaTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2019, 1, 1, 0, 1, 0, 0, time.UTC), "2019-01-01T00:01Z"},
		{time.Date(2019, 1, 1, 0, 1, 30, 0, time.UTC), "2019-01-01T00:01:30Z"},
		{time.Date(2019, 1, 1, 0, 1, 30, 500e6, time.UTC), "2019-01-01T00:01:30.500Z"},
		{time.Date(2019, 1, 1, 0, 1, 0, 1000, time.UTC), "2019-01-01T00:01:00.000001Z"},
		{time.Date(2019, 1, 1, 0, 1, 0, 1, time.UTC), "2019-01-01T00:01:00.000000001Z"},
		{time.Date(2019, 12, 31, 23, 59, 0, 0, time.FixedZone("x", 3600)), "2019-12-31T22:59Z"},
		{time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC), "0999-01-01T00:00Z"},
		{time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "+12345-01-01T00:00Z"},
	} {
		if got := string(AppendJavaTime(nil, c.t)); got != c.want {
			t.Errorf("%v: %q, want %q", c.t, got, c.want)
		}
	}
}

func TestEvictingQueue(t *testing.T) {
	q := newEvictingQueue(3)
	var evicted []byte
	for i := range 200 {
		if old, ok := q.push(request{body: []byte{byte(i)}}); ok {
			evicted = append(evicted, old.body[0])
		}
	}
	if len(evicted) != 197 || evicted[0] != 0 || evicted[196] != 196 || q.len() != 3 {
		t.Fatalf("evicted %d, len %d", len(evicted), q.len())
	}
	for i := 197; i < 200; i++ {
		if r, ok := q.pop(); !ok || r.body[0] != byte(i) {
			t.Fatalf("pop %v %v", r, ok)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop from empty queue")
	}
}

func TestInvalidUTF8(t *testing.T) {
	pd := testData()
	pd.Dimensions = dims("cluster", "c\xff", "service", "s1")
	pd.Metrics = pd.Metrics[:1]
	pd.Metrics[0].Name = []byte("bad\xc3")
	var e encoder
	if err := e.prepare(pd); err != nil {
		t.Fatal(err)
	}
	f, _ := readFrame(t, e.encodeMetrics(nil, pd.Metrics, 0, nil))
	d := decodeRecord(t, f.payload) // the runtime checks UTF-8
	if d.cluster != "c\uFFFD" || d.metric != "bad\uFFFD" || d.dims["cluster"] != "c\uFFFD" {
		t.Errorf("%+v", d)
	}
}

// TestOneRecordPerName: a name reported as two types in one bucket (two
// metrics of the bucket: the shard keys series by type) is one record with
// both types' statistics, as MAD sends one StatisticSetRecord per name
// (MAD-SPEC §9.3); its population is the histogram's.
func TestOneRecordPerName(t *testing.T) {
	st := func(s hist.Stat, v float64) sinks.Statistic {
		return sinks.Statistic{Stat: s, Value: v, HasValue: true}
	}
	pd := &sinks.PeriodicData{Period: time.Second, Start: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		Dimensions: dims("cluster", "c", "host", "h", "service", "s"),
		Metrics: []sinks.Metric{
			{Name: []byte("x"), Type: "counter", PopulationSize: 2, Statistics: []sinks.Statistic{st(hist.Count, 2), st(hist.Sum, 3)}},
			{Name: []byte("y"), Type: "timer", PopulationSize: 1, Statistics: []sinks.Statistic{st(hist.Count, 1)}},
			{Name: []byte("x"), Type: "timer", PopulationSize: 4, Statistics: []sinks.Statistic{st(hist.Count, 4), st(hist.Histogram, 1)},
				Histogram: []hist.Bucket{{Key: hist.Pack(1), Count: 4}}},
		}}
	var e encoder
	var c counters
	reqs, ok := encodeBucket(&e, &c, throttle.NewLog(slog.New(slog.DiscardHandler), time.Second), "cagg", pd)
	if !ok || len(reqs) != 2 {
		t.Fatalf("%d records; want 2 (x and y)", len(reqs))
	}
	want := []struct {
		metric     string
		stats      []string
		population int64
	}{{"x", []string{"count", "sum", "count", "histogram"}, 4}, {"y", []string{"count"}, 1}}
	for i, r := range reqs {
		f, _ := readFrame(t, r.body)
		m := unmarshal(t, msgs.StatisticSet, f.payload)
		fs := msgs.StatisticSet.Fields()
		var stats []string
		list := m.Get(fs.ByName("statistics")).List()
		for j := range list.Len() {
			stats = append(stats, list.Get(j).Message().Get(msgs.Statistic.Fields().ByName("statistic")).String())
		}
		if metric := m.Get(fs.ByName("metric")).String(); metric != want[i].metric || !slices.Equal(stats, want[i].stats) || r.population != want[i].population {
			t.Errorf("record %d: %s %v population %d; want %s %v %d", i, metric, stats, r.population, want[i].metric, want[i].stats, want[i].population)
		}
	}
}
