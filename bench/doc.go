// Package bench holds the end-to-end benchmark harness behind cmd/madbench:
// deterministic workloads (PERF.md's S1, …), load generators, and the
// measurement of a target process from outside it (CPU, memory, kernel
// drops), so that mad and its peers are measured the same way.
package bench
