// Package sinks holds the sink contract (Sink, PeriodicData: what the
// emitter hands on, MAD's PeriodicData) and MAD's sinks that route, filter
// or rewrite buckets for the sinks they wrap (MultiSink,
// PeriodFilteringSink, DimensionInjectingSink, TimeThresholdSink), that turn
// what they see into mad's own metrics (PeriodicStatisticsSink,
// TracingSink), and MetricSeriesLoggingSink. The sinks that do I/O live in
// sinks/<impl>: jsonlines, cagg (MAD's Cluster Aggregator sinks) and
// telemetry (the telemetry websockets).
//
// Record is called by one emitter goroutine and must not block it: a sink
// that writes or sends queues the work for a goroutine of its own, in a
// bounded queue, and counts what it drops; the wrapping sinks work
// synchronously. No sink ever blocks a shard. Counting sinks report through
// selfmetric.Reporter (report.go).
package sinks
