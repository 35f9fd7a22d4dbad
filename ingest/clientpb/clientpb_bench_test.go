package clientpb

import (
	"runtime"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// Sink keeps the benchmarks' results alive.
var Sink int

// benchDecode decodes body b.N times and reports samples per second. The
// route is a producer's with 4 shards: a batch that holds 1024 samples
// (ingest.Producer's MaxSamples) is published, which here means reset and
// handed back, as the shard would after applying it.
func benchDecode(b *testing.B, version int, body []byte) {
	var batches [4]sample.Batch
	route := func(h uint64) *sample.Batch {
		bt := &batches[h&3]
		if len(bt.Samples) >= 1024 {
			bt.Reset()
		}
		return bt
	}
	d := NewDecoder(Config{})
	dec := versions[version]
	st, err := dec(d, body, 0, route)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	// The loop runs on one locked thread, whose CPU time is measured too.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	cpu0 := threadCPU()
	for range b.N {
		for i := range batches {
			batches[i].Reset()
		}
		st, _ = dec(d, body, 0, route)
	}
	cpu := threadCPU() - cpu0
	n := float64(st.Samples) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "samples/s")
	if cpu > 0 {
		b.ReportMetric(n/(float64(cpu)/1e9), "samples/cpu-s")
		b.ReportMetric(float64(cpu)/n, "cpu-ns/sample")
	}
	Sink += st.Samples
}

// BenchmarkDecodeV3: a 500-record V3 request, 10 samples per record, 3-5
// dimensions (workload_test.go). client: one client's request (its host,
// service and cluster on every record, 0-2 more dimensions per unit of
// work), 7 metrics per record, one of them pre-aggregated. per-sample: 10
// metrics of one sample each. many-hosts: hosts drawn among 40 per record,
// which defeats the dimension cache.
func BenchmarkDecodeV3(b *testing.B) {
	b.Run("client", func(b *testing.B) { benchDecode(b, 3, v3Body(500, false, false)) })
	b.Run("per-sample", func(b *testing.B) { benchDecode(b, 3, v3Body(500, true, false)) })
	b.Run("many-hosts", func(b *testing.B) { benchDecode(b, 3, v3Body(500, false, true)) })
}

func BenchmarkDecodeV2(b *testing.B) {
	b.Run("client", func(b *testing.B) { benchDecode(b, 2, v12Body(2, 500, false)) })
	b.Run("many-hosts", func(b *testing.B) { benchDecode(b, 2, v12Body(2, 500, true)) })
}

func BenchmarkDecodeV1(b *testing.B) {
	b.Run("client", func(b *testing.B) { benchDecode(b, 1, v12Body(1, 500, false)) })
	b.Run("many-hosts", func(b *testing.B) { benchDecode(b, 1, v12Body(1, 500, true)) })
}
