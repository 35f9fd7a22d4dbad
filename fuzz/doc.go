// Package fuzz holds cross-package differential fuzzing harnesses: bytes in a
// wire format are parsed by an ingest decoder and aggregated by a shard, and
// the result is compared with a reference decoder and aggregator. Fuzz targets
// of a single package live in that package (fuzz_test.go).
package fuzz
