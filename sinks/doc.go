// Package sinks holds the sink contract and MAD's sinks (MultiSink,
// PeriodFilteringSink, AggregationServerHttpSink, TelemetrySink, …). A sink
// receives MAD PeriodicData from the emitter; each sink has a bounded queue
// and its own goroutine, retries where its protocol allows, and counts what
// it drops. Sinks never block the shards.
package sinks
