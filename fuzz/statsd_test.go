package fuzz

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/ingest/statsd/statsdref"
)

// FuzzStatsD: StatsD datagrams (one a round) through statsd.Decoder, with
// sample rates scaling (statsd.RateScale: re-sampling is random), and a
// shard; against statsdref.Decode and shardref. The decoders must count
// the same lines by result, and drop the same (sampled out, not finite,
// key too long); the shard and the reference must close the same buckets
// and refuse as many samples. variant: bit 0 reads "-N" on a gauge as a
// delta (NegativeGaugeDelta); the rest picks the aggregation (aggConfigs).
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzStatsD$' -fuzztime 5m
func FuzzStatsD(f *testing.F) {
	fuzzWith(f, nil, 0, checkStatsD) // the seeds are in testdata/fuzz
}

// TestStatsDSeeds runs every seed in every variant.
func TestStatsDSeeds(t *testing.T) {
	runSeeds(t, corpus(t, "FuzzStatsD"), 2*len(aggConfigs), checkStatsD)
}

func checkStatsD(t testing.TB, data []byte, variant uint8) int {
	t.Helper()
	neg := variant&1 != 0
	dec := statsd.NewDecoder(statsd.Config{RateMode: statsd.RateScale, NegativeGaugeDelta: neg})
	p := newPipeline(t, int(variant>>1))
	want := statsdref.Stats{Lines: map[statsdref.Result]int{}}
	for i, datagram := range rounds(data) {
		ws := statsdref.Decode(datagram, p.now(), statsdref.Config{NegativeGaugeDelta: neg}, &p.want)
		dec.Decode(datagram, p.now(), p.route)
		for r, n := range ws.Lines {
			want.Lines[r] += n
		}
		want.SampledOut += ws.SampledOut
		want.NonFinite += ws.NonFinite
		want.TooLong += ws.TooLong
		want.Samples += ws.Samples
		if got, want := statsdStats(&dec.Stats), fmt.Sprint(want); got != want {
			t.Fatalf("datagram %d %q: the decoder counted %s; the reference %s\ndecoder:\n%sreference:\n%s",
				i, datagram, got, want, batchString(&p.got), batchString(&p.want))
		}
		p.endRound()
	}
	p.finish()
	return p.closed
}

// statsdStats prints a decoder's counters as fmt prints statsdref.Stats.
func statsdStats(st *statsd.Stats) string {
	lines := map[statsdref.Result]int{}
	for r, n := range st.Lines {
		if n > 0 {
			lines[statsdref.Result(statsd.ResultNames[r])] = int(n)
		}
	}
	return fmt.Sprint(statsdref.Stats{Lines: lines, SampledOut: int(st.SampledOut), NonFinite: int(st.NonFinite),
		TooLong: int(st.TooLong), Samples: int(st.Samples)})
}
