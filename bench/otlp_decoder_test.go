// An external test: bench itself may not import internal/sample.
package bench_test

import (
	"github.com/gomad/mad/internal/pbwire"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
	"math"
	"testing"

	"github.com/gomad/mad/bench"
	"github.com/gomad/mad/ingest/otlp"
	"github.com/gomad/mad/internal/sample"
)

// TestOTLPWorkloadThroughMadsDecoder runs the OTLP workload's requests
// through mad's own OTLP decoder and checks that the samples it makes add
// up, series by series, to the totals the harness expects mad to emit:
// nothing left out, nothing replaced, every sample a gauge at the stamped
// time.
func TestOTLPWorkloadThroughMadsDecoder(t *testing.T) {
	const now = int64(1_790_000_000_123)
	for _, w := range []bench.OTLP{
		{Points: 1000, Resources: 3, Seed: 1},
		{Points: 37, Resources: 2, Seed: 2},
		{Points: 250, Resources: 2, Seed: 3, Numbers: true},
	} {
		p := w.Build()
		d := otlp.NewDecoder(otlp.Config{})
		var b sample.Batch
		got := map[string]bench.Got{}
		points := 0
		for i, msg := range p.Messages {
			body := append([]byte(nil), msg...)
			bench.Stamp(body, p.Stamps[i], now)
			b.Reset()
			if _, err := d.Decode(body, now, func(uint64) *sample.Batch { return &b }); err != nil {
				t.Fatalf("%s: request %d: %v", p.Name, i, err)
			}
			st := d.Stats()
			if st.Rejected() != 0 || st.Replaced != 0 || st.Points != w.Points || st.Samples != w.Points {
				t.Fatalf("%s: request %d: %+v", p.Name, i, st)
			}
			points += st.Points
			for j := range b.Samples {
				s := &b.Samples[j]
				k, err := sample.ParseKey(b.Key(s))
				if err != nil || k.Kind != sample.KindGauge || s.Time != now {
					t.Fatalf("%s: sample %+v: kind %v, %v", p.Name, s, k.Kind, err)
				}
				dims := map[string]string{}
				for it := k.DimIter(); ; {
					dm, ok := it.Next()
					if !ok {
						break
					}
					dims[string(dm.Key)] = string(dm.Value)
				}
				id := bench.Identity(string(k.Name), dims)
				g := got[id]
				if s.Flags&sample.FlagAgg != 0 {
					a := b.Aggs[s.Agg]
					g.Count += math.Trunc(a.Count)
					g.Sum += a.Sum
				} else {
					g.Count++
					g.Sum += s.Value
				}
				g.Rows++
				got[id] = g
			}
		}
		want := p.Totals(len(p.Messages), nil)
		if e := bench.Compare(want, got, false); !e.Exact() || e.Series != len(got) || e.Expected != e.Emitted {
			t.Fatalf("%s: %+v (%d series decoded)", p.Name, e, len(got))
		}
		if points != p.TotalLines(len(p.Messages)) {
			t.Fatalf("%s: %d points decoded, %d sent", p.Name, points, p.TotalLines(len(p.Messages)))
		}
	}
}

