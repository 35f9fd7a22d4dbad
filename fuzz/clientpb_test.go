package fuzz

import (
	"testing"

	"github.com/gomad/mad/ingest/clientpb"
	"github.com/gomad/mad/ingest/clientpb/clientpbref"
	"github.com/gomad/mad/internal/sample"
)

// clientDecode is clientpb.Decoder's method for each client protocol version.
var clientDecode = [...]func(*clientpb.Decoder, []byte, int64, sample.Route) (sample.Counts, error){
	1: (*clientpb.Decoder).DecodeV1, 2: (*clientpb.Decoder).DecodeV2, 3: (*clientpb.Decoder).DecodeV3,
}

// FuzzClientV1, FuzzClientV2 and FuzzClientV3: client protocol bodies (one
// a round, a request each, cut at bodySep) through one clientpb.Decoder,
// whose caches outlive the rounds, and a shard; against clientpbref.Decode
// and shardref. Each body must be refused by both with the same kind
// (400, or 500 for a short record id) or accepted by both with the same
// counts; the shard and the reference must close the same buckets and
// refuse as many samples (non-finite values and statistics reach them).
// variant picks the aggregation (aggConfigs).
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzClientV3$' -fuzztime 5m
func FuzzClientV1(f *testing.F) {
	fuzzWith(f, vectors(f, "ProtobufV1ParserTest"), 0, checkClient(1))
}

// FuzzClientV2: see FuzzClientV1.
func FuzzClientV2(f *testing.F) {
	fuzzWith(f, vectors(f, "ProtobufV2ParserTest"), 0, checkClient(2))
}

// FuzzClientV3: see FuzzClientV1.
func FuzzClientV3(f *testing.F) {
	fuzzWith(f, vectors(f, "ProtobufV3ParserTest"), 0, checkClient(3))
}

// TestClientV1Seeds, TestClientV2Seeds and TestClientV3Seeds run every seed
// and MAD's vectors in every variant.
func TestClientV1Seeds(t *testing.T) {
	runSeeds(t, append(corpus(t, "FuzzClientV1"), vectors(t, "ProtobufV1ParserTest")...), len(aggConfigs), checkClient(1))
}

// TestClientV2Seeds: see TestClientV1Seeds.
func TestClientV2Seeds(t *testing.T) {
	runSeeds(t, append(corpus(t, "FuzzClientV2"), vectors(t, "ProtobufV2ParserTest")...), len(aggConfigs), checkClient(2))
}

// TestClientV3Seeds: see TestClientV1Seeds.
func TestClientV3Seeds(t *testing.T) {
	runSeeds(t, append(corpus(t, "FuzzClientV3"), vectors(t, "ProtobufV3ParserTest")...), len(aggConfigs), checkClient(3))
}

// checkClient returns the check of a client protocol version.
func checkClient(version int) func(t testing.TB, data []byte, variant uint8) int {
	return func(t testing.TB, data []byte, variant uint8) int {
		t.Helper()
		dec := clientpb.NewDecoder(clientpb.Config{})
		p := newPipeline(t, int(variant))
		return checkBodies(t, p, data, func(body []byte) (c, wc sample.Counts, err, werr error) {
			wc, werr = clientpbref.Decode(version, body, &p.want)
			c, err = clientDecode[version](dec, body, p.now(), p.route)
			return c, wc, err, werr
		})
	}
}
