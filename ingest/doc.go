// Package ingest runs the data-plane loops that receive metrics: one UDP
// socket per core read with recvmmsg into preallocated buffers, gnet event
// loops for newline-delimited TCP sources, and producer slots that HTTP,
// gRPC and Kafka handlers borrow for one request. Each loop parses records
// with a pure decoder from ingest/<format> straight into per-shard
// sample.Batches and publishes them over its SPSC rings.
//
// A loop never blocks on anything but its own socket, never allocates or
// locks per sample, and counts every line it cannot use or drops.
package ingest