// BenchmarkOTLPWorkloadDecode: mad's OTLP decoder over the harness's OTLP
// workload (20 resources of 1000 streams each, every request 1000 points
// of one resource, the resources in turn), one decoder for every request
// as one HTTP slot sees them: ns per data point.
//
//	go test ./bench -run '^$' -bench OTLPWorkloadDecode -count 6
func BenchmarkOTLPWorkloadDecode(b *testing.B) {
	for _, numbers := range []bool{false, true} {
		name := "mixed"
		if numbers {
			name = "numbers"
		}
		b.Run(name, func(b *testing.B) {
			p := bench.OTLP{Points: 1000, Numbers: numbers, Seed: 1, MaxMessages: 200}.Build()
			d := otlp.NewDecoder(otlp.Config{})
			var bs sample.Batch
			route := func(uint64) *sample.Batch { return &bs }
			points := 0
			decode := func(i int) {
				bs.Reset()
				if _, err := d.Decode(p.Messages[i%len(p.Messages)], 1, route); err != nil {
					b.Fatal(err)
				}
				points += d.Stats().Points
			}
			for i := range len(p.Messages) { // warm: every stream seen once
				decode(i)
			}
			points = 0
			b.ResetTimer()
			for i := range b.N {
				decode(i)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
		})
	}
}

// BenchmarkOTLPFloor puts mad's decoder beside two other readers of the
// same requests (the harness's workload, as BenchmarkOTLPWorkloadDecode):
//
//   - walk: every field of every message read with the shared wire reader
//     and nothing done with it (no key, no sample, no check of what a
//     string holds): what any decoder that must look at every field it
//     uses spends before it does anything, a floor for decoding;
//   - unmarshal: proto.Unmarshal into the generated types, one message
//     reused (the Collector's receiver does the like with its pdata);
//   - decode: mad's decoder, into a batch.
//
// ns per data point; the goal of 10 M points per CPU-second end
// to end is 100 ns a point for transport, decoding and aggregation.
//
//	go test ./bench -run '^$' -bench OTLPFloor -count 6
func BenchmarkOTLPFloor(b *testing.B) {
	for _, numbers := range []bool{false, true} {
		mix := "mixed"
		if numbers {
			mix = "numbers"
		}
		p := bench.OTLP{Points: 1000, Numbers: numbers, Seed: 1, MaxMessages: 200}.Build()
		run := func(b *testing.B, one func(msg []byte) int) {
			points := 0
			for i := range len(p.Messages) {
				one(p.Messages[i])
			}
			b.ResetTimer()
			for i := range b.N {
				points += one(p.Messages[i%len(p.Messages)])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(points), "ns/point")
		}
		b.Run(mix+"/walk", func(b *testing.B) {
			run(b, func(msg []byte) int {
				n, ok := walkExport(msg)
				if !ok {
					b.Fatal("walk failed")
				}
				return n
			})
		})
		b.Run(mix+"/unmarshal", func(b *testing.B) {
			var req colmetricpb.ExportMetricsServiceRequest
			run(b, func(msg []byte) int {
				proto.Reset(&req)
				if err := proto.Unmarshal(msg, &req); err != nil {
					b.Fatal(err)
				}
				return 1000
			})
		})
		b.Run(mix+"/decode", func(b *testing.B) {
			d := otlp.NewDecoder(otlp.Config{})
			var bs sample.Batch
			route := func(uint64) *sample.Batch { return &bs }
			run(b, func(msg []byte) int {
				bs.Reset()
				if _, err := d.Decode(msg, 1, route); err != nil {
					b.Fatal(err)
				}
				return d.Stats().Points
			})
		})
	}
}

// The messages the walk descends into (opentelemetry-proto's metrics, as
// far as the workload uses them).
const (
	wNone = iota
	wRequest
	wResource
	wRsrc
	wScope
	wScopeID
	wMetric
	wData
	wHData
	wPoint
	wHPoint
	wExemplar
	wKV
	wAny
	wArray
	wKVList
	wCount
)

// otlpMessages gives, for each message the walk descends into, the
// message each of its fields 1-15 is (wNone: not a message).
var otlpMessages = [wCount][16]uint8{
	wRequest:  {1: wResource},
	wResource: {1: wRsrc, 2: wScope},
	wRsrc:     {1: wKV},
	wScope:    {1: wScopeID, 2: wMetric},
	wScopeID:  {3: wKV},
	wMetric:   {5: wData, 7: wData, 9: wHData, 10: wData, 11: wData, 12: wKV},
	wData:     {1: wPoint},
	wHData:    {1: wHPoint},
	wPoint:    {7: wKV, 5: wExemplar},
	wHPoint:   {9: wKV, 8: wExemplar},
	wExemplar: {7: wKV},
	wKV:       {2: wAny},
	wAny:      {5: wArray, 6: wKVList},
	wArray:    {1: wAny},
	wKVList:   {1: wKV},
}

// walkExport reads every field of an ExportMetricsServiceRequest and
// counts its data points.
func walkExport(msg []byte) (points int, ok bool) {
	r := pbwire.NewReader(msg)
	return walkMessage(&r, wRequest)
}

func walkMessage(r *pbwire.Reader, typ uint8) (points int, ok bool) {
	sub := &otlpMessages[typ]
	for r.More() {
		f := r.Next()
		if f.Type() != pbwire.BytesType || f.Num() > 15 {
			continue
		}
		t := sub[f.Num()]
		if t == wNone {
			continue
		}
		m := r.Message(f)
		n, ok := walkMessage(&m, t)
		if !ok {
			return 0, false
		}
		points += n
		if t == wPoint || t == wHPoint {
			points++
		}
	}
	return points, r.Err() == pbwire.OK
}
