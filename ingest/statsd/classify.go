package statsd

import (
	"encoding/binary"
	"math/bits"
)

// Stage one of the parser classifies bytes 64 at a time into two bitmasks:
// the structural bytes of the grammar, ':' ',' '|' '@' '=', and the line
// ends, '\n', as simdjson does for JSON; flatten turns each into a list of
// positions, and stage two (parse) walks those instead of the bytes. On
// amd64 with AVX2 a block takes two 32-byte compares per byte class;
// elsewhere classifyGeneric does the same eight bytes at a time.

const lsbs = 0x0101010101010101

// classifyGeneric classifies len(out)/2 64-byte blocks of data: out[2i]
// has bit j set if byte j of block i is structural, out[2i+1] if it is '\n'.
func classifyGeneric(data []byte, out []uint64) {
	const pc, pm, pb, pa, pe, pn = lsbs * ':', lsbs * ',', lsbs * '|', lsbs * '@', lsbs * '=', lsbs * '\n'
	for b := 0; b+1 < len(out); b += 2 {
		blk := data[b*32 : b*32+64]
		var m, nl uint64
		for i := 0; i < 64; i += 8 {
			x := binary.LittleEndian.Uint64(blk[i:])
			z := matches(x, pc) | matches(x, pm) | matches(x, pb) | matches(x, pa) | matches(x, pe)
			m |= movemask(z) << i
			nl |= movemask(matches(x, pn)) << i
		}
		out[b], out[b+1] = m, nl
	}
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

// classifyInto classifies data into words (two per 64-byte block, as
// classifyGeneric), reusing its capacity. The last, partial block is
// classified from a zero-padded copy.
func classifyInto(words []uint64, data []byte) []uint64 {
	full := len(data) / 64
	n := 2*full + 2
	if cap(words) < n {
		words = make([]uint64, n, n+n/4)
	}
	words = words[:n]
	if full > 0 {
		classify(data[:full*64], words[:2*full])
	}
	var buf [64]byte
	copy(buf[:], data[full*64:])
	classify(buf[:], words[2*full:])
	return words
}

// flatten returns the positions of the set bits of every other word of
// words from the first (which = 0: structural bytes) or the second (which =
// 1: line ends), in order, then two sentinels at end (a walk may read one
// past its last position), reusing pos's capacity.
func flatten(pos []uint32, words []uint64, which, end int) []uint32 {
	// At most one position per block bit: sized for that, no counting pass.
	if max := len(words)/2*64 + 2; cap(pos) < max {
		pos = make([]uint32, max)
	}
	pos = pos[:cap(pos)]
	n := 0
	for w := which; w < len(words); w += 2 {
		base := uint32(w / 2 * 64)
		for m := words[w]; m != 0; m &= m - 1 {
			pos[n] = base + uint32(bits.TrailingZeros64(m))
			n++
		}
	}
	pos[n], pos[n+1] = uint32(end), uint32(end)
	return pos[:n+2]
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
