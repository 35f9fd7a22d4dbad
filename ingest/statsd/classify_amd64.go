//go:build !purego

package statsd

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2

// classifyAVX2 is classifyGeneric in AVX2 for n blocks.
//
//go:noescape
func classifyAVX2(p *byte, out *uint64, n int)

// classify is classifyGeneric, in AVX2 where the CPU has it.
func classify(data []byte, out []uint64) {
	if useAVX2 {
		classifyAVX2(&data[0], &out[0], len(out)/2)
		return
	}
	classifyGeneric(data, out)
}
