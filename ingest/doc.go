// Package ingest runs the sources of samples: StatsD over UDP (one
// SO_REUSEPORT socket per loop, read with recvmmsg into preallocated
// buffers, udp.go), lines over TCP (StatsD, Graphite or Telegraf on gnet
// event loops, tcp.go) and MAD's HTTP routes (client protocols V1-V3,
// collectd, Prometheus remote write, http.go), whose requests borrow a
// producer slot each. Every source parses with a pure decoder from
// ingest/<format> straight into per-shard sample.Batches and publishes them
// over its SPSC rings (producer.go); MAD's wrapping sources (MappingSource,
// TimeStampingSource) rewrite samples on the producer before they are
// routed (mapping.go).
//
// Sources share one interface (source.go): a SourceConfig opens a Source
// over lanes to the shards, and a running Source can be retargeted to new
// lanes and options without closing its sockets, so that a pipeline
// reconciles its sources in one loop. Sources report their counters through
// selfmetric.Reporter (report.go).
//
// A UDP or TCP loop never blocks on anything but its own socket, never
// allocates or locks per sample, and counts every line it cannot use or
// drops.
package ingest
