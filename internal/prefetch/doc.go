// Package prefetch issues software prefetch hints: it asks the CPU to start
// loading a cache line that the caller will read soon, without waiting for
// it. A prefetch never faults and never changes program results, so callers
// use it only as a performance hint, computed from data that may be stale.
//
// Go has no prefetch intrinsic outside the runtime; on amd64 and arm64 this
// is a few instructions of assembly (PREFETCHT0, PRFM PLDL1KEEP), elsewhere
// and under the race detector a no-op.
package prefetch
