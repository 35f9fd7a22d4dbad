package pbwire

import (
	"encoding/binary"
	"math"
)

// Field is one field of a message, as Reader.Next read it: its tag and its
// value, validated. Offsets are those of the Reader's buffer.
type Field struct {
	// Tag is the field number << 3 | the wire type; 0 when Next read no
	// field (the message ended, or failed: see Reader.Err).
	Tag uint32
	// At is the offset of the value, just after the tag: where a decoder
	// reports a value it refuses.
	At int
	// S is the offset of a length-delimited payload; the payload is
	// [S, X).
	S int
	// X is a varint, fixed64 or fixed32 value, or the end of a
	// length-delimited payload.
	X uint64
}

// Num returns the field number.
func (f Field) Num() uint32 { return f.Tag >> 3 }

// Type returns the wire type.
func (f Field) Type() uint32 { return f.Tag & 7 }

// Uint64 returns a varint (uint64, int64 as its bits) or a fixed64.
func (f Field) Uint64() uint64 { return f.X }

// Int64 returns an int64 (a varint) or an sfixed64.
func (f Field) Int64() int64 { return int64(f.X) }

// Uint32 returns a uint32 (the low 32 bits of a varint, as Java reads it)
// or a fixed32.
func (f Field) Uint32() uint32 { return uint32(f.X) }

// Int32 returns an int32 or an enum number: the low 32 bits of the varint
// as a Java int (readInt32, readEnum), or an sfixed32.
func (f Field) Int32() int32 { return int32(uint32(f.X)) }

// Sint64 returns a sint64 (zigzag).
func (f Field) Sint64() int64 { return ZigZag64(f.X) }

// Sint32 returns a sint32 (zigzag of the low 32 bits).
func (f Field) Sint32() int32 { return ZigZag32(f.X) }

// Bool returns a bool: any varint but 0 is true (readBool).
func (f Field) Bool() bool { return f.X != 0 }

// Double returns a double (a Fixed64Type field).
func (f Field) Double() float64 { return math.Float64frombits(f.X) }

// Float returns a float (a Fixed32Type field).
func (f Field) Float() float32 { return math.Float32frombits(uint32(f.X)) }

// Bounds returns the bounds [s, e) of a length-delimited payload.
func (f Field) Bounds() (s, e int) { return f.S, int(f.X) }

// Reader reads the fields of one message, in order, as protobuf-java
// reads them (see the package documentation); it allocates nothing and
// copies nothing. The idiom:
//
//	r := pbwire.NewReader(b)
//	for r.More() {
//		switch f := r.Next(); f.Tag {
//		case 1<<3 | pbwire.BytesType:
//			name, ok := r.String(f)
//			…
//		case 2<<3 | pbwire.VarintType:
//			t = f.Int64()
//		case 3<<3 | pbwire.BytesType:
//			sub := r.Message(f)
//			… (a loop over sub's fields, then sub.Err())
//		}
//	}
//	if r.Err() != pbwire.OK { … r.Err(), r.ErrOffset() … }
//
// Every field is validated as Next reads it: one that a decoder's switch
// does not know (including a known number with another wire type, and a
// group, skipped whole) is thereby skipped exactly as Java skips it. A
// failure, in Next or in an accessor that checks (String, Message, the
// packed appenders), ends the loop: More returns false, Err says why.
//
// The accessors take a Field this Reader returned, of the wire type the
// decoder's case names: Bytes, String, Message and the Append methods a
// length-delimited one. What they return references the buffer, and is
// valid as long as the buffer is. A oneof is its cases in the switch (the
// last one on the wire wins, as in Java); a singular message field that
// occurs twice is the decoder's to merge.
type Reader struct {
	b     []byte // the buffer, cut at the end of the message
	i     int    // offset of the next field
	depth int32  // nesting depth of the message's fields
	code  Code
	at    int
}

// NewReader returns a Reader of the top-level message b (its fields are at
// nesting depth 0). Offsets are indexes into b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// NewReaderAt returns a Reader of the message b[s:e] whose fields are at
// nesting depth depth, with offsets that remain indexes into b.
func NewReaderAt(b []byte, s, e, depth int) Reader {
	return Reader{b: b[:e], i: s, depth: int32(depth)}
}

