package otlpref

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// points counts a request's data points as Stats accounts for them: a
// Summary, or a metric of no data, counts at least one.
func points(t testing.TB, body []byte) int {
	t.Helper()
	var req colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rm := range req.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case *metricpb.Metric_Gauge:
					n += len(d.Gauge.DataPoints)
				case *metricpb.Metric_Sum:
					n += len(d.Sum.DataPoints)
				case *metricpb.Metric_Histogram:
					n += len(d.Histogram.DataPoints)
				case *metricpb.Metric_ExponentialHistogram:
					n += len(d.ExponentialHistogram.DataPoints)
				case *metricpb.Metric_Summary:
					n += max(1, len(d.Summary.DataPoints))
				default:
					n++
				}
			}
		}
	}
	return n
}

// TestRandom: Random's requests are valid, deterministic, and together
// reach every rule: every Stats counter, both of MAD's failures, units,
// negative and zero buckets, replacements; and every point is accounted
// for (kept, or counted once in Stats).
func TestRandom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	var (
		total                          Stats
		dup, overflow, ok, bigRequests int
		seconds, values, negative      int
		zero, manyRecords              int
	)
	const n = 4000
	for range n {
		data := make([]byte, rng.IntN(800))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		body := Random(data)
		if !bytes.Equal(body, Random(data)) {
			t.Fatal("Random is not deterministic")
		}
		var b sample.Batch
		c, st, err := Decode(body, 1, &b)
		switch {
		case errors.Is(err, sample.ErrMADFails) && strings.Contains(err.Error(), "repeated"):
			dup++
			continue
		case errors.Is(err, sample.ErrMADFails) && strings.Contains(err.Error(), "overflow"):
			overflow++
			continue
		case err != nil:
			t.Fatalf("input %x: %v", data, err)
		}
		ok++
		if p := points(t, body); p != c.Samples+st.Replaced+st.NonFinite+st.Empty+st.Unsupported+st.TooLong {
			t.Fatalf("input %x: %d points; %d samples and stats %+v", data, p, c.Samples, st)
		}
		total.Replaced += st.Replaced
		total.NonFinite += st.NonFinite
		total.Empty += st.Empty
		total.Unsupported += st.Unsupported
		total.TooLong += st.TooLong
		if c.Records > 1 {
			manyRecords++
		}
		if c.Samples > 10 {
			bigRequests++
		}
		for _, s := range b.Samples {
			if s.Unit == sample.Second {
				seconds++
			}
			if s.Flags&sample.FlagAgg == 0 {
				values++
				continue
			}
			a := &b.Aggs[s.Agg]
			for _, e := range b.HistOf(a) {
				if e.Value < 0 {
					negative++
				}
				if e.Value == 0 {
					zero++
				}
			}
		}
	}
	t.Logf("%d inputs: %d decoded, %d repeated keys, %d overflows; stats %+v; %d with several records, %d of more than 10 samples",
		n, ok, dup, overflow, total, manyRecords, bigRequests)
	for _, c := range []struct {
		what string
		n    int
	}{
		{"decoded", ok}, {"repeated keys", dup}, {"overflow failures", overflow},
		{"Replaced", total.Replaced}, {"NonFinite", total.NonFinite}, {"Empty", total.Empty},
		{"Unsupported", total.Unsupported}, {"TooLong", total.TooLong},
		{"samples in seconds", seconds}, {"values", values}, {"negative buckets", negative}, {"zero buckets", zero},
		{"requests of several records", manyRecords},
	} {
		if c.n == 0 {
			t.Errorf("no %s in %d inputs", c.what, n)
		}
	}
	if ok < n/2 {
		t.Errorf("only %d of %d inputs decoded", ok, n)
	}
}

// TestRandomEmpty: exhausted input is the empty request.
func TestRandomEmpty(t *testing.T) {
	if b := Random(nil); len(b) != 0 {
		t.Errorf("got %x; want the empty request", b)
	}
}

