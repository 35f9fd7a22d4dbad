//go:build !purego

package statsd

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2

// classifyAVX2 is classifyGeneric in AVX2.
//
//go:noescape
func classifyAVX2(p *[64]byte) uint64

// classifyBlocksAVX2 classifies len(out) 64-byte blocks of p into out.
//
//go:noescape
func classifyBlocksAVX2(p *byte, out *uint64, n int)

// classifyBlocks classifies the 64-byte blocks of data into out, one word
// per block.
func classifyBlocks(data []byte, out []uint64) {
	if useAVX2 {
		classifyBlocksAVX2(&data[0], &out[0], len(out))
		return
	}
	for i := range out {
		out[i] = classifyGeneric((*[64]byte)(data[i*64:]))
	}
}

func classify(p *[64]byte) uint64 {
	if useAVX2 {
		return classifyAVX2(p)
	}
	return classifyGeneric(p)
}
