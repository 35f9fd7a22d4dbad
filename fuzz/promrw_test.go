package fuzz

import (
	"testing"

	"github.com/klauspost/compress/snappy"

	"github.com/gomad/mad/ingest/promrw"
	"github.com/gomad/mad/ingest/promrw/promrwref"
	"github.com/gomad/mad/internal/sample"
)

// remoteWriteConfig is the configuration of a variant with bit 2: units
// read from names, names of the seeds with an aggregation suffix kept, and
// a limit on the decompressed message that two of MAD's live captures
// (345 kB) exceed and the other three (213 to 321 kB) do not.
var remoteWriteConfig = promrw.Config{
	InterpretUnits: true,
	ReservedNameWhitelist: []string{"a_total", "m_count", "x_bytes_sum", "cpu_seconds_total",
		"container_network_transmit_packets_total", "container_cpu_usage_seconds_total"},
	MaxDecompressed: 330_000,
}

// FuzzRemoteWrite: Prometheus remote write requests (one a round, cut at
// bodySep) through one promrw.Decoder and a shard; against
// promrwref.Decode and shardref. Each request must be refused by both with
// the same kind (400, or 413 over the limit) or accepted by both with the
// same counts; the shard and the reference must close the same buckets and
// refuse as many samples. variant: bit 0 picks remote write 2.0 (else
// 1.0); bit 1 takes each round as the body as sent (a snappy block), else
// as the message, which the harness compresses; bit 2 picks
// remoteWriteConfig (else MAD's defaults); the rest picks the aggregation
// (aggConfigs).
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzRemoteWrite$' -fuzztime 5m
func FuzzRemoteWrite(f *testing.F) {
	fuzzWith(f, vectors(f, "PrometheusParserTest"), 2, checkRemoteWrite)
}

// TestRemoteWriteSeeds runs every seed and MAD's vectors in every variant.
func TestRemoteWriteSeeds(t *testing.T) {
	seeds := append(corpus(t, "FuzzRemoteWrite"), vectors(t, "PrometheusParserTest")...)
	runSeeds(t, seeds, 8*len(aggConfigs), checkRemoteWrite)
}

func checkRemoteWrite(t testing.TB, data []byte, variant uint8) int {
	t.Helper()
	var cfg promrw.Config
	if variant&4 != 0 {
		cfg = remoteWriteConfig
	}
	rcfg := promrwref.Config{InterpretUnits: cfg.InterpretUnits, ReservedNameWhitelist: cfg.ReservedNameWhitelist,
		MaxDecompressed: cfg.MaxDecompressed}
	version := 1 + int(variant&1)
	dec := promrw.NewDecoder(cfg)
	decode := dec.Decode
	if version == 2 {
		decode = dec.DecodeV2
	}
	p := newPipeline(t, int(variant>>3))
	return checkBodies(t, p, data, func(body []byte) (c, wc sample.Counts, err, werr error) {
		if variant&2 == 0 {
			body = snappy.Encode(nil, body)
		}
		wc, werr = promrwref.Decode(body, version, rcfg, &p.want)
		c, err = decode(body, p.now(), p.route)
		return c, wc, err, werr
	})
}
