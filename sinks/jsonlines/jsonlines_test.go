package jsonlines

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/jsonstr"
	"github.com/gomad/mad/sinks"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func testPD() *sinks.PeriodicData {
	return &sinks.PeriodicData{
		Period:     time.Second,
		Start:      time.UnixMilli(1_700_000_001_000).UTC(),
		Dimensions: []sinks.Dimension{{Key: []byte("host"), Value: []byte("a\"b")}, {Key: []byte("ünï"), Value: []byte("\x01\xff")}},
		Metrics: []sinks.Metric{
			{Name: []byte("api.latency"), Type: "timer", Unit: "SECOND", PopulationSize: 3, Statistics: []sinks.Statistic{
				{Stat: hist.Count, Value: 3, HasValue: true, Specified: true},
				{Stat: hist.Mean, Value: 0.2, HasValue: true, Unit: "SECOND", Specified: true},
				{Stat: hist.TP99, Value: 1e-9, HasValue: true, Unit: "SECOND"},
				{Stat: hist.Sum, Value: math.Inf(1), HasValue: true},
				{Stat: hist.Min, HasValue: false},
			}},
			{Name: []byte("c"), Type: "counter", PopulationSize: 1, Statistics: []sinks.Statistic{{Stat: hist.Count, Value: 1, HasValue: true}}},
		},
	}
}

func TestAppendLineIsValidJSON(t *testing.T) {
	pd := testPD()
	line := AppendLine(nil, pd, &pd.Metrics[0])
	if line[len(line)-1] != '\n' {
		t.Fatal("line must end in a newline")
	}
	var got struct {
		Period         string              `json:"period"`
		Start          string              `json:"start"`
		Dimensions     map[string]string   `json:"dimensions"`
		Metric         string              `json:"metric"`
		Type           string              `json:"type"`
		Unit           string              `json:"unit"`
		PopulationSize int64               `json:"populationSize"`
		Statistics     map[string]*float64 `json:"statistics"`
	}
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if got.Period != "PT1S" || got.Start != "2023-11-14T22:13:21Z" || got.Metric != "api.latency" || got.Type != "timer" ||
		got.Unit != "SECOND" || got.PopulationSize != 3 || got.Dimensions["host"] != `a"b` || got.Dimensions["ünï"] != "\x01\ufffd" {
		t.Fatalf("decoded %+v from %s", got, line)
	}
	if *got.Statistics["count"] != 3 || *got.Statistics["mean"] != 0.2 || *got.Statistics["tp99"] != 1e-9 ||
		got.Statistics["sum"] != nil || got.Statistics["min"] != nil {
		t.Fatalf("statistics %s", line)
	}
}

func TestSinkWritesEveryMetric(t *testing.T) {
	var out syncBuffer
	s := NewWriter("json", &out)
	for i := 0; i < 1000; i++ {
		s.Record(testPD())
	}
	s.Record(&sinks.PeriodicData{Period: time.Second}) // an empty bucket writes nothing
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(out.b.String(), "\n")
	written, dropped, errs := s.Stats()
	if lines != 2000 || written != 2000 || dropped != 0 || errs != 0 {
		t.Fatalf("%d lines, stats %d %d %d; want 2000 written", lines, written, dropped, errs)
	}
	s.Record(testPD()) // after Close: ignored, no panic
}