// More reports whether fields are left to read.
func (r *Reader) More() bool { return r.i < len(r.b) }

// Offset returns the offset of the next field (the end of the message once
// More is false and the message was read without failure).
func (r *Reader) Offset() int { return r.i }

// Err returns why reading failed, or OK.
func (r *Reader) Err() Code { return r.code }

// ErrOffset returns where reading failed (see the package documentation).
func (r *Reader) ErrOffset() int { return r.at }

// fail records a failure and ends the message.
func (r *Reader) fail(c Code, at int) Field {
	r.code, r.at, r.i = c, at, len(r.b)
	return Field{}
}

// Next reads the next field, with its value, and validates it; on failure
// (or at the end) it returns a Field whose Tag is 0. It is not inlined:
// the field comes back in registers, and the fields of one-byte tags with
// a short value are read without further calls.
func (r *Reader) Next() Field {
	b, i := r.b, r.i
	if i+1 < len(b) {
		if c := b[i]; c-8 < 0x80-8 {
			j := i + 1
			switch c & 7 {
			case BytesType:
				if n := int(b[j]); n < 0x80 && n < len(b)-j {
					r.i = j + 1 + n
					return Field{Tag: uint32(c), At: j, S: j + 1, X: uint64(j + 1 + n)}
				}
			case VarintType:
				if v := b[j]; v < 0x80 {
					r.i = j + 1
					return Field{Tag: uint32(c), At: j, X: uint64(v)}
				}
			case Fixed64Type:
				if len(b)-j >= 8 {
					r.i = j + 8
					return Field{Tag: uint32(c), At: j, X: binary.LittleEndian.Uint64(b[j:])}
				}
			}
		}
	}
	return r.next()
}

// NextShortBytes is Next's fast path for the commonest field, small enough
// to inline: a length-delimited field (a string, bytes, a message, a packed
// field) with a one-byte tag and a one-byte length. If the next field is
// one, it reads it and returns true; if not, it reads nothing and returns
// false, and the caller calls Next. For a hot loop:
//
//	for r.More() {
//		f, ok := r.NextShortBytes()
//		if !ok {
//			f = r.Next()
//		}
//		switch f.Tag { … }
//	}
func (r *Reader) NextShortBytes() (f Field, ok bool) {
	b, i := r.b, r.i
	if i+1 < len(b) && shortBytesTag[b[i]] && b[i+1] < 0x80 {
		if e := i + 2 + int(b[i+1]); e <= len(b) {
			r.i = e
			return Field{Tag: uint32(b[i]), At: i + 1, S: i + 2, X: uint64(e)}, true
		}
	}
	return f, false
}

// shortBytesTag marks the one-byte tags of length-delimited fields: field
// numbers 1 to 15 (a table lookup keeps NextShortBytes within the inliner's
// budget).
var shortBytesTag = func() (t [256]bool) {
	for n := 1; n < 16; n++ {
		t[n<<3|BytesType] = true
	}
	return t
}()

// next is Next's general path.
func (r *Reader) next() Field {
	b, i := r.b, r.i
	if i >= len(b) {
		return Field{}
	}
	t, j := Tag(b, i)
	if j < 0 {
		return r.fail(Code(-j), i)
	}
	f := Field{Tag: t, At: j}
	var k int
	switch t & 7 {
	case VarintType:
		f.X, k = Varint(b, j)
	case Fixed64Type:
		f.X, k = Fixed64(b, j)
	case Fixed32Type:
		var v uint32
		v, k = Fixed32(b, j)
		f.X = uint64(v)
	case BytesType:
		f.S, k = Len(b, j)
		f.X = uint64(k)
	default:
		// A group (skipped whole, returned for the decoder to ignore), a
		// stray end-group tag, wire types 6 and 7.
		var at int
		if k, at = Skip(b, i, j, t, int(r.depth)); k < 0 {
			return r.fail(Code(-k), at)
		}
	}
	if k < 0 {
		return r.fail(Code(-k), j)
	}
	r.i = k
	return f
}

// Bytes returns the payload of a length-delimited field (a subslice of the
// buffer: it must not be modified).
func (r *Reader) Bytes(f Field) []byte {
	e := int(f.X)
	return r.b[f.S:e:e]
}

