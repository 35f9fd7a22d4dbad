package fuzz

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/ingest/statsd/statsdref"
	"github.com/gomad/mad/internal/sample"
)

// FuzzStatsD: StatsD datagrams (one a round) through statsd.Decoder, with
// sample rates scaling (statsd.RateScale: re-sampling is random), and a
// shard; against statsdref.Decode and shardref. The decoders must count
// the same lines by result, and drop the same (sampled out, not finite,
// key too long); the shard and the reference must close the same buckets
// and refuse as many samples. Two decoders read every datagram: one as a
// TransformingSource's (no series cache: every sample by its key) and one
// as a UDP loop's (with a series cache answered by the shard: plain lines
// without the parser, series by their handles); the shard takes the
// first's samples in even rounds and the second's in odd ones, and both
// must count as the reference. variant: bit 0 reads "-N" on a gauge as a
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
	return runStatsD(t, data, variant, nil)
}

// TestStatsDByHandles: series that come back round after round reach the
// shard by their handles from the decoder with a cache, plain lines and
// others, and the buckets are the reference's.
func TestStatsDByHandles(t *testing.T) {
	var data []byte
	for r := range 8 {
		if r > 0 {
			data = append(data, "\n\n"...)
		}
		data = fmt.Appendf(data, "a.b:%d|c\nt:%d.5|ms\ng:%d|g\ng:-1|g\nr:3|c|@0.5\nd:%d|c|#k:v", r, r, r, r)
	}
	for v := range uint8(4) {
		var handles uint64
		if runStatsD(t, data, v, &handles) == 0 || handles == 0 {
			t.Fatalf("variant %d: %d samples by their handles", v, handles)
		}
	}
}

// runStatsD is checkStatsD, setting *handles, if given, to the samples
// the decoder with a cache sent by their handles.
func runStatsD(t testing.TB, data []byte, variant uint8, handles *uint64) int {
	t.Helper()
	neg := variant&1 != 0
	cfg := statsd.Config{RateMode: statsd.RateScale, NegativeGaugeDelta: neg}
	dec, cached := statsd.NewDecoder(cfg), statsd.NewDecoder(cfg)
	p := newPipeline(t, int(variant>>1))
	// A UDP loop's series cache: its producer's, over lanes to the shard.
	lanes := ingest.NewLanes(1, 1)
	lanes.Epochs = []*atomic.Uint32{p.sh.Epoch()}
	cache := ingest.NewProducer(lanes).Handles()
	cached.SetCache(cache)
	p.answer = cache.Answer
	var aside sample.Batch
	want := statsdref.Stats{Lines: map[statsdref.Result]int{}}
	for i, datagram := range rounds(data) {
		ws := statsdref.Decode(datagram, p.now(), statsdref.Config{NegativeGaugeDelta: neg}, &p.want)
		toShard, other := dec, cached
		if i%2 == 1 {
			toShard, other = cached, dec
		}
		toShard.Decode(datagram, p.now(), p.route)
		aside.Epoch = p.got.Epoch
		other.Decode(datagram, p.now(), func(uint64) *sample.Batch { return &aside })
		aside.Reset()
		for r, n := range ws.Lines {
			want.Lines[r] += n
		}
		want.SampledOut += ws.SampledOut
		want.NonFinite += ws.NonFinite
		want.TooLong += ws.TooLong
		want.Samples += ws.Samples
		for _, d := range []*statsd.Decoder{dec, cached} {
			if got, want := statsdStats(&d.Stats), fmt.Sprint(want); got != want {
				t.Fatalf("datagram %d %q: the decoder (cache: %v) counted %s; the reference %s\ndecoder:\n%sreference:\n%s",
					i, datagram, d == cached, got, want, batchString(&p.got), batchString(&p.want))
			}
		}
		p.endRound()
	}
	p.finish()
	if handles != nil {
		*handles = cached.Stats.Handles
	}
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
