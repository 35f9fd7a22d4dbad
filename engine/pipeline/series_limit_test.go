package pipeline

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/throttle"
	"github.com/gomad/mad/shard"
)

// TestSeriesLimitShares: the pipeline's limit is split across its shards,
// adding up to it, each at least 1 and at most what a shard can address.
func TestSeriesLimitShares(t *testing.T) {
	for _, tc := range []struct {
		limit, shards int
		want          []int
	}{
		{10, 1, []int{10}},
		{10, 2, []int{5, 5}},
		{10, 3, []int{4, 3, 3}},
		{1, 2, []int{1, 1}},
		{3 * shard.MaxSeriesLimit, 2, []int{shard.MaxSeriesLimit, shard.MaxSeriesLimit}},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.limit, tc.shards), func(t *testing.T) {
			c := Config{MaxSeries: tc.limit, Shards: tc.shards}
			c.EnsureDefaults()
			var got []int
			for i := range tc.shards {
				got = append(got, c.shardConfig(i).MaxSeries)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("shares %v; want %v", got, tc.want)
			}
		})
	}
}

// TestDefaultMaxSeries: half the memory over 256 + 192 bytes a period, at
// least 1, at most MaxPipelineSeries; a pipeline without maxSeries gets it.
func TestDefaultMaxSeries(t *testing.T) {
	for _, tc := range []struct {
		mem     int64
		periods int
		want    int
	}{
		{24 << 30, 2, 20_132_659}, // 12 GiB / 640 B
		{24 << 30, 5, 10_596_136}, // 12 GiB / 1,216 B
		{1 << 30, 0, 1_198_372},   // 512 MiB / 448 B (at least one period)
		{100, 2, 1},
		{1 << 50, 2, MaxPipelineSeries},
	} {
		if got := defaultMaxSeries(tc.mem, tc.periods); got != tc.want {
			t.Errorf("defaultMaxSeries(%d, %d) = %d; want %d", tc.mem, tc.periods, got, tc.want)
		}
	}
	c := Config{}
	c.EnsureDefaults()
	if want := defaultMaxSeries(usableMemory(), 2); c.MaxSeries != want || want < 1 {
		t.Errorf("default MaxSeries %d; want %d", c.MaxSeries, want)
	}
}

// TestSeriesLimitLogThrottled: refusals at the series limit are logged at
// most once per throttle.Every, each line with the refusals since the last,
// and not at all while none are new.
func TestSeriesLimitLogThrottled(t *testing.T) {
	s, l, buf := newLimitLog(t, shard.Config{Periods: []time.Duration{time.Second}, MaxSeries: 2}, 2)
	series := 0
	send := func(n int) {
		var b sample.Batch
		for range n {
			addSample(&b, sample.KindCounter, fmt.Sprintf("s%d", series), t0+100, 0, 1, sample.UnitNone)
			series++
		}
		s.Apply(&b, t0+200)
		s.Tick(t0 + 300) // publishes the counters
	}
	now := time.Unix(1000, 0)
	lines := func() []string { return strings.Split(strings.TrimSpace(buf.String()), "\n") }
	for _, step := range []struct {
		send  int
		after time.Duration
		want  string // the last line's refusals; "" for no new line
	}{
		{2, 0, ""},                          // within the limit
		{5, 0, "refused=5 refused_total=5"}, // refused: logged at once
		{4, time.Second, ""},                // throttled
		{0, throttle.Every, "refused=4 refused_total=9"},
		{0, 2 * throttle.Every, ""}, // nothing new
		{1, 3 * throttle.Every, "refused=1 refused_total=10"},
	} {
		before := len(lines())
		if buf.Len() == 0 {
			before = 0
		}
		send(step.send)
		l.check(now.Add(step.after))
		got := lines()
		if buf.Len() == 0 {
			got = nil
		}
		if step.want == "" {
			if len(got) != before {
				t.Fatalf("after %v: logged %q; want nothing new", step.after, got[len(got)-1])
			}
			continue
		}
		if len(got) != before+1 || !strings.Contains(got[len(got)-1], step.want) || !strings.Contains(got[len(got)-1], "max_series=2 series=2") {
			t.Fatalf("after %v: log %q; want one new line with %q", step.after, got, step.want)
		}
	}
}

// TestKeySpaceLogThrottled: refusals of a full key pool are logged on
// lines of their own, throttled, with the refusals since the last line.
func TestKeySpaceLogThrottled(t *testing.T) {
	s, l, buf := newLimitLog(t, shard.Config{Periods: []time.Duration{time.Second}, KeyPoolChunks: 1}, 1<<20)
	long := strings.Repeat("v", 200) // a slot class the pool's one chunk is not for
	series := 0
	send := func(n int) {
		var b sample.Batch
		for range n {
			addSample(&b, sample.KindCounter, "m", t0+100, 0, 1, sample.UnitNone, "host", fmt.Sprintf("%s%d", long, series))
			series++
		}
		s.Apply(&b, t0+200)
		s.Tick(t0 + 300) // publishes the counters
	}
	now := time.Unix(1000, 0)
	send(3)
	l.check(now)
	send(2)
	l.check(now.Add(time.Second)) // throttled
	l.check(now.Add(throttle.Every))
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != 2 || !strings.Contains(got[0], "key pool is full") || !strings.Contains(got[0], "refused=3 refused_total=3") ||
		!strings.Contains(got[1], "refused=2 refused_total=5") || strings.Contains(buf.String(), "series limit") {
		t.Fatalf("logged %q", got)
	}
}

// TestHistogramSpaceLogged: refusals of full histograms are logged on a
// line of their own.
func TestHistogramSpaceLogged(t *testing.T) {
	s, l, buf := newLimitLog(t, shard.Config{Periods: []time.Duration{time.Second}, HistChunks: 6}, 1<<20)
	var b sample.Batch
	for i := range 20_000 {
		addSample(&b, sample.KindTimer, "t", t0+100, 0, float64(i)*1.37, sample.UnitNone)
	}
	s.Apply(&b, t0+200)
	s.Tick(t0 + 300) // publishes the counters
	l.check(time.Unix(1000, 0))
	refused := s.Stats().Refused[shard.RefusedHistogramSpace]
	if out := buf.String(); refused == 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "histograms are full") ||
		!strings.Contains(out, fmt.Sprintf("refused=%d refused_total=%d", refused, refused)) {
		t.Fatalf("%d refused; logged %q", refused, out)
	}
}

// newLimitLog returns a shard of cfg and a limitLog of it (limit: the
// pipeline's MaxSeries) writing to the returned buffer.
func newLimitLog(t *testing.T, cfg shard.Config, limit int64) (*shard.Shard, *limitLog, *bytes.Buffer) {
	t.Helper()
	s, err := shard.New(0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	buf := new(bytes.Buffer)
	l := &limitLog{pipeline: "p", log: slog.New(slog.NewTextHandler(buf, nil)), shards: []*shard.Shard{s}}
	l.limit.Store(limit)
	return s, l, buf
}
