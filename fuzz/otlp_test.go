package fuzz

import (
	"os"
	"testing"

	"github.com/gomad/mad/ingest/otlp"
	"github.com/gomad/mad/ingest/otlp/otlpref"
)

// FuzzOTLP: OTLP metrics requests (one a round, cut at bodySep; each body
// also turned into a structured request by otlpref.Random, which reaches
// every rule) through one otlp.Decoder, whose caches outlive the rounds,
// and a shard; against otlpref.Decode and shardref. Each body must be
// refused by both with the same kind or accepted by both with the same
// counts; the shard and the reference must close the same buckets
// (histograms' pre-aggregated statistics included) and refuse as many
// samples. variant picks the aggregation (aggConfigs).
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzOTLP$' -fuzztime 5m -fuzzminimizetime 3s
func FuzzOTLP(f *testing.F) {
	fuzzWith(f, otlpSeeds(f), 0, checkOTLP)
}

// TestOTLPSeeds runs MAD's vector and the seeds in every variant.
func TestOTLPSeeds(t *testing.T) {
	runSeeds(t, append(corpus(t, "FuzzOTLP"), otlpSeeds(t)...), len(aggConfigs), checkOTLP)
}

// otlpSeeds: MAD's captured request (gRPC-framed in its file).
func otlpSeeds(tb testing.TB) []seed {
	b, err := os.ReadFile("../testdata/mad/otlp/grpcrequest1.bin")
	if err != nil {
		tb.Fatal(err)
	}
	return []seed{{data: b[5:]}}
}

func checkOTLP(t testing.TB, data []byte, variant uint8) int {
	t.Helper()
	dec := otlp.NewDecoder(otlp.Config{})
	p := newPipeline(t, int(variant))
	for _, body := range bodies(data) {
		for _, b := range [][]byte{body, otlpref.Random(body)} {
			wc, _, werr := otlpref.Decode(b, p.now(), &p.want)
			c, err := dec.Decode(b, p.now(), p.route)
			if err != nil {
				p.got.Reset()
			}
			if werr != nil {
				p.want.Reset()
			}
			checkBody(t, b, c, wc, err, werr)
			p.endRound()
		}
	}
	p.finish()
	return p.closed
}
