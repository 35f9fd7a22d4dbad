package ingest

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkHTTPManySeries: V3 requests of 5 000 records of one sample each
// (a route a sample, the case where the slot's bounded route costs most),
// through the handler to the shards' rings. ns per sample.
func BenchmarkHTTPManySeries(b *testing.B) {
	lanes := NewLanes(2, 4)
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1}, []Lanes{lanes})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	const records = 5000
	var body []byte
	for i := range records {
		body = append(body, v3Body(fmt.Sprintf("metric.%07d", i), 1)...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if w := serve(s, body); w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
		for i, r := range lanes.To {
			for {
				bt, ok := r.Pop()
				if !ok {
					break
				}
				bt.Reset() // as a shard gives batches back
				lanes.Back[i].Push(bt)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/sample")
}
