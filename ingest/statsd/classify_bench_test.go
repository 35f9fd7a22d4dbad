package statsd

import "testing"

// BenchmarkClassify: stage one over a 1400-byte datagram.
func BenchmarkClassify(b *testing.B) {
	data := make([]byte, 1400)
	for i := range data {
		data[i] = "api.request.latency:12.5|ms|@0.5|#host:web-042,endpoint:/v1/users,region:eu-west-1\n"[i%83]
	}
	words := classifyInto(nil, data)
	b.SetBytes(int64(len(data)))
	b.Run("classify", func(b *testing.B) {
		for range b.N {
			words = classifyInto(words, data)
		}
	})
	b.Run("generic", func(b *testing.B) {
		for range b.N {
			classifyGeneric(data, words[:len(data)/64*2])
		}
	})
	var pos []uint32
	b.Run("flatten", func(b *testing.B) {
		for range b.N {
			pos = flatten(pos, words, 0, len(data))
		}
	})
}
