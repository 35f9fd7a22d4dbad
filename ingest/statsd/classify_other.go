//go:build !amd64 || purego

package statsd

func classify(p *[64]byte) uint64 { return classifyGeneric(p) }

func classifyBlocks(data []byte, out []uint64) {
	for i := range out {
		out[i] = classifyGeneric((*[64]byte)(data[i*64:]))
	}
}
