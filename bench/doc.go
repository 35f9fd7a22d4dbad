// Package bench holds the end-to-end benchmark harness behind cmd/madbench:
// deterministic workloads (PERF.md's S1, S2, S3), load generators for StatsD,
// MAD's client protocols and Prometheus remote write, peer runners, the
// measurement of CPU, RSS, loss and latency from outside the target process,
// and result tables and plots.
package bench
