package statsd

import (
	"encoding/binary"
	"math/bits"
)

// SWAR scanning: find the first of a few bytes eight bytes at a time. For
// v = x XOR broadcast(c), (v - 0x01…01) &^ v & 0x80…80 has the high bit set
// in every byte of v that is zero, and maybe in bytes above one (a borrow),
// never below: the lowest set bit is exactly the first match (Mycroft's
// zero-byte test).
const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

func zeroBytes(v uint64) uint64 { return (v - lsbs) &^ v & msbs }

// index1 returns the index of the first c in b, or len(b).
func index1(b []byte, c byte) int {
	p := lsbs * uint64(c)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := zeroBytes(binary.LittleEndian.Uint64(b[i:]) ^ p); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && b[i] != c; i++ {
	}
	return i
}

// index2 returns the index of the first c1 or c2 in b, or len(b).
func index2(b []byte, c1, c2 byte) int {
	p1, p2 := lsbs*uint64(c1), lsbs*uint64(c2)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := zeroBytes(x^p1) | zeroBytes(x^p2); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && b[i] != c1 && b[i] != c2; i++ {
	}
	return i
}

// indexName returns the index of the first byte that ends a metric name
// (':' ',' '|' '@'), or len(b).
func indexName(b []byte) int {
	const pc, pm, pb, pa = lsbs * ':', lsbs * ',', lsbs * '|', lsbs * '@'
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := zeroBytes(x^pc) | zeroBytes(x^pm) | zeroBytes(x^pb) | zeroBytes(x^pa); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == ':' || c == ',' || c == '|' || c == '@' {
			break
		}
	}
	return i
}

// matches returns a mask with the high bit set in exactly the bytes of x
// equal to the byte broadcast in p. Unlike zeroBytes it is exact in every
// byte: the low seven bits are added without carrying across bytes.
func matches(x, p uint64) uint64 {
	const lo7 = 0x7F7F7F7F7F7F7F7F
	t := x ^ p
	return ^((t&lo7 + lo7) | t | lo7)
}

// load8 reads 8 bytes of b at i, zero-padding past the end of b.
func load8(b []byte, i int) uint64 {
	if i+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[i:])
	}
	var buf [8]byte
	copy(buf[:], b[i:])
	return binary.LittleEndian.Uint64(buf[:])
}