// TestRender: Render is blind to the order of samples and sees every
// difference that matters.
func TestRender(t *testing.T) {
	build := func(mod func(*sample.Batch)) []string {
		var b sample.Batch
		k1, _ := b.PutKey(sample.KindGauge, []byte("a"), []sample.Dim{{Key: []byte("k"), Value: []byte("v")}})
		k2, _ := b.PutKey(sample.KindGauge, []byte("b"), nil)
		b.AddValue(k1, 5, 7, 1.5, sample.UnitNone)
		b.AddAgg(k2, 5, 7, sample.Agg{Min: 1, Max: 2, Sum: 3, Count: 2, Has: sample.HasMin | sample.HasMax | sample.HasSum | sample.HasCount | sample.HasHist},
			[]sample.HistEntry{{Value: 2, Count: 1}, {Value: 1, Count: 1}}, sample.Second)
		b.AddValue(k2, 6, 7, 0, sample.UnitNone)
		if mod != nil {
			mod(&b)
		}
		return Render(&b)
	}
	base := build(nil)
	want := []string{
		`gauge "a" {"k"="v"} t=5 req=7 v=1.5 unit=none`,
		`gauge "b" {} t=5 req=7 min=1 max=2 sum=3 count=2 hist=[1:1 2:1] unit=SECOND`,
		`gauge "b" {} t=6 req=7 v=0 unit=none`,
	}
	if !slices.Equal(base, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(base, "\n"), strings.Join(want, "\n"))
	}
	if got := build(func(b *sample.Batch) { slices.Reverse(b.Samples) }); !slices.Equal(got, base) {
		t.Errorf("reversed samples: got %q", got)
	}
	if got := build(func(b *sample.Batch) {
		b.Hist[b.Aggs[0].HistOff], b.Hist[b.Aggs[0].HistOff+1] = b.Hist[b.Aggs[0].HistOff+1], b.Hist[b.Aggs[0].HistOff]
	}); !slices.Equal(got, base) {
		t.Errorf("reordered entries: got %q", got)
	}
	if got := build(func(b *sample.Batch) {
		b.Hist = append(b.Hist, sample.HistEntry{Value: 2, Count: 0})
		b.Aggs[0].HistLen++
	}); !slices.Equal(got, base) {
		t.Errorf("an entry of a value split in two: got %q", got)
	}
	for name, mod := range map[string]func(*sample.Batch){
		"value":         func(b *sample.Batch) { b.Samples[0].Value = 1.5000000000000002 },
		"-0":            func(b *sample.Batch) { b.Samples[2].Value = math.Copysign(0, -1) },
		"time":          func(b *sample.Batch) { b.Samples[0].Time = 4 },
		"request time":  func(b *sample.Batch) { b.Samples[0].ReqTime = 8 },
		"unit":          func(b *sample.Batch) { b.Samples[1].Unit = sample.UnitNone },
		"flags":         func(b *sample.Batch) { b.Samples[0].Flags |= sample.FlagDelta },
		"hash":          func(b *sample.Batch) { b.Samples[0].Hash++ },
		"key":           func(b *sample.Batch) { b.Keys[b.Samples[0].KeyOff+2] = 'z' },
		"min absent":    func(b *sample.Batch) { b.Aggs[0].Has &^= sample.HasMin },
		"hist absent":   func(b *sample.Batch) { b.Aggs[0].Has &^= sample.HasHist },
		"count":         func(b *sample.Batch) { b.Aggs[0].Count = 3 },
		"entry count":   func(b *sample.Batch) { b.Hist[0].Count = 2 },
		"entry value":   func(b *sample.Batch) { b.Hist[0].Value = 2.5 },
		"one sample":    func(b *sample.Batch) { b.Samples = b.Samples[:2] },
		"a sample more": func(b *sample.Batch) { b.Samples = append(b.Samples, b.Samples[0]) },
	} {
		if got := build(mod); slices.Equal(got, base) {
			t.Errorf("%s changed: rendered alike", name)
		}
	}
}
