package bench

import (
	"bytes"
	"math"
	"strconv"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// otlpRefString stringifies the attribute values the workload uses as
// MAD does (ingest/otlp: a string as itself, an int as Long.toString).
func otlpRefString(t *testing.T, v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	}
	t.Fatalf("unexpected attribute value %v", v)
	return ""
}

// otlpRefTotals decodes requests with the generated types and adds up, by
// series identity, what mad must emit for them (MAD-SPEC §13.1): a sample
// per number point, a histogram point's count and sum; dimensions are the
// resource's attributes, service = service.name, and the point's over
// them. It checks what the builder promises on the way: every time is
// stamped, no two points of a request share a series (mad would keep only
// the later), and a histogram's buckets add up to its count.
func otlpRefTotals(t *testing.T, bodies [][]byte, nowMs int64) (map[string]Expected, map[string]int) {
	t.Helper()
	out := map[string]Expected{}
	kinds := map[string]int{}
	for _, body := range bodies {
		var req colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, rm := range req.ResourceMetrics {
			base := map[string]string{}
			for _, kv := range rm.GetResource().GetAttributes() {
				if s := otlpRefString(t, kv.Value); s != "" {
					base[kv.Key] = s
				}
			}
			if sn, ok := base["service.name"]; ok {
				if _, has := base["service"]; !has {
					base["service"] = sn
				}
			}
			id := func(name string, attrs []*commonpb.KeyValue) string {
				dims := map[string]string{}
				for k, v := range base {
					dims[k] = v
				}
				for _, kv := range attrs {
					if s := otlpRefString(t, kv.Value); s != "" {
						dims[kv.Key] = s
					}
				}
				id := Identity(name, dims)
				if seen[id] {
					t.Fatalf("series %s twice in one request", id)
				}
				seen[id] = true
				return id
			}
			checkTimes := func(start, end uint64, wantStart bool) {
				if end != uint64(nowMs)*1e6 {
					t.Fatalf("time_unix_nano %d; want %d", end, nowMs*1e6)
				}
				if wantStart && start != uint64(nowMs-otlpInterval)*1e6 {
					t.Fatalf("start_time_unix_nano %d", start)
				}
				if !wantStart && start != 0 {
					t.Fatalf("a gauge with start_time_unix_nano %d", start)
				}
			}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					number := func(dps []*metricpb.NumberDataPoint, kind string, wantStart bool) {
						for _, dp := range dps {
							checkTimes(dp.StartTimeUnixNano, dp.TimeUnixNano, wantStart)
							v := dp.GetAsDouble()
							if _, ok := dp.Value.(*metricpb.NumberDataPoint_AsInt); ok {
								v = float64(dp.GetAsInt())
							}
							k := id(m.Name, dp.Attributes)
							e := out[k]
							e.Count++
							e.Sum += v
							e.Counter = true
							out[k] = e
							kinds[kind]++
						}
					}
					switch d := m.Data.(type) {
					case *metricpb.Metric_Gauge:
						number(d.Gauge.DataPoints, "gauge", false)
					case *metricpb.Metric_Sum:
						if d.Sum.AggregationTemporality != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
							t.Fatalf("%s: %v", m.Name, d.Sum.AggregationTemporality)
						}
						number(d.Sum.DataPoints, "sum", true)
					case *metricpb.Metric_Histogram:
						for _, dp := range d.Histogram.DataPoints {
							checkTimes(dp.StartTimeUnixNano, dp.TimeUnixNano, true)
							var n uint64
							for _, c := range dp.BucketCounts {
								n += c
							}
							if n != dp.Count || len(dp.BucketCounts) != len(dp.ExplicitBounds)+1 || len(dp.ExplicitBounds) < 2 || dp.Max == nil || dp.Min == nil {
								t.Fatalf("%s: a histogram point mad would not take as counted: %v", m.Name, dp)
							}
							k := id(m.Name, dp.Attributes)
							e := out[k]
							e.Count += float64(dp.Count)
							e.Sum += dp.GetSum()
							e.Counter = true
							out[k] = e
							kinds["histogram"]++
						}
					default:
						t.Fatalf("%s: unexpected data %T", m.Name, d)
					}
				}
			}
		}
	}
	return out, kinds
}

