//go:build !amd64 || purego

package statsd

// classify is classifyGeneric.
func classify(data []byte, out []uint64) { classifyGeneric(data, out) }
