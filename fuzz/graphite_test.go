package fuzz

import (
	"testing"

	"github.com/gomad/mad/ingest/graphite"
	"github.com/gomad/mad/ingest/graphite/graphiteref"
)

// FuzzGraphite: Graphite plaintext, cut into lines as a TCP line source
// cuts it (on '\n', empty lines skipped), through graphite.Decoder and a
// shard; against graphiteref.Decode and shardref. Each line must be
// refused by both or by neither, with the same counts; the shard and the
// reference must close the same buckets and refuse as many samples.
// variant: bit 0 parses carbon tags, bit 1 adds global tags; the rest picks
// the aggregation (aggConfigs).
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzGraphite$' -fuzztime 5m
func FuzzGraphite(f *testing.F) {
	for _, s := range vectors(f, "GraphitePlaintextParserTest") {
		f.Add(s.data, uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, variant uint8) { checkGraphite(t, data, variant) })
}

// TestGraphiteSeeds runs every seed and MAD's vectors in every variant.
func TestGraphiteSeeds(t *testing.T) {
	seeds := append(corpus(t, "FuzzGraphite"), vectors(t, "GraphitePlaintextParserTest")...)
	runSeeds(t, seeds, 4*len(aggConfigs), checkGraphite)
}

func checkGraphite(t testing.TB, data []byte, variant uint8) int {
	t.Helper()
	cfg := graphite.Config{ParseCarbonTags: variant&1 != 0}
	if variant&2 != 0 {
		cfg.GlobalTags = [][2]string{{"service", "svc"}, {"host", "h"}, {"service", "svc2"}}
	}
	dec := graphite.NewDecoder(cfg)
	rcfg := graphiteref.Config{GlobalTags: cfg.GlobalTags, ParseCarbonTags: cfg.ParseCarbonTags}
	p := newPipeline(t, int(variant>>2))
	for _, r := range rounds(data) {
		for _, line := range lines(r) {
			wc, werr := graphiteref.Decode(line, p.now(), rcfg, &p.want)
			c, err := dec.DecodeLine(line, p.now(), p.route)
			if (err != nil) != (werr != nil) || c != wc {
				t.Fatalf("line %q: the decoder gave %+v, %v; the reference %+v, %v", line, c, err, wc, werr)
			}
		}
		p.endRound()
	}
	p.finish()
	return p.closed
}
