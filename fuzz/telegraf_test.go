package fuzz

import (
	"testing"

	"github.com/gomad/mad/ingest/telegraf"
	"github.com/gomad/mad/ingest/telegraf/telegrafref"
	"github.com/gomad/mad/internal/sample"
)

// telegrafUnits are the timestamp units a variant picks from.
var telegrafUnits = [4]string{"SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS"}

// FuzzTelegraf: Telegraf JSON lines, cut as a TCP line source cuts them (on
// '\n', empty lines skipped), through telegraf.Decoder and a shard; against
// telegrafref.Decode and shardref. A line the reference cannot judge (not
// plain JSON: telegrafref.Applicable) goes to neither side. Each line must
// be refused by both or by neither, with the same counts; the shard and
// the reference must close the same buckets and refuse as many samples.
// variant: bits 0-1 pick the timestamp unit; the rest the aggregation
// (aggConfigs).
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzTelegraf$' -fuzztime 5m
func FuzzTelegraf(f *testing.F) {
	var seeds []seed
	for _, s := range vectors(f, "TelegrafJsonParserTest") {
		seeds = append(seeds, seed{data: compactJSON(f, s.data)})
	}
	fuzzWith(f, seeds, 0, checkTelegraf)
}

// TestTelegrafSeeds runs every seed and MAD's vectors (on one line each) in
// every variant.
func TestTelegrafSeeds(t *testing.T) {
	seeds := corpus(t, "FuzzTelegraf")
	for _, s := range vectors(t, "TelegrafJsonParserTest") {
		s.data = compactJSON(t, s.data)
		seeds = append(seeds, s)
	}
	runSeeds(t, seeds, 4*len(aggConfigs), checkTelegraf)
}

func checkTelegraf(t testing.TB, data []byte, variant uint8) int {
	t.Helper()
	unit := telegrafUnits[variant&3]
	dec := telegraf.NewDecoder(telegraf.Config{TimestampUnit: unit})
	p := newPipeline(t, int(variant>>2))
	return checkLines(t, p, data, func(line []byte) (c, wc sample.Counts, err, werr error) {
		if !telegrafref.Applicable(line) {
			return c, wc, nil, nil
		}
		wc, werr = telegrafref.Decode(line, unit, &p.want)
		c, err = dec.DecodeLine(line, p.now(), p.route)
		return c, wc, err, werr
	})
}
