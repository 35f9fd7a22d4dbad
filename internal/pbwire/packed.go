package pbwire

import (
	"encoding/binary"
	"math"
	"slices"
)

// Packed repeated fields. Java's parser accepts a repeated scalar field
// packed (one length-delimited field) or not (one field per value), in any
// mix; a decoder handles both tags. A packed payload of fixed-size values
// whose length is not a multiple of their size is refused (Java finds its
// last value truncated).

// AppendDoubles appends the packed doubles p (the bytes of a packed
// repeated double field) to dst. It is small enough to inline. Errors:
// PackedFixed64.
func AppendDoubles(dst []float64, p []byte) ([]float64, Code) {
	if len(p)&7 != 0 {
		return dst, PackedFixed64
	}
	dst = slices.Grow(dst, len(p)/8)
	for ; len(p) >= 8; p = p[8:] {
		dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(p)))
	}
	return dst, OK
}

// AppendFixed64s appends packed fixed64s (or sfixed64s) p to dst. Errors:
// PackedFixed64.
func AppendFixed64s(dst []uint64, p []byte) ([]uint64, Code) {
	if len(p)&7 != 0 {
		return dst, PackedFixed64
	}
	dst = slices.Grow(dst, len(p)/8)
	for ; len(p) >= 8; p = p[8:] {
		dst = append(dst, binary.LittleEndian.Uint64(p))
	}
	return dst, OK
}

// AppendFixed32s appends packed fixed32s (sfixed32s, or floats as bits) p
// to dst. Errors: PackedFixed32.
func AppendFixed32s(dst []uint32, p []byte) ([]uint32, Code) {
	if len(p)&3 != 0 {
		return dst, PackedFixed32
	}
	dst = slices.Grow(dst, len(p)/4)
	for ; len(p) >= 4; p = p[4:] {
		dst = append(dst, binary.LittleEndian.Uint32(p))
	}
	return dst, OK
}

// AppendVarints appends the packed varints of b[s:e] to dst (uint64,
// int64 as its bits, sint64 through ZigZag64). It returns e, or the
// negative of a Code (Truncated, MalformedVarint) and the offset of the
// varint that failed.
func AppendVarints(dst []uint64, b []byte, s, e int) (out []uint64, k, at int) {
	return appendVarints(dst, b, s, e)
}

// AppendUint32s appends the packed varints of b[s:e] to dst as Java reads
// uint32, int32 and enum values: their low 32 bits (readRawVarint32); sint32
// through ZigZag32. It returns as AppendVarints.
func AppendUint32s(dst []uint32, b []byte, s, e int) (out []uint32, k, at int) {
	return appendVarints(dst, b, s, e)
}

func appendVarints[T uint32 | uint64](dst []T, b []byte, s, e int) (out []T, k, at int) {
	b = b[:e]
	for i := s; i < e; {
		c := b[i]
		if c < 0x80 {
			dst = append(dst, T(c))
			i++
			continue
		}
		// Two and three bytes inline (histogram bucket keys are three).
		if i+2 < e {
			c1, c2 := b[i+1], b[i+2]
			if c1 < 0x80 {
				dst = append(dst, T(uint64(c&0x7f)|uint64(c1)<<7))
				i += 2
				continue
			}
			if c2 < 0x80 {
				dst = append(dst, T(uint64(c&0x7f)|uint64(c1&0x7f)<<7|uint64(c2)<<14))
				i += 3
				continue
			}
		}
		v, j := varintLong(b, i)
		if j < 0 {
			return dst, j, i
		}
		dst = append(dst, T(v))
		i = j
	}
	return dst, e, e
}
