package fuzz

import (
	"testing"

	"github.com/gomad/mad/ingest/graphite"
	"github.com/gomad/mad/ingest/graphite/graphiteref"
	"github.com/gomad/mad/internal/sample"
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
	fuzzWith(f, vectors(f, "GraphitePlaintextParserTest"), 1, checkGraphite)
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
	return checkLines(t, p, data, func(line []byte) (c, wc sample.Counts, err, werr error) {
		wc, werr = graphiteref.Decode(line, p.now(), rcfg, &p.want)
		c, err = dec.DecodeLine(line, p.now(), p.route)
		return c, wc, err, werr
	})
}
