package statsd

import "testing"

var sinkMask uint64

func BenchmarkClassify(b *testing.B) {
	var p [64]byte
	copy(p[:], "api.request.latency:12.5|ms|@0.5|#host:web-042,endpoint:/v1/users,region:eu-west-1")
	b.Run("avx2", func(b *testing.B) {
		for range b.N {
			sinkMask += classifyAVX2(&p)
		}
	})
	b.Run("generic", func(b *testing.B) {
		for range b.N {
			sinkMask += classifyGeneric(&p)
		}
	})
}