// TestSinkLinesAreAppendLines records buckets of one metric (whose prefix
// is written straight into the line) and of several (copied from the
// sink's prefix), at two starts and two periods, and checks the output
// against AppendLine's.
func TestSinkLinesAreAppendLines(t *testing.T) {
	var out syncBuffer
	s := NewWriter("json", &out)
	var want []byte
	for i := range 16 {
		// From one bucket to the next the start changes, or the period,
		// or both; buckets have one metric or several.
		pd := testPD()
		pd.Start = pd.Start.Add(time.Duration(i/2) * time.Second)
		if i/3%2 == 1 {
			pd.Period = time.Minute
		}
		if i/2%2 == 1 {
			pd.Metrics = pd.Metrics[i%2 : i%2+1]
		}
		s.Record(pd)
		for j := range pd.Metrics {
			want = AppendLine(want, pd, &pd.Metrics[j])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.b.String(); got != string(want) {
		t.Fatalf("the sink wrote\n%s\nwant\n%s", got, want)
	}
}

// TestPlainMarksWriteTheSameLines: a bucket whose names and dimensions are
// marked plain JSON text (copied as they are) is written as it is without
// the marks (every byte checked), through Record and AppendLine.
func TestPlainMarksWriteTheSameLines(t *testing.T) {
	pd := testPD()
	pd.Dimensions = []sinks.Dimension{{Key: []byte("host"), Value: []byte("web-01")}, {Key: []byte("ünï"), Value: []byte("€ café / <x>")}}
	var want []byte
	for i := range pd.Metrics {
		want = AppendLine(want, pd, &pd.Metrics[i])
	}
	pd.PlainDimensions = true
	for i := range pd.Metrics {
		pd.Metrics[i].PlainName = true
	}
	var out syncBuffer
	s := NewWriter("json", &out)
	s.Record(pd)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var marked []byte
	for i := range pd.Metrics {
		marked = AppendLine(marked, pd, &pd.Metrics[i])
	}
	if got := out.b.String(); got != string(want) || string(marked) != string(want) {
		t.Fatalf("with the marks, the sink wrote\n%s\nand AppendLine\n%s\nwant\n%s", got, marked, want)
	}
}

// TestInjectedDimensionsEscapedUnderTheMark: a DimensionInjectingSink in
// front of the sink injects a value holding a quote and a backslash into a
// bucket whose own dimensions are marked plain; every line is valid JSON
// and carries the value as it was.
func TestInjectedDimensionsEscapedUnderTheMark(t *testing.T) {
	pd := testPD()
	pd.PlainDimensions = true
	var out syncBuffer
	s := &sinks.DimensionInjectingSink{Sink: NewWriter("json", &out),
		DefaultDimensions: []sinks.Dimension{{Key: []byte("note"), Value: []byte(`say "hi" \ bye`)}}}
	s.Record(pd)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.b.String(), "\n"), "\n")
	if len(lines) != len(pd.Metrics) {
		t.Fatalf("%d lines; want %d", len(lines), len(pd.Metrics))
	}
	for _, l := range lines {
		var v struct{ Dimensions map[string]string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, l)
		}
		if v.Dimensions["note"] != `say "hi" \ bye` {
			t.Fatalf("note = %q; want %q", v.Dimensions["note"], `say "hi" \ bye`)
		}
	}
}

type blocked struct{ release chan struct{} }

func (b *blocked) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

func TestFullQueueDropsAndCounts(t *testing.T) {
	w := &blocked{release: make(chan struct{})}
	var logs syncBuffer
	s, err := New(Config{Name: "json", Writer: w, QueueChunks: 2, Block: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3000; i++ {
		s.Record(testPD()) // waits at most Block per chunk for the stuck writer
	}
	close(w.release)
	s.Close()
	written, dropped, _ := s.Stats()
	if written+dropped != 6000 || dropped == 0 {
		t.Fatalf("written %d + dropped %d; want 6000 with some dropped", written, dropped)
	}
	if n := strings.Count(logs.String(), "jsonlines: output too slow, lines dropped"); n != 1 {
		t.Errorf("%d warnings in %q; want one (throttled)", n, logs.String())
	}
}

type slow struct {
	mu sync.Mutex
	n  int
}

func (w *slow) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	w.mu.Lock()
	w.n += bytes.Count(p, []byte("\n"))
	w.mu.Unlock()
	return len(p), nil
}

// TestSlowWriterLosesNothing: a burst far larger than the queue reaches a
// slow (but moving) output whole: Record waits for room instead of
// dropping.
func TestSlowWriterLosesNothing(t *testing.T) {
	w := &slow{}
	s, err := New(Config{Name: "json", Writer: w, QueueChunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3000; i++ {
		s.Record(testPD())
	}
	s.Flush()
	s.Close()
	written, dropped, _ := s.Stats()
	if written != 6000 || dropped != 0 || w.n != 6000 {
		t.Fatalf("written %d, dropped %d, output %d lines; want 6000, 0, 6000", written, dropped, w.n)
	}
}

// TestAppendNumberMatchesFloatFormatting: appendNumber, its integer fast
// path among it, prints what encoding/json prints (1e-7, not 1e-07).
func TestAppendNumberMatchesFloatFormatting(t *testing.T) {
	ref := func(v float64) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 7, 1e14, 1e15 - 1, 1e15, -1e15 + 1, -1e15, 123456789012345, 0.5, -2.25, 1e-7, 2.5e-9, 1e-100, 1e21, 1.5e300, 4503599627370496, 9007199254740993,
		-9223372036854775808, 9223372036854775808, -1.5e19, math.MaxFloat64, -math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1)}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		vals = append(vals, float64(r.Int64N(1<<50)-1<<49), math.Float64frombits(r.Uint64()), float64(r.IntN(2000))/4)
	}
	for _, v := range vals {
		// A number without a value is null, whatever the number.
		if got := string(appendNumber(nil, v, false)); got != "null" {
			t.Fatalf("appendNumber(%v, false) = %s; want null", v, got)
		}
		want := "null" // NaN and the infinities, which encoding/json refuses
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			want = ref(v)
		}
		if got := string(appendNumber(nil, v, true)); got != want {
			t.Fatalf("appendNumber(%v) = %s; want %s", v, got, want)
		}
	}
}

