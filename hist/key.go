package hist

import "math"

// Precision is the number of mantissa bits MAD keeps. MAD supports no other.
const Precision = 7

const (
	mantissaBits = 52
	exponentBits = 11
	packShift    = mantissaBits - Precision // 45
	// truncateMask keeps sign, exponent and the top Precision mantissa bits.
	truncateMask uint64 = 0xFFFFE00000000000
	keyBits             = Precision + exponentBits + 1 // 19
	keyMask             = 1<<keyBits - 1               // 0x7FFFF
	keySign             = 1 << (keyBits - 1)           // sign bit of a Key
	// NumKeys is the number of distinct bucket keys.
	NumKeys = 1 << keyBits
)

// Key is a packed bucket key: the 19 significant bits of a truncated double.
type Key uint32

// Truncate returns v's bucket value (MAD's truncateToDouble).
func Truncate(v float64) float64 {
	return math.Float64frombits(math.Float64bits(v) & truncateMask)
}

// Pack returns v's bucket key (MAD's pack): the truncated bits shifted down
// by 45 and masked to 19 bits.
func Pack(v float64) Key {
	return Key(math.Float64bits(v) & truncateMask >> packShift)
}

// PackedKey interprets a packed key as received on the wire (V3's int64
// SparseHistogramEntry.bucket). Like MAD's unpack, only the low 19 bits
// survive the shift back.
func PackedKey(wire int64) Key { return Key(uint64(wire) & keyMask) }

// Value returns the bucket value of k (MAD's unpack: the raw bits k << 45).
func (k Key) Value() float64 {
	return math.Float64frombits(uint64(k) << packShift)
}

// Finite reports whether the bucket value of k is finite. Keys whose
// exponent is all ones decode to ±Inf or NaN and are refused.
func (k Key) Finite() bool {
	return k>>Precision&(1<<exponentBits-1) != 1<<exponentBits-1
}

// order maps a key to a number that sorts in ascending numeric order of the
// bucket values, with -0 before +0 (Java's Double.compare, which orders MAD's
// sorted map): negative keys count down from the largest magnitude.
func (k Key) order() uint32 {
	if k&keySign != 0 {
		return keySign - 1 - uint32(k&(keySign-1))
	}
	return keySign + uint32(k)
}

// Less reports whether a's bucket value sorts before b's.
func Less(a, b Key) bool { return a.order() < b.order() }
