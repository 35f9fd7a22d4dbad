package sinks

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/internal/selfmetric"
)

type capture struct{ pds []PeriodicData }

func (c *capture) Record(pd *PeriodicData) {
	cp := *pd
	cp.Dimensions = append([]Dimension(nil), pd.Dimensions...)
	c.pds = append(c.pds, cp)
}
func (c *capture) Close() error { return nil }

func dims(kv ...string) []Dimension {
	var out []Dimension
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Dimension{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

func dimMap(ds []Dimension) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[string(d.Key)] = string(d.Value)
	}
	return m
}

func TestDimensionInjectingSink(t *testing.T) {
	c := &capture{}
	s := &DimensionInjectingSink{Sink: c, DefaultDimensions: dims("cluster", "default", "service", "svc"), OverrideDimensions: dims("host", "forced")}
	s.Record(&PeriodicData{Period: time.Second, Dimensions: dims("cluster", "mine", "host", "h1")})
	got := c.pds[0].Dimensions
	want := map[string]string{"cluster": "mine", "service": "svc", "host": "forced"}
	if m := dimMap(got); len(m) != 3 || m["cluster"] != want["cluster"] || m["service"] != want["service"] || m["host"] != want["host"] {
		t.Errorf("dimensions %v, want %v", m, want)
	}
	for i := 1; i < len(got); i++ {
		if string(got[i-1].Key) >= string(got[i].Key) {
			t.Errorf("dimensions not sorted: %v", dimMap(got))
		}
	}
	r := &recorder{}
	(&DimensionInjectingSink{Sink: r}).Close()
	if !r.closed {
		t.Error("Close must close the wrapped sink (MAD's leaves it open and loses what it batches)")
	}
}

