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

// BenchmarkAppendDims: a tagged bucket's dimensions read out of its key's
// dimension section, as the emitter does once a bucket.
func BenchmarkAppendDims(b *testing.B) {
	var batch Batch
	k, err := batch.PutKey(KindCounter, []byte("service.metric_07"), dims("endpoint", "/api/v1/00001", "env", "prod", "host", "host-001"))
	if err != nil {
		b.Fatal(err)
	}
	pk, err := ParseKey(batch.Keys[k.Off : k.Off+k.Len])
	if err != nil {
		b.Fatal(err)
	}
	var out []Dim
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		if out, ok = AppendDims(out[:0], pk.Dims); !ok || len(out) != 3 {
			b.Fatal("not read")
		}
	}
}
