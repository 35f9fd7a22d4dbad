package statsd

import (
	"encoding/binary"
	"math/bits"
)

// Stage one of the parser classifies bytes 64 at a time into a bitmask of
// the structural bytes of the grammar, ':' ',' '|' '@' '=', as simdjson
// does for JSON; stage two (ParseLine) walks the set bits instead of the
// bytes. On amd64 with AVX2 a chunk takes two 32-byte compares per byte
// class; elsewhere classifyGeneric does the same eight bytes at a time.

const lsbs = 0x0101010101010101

// classifyGeneric returns the structural mask of the 64 bytes at p: bit i
// is set if p[i] is structural.
func classifyGeneric(p *[64]byte) uint64 {
	const pc, pm, pb, pa, pe = lsbs * ':', lsbs * ',', lsbs * '|', lsbs * '@', lsbs * '='
	var m uint64
	for i := 0; i < 64; i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		z := matches(x, pc) | matches(x, pm) | matches(x, pb) | matches(x, pa) | matches(x, pe)
		m |= movemask(z) << i
	}
	return m
}

// matches returns a mask with the high bit set in exactly the bytes of x
// equal to the byte broadcast in p. The low seven bits are added without
// carrying across bytes, so it is exact in every byte.
func matches(x, p uint64) uint64 {
	const lo7 = 0x7F7F7F7F7F7F7F7F
	t := x ^ p
	return ^((t&lo7 + lo7) | t | lo7)
}

// movemask gathers the high bits of the bytes of z (no other bit may be
// set) into the low eight bits: the multiplier moves byte k's bit from
// position 8k+7 to 56+k, and no two partial products overlap.
func movemask(z uint64) uint64 {
	return (z >> 7) * 0x0102040810204080 >> 56
}

// classifyInto returns the structural bitmap of data in words, reusing its
// capacity: bit p%64 of word p/64 is set if data[p] is structural. It has
// len(data)/64+1 words, so the word holding position len(data) exists.
func classifyInto(words []uint64, data []byte) []uint64 {
	n := len(data)/64 + 1
	if cap(words) < n {
		words = make([]uint64, n, n+n/4)
	}
	words = words[:n]
	full := len(data) / 64
	if full > 0 {
		classifyBlocks(data[:full*64], words[:full])
	}
	var buf [64]byte
	copy(buf[:], data[full*64:])
	words[full] = classify(&buf)
	return words
}

// flatten returns the positions of the set bits of words, in order,
// followed by two sentinels at len(data) (the walk of the last line may read
// one past its structurals), reusing pos's capacity.
func flatten(pos []uint32, words []uint64, dataLen int) []uint32 {
	n := 0
	for _, m := range words {
		n += bits.OnesCount64(m)
	}
	if cap(pos) < n+2 {
		pos = make([]uint32, n+2, n+n/4+2)
	}
	pos = pos[:n+2]
	n = 0
	for w, m := range words {
		base := uint32(w * 64)
		for ; m != 0; m &= m - 1 {
			pos[n] = base + uint32(bits.TrailingZeros64(m))
			n++
		}
	}
	pos[n], pos[n+1] = uint32(dataLen), uint32(dataLen)
	return pos
}

// cursor yields the structural positions of a line in order.
type cursor struct {
	pos []uint32 // structural positions from the line's first on, sentinel-ended
	i   int
	end int
}

// next returns the position of the next structural byte before end, or end.
func (c *cursor) next() int {
	p := int(c.pos[c.i])
	c.i++
	return min(p, c.end)
}

// nextPipe returns the position of the next '|' before end, or end.
func (c *cursor) nextPipe(data []byte) int {
	p := c.next()
	for p < c.end && data[p] != '|' {
		p = c.next()
	}
	return p
}
