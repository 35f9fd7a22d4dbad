// Package fuzz holds cross-package differential fuzzing harnesses: bytes in a
// wire format are parsed by an ingest decoder and aggregated by a shard, and
// the result is compared with a reference decoder and aggregator. Fuzz targets
// of a single package live in that package (fuzz_test.go).
//
// One target per wire format: FuzzStatsD (ingest/statsd against
// statsdref), FuzzGraphite (graphite, graphiteref), FuzzTelegraf (telegraf,
// telegrafref), FuzzCollectd (collectd, collectdref), FuzzClientV1,
// FuzzClientV2 and FuzzClientV3 (clientpb, clientpbref) and
// FuzzRemoteWrite (promrw, promrwref; 1.0 and 2.0), each into a
// shard.Shard against shardref. A payload is cut into rounds at empty
// lines (a binary one, a request a round, at a separator); each round is
// decoded at a fixed wall time, applied, and followed by a tick, and at the
// end both sides flush. The decoders' accounting and refusals (by kind:
// MAD's 400, 413 or 500), every closed bucket (rendered by shardref) and
// the samples refused must agree. The seeds are the inputs of the
// decoders' table tests (testdata/fuzz) and MAD's vectors
// (testdata/mad/parsers); TestStatsDSeeds and its twins run each of them
// in every variant without -fuzz.
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzStatsD$' -fuzztime 5m
package fuzz
