// Package pipeline runs MAD's pipelines: sources feeding an aggregator (the
// shards and the emitter that turns their sealed tables into MAD's
// PeriodicData) whose closed buckets go to a sink tree. A Pipeline is built
// from a Config of Go values (package config builds one from MAD's files)
// and changed in place by Update, which reconciles its sources and its
// aggregation with a new Config without losing anything.
//
// Everything here is control plane: ordinary Go that may allocate, lock and
// log. It wires the data plane (ingest loops, rings, shards) and never sits
// on its path.
package pipeline
