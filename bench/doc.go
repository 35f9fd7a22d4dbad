// Package bench holds the end-to-end benchmark harness behind cmd/madbench:
// deterministic workloads (PERF.md's S1, …, and OTLP metrics), load
// generators, and the measurement of a target process from outside it
// (CPU, memory, kernel drops), so that mad and its peers are measured the
// same way. The OpenTelemetry Collector peer is built from
// bench/peers/otelcol, a module of its own.
package bench