// TestOTLPWorkloadTotals decodes the requests the OTLP builder encodes, as
// a reference reading of the generated types, and checks the builder's
// exact totals against them: for whole rounds and a partial one, and with
// refused requests left out.
func TestOTLPWorkloadTotals(t *testing.T) {
	const now = int64(1_790_000_000_123)
	for _, w := range []OTLP{
		{Points: 1, Resources: 3, Seed: 1, MaxMessages: 500},
		{Points: 7, Resources: 2, Seed: 2},
		{Points: 100, Seed: 3, MaxMessages: 30},
		{Points: 1000, Resources: 2, Seed: 4},
		{Points: 333, Resources: 2, Seed: 5, Numbers: true},
	} {
		p := w.Build()
		if p.Path != "/v1/metrics" || p.ContentType != "application/x-protobuf" || len(p.Stamps) != len(p.Messages) {
			t.Fatalf("%s: path %q, type %q, %d stamps for %d messages", p.Name, p.Path, p.ContentType, len(p.Stamps), len(p.Messages))
		}
		stamped := func(idx []int) [][]byte {
			var out [][]byte
			for _, i := range idx {
				b := append([]byte(nil), p.Messages[i%len(p.Messages)]...)
				Stamp(b, p.Stamps[i%len(p.Messages)], now)
				out = append(out, b)
			}
			return out
		}
		// Two and a half rounds, the third request refused.
		n := 2*len(p.Messages) + len(p.Messages)/2 + 1
		var sent []int
		for i := range n {
			if i != 2 {
				sent = append(sent, i)
			}
		}
		ref, kinds := otlpRefTotals(t, stamped(sent), now)
		got := p.Totals(n, []int{2})
		if len(got) != len(ref) {
			t.Fatalf("%s: %d series in the totals, %d decoded", p.Name, len(got), len(ref))
		}
		for id, r := range ref {
			g, ok := got[id]
			if !ok || g.Count != r.Count || !g.Counter || math.Abs(g.Sum-r.Sum) > 1e-9*math.Abs(r.Sum) {
				t.Fatalf("%s: %s: totals %+v, decoded %+v", p.Name, id, g, r)
			}
		}
		e := Compare(got, map[string]Got{}, false)
		if e.Missing != len(ref) {
			t.Fatalf("%s: %+v", p.Name, e)
		}
		points := 0
		for _, k := range kinds {
			points += k
		}
		if points != p.TotalLines(n)-p.Lines[2%len(p.Lines)] || p.Lines[0] != w.Points {
			t.Fatalf("%s: %d points decoded; %d sent", p.Name, points, p.TotalLines(n)-p.Lines[2%len(p.Lines)])
		}
		if points >= 1000 {
			share := func(k string) float64 { return float64(kinds[k]) / float64(points) }
			if w.Numbers {
				if kinds["histogram"] != 0 || share("sum") < 0.45 || share("gauge") < 0.45 {
					t.Fatalf("%s: mix %v", p.Name, kinds)
				}
			} else if math.Abs(share("sum")-0.4) > 0.05 || math.Abs(share("gauge")-0.4) > 0.05 || math.Abs(share("histogram")-0.2) > 0.05 {
				t.Fatalf("%s: mix %v", p.Name, kinds)
			}
		}
	}
}

// TestOTLPWorkloadIsDeterministic: the same parameters give the same bytes,
// another seed other values.
func TestOTLPWorkloadIsDeterministic(t *testing.T) {
	a := OTLP{Points: 50, Resources: 2, Seed: 9}.Build()
	b := OTLP{Points: 50, Resources: 2, Seed: 9}.Build()
	c := OTLP{Points: 50, Resources: 2, Seed: 10}.Build()
	if len(a.Messages) != 40 || len(b.Messages) != len(a.Messages) {
		t.Fatalf("%d and %d messages; want 40", len(a.Messages), len(b.Messages))
	}
	for i := range a.Messages {
		if !bytes.Equal(a.Messages[i], b.Messages[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
	if bytes.Equal(a.Messages[0], c.Messages[0]) {
		t.Fatal("another seed, the same request")
	}
}

func TestOTLPRejected(t *testing.T) {
	b, err := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{PartialSuccess: &colmetricpb.ExportMetricsPartialSuccess{RejectedDataPoints: 42, ErrorMessage: "non-finite"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := OTLPRejected(b); n != 42 {
		t.Fatalf("rejected %d", n)
	}
	if n := OTLPRejected(nil); n != 0 {
		t.Fatalf("rejected %d of an empty response", n)
	}
}

func TestStampNanos(t *testing.T) {
	const now = int64(1_790_000_000_123)
	b := make([]byte, 10)
	Stamp(b, []StampAt{{Off: 1, Before: 10_000, Nanos: true}}, now)
	var dp metricpb.NumberDataPoint
	body := append([]byte{0x19}, b[1:9]...)
	if err := proto.Unmarshal(body, &dp); err != nil || dp.TimeUnixNano != uint64(now-10_000)*1e6 || b[0] != 0 || b[9] != 0 {
		t.Fatalf("%v %d %v", err, dp.TimeUnixNano, b)
	}
}