// TestFailedWritesCountNothingWritten: on a full device and on a pipe
// whose reader went away, no line is counted written: every line is
// dropped, and the write errors are counted and returned by Close.
func TestFailedWritesCountNothingWritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) Config
	}{
		{"dev-full", func(t *testing.T) Config {
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skipf("no /dev/full: %v", err)
			}
			return Config{Path: "/dev/full"}
		}},
		{"closed-pipe", func(t *testing.T) Config {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			t.Cleanup(func() { w.Close() })
			return Config{Writer: w}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			cfg.Name = "json"
			cfg.Log = discard()
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for range 100 {
				s.Record(testPD())
			}
			s.Flush()
			if err := s.Close(); err == nil {
				t.Error("Close: no error")
			}
			written, dropped, errs := s.Stats()
			if written != 0 || dropped != 200 || errs == 0 {
				t.Fatalf("written %d, dropped %d, errors %d; want 0, 200, > 0", written, dropped, errs)
			}
		})
	}
}

// tearing accepts the first cut bytes of its first write and fails, then
// takes everything.
type tearing struct {
	cut    int
	failed bool
	out    bytes.Buffer
}

func (w *tearing) Write(p []byte) (int, error) {
	if !w.failed {
		w.failed = true
		n := min(w.cut, len(p))
		w.out.Write(p[:n])
		return n, errors.New("disk full")
	}
	return w.out.Write(p)
}

// TestTornWriteCountsWholeLines: a write that fails after part of a chunk
// counts the lines it completed as written, the rest as dropped, and the
// next write first ends the torn line, so that every later line parses.
func TestTornWriteCountsWholeLines(t *testing.T) {
	pd := testPD()
	line0 := AppendLine(nil, pd, &pd.Metrics[0])
	w := &tearing{cut: len(line0) + 10} // line 0 whole, 10 bytes of line 1
	s, err := New(Config{Name: "json", Writer: w, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	s.Record(pd)
	s.Flush() // 2 lines: the torn write
	s.Record(pd)
	s.Close() // 2 more, after the torn line's end
	written, dropped, errs := s.Stats()
	if written != 3 || dropped != 1 || errs != 1 {
		t.Fatalf("written %d, dropped %d, errors %d; want 3, 1, 1", written, dropped, errs)
	}
	lines := strings.Split(strings.TrimSuffix(w.out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %q", len(lines), w.out.String())
	}
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), new(map[string]any)); (err == nil) != (i != 1) {
			t.Errorf("line %d %q: %v", i, l, err)
		}
	}
}

