package pbwire

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Wire types: the low three bits of a tag. A decoder switches on whole
// tags, num<<3 | type, so that a known field number with another wire type
// falls to its default case and is skipped, as Java skips it.
const (
	VarintType     = 0
	Fixed64Type    = 1
	BytesType      = 2
	StartGroupType = 3
	EndGroupType   = 4
	Fixed32Type    = 5
)

// MaxDepth is CodedInputStream's default recursion limit: a message or
// group may be entered from fields at nesting depth 0 to 99 (the fields of
// the top-level message are at depth 0).
const MaxDepth = 100

// The primitives read at b[i], where b ends where the message does (a
// decoder cuts the buffer at the message's end once, b = b[:end], so that
// offsets stay those of the whole buffer). They return the index after
// what they read, or the negative of a Code.

// Varint reads a varint as CodedInputStream.readRawVarint64 does: up to ten
// bytes, the tenth of any value below 0x80 (the bits beyond 64 are dropped;
// protowire refuses a tenth byte above 1). Errors: Truncated,
// MalformedVarint.
func Varint(b []byte, i int) (uint64, int) {
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return varintLong(b, i)
}

// varintLong reads a varint of more than one byte (or fails). With ten
// bytes left it is unrolled with the bounds checked once: faster than
// protowire.ConsumeVarint on the two- to six-byte varints of lengths and
// timestamps (BenchmarkVarint; see the package documentation).
//
//go:noinline
func varintLong(b []byte, i int) (uint64, int) {
	if len(b)-i >= 10 {
		p := b[i : i+10 : i+10]
		x := uint64(p[0] & 0x7f)
		if p[0] < 0x80 {
			return x, i + 1
		}
		for k := 1; k < 10; k++ {
			c := p[k]
			x |= uint64(c&0x7f) << (7 * k)
			if c < 0x80 {
				return x, i + k + 1
			}
		}
		return 0, -int(MalformedVarint)
	}
	var x uint64
	for s := uint(0); s < 64; s += 7 {
		if i >= len(b) {
			return 0, -int(Truncated)
		}
		c := b[i]
		i++
		x |= uint64(c&0x7f) << s
		if c < 0x80 {
			return x, i
		}
	}
	return 0, -int(MalformedVarint)
}

// Tag reads a tag as CodedInputStream.readTag does: the low 32 bits of a
// varint of up to ten bytes (readRawVarint32), whose field number must not
// be 0. Wire types are not checked here (Skip and Reader.Next check them).
// Errors: Truncated, MalformedVarint, InvalidTag.
func Tag(b []byte, i int) (uint32, int) {
	v, j := Varint(b, i)
	if j < 0 {
		return 0, j
	}
	if uint32(v) < 8 {
		return 0, -int(InvalidTag)
	}
	return uint32(v), j
}

// ShortTag is Tag's fast path, small enough to inline in a decoder's loop
// (Go inlines no function that falls back to a call): the one-byte tag at
// b[i], i < len(b), of a field number from 1 to 15, and the index after it.
// If ok is false, call Tag.
func ShortTag(b []byte, i int) (t uint32, j int, ok bool) {
	c := b[i]
	return uint32(c), i + 1, c-8 < 0x80-8
}

// Len reads a length prefix as readRawVarint32 does (the low 32 bits of up
// to ten bytes, a Java int) and returns the bounds [s, e) of the bytes it
// delimits. Errors: Truncated, MalformedVarint, NegativeSize.
func Len(b []byte, i int) (s, e int) {
	v, j := Varint(b, i)
	if j < 0 {
		return 0, j
	}
	n := int32(uint32(v))
	if n < 0 {
		return 0, -int(NegativeSize)
	}
	if int(n) > len(b)-j {
		return 0, -int(Truncated)
	}
	return j, j + int(n)
}

// ShortLen is Len's fast path, small enough to inline: a length prefix of
// one or two bytes (a length below 16 KiB) whose bytes fit in b. If ok is
// false, call Len.
func ShortLen(b []byte, i int) (s, e int, ok bool) {
	if i < len(b) {
		n := int(b[i])
		s = i + 1
		if n >= 0x80 {
			if s >= len(b) || b[s] >= 0x80 {
				return 0, 0, false
			}
			n = n&0x7f | int(b[s])<<7
			s++
		}
		if n <= len(b)-s {
			return s, s + n, true
		}
	}
	return 0, 0, false
}

