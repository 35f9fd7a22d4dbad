package fuzz

import (
	"testing"

	"github.com/gomad/mad/ingest/collectd"
	"github.com/gomad/mad/ingest/collectd/collectdref"
	"github.com/gomad/mad/internal/sample"
)

// collectdHeaders are the X-TAG-* dimensions of a variant with headers:
// MAD's test's, a host the records override, and a duplicate key (the
// last wins).
var collectdHeaders = []sample.Dim{
	{Key: []byte("service"), Value: []byte("MyService")},
	{Key: []byte("cluster"), Value: []byte("MyCluster")},
	{Key: []byte("host"), Value: []byte("header")},
	{Key: []byte("cluster"), Value: []byte("Other")},
}

// FuzzCollectd: collectd write_http bodies (one a round, a request each)
// through collectd.Decoder and a shard; against collectdref.Decode and
// shardref. A body the reference cannot judge (not plain JSON:
// collectdref.Applicable) goes to neither side; a refused body routes
// nothing (the HTTP source discards what was decoded). Each body must be
// refused by both or by neither, with the same counts; the shard and the
// reference must close the same buckets and refuse as many samples
// (collectd's NaN and infinite values reach them). variant: bit 0 adds
// X-TAG-* headers; the rest picks the aggregation (aggConfigs).
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzCollectd$' -fuzztime 5m
func FuzzCollectd(f *testing.F) {
	fuzzWith(f, vectors(f, "CollectdJsonParserTest"), 1, checkCollectd)
}

// TestCollectdSeeds runs every seed and MAD's vectors in every variant.
func TestCollectdSeeds(t *testing.T) {
	seeds := append(corpus(t, "FuzzCollectd"), vectors(t, "CollectdJsonParserTest")...)
	runSeeds(t, seeds, 2*len(aggConfigs), checkCollectd)
}

func checkCollectd(t testing.TB, data []byte, variant uint8) int {
	t.Helper()
	var hd []sample.Dim
	if variant&1 != 0 {
		hd = collectdHeaders
	}
	dec := collectd.NewDecoder(collectd.Config{})
	p := newPipeline(t, int(variant>>1))
	for _, body := range rounds(data) {
		if collectdref.Applicable(body) {
			wc, werr := collectdref.Decode(body, hd, &p.want)
			c, err := dec.Decode(body, hd, p.now(), p.route)
			if err != nil {
				p.got.Reset() // MAD refuses the whole request
			}
			if (err != nil) != (werr != nil) || err == nil && c != wc {
				t.Fatalf("body %q: the decoder gave %+v, %v; the reference %+v, %v", body, c, err, wc, werr)
			}
		}
		p.endRound()
	}
	p.finish()
	return p.closed
}
