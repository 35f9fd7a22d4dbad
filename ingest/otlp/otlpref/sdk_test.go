package otlpref

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelmetric "go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// sdkExport records with the OpenTelemetry Go SDK (delta temporality, the
// SDK's default histogram bounds, base2 exponential aggregation for
// instruments named exp*), exports with the otlpmetrichttp exporter to a
// test server, and returns the protobuf body the exporter sent.
func sdkExport(t *testing.T, record func(ctx context.Context, m otelmetric.Meter)) []byte {
	t.Helper()
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()

	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"),
		otlpmetrichttp.WithTemporalitySelector(metric.DeltaTemporalitySelector),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	reader := metric.NewManualReader(metric.WithTemporalitySelector(metric.DeltaTemporalitySelector))
	provider := metric.NewMeterProvider(metric.WithReader(reader),
		metric.WithResource(resource.NewSchemaless(attribute.String("service.name", "mad-test"), attribute.String("host", "r_host"))),
		metric.WithView(metric.NewView(metric.Instrument{Name: "exp*"},
			metric.Stream{Aggregation: metric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
	record(ctx, provider.Meter("mad-experimental"))
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if err := exp.Export(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("got %d requests; want 1", len(bodies))
	}
	return bodies[0]
}

// madAttrs are the attributes of MAD's OpenTelemetryGrpcRecordParserTest.
var madAttrs = otelmetric.WithAttributes(attribute.String("service", "t_service"), attribute.String("host", "l_host"),
	attribute.String("cluster", "t_cluster"))

// histOne decodes a body of one histogram point and returns its sample's
// statistics, entries and dimensions.
func histOne(t *testing.T, body []byte) (sample.Agg, []sample.HistEntry, string, *metricpb.ExponentialHistogramDataPoint) {
	t.Helper()
	var b sample.Batch
	c, st, err := Decode(body, 1, &b)
	if err != nil {
		t.Fatal(err)
	}
	if c != (sample.Counts{Records: 1, Samples: 1}) || st != (Stats{}) {
		t.Fatalf("got counts %+v, stats %+v; want one sample", c, st)
	}
	s := &b.Samples[0]
	if s.Flags != sample.FlagAgg {
		t.Fatalf("got flags %d; want statistics", s.Flags)
	}
	line := Render(&b)[0]
	dims := line[strings.Index(line, "{") : strings.Index(line, "}")+1]
	var req colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	var ep *metricpb.ExponentialHistogramDataPoint
	if e := req.ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetExponentialHistogram(); e != nil {
		ep = e.DataPoints[0]
	}
	a := b.Aggs[s.Agg]
	return a, b.HistOf(&a), dims, ep
}

const madDims = `{"cluster"="t_cluster" "host"="l_host" "service"="t_service" "service.name"="mad-test"}`

func checkStats(t *testing.T, a sample.Agg, min, max, sum, count float64) {
	t.Helper()
	const all = sample.HasMin | sample.HasMax | sample.HasSum | sample.HasCount | sample.HasHist
	if a.Has != all || a.Min != min || a.Max != max || a.Sum != sum || a.Count != count {
		t.Errorf("got min %v max %v sum %v count %v (has %b); want %v %v %v %v (has %b)",
			a.Min, a.Max, a.Sum, a.Count, a.Has, min, max, sum, count, all)
	}
}

// checkExpEntries: every recorded value has an entry whose value lies in
// the value's bucket (base^idx, base^(idx+1)] at the point's scale, and
// the entries count what was recorded.
func checkExpEntries(t *testing.T, hist []sample.HistEntry, p *metricpb.ExponentialHistogramDataPoint, values ...float64) {
	t.Helper()
	var n uint64
	for _, e := range hist {
		n += e.Count
	}
	if n != uint64(len(values)) {
		t.Errorf("got entries %v counting %d; want %d", hist, n, len(values))
	}
	base := math.Exp2(math.Exp2(-float64(p.Scale)))
	for _, v := range values {
		found := false
		for _, e := range hist {
			if v == 0 && e.Value == 0 || v > 0 && e.Value > 0 && e.Value/v < base && v/e.Value < base {
				found = true
			}
		}
		if !found {
			t.Errorf("scale %d: no entry of %v near %v", p.Scale, hist, v)
		}
	}
}

// TestSDK: MAD's OpenTelemetryGrpcRecordParserTest cases, recorded with the
// OpenTelemetry Go SDK.
func TestSDK(t *testing.T) {
	t.Run("histogram 0, 1, 2, 3, 58", func(t *testing.T) {
		a, hist, dims, _ := histOne(t, sdkExport(t, func(ctx context.Context, m otelmetric.Meter) {
			h, _ := m.Float64Histogram("my_histogram")
			for _, v := range []float64{0, 1, 2, 3, 58} {
				h.Record(ctx, v, madAttrs)
			}
		}))
		if dims != madDims {
			t.Errorf("got dimensions %s; want %s", dims, madDims)
		}
		checkStats(t, a, 0, 58, 64, 5)
		if want := []sample.HistEntry{{Value: 0, Count: 1}, {Value: 5, Count: 3}, {Value: 75, Count: 1}}; !slices.Equal(hist, want) {
			t.Errorf("got entries %v; want %v", hist, want)
		}
	})
	t.Run("exponential 1, 2, 3, 58", func(t *testing.T) {
		a, hist, dims, p := histOne(t, sdkExport(t, func(ctx context.Context, m otelmetric.Meter) {
			h, _ := m.Float64Histogram("exp_histogram")
			for _, v := range []float64{1, 2, 3, 58} {
				h.Record(ctx, v, madAttrs)
			}
		}))
		if dims != madDims {
			t.Errorf("got dimensions %s; want %s", dims, madDims)
		}
		checkStats(t, a, 1, 58, 64, 4)
		checkExpEntries(t, hist, p, 1, 2, 3, 58)
	})
	t.Run("exponential 1.8e24 and 1", func(t *testing.T) {
		a, hist, _, p := histOne(t, sdkExport(t, func(ctx context.Context, m otelmetric.Meter) {
			h, _ := m.Float64Histogram("exp_histogram")
			h.Record(ctx, 1.8e24)
			h.Record(ctx, 1)
		}))
		checkStats(t, a, 1, 1.8e24, 1.8e24+1, 2)
		checkExpEntries(t, hist, p, 1.8e24, 1)
	})
	t.Run("exponential 0, 0, 1", func(t *testing.T) {
		a, hist, _, p := histOne(t, sdkExport(t, func(ctx context.Context, m otelmetric.Meter) {
			h, _ := m.Float64Histogram("exp_histogram")
			for _, v := range []float64{0, 0, 1} {
				h.Record(ctx, v)
			}
		}))
		checkStats(t, a, 0, 1, 1, 3)
		checkExpEntries(t, hist, p, 0, 0, 1)
		if p.ZeroCount != 2 {
			t.Errorf("got zero_count %d; want 2", p.ZeroCount)
		}
	})
	t.Run("exponential 0, 10000 ×3, 1.8e24: three entries", func(t *testing.T) {
		a, hist, _, p := histOne(t, sdkExport(t, func(ctx context.Context, m otelmetric.Meter) {
			h, _ := m.Float64Histogram("exp_histogram")
			for _, v := range []float64{0, 10000, 10000, 10000, 1.8e24} {
				h.Record(ctx, v)
			}
		}))
		checkStats(t, a, 0, 1.8e24, 1.8e24+30000, 5)
		checkExpEntries(t, hist, p, 0, 10000, 10000, 10000, 1.8e24)
		if len(hist) != 3 {
			t.Errorf("got entries %v; want 3", hist)
		}
	})
	t.Run("counters, gauges, a timer histogram in ms", func(t *testing.T) {
		before := time.Now().UnixMilli()
		body := sdkExport(t, func(ctx context.Context, m otelmetric.Meter) {
			c, _ := m.Int64Counter("requests")
			c.Add(ctx, 3, otelmetric.WithAttributes(attribute.Int("code", 200), attribute.Bool("ok", true)))
			c.Add(ctx, 4, otelmetric.WithAttributes(attribute.Int("code", 200), attribute.Bool("ok", true)))
			u, _ := m.Float64UpDownCounter("queue")
			u.Add(ctx, -1.5, otelmetric.WithAttributes(attribute.Float64("ratio", 0.001), attribute.StringSlice("tags", []string{"a", "b"})))
			g, _ := m.Float64Gauge("temperature")
			g.Record(ctx, 7.25, otelmetric.WithAttributes(attribute.Int64Slice("ids", []int64{1, -2}), attribute.String("empty", "")))
			h, _ := m.Float64Histogram("latency", otelmetric.WithUnit("ms"))
			h.Record(ctx, 4)
			h.Record(ctx, 12)
		})
		var b sample.Batch
		c, st, err := Decode(body, 1, &b)
		if err != nil {
			t.Fatal(err)
		}
		if c != (sample.Counts{Records: 4, Samples: 4}) || st != (Stats{}) {
			t.Fatalf("got counts %+v, stats %+v; want 4 records of one sample", c, st)
		}
		// The SDK stamps each instrument's points as it collects them: the
		// times may differ by a millisecond or more. Each must fall within
		// the export; the lines are compared without them.
		after := time.Now().UnixMilli()
		for i := range b.Samples {
			if tm := b.Samples[i].Time; tm < before || tm > after {
				t.Errorf("sample %d at %d, outside the export (%d to %d)", i, tm, before, after)
			}
		}
		const ts = " t=T req=1 "
		const svc = `"service"="mad-test" "service.name"="mad-test"`
		want := []string{
			`gauge "latency" {"host"="r_host" ` + svc + `}` + ts + `min=0.004 max=0.012 sum=0.016 count=2 hist=[0.005:1 0.025:1] unit=SECOND`,
			`gauge "queue" {"host"="r_host" "ratio"="0.001" ` + svc + ` "tags"="a,b"}` + ts + `v=-1.5 unit=none`,
			`gauge "requests" {"code"="200" "host"="r_host" "ok"="true" ` + svc + `}` + ts + `v=7 unit=none`,
			`gauge "temperature" {"host"="r_host" "ids"="1,-2" ` + svc + `}` + ts + `v=7.25 unit=none`,
		}
		got := Render(&b)
		for i, l := range got {
			got[i] = sampleTime.ReplaceAllString(l, " t=T ")
		}
		if !slices.Equal(got, want) {
			t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// sampleTime is the time of a sample as Render writes it.
var sampleTime = regexp.MustCompile(` t=-?[0-9]+ `)