// String reads a proto3 string (readStringRequireUtf8): a length-delimited
// field whose bytes must be valid UTF-8 (ValidUTF8). It returns their
// bounds. Errors: those of Len, InvalidUTF8.
func String(b []byte, i int) (s, e int) {
	s, e, ok := ShortLen(b, i)
	if !ok {
		if s, e = Len(b, i); e < 0 {
			return 0, e
		}
	}
	if !ValidUTF8(b[s:e]) {
		return 0, -int(InvalidUTF8)
	}
	return s, e
}

// Fixed64 reads a little-endian 64-bit value. (protowire.ConsumeFixed64
// reads the same, but through b[i:] it costs 92 of the inliner's budget of
// 80: Fixed64 and Double inline.) Errors: Truncated.
func Fixed64(b []byte, i int) (uint64, int) {
	if len(b)-i < 8 {
		return 0, -int(Truncated)
	}
	return binary.LittleEndian.Uint64(b[i:]), i + 8
}

// Fixed32 reads a little-endian 32-bit value. Errors: Truncated.
func Fixed32(b []byte, i int) (uint32, int) {
	if len(b)-i < 4 {
		return 0, -int(Truncated)
	}
	return binary.LittleEndian.Uint32(b[i:]), i + 4
}

// Double reads a double (Fixed64's bits). Errors: Truncated.
func Double(b []byte, i int) (float64, int) {
	v, j := Fixed64(b, i)
	return math.Float64frombits(v), j
}

// ZigZag64 decodes a sint64 (protowire.DecodeZigZag).
func ZigZag64(x uint64) int64 { return protowire.DecodeZigZag(x) }

// ZigZag32 decodes a sint32 as Java does: the low 32 bits of the varint,
// zigzag-decoded (decodeZigZag32(readRawVarint32())).
func ZigZag32(x uint64) int32 {
	u := uint32(x)
	return int32(u>>1) ^ -int32(u&1)
}

// Skip skips the value of a field the decoder does not read, validating it
// as Java's skipField does; the field's tag t was read at b[i:j] and the
// fields of its message are at nesting depth depth. It returns the index
// after the value, or the negative of a Code and the offset at where the
// failure was found (see the package documentation). A known field number
// with an unexpected wire type is skipped the same way: to Java it is an
// unknown field. Errors: InvalidTag, InvalidWireType (at i); Truncated,
// MalformedVarint, NegativeSize, RecursionLimit, EndGroup (at or after j).
func Skip(b []byte, i, j int, t uint32, depth int) (k, at int) {
	if t>>3 == 0 {
		return -int(InvalidTag), i
	}
	if t&7 > Fixed32Type {
		return -int(InvalidWireType), i
	}
	at = j
	return skip(b, j, t>>3, t&7, depth, &at), at
}

// skip skips the value of field (num, wt) that starts at b[i], in a message
// whose fields are at nesting depth depth; *at is set to where a failure is
// found.
func skip(b []byte, i int, num, wt uint32, depth int, at *int) int {
	*at = i
	switch wt {
	case VarintType:
		_, j := Varint(b, i)
		return j
	case Fixed64Type:
		if len(b)-i < 8 {
			return -int(Truncated)
		}
		return i + 8
	case BytesType:
		_, e := Len(b, i)
		return e
	case Fixed32Type:
		if len(b)-i < 4 {
			return -int(Truncated)
		}
		return i + 4
	case StartGroupType:
		if depth >= MaxDepth {
			return -int(RecursionLimit)
		}
		for {
			*at = i
			if i >= len(b) {
				// The message ends inside the group: Java's last tag
				// is 0, not the expected end-group tag.
				return -int(EndGroup)
			}
			t, j := Tag(b, i)
			if j < 0 {
				return j
			}
			if t&7 == EndGroupType {
				if t>>3 != num {
					return -int(EndGroup)
				}
				return j
			}
			if i = skip(b, j, t>>3, t&7, depth+1, at); i < 0 {
				return i
			}
		}
	case EndGroupType:
		// An end-group tag outside a group ends the message, which is then
		// malformed (checkLastTagWas(0)).
		return -int(EndGroup)
	}
	return -int(InvalidWireType)
}
