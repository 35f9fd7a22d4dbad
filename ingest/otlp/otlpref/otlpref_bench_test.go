package otlpref

import (
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// benchInputs are fuzz-like inputs of 0 to 800 random bytes.
func benchInputs() [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	ins := make([][]byte, 256)
	for i := range ins {
		ins[i] = make([]byte, rng.IntN(800))
		for j := range ins[i] {
			ins[i][j] = byte(rng.Uint32())
		}
	}
	return ins
}

// BenchmarkRandom: building a request from fuzz bytes.
func BenchmarkRandom(b *testing.B) {
	ins := benchInputs()
	n := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n += len(Random(ins[i%len(ins)]))
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/request")
}

// BenchmarkDecodeRandom: decoding Random's requests.
func BenchmarkDecodeRandom(b *testing.B) {
	ins := benchInputs()
	bodies := make([][]byte, len(ins))
	for i, in := range ins {
		bodies[i] = Random(in)
	}
	var batch sample.Batch
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		batch.Reset()
		_, _, _ = Decode(bodies[i%len(bodies)], 1, &batch)
	}
}