// TestWriteErrorsAreLoggedWhileRunning: a failed write is logged when it
// happens, not at Close, and throttled: a second failure within the
// interval writes no second line.
func TestWriteErrorsAreLoggedWhileRunning(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	var logs syncBuffer
	s, err := New(Config{Name: "json", Writer: w, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for round := uint64(1); round <= 2; round++ {
		s.Record(testPD())
		s.Flush()
		waitFor(t, func() bool { _, _, e := s.Stats(); return e >= round })
	}
	got := logs.String()
	if n := strings.Count(got, "jsonlines: cannot write"); n != 1 || !strings.Contains(got, "sink=json") ||
		!strings.Contains(got, "broken pipe") || !strings.Contains(got, "lines=2") {
		t.Fatalf("%d warnings in %q; want one naming the sink, its error and its lines", n, got)
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitFor waits until ok holds, failing the test after a minute.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestAppendLineTypesAndStatistics decodes lines of every metric type the
// emitter writes and one it does not, with the statistics in several
// orders (the first one written without a comma before it), one of them
// not a statistic the sink knows, and with none, and checks what
// encoding/json reads back.
func TestAppendLineTypesAndStatistics(t *testing.T) {
	stats := []sinks.Statistic{
		{Stat: hist.TP90, Value: 7, HasValue: true},
		{Stat: hist.Count, Value: 2, HasValue: true},
		{Stat: hist.Max, Value: 1.5, HasValue: true},
		{Stat: hist.NumStats + 3, Value: 4, HasValue: true},
	}
	unknown := fmt.Sprintf("Stat(%d)", hist.NumStats+3)
	for _, typ := range []string{"counter", "gauge", "timer", "set", "", "other \"type\""} {
		for first := range stats {
			ss := append(slices.Clone(stats[first:]), stats[:first]...)
			pd := &sinks.PeriodicData{Period: time.Minute, Start: time.UnixMilli(0).UTC(), Metrics: []sinks.Metric{
				{Name: []byte("m"), Type: typ, Unit: "BYTE", PopulationSize: 9, Statistics: ss},
			}}
			line := AppendLine(nil, pd, &pd.Metrics[0])
			var got struct {
				Type           string             `json:"type"`
				Unit           string             `json:"unit"`
				PopulationSize int64              `json:"populationSize"`
				Statistics     map[string]float64 `json:"statistics"`
			}
			if typ == "other \"type\"" {
				// Written as given, as before: not one of MAD's types, and
				// not valid JSON if it needs escaping. Only the emitter's
				// types reach the sink.
				if !bytes.Contains(line, []byte(`"type":"other "type"","unit":"BYTE"`)) {
					t.Fatalf("%s", line)
				}
				continue
			}
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if got.Type != typ || got.Unit != "BYTE" || got.PopulationSize != 9 || len(got.Statistics) != 4 ||
				got.Statistics["tp90"] != 7 || got.Statistics["count"] != 2 || got.Statistics["max"] != 1.5 || got.Statistics[unknown] != 4 {
				t.Fatalf("decoded %+v from %s", got, line)
			}
		}
	}
	pd := &sinks.PeriodicData{Period: time.Minute, Start: time.UnixMilli(0).UTC(), Metrics: []sinks.Metric{{Name: []byte("m"), Type: "gauge"}}}
	if line := AppendLine(nil, pd, &pd.Metrics[0]); !bytes.HasSuffix(line, []byte(`,"statistics":{}}`+"\n")) || !json.Valid(line) {
		t.Fatalf("a metric without statistics: %s", line)
	}
}

// TestFloatCacheWritesAsAppendNumber: the cache of percentiles' text writes
// every number as appendNumber does, on a miss and on a hit, for numbers
// of every kind (fractions, whole numbers, huge and tiny ones, -0, NaN,
// infinities, random bits) and for many numbers sharing a slot, and keeps
// what it wrote.
func TestFloatCacheWritesAsAppendNumber(t *testing.T) {
	c := new(floatCache)
	r := rand.New(rand.NewPCG(7, 11))
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 12.345, 99.999, 1e-7, 1e21, 1e300, -2.5e-300,
		math.SmallestNonzeroFloat64, math.MaxFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 123456789012345.6}
	for range 20000 {
		switch r.IntN(3) {
		case 0:
			vals = append(vals, math.Float64frombits(r.Uint64()))
		case 1:
			vals = append(vals, float64(r.IntN(100000))/1000)
		default:
			vals = append(vals, r.NormFloat64()*math.Pow(10, float64(r.IntN(40)-20)))
		}
	}
	// Numbers of one slot, which replace each other.
	slot := func(v float64) uint64 { return math.Float64bits(v) * 0x9E3779B97F4A7C15 >> (64 - floatCacheBits) }
	var same []float64
	for v := 0.001; len(same) < 8; v += 0.001 {
		if slot(v) == slot(12.345) {
			same = append(same, v)
		}
	}
	for range 3 {
		vals = append(vals, same...)
	}
	for pass := range 2 {
		for _, v := range vals {
			want := string(appendNumber(nil, v, true))
			got := string(c.append([]byte("x"), v))
			if got != "x"+want {
				t.Fatalf("pass %d, %v (bits %#x): %q, want %q", pass, v, math.Float64bits(v), got[1:], want)
			}
			sl := &c.slots[slot(v)]
			if len(want) <= len(sl.text) && (sl.bits != math.Float64bits(v) || string(sl.text[:sl.n]) != want) {
				t.Fatalf("%v: the slot holds %#x %q after writing it", v, sl.bits, sl.text[:sl.n])
			}
		}
	}
}

// TestKindCacheWritesAsAppendKind: the cache of a line's type and unit text
// writes what appendKind writes, on a miss and on a hit, for the emitter's
// types and units, for equal strings at other addresses, for strings that
// are prefixes of another at the same address, and for pairs that share a
// slot, in a random order.
func TestKindCacheWritesAsAppendKind(t *testing.T) {
	c := new(kindCache)
	types := []string{"counter", "gauge", "timer", "set", "", strings.Clone("counter"), strings.Clone("timer")}
	// Strings at one address whose lengths differ by the slot count.
	long, longUnit := "timer-timer-timer", "SECOND-SECOND"
	units := []string{"", "SECOND", "MILLISECOND", "BYTE", "KELVIN", "MINUTE", strings.Clone("SECOND"), longUnit[:5], longUnit[:13]}
	types = append(types, long[:1], long[:9], long[:17])
	r := rand.New(rand.NewPCG(3, 5))
	for i := range 20000 {
		typ, unit := types[r.IntN(len(types))], units[r.IntN(len(units))]
		switch i % 50 {
		case 0:
			typ = strings.Clone(typ) // a new address: a miss
		case 25:
			unit = strings.Clone(unit)
		}
		want := string(appendKind(nil, typ, unit))
		if got := string(c.of(typ, unit)); got != want {
			t.Fatalf("of(%q, %q) = %s, want %s", typ, unit, got, want)
		}
	}
}

// TestRandomBucketsReadBackAsGiven writes random buckets through the sink
// (its type and unit cache, its padded keys, its percentiles' cache) and
// checks its output twice: byte for byte against AppendLine's (plain
// appends, no cache), and read back by encoding/json against the buckets
// themselves: dimensions, names (marked plain only when they are), types,
// units, population sizes, and every statistic's value (null without one
// or when not finite), for statistics in random orders, unknown ones
// among them, and numbers of every kind.
func TestRandomBucketsReadBackAsGiven(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 19))
	text := func() []byte {
		const alphabet = "abcXYZ019._-/ \"\\é\x01"
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		if !utf8.Valid(b) {
			b = []byte(strings.ToValidUTF8(string(b), "?"))
		}
		return b
	}
	number := func() float64 {
		switch r.IntN(8) {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1 - 2*r.IntN(2))
		case 2:
			return math.Copysign(0, -1)
		case 3:
			return float64(r.Int64N(1<<53) - 1<<52)
		case 4:
			return float64(r.IntN(100000)) / 1000 // a percentile's bucket, recurring
		default:
			return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		}
	}
	types := []string{"counter", "gauge", "timer", "set", ""}
	units := []string{"", "SECOND", "MILLISECOND", "BYTE", "KELVIN", "MINUTE"}
	var out syncBuffer
	s := NewWriter("json", &out)
	var want []byte
	var buckets []*sinks.PeriodicData
	for range 3000 {
		pd := &sinks.PeriodicData{Period: time.Duration(1+r.IntN(3)) * time.Second, Start: time.UnixMilli(1_700_000_000_000 + int64(r.IntN(3))*1000).UTC()}
		seen := map[string]bool{}
		for range r.IntN(4) {
			k := text()
			if seen[string(k)] {
				continue
			}
			seen[string(k)] = true
			pd.Dimensions = append(pd.Dimensions, sinks.Dimension{Key: k, Value: text()})
		}
		pd.PlainDimensions = true
		for _, d := range pd.Dimensions {
			pd.PlainDimensions = pd.PlainDimensions && jsonstr.Plain(d.Key) && jsonstr.Plain(d.Value)
		}
		for range 1 + r.IntN(3) {
			name := text()
			m := sinks.Metric{Name: name, PlainName: jsonstr.Plain(name), Type: types[r.IntN(len(types))], Unit: units[r.IntN(len(units))],
				PopulationSize: r.Int64N(1 << 40)}
			for _, st := range r.Perm(int(hist.NumStats) + 2)[:r.IntN(int(hist.NumStats)+2)] {
				m.Statistics = append(m.Statistics, sinks.Statistic{Stat: hist.Stat(st), Value: number(), HasValue: r.IntN(6) > 0})
			}
			pd.Metrics = append(pd.Metrics, m)
		}
		s.Record(pd)
		for i := range pd.Metrics {
			want = AppendLine(want, pd, &pd.Metrics[i])
		}
		buckets = append(buckets, pd)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.b.Bytes()
	if !bytes.Equal(got, want) {
		t.Fatalf("the sink and AppendLine wrote different lines")
	}
	lines := bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n"))
	n := 0
	for _, pd := range buckets {
		for _, m := range pd.Metrics {
			var line struct {
				Period         string                      `json:"period"`
				Dimensions     map[string]string           `json:"dimensions"`
				Metric         string                      `json:"metric"`
				Type           string                      `json:"type"`
				Unit           string                      `json:"unit"`
				PopulationSize int64                       `json:"populationSize"`
				Statistics     map[string]*json.RawMessage `json:"statistics"`
			}
			if err := json.Unmarshal(lines[n], &line); err != nil {
				t.Fatalf("%s: %v", lines[n], err)
			}
			n++
			if line.Period != sinks.FormatPeriod(pd.Period) || line.Metric != string(m.Name) || line.Type != m.Type || line.Unit != m.Unit ||
				line.PopulationSize != m.PopulationSize || len(line.Dimensions) != len(pd.Dimensions) || len(line.Statistics) != len(m.Statistics) {
				t.Fatalf("read %+v from %s", line, lines[n-1])
			}
			for _, d := range pd.Dimensions {
				if v, ok := line.Dimensions[string(d.Key)]; !ok || v != string(d.Value) {
					t.Fatalf("dimension %q: %q in %s", d.Key, v, lines[n-1])
				}
			}
			for _, st := range m.Statistics {
				raw := line.Statistics[st.Stat.String()]
				if !st.HasValue || math.IsNaN(st.Value) || math.IsInf(st.Value, 0) {
					if raw != nil {
						t.Fatalf("%v: %s, want null, in %s", st.Stat, *raw, lines[n-1])
					}
					continue
				}
				var v float64
				if raw == nil || json.Unmarshal(*raw, &v) != nil || v != st.Value || math.Signbit(v) != math.Signbit(st.Value) {
					t.Fatalf("%v: read %v, want %v, in %s", st.Stat, v, st.Value, lines[n-1])
				}
			}
		}
	}
}

// TestAppendLineWritesOnlyWhatItAppends: like append, AppendLine writes
// nothing of dst's backing array past the line it returns: bytes there may
// be the caller's (an arena, a buffer split in two). (A helper's review.)
func TestAppendLineWritesOnlyWhatItAppends(t *testing.T) {
	pd := &sinks.PeriodicData{Period: time.Second, Start: time.UnixMilli(0).UTC(),
		Metrics: []sinks.Metric{{Name: []byte("m"), Type: "gauge", PopulationSize: 1,
			Statistics: []sinks.Statistic{{Stat: hist.Max, Value: 0, HasValue: true}}}}}
	want := AppendLine(nil, pd, &pd.Metrics[0])
	backing := make([]byte, len(want)+16)
	other := backing[len(want):] // the caller's, after where the line goes
	copy(other, "0123456789abcdef")
	got := AppendLine(backing[:0], pd, &pd.Metrics[0])
	if string(got) != string(want) {
		t.Fatalf("line %q; want %q", got, want)
	}
	if string(other) != "0123456789abcdef" {
		t.Fatalf("AppendLine wrote past the line it returned: the caller's bytes after it are %q; want %q", other, "0123456789abcdef")
	}
}

// TestRecordRetainsNoString: a sink keeps nothing of a bucket past Record
// (sinks.Sink): the memory behind a metric's type and unit can be
// collected once Record returned (the type and unit cache keeps copies).
func TestRecordRetainsNoString(t *testing.T) {
	s := NewWriter("json", io.Discard)
	defer s.Close()
	freed := make(chan struct{})
	func() {
		big := strings.Repeat("SECOND", 1<<18) // 1.5 MiB, e.g. a decoded request
		runtime.AddCleanup(unsafe.StringData(big), func(ch chan struct{}) { close(ch) }, freed)
		pd := testPD()
		pd.Metrics = pd.Metrics[:1]
		pd.Metrics[0].Type, pd.Metrics[0].Unit = big[6:11], big[:6]
		s.Record(pd)
	}()
	// Collections until the cleanup ran (it runs on a goroutine of its
	// own after the collection that found the string unreachable).
	for range 1000 {
		runtime.GC()
		select {
		case <-freed:
			runtime.KeepAlive(s)
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	runtime.KeepAlive(s)
	t.Fatal("a metric's unit and type are still reachable after Record returned: the sink keeps them")
}

// TestRecordReadsUnitOfReusedBuffer: a producer that writes a unit into a
// buffer it reuses once Record returned gets each line's own unit.
func TestRecordReadsUnitOfReusedBuffer(t *testing.T) {
	var out syncBuffer
	s := NewWriter("json", &out)
	buf := make([]byte, 6)
	for _, u := range []string{"SECOND", "KELVIN"} {
		copy(buf, u)
		pd := testPD()
		pd.Metrics = pd.Metrics[:1]
		pd.Metrics[0].Unit = unsafe.String(&buf[0], len(buf))
		s.Record(pd)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.b.String(); !strings.Contains(got, `"unit":"SECOND"`) || !strings.Contains(got, `"unit":"KELVIN"`) {
		t.Fatalf("a line lost its unit:\n%s", got)
	}
}

// BenchmarkRecord measures the sink alone on buckets shaped like
// engine/pipeline's BenchmarkEmit "tagged" case: a bucket of one metric
// each, its own three dimensions, counters (count, sum, mean) and timers
// of one sample (count, sum, mean, three percentiles, the histogram)
// alternating. ns per line. "text=checked" has the sink check every byte
// of the names and dimensions for JSON escapes; "text=plain" marks them
// plain JSON text, as the emitter does for the text a shard noted plain
// when it interned it (BenchmarkEmit's case).
func BenchmarkRecord(b *testing.B) {
	for _, plain := range []bool{false, true} {
		name := "text=checked"
		if plain {
			name = "text=plain"
		}
		b.Run(name, func(b *testing.B) { benchRecord(b, plain) })
	}
}

func benchRecord(b *testing.B, plain bool) {
	const n = 4096
	pds := make([]sinks.PeriodicData, n)
	start := time.UnixMilli(1_700_000_001_000).UTC()
	for i := range pds {
		m := sinks.Metric{Name: fmt.Appendf(nil, "service.metric_%02d", i%50), PlainName: plain, Type: "counter", PopulationSize: 1}
		v := float64(i%1000 + 37)
		m.Statistics = []sinks.Statistic{
			{Stat: hist.Count, Value: 1, HasValue: true, Specified: true},
			{Stat: hist.Sum, Value: v, HasValue: true, Specified: true},
			{Stat: hist.Mean, Value: v, HasValue: true, Specified: true},
		}
		if i%2 == 1 {
			m.Type = "timer"
			m.Statistics = append(m.Statistics,
				sinks.Statistic{Stat: hist.Median, Value: v, HasValue: true, Specified: true},
				sinks.Statistic{Stat: hist.TP90, Value: v, HasValue: true, Specified: true},
				sinks.Statistic{Stat: hist.TP99, Value: v, HasValue: true, Specified: true},
				sinks.Statistic{Stat: hist.Histogram, Value: 1, HasValue: true})
		}
		pds[i] = sinks.PeriodicData{
			Period: time.Second,
			Start:  start,
			Dimensions: []sinks.Dimension{
				{Key: []byte("endpoint"), Value: fmt.Appendf(nil, "/api/v1/%05d", i/100)},
				{Key: []byte("env"), Value: []byte("prod")},
				{Key: []byte("host"), Value: fmt.Appendf(nil, "host-%03d", i%100)},
			},
			Metrics:         []sinks.Metric{m},
			PlainDimensions: plain,
		}
	}
	s := NewWriter("json", io.Discard)
	defer s.Close()
	b.ResetTimer()
	for i := range b.N {
		s.Record(&pds[i%n])
		if i%n == n-1 {
			s.Flush()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/line")
}
