package sample

import "testing"

// BenchmarkPutKey: sorting three tags, encoding the canonical key and
// hashing it, as a parser does per line.
func BenchmarkPutKey(b *testing.B) {
	var batch Batch
	ds := dims("service", "checkout", "host", "host-0042", "cluster", "c1")
	name := []byte("service.endpoint_17.latency")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i&1023 == 0 {
			batch.Reset()
		}
		ds[0], ds[2] = ds[2], ds[0]
		SortDims(ds)
		k, _ := batch.PutKey(KindTimer, name, ds)
		batch.AddValue(k, 0, 0, 1, UnitNone)
	}
}