// TestDimensionInjectingSinkPlainMark: a bucket whose own dimensions are
// marked plain JSON text (the emitter's mark) keeps the mark only when the
// injected dimensions are plain too; a JSON writer copies marked text as
// it is, so an injected quote under the mark would break its line.
func TestDimensionInjectingSinkPlainMark(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inject   []Dimension
		override bool
		marked   bool
		want     bool
	}{
		{"plain injected, marked bucket", dims("service", "svc"), false, true, true},
		{"plain override, marked bucket", dims("host", "forced"), true, true, true},
		{"quote injected", dims("note", `a"b`), false, true, false},
		{"backslash in an override key", dims(`k\`, "v"), true, true, false},
		{"control injected", dims("note", "a\tb"), false, true, false},
		{"invalid UTF-8 injected", dims("note", "\xff"), false, true, false},
		{"unmarked bucket", dims("service", "svc"), false, false, false},
	} {
		c := &capture{}
		s := &DimensionInjectingSink{Sink: c}
		if tc.override {
			s.OverrideDimensions = tc.inject
		} else {
			s.DefaultDimensions = tc.inject
		}
		for range 2 { // the answer is worked out once, then kept
			s.Record(&PeriodicData{Period: time.Second, Dimensions: dims("host", "h1"), PlainDimensions: tc.marked})
		}
		for i, pd := range c.pds {
			if pd.PlainDimensions != tc.want {
				t.Errorf("%s: bucket %d forwarded marked %v; want %v", tc.name, i, pd.PlainDimensions, tc.want)
			}
		}
	}
}

func TestTimeThresholdSink(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := &capture{}
	s := &TimeThresholdSink{Sink: c, Threshold: time.Minute, ExcludedServices: []string{"batch"}, Now: func() time.Time { return now }}
	onTime := &PeriodicData{Period: time.Minute, Start: now.Add(-90 * time.Second)} // ends 30 s ago, +1 min > now
	late := &PeriodicData{Period: time.Minute, Start: now.Add(-2 * time.Minute)}    // end + 1 min == now: not after
	excluded := &PeriodicData{Period: time.Minute, Start: now.Add(-time.Hour), Dimensions: dims("service", "batch")}
	s.Record(onTime)
	s.Record(late)
	s.Record(excluded)
	if len(c.pds) != 2 || c.pds[0].Start != onTime.Start || c.pds[1].Start != excluded.Start {
		t.Errorf("forwarded %d buckets", len(c.pds))
	}
	if dropped := reported(s, "mad_sink_dropped_total"); dropped != 1 {
		t.Errorf("dropped %v; want 1", dropped)
	}
	// A late bucket of many metrics, in three parts: dropped whole,
	// counted once.
	for part := range 3 {
		p := *late
		p.Part = part
		s.Record(&p)
	}
	if dropped := reported(s, "mad_sink_dropped_total"); dropped != 2 || len(c.pds) != 2 {
		t.Errorf("a late bucket in 3 parts: dropped %v in all, %d forwarded; want 2 and 2", dropped, len(c.pds))
	}
	// A bucket is decided at its first part: one forwarded goes whole,
	// though its later parts come after the threshold passed (a slow sink
	// before this one held the emitter), and so does one dropped, though
	// the clock stepped back before its later parts.
	edge := &PeriodicData{Period: time.Minute, Start: now.Add(-2*time.Minute + time.Millisecond)}
	for part := range 3 {
		p := *edge
		p.Part = part
		s.Record(&p)
		now = now.Add(time.Second)
	}
	if dropped := reported(s, "mad_sink_dropped_total"); dropped != 2 || len(c.pds) != 5 {
		t.Errorf("a bucket on time at its first part: dropped %v in all, %d forwarded; want 2 and 5", dropped, len(c.pds))
	}
	for part := range 3 {
		p := *late
		p.Part = part
		s.Record(&p)
		now = now.Add(-time.Hour)
	}
	now = now.Add(3 * time.Hour)
	if dropped := reported(s, "mad_sink_dropped_total"); dropped != 3 || len(c.pds) != 5 {
		t.Errorf("a bucket late at its first part: dropped %v in all, %d forwarded; want 3 and 5", dropped, len(c.pds))
	}
	s.LogOnly = true
	s.Record(late)
	if len(c.pds) != 6 {
		t.Error("LogOnly must forward late buckets")
	}
}

func TestMetricSeriesLoggingSink(t *testing.T) {
	dir := t.TempDir()
	s := NewMetricSeriesLoggingSink("series", dir, "", nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := []Metric{{Name: []byte("latency")}, {Name: []byte("errors")}}
	s.Record(&PeriodicData{Start: t0, Dimensions: dims("host", "a"), Metrics: m})
	s.Record(&PeriodicData{Start: t0, Dimensions: dims("host", "b"), Metrics: m[:1]})
	s.Record(&PeriodicData{Start: t0, Dimensions: dims("host", "a"), Metrics: m[:1]}) // seen already
	s.Record(&PeriodicData{Start: t0.Add(time.Second), Dimensions: dims("host", "c"), Metrics: m[1:]})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Close())
	b, err := os.ReadFile(filepath.Join(dir, "metrics_streams.json"))
	must(err)
	var got map[string][]map[string]string
	must(json.Unmarshal(b, &got))
	// The last file is what Close wrote: the second start's series.
	if len(got) != 1 || len(got["errors"]) != 1 || got["errors"][0]["host"] != "c" {
		t.Errorf("last file %s", b)
	}
	if w, _, _ := s.Stats(); w != 2 {
		t.Errorf("%d files written, want 2", w)
	}
}

// reported returns the value of family name that r reports.
func reported(r selfmetric.Reporter, name string) float64 {
	var v float64
	r.Report(func(x selfmetric.Value) {
		if x.Name == name {
			v = x.V
		}
	})
	return v
}

// TestMetricSeriesLoggingSinkLogsFailuresThrottled: every failed write is
// counted, and logged once per interval, not once per period.
func TestMetricSeriesLoggingSinkLogsFailuresThrottled(t *testing.T) {
	var logs bytes.Buffer
	dir := filepath.Join(t.TempDir(), "missing") // the writes fail
	s := NewMetricSeriesLoggingSink("series", dir, "", slog.New(slog.NewTextHandler(&logs, nil)))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		s.Record(&PeriodicData{Start: t0.Add(time.Duration(i) * time.Second), Dimensions: dims("host", "a"),
			Metrics: []Metric{{Name: []byte("m")}}})
		for w, d, e := s.Stats(); w+d+e < uint64(i); w, d, e = s.Stats() {
			time.Sleep(time.Millisecond) // the previous write settles: none is dropped for running
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if w, d, e := s.Stats(); w != 0 || d != 0 || e != 4 {
		t.Fatalf("written %d, dropped %d, errors %d; want 0, 0, 4", w, d, e)
	}
	if n := strings.Count(logs.String(), "metric series log: cannot write"); n != 1 {
		t.Errorf("%d warnings in %q; want one", n, logs.String())
	}
}

// TestCloseTwice: closing a sink a second time does nothing (a tree a
// reload retired may be closed again on a path that cannot tell): it
// panicked on a closed channel in the sinks with a goroutine of their own.
func TestCloseTwice(t *testing.T) {
	for _, s := range []Sink{
		NewPeriodicStatisticsSink(PeriodicStatisticsConfig{Name: "stats"}),
		NewMetricSeriesLoggingSink("series", t.TempDir(), "", nil),
	} {
		for range 2 {
			if err := s.Close(); err != nil {
				t.Errorf("%T: %v", s, err)
			}
		}
	}
}
