// Package engine assembles and runs mad: it builds pipelines from MAD's
// configuration (HOCON or JSON, Java class names as types), starts the
// shards and ingest loops of each pipeline and wires them with SPSC rings,
// runs the emitter that turns sealed hist.Snapshots into MAD PeriodicData for
// the sink tree, reloads configuration without losing open buckets, collects
// self-metrics, and serves the control-plane HTTP endpoints.
//
// Everything here is control plane: ordinary Go that may allocate, lock and
// log. Nothing in the data plane imports it.
package engine