// String returns the payload of a proto3 string field and true, or fails
// the Reader (InvalidUTF8 at f.At) and returns false if it is not valid
// UTF-8.
func (r *Reader) String(f Field) ([]byte, bool) {
	s := r.Bytes(f)
	if !ValidUTF8(s) {
		r.fail(InvalidUTF8, f.At)
		return nil, false
	}
	return s, true
}

// Message returns a Reader of the message that the length-delimited field f
// holds, one level deeper. Beyond MaxDepth it fails at once with
// RecursionLimit at f.At, as Java's readMessage does: a decoder checks the
// sub-Reader's Err after its loop, as it must anyway.
func (r *Reader) Message(f Field) Reader {
	e := int(f.X)
	if r.depth >= MaxDepth {
		return Reader{b: r.b[:e], i: e, depth: r.depth + 1, code: RecursionLimit, at: f.At}
	}
	return Reader{b: r.b[:e], i: f.S, depth: r.depth + 1}
}

// AppendDoubles appends the values of a packed repeated double field to
// dst; on PackedFixed64 it fails the Reader (at f.At) and returns false.
func (r *Reader) AppendDoubles(dst []float64, f Field) ([]float64, bool) {
	dst, c := AppendDoubles(dst, r.Bytes(f))
	return dst, r.check(c, f.At)
}

// AppendFixed64s appends the values of a packed repeated fixed64 or
// sfixed64 field to dst; on PackedFixed64 it fails the Reader.
func (r *Reader) AppendFixed64s(dst []uint64, f Field) ([]uint64, bool) {
	dst, c := AppendFixed64s(dst, r.Bytes(f))
	return dst, r.check(c, f.At)
}

// AppendFixed32s appends the values of a packed repeated fixed32, sfixed32
// or float field to dst; on PackedFixed32 it fails the Reader.
func (r *Reader) AppendFixed32s(dst []uint32, f Field) ([]uint32, bool) {
	dst, c := AppendFixed32s(dst, r.Bytes(f))
	return dst, r.check(c, f.At)
}

// AppendVarints appends the values of a packed repeated varint field to
// dst; on a malformed or truncated varint it fails the Reader (at that
// varint).
func (r *Reader) AppendVarints(dst []uint64, f Field) ([]uint64, bool) {
	dst, k, at := AppendVarints(dst, r.b, f.S, int(f.X))
	return dst, r.checkIndex(k, at)
}

// AppendUint32s appends the values of a packed repeated uint32, int32 or
// enum field to dst (the low 32 bits of each varint, as Java reads them);
// on a malformed or truncated varint it fails the Reader (at that varint).
func (r *Reader) AppendUint32s(dst []uint32, f Field) ([]uint32, bool) {
	dst, k, at := AppendUint32s(dst, r.b, f.S, int(f.X))
	return dst, r.checkIndex(k, at)
}

// CheckPacked validates a packed repeated field that the decoder does not
// read (Java parses it all the same): of fixed-size values of size bytes (8
// or 4), the length must be a multiple of size; of varints (size 0), every
// varint must be whole and at most ten bytes. On failure it fails the
// Reader, as the Append methods do, and returns false. It allocates nothing.
func (r *Reader) CheckPacked(f Field, size int) bool {
	switch size {
	case 8:
		return r.check(checkLen(int(f.X)-f.S, 8, PackedFixed64), f.At)
	case 4:
		return r.check(checkLen(int(f.X)-f.S, 4, PackedFixed32), f.At)
	}
	b := r.b[:f.X]
	for i := f.S; i < len(b); {
		j := i + 1
		if b[i] >= 0x80 {
			_, j = varintLong(b, i)
			if j < 0 {
				return r.checkIndex(j, i)
			}
		}
		i = j
	}
	return true
}

func checkLen(n, size int, c Code) Code {
	if n%size != 0 {
		return c
	}
	return OK
}

// checkIndex fails the Reader if k, an index from a primitive, is the
// negative of a Code.
func (r *Reader) checkIndex(k, at int) bool {
	if k < 0 {
		r.fail(Code(-k), at)
		return false
	}
	return true
}

func (r *Reader) check(c Code, at int) bool {
	if c != OK {
		r.fail(c, at)
		return false
	}
	return true
}
