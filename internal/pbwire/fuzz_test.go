package pbwire

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// FuzzReader reads arbitrary bytes as a message, and every length-delimited
// payload in it as a message one level deeper, four ways:
//
//   - with Reader;
//   - with a decoder's loop over the primitives (ShortTag, Tag, ShortLen,
//     Len, Varint, Fixed64, Fixed32, Skip), which must agree with Reader
//     exactly: fields, failure and its offset;
//   - with javaRef below, an independent transliteration of
//     CodedInputStream's rules, which must agree exactly too;
//   - with protowire (ConsumeTag, ConsumeVarint, ConsumeBytes,
//     ConsumeFieldValue), which must agree on the fields and on whether
//     and why the message is refused, unless javaRef met one of the cases
//     where Java and protowire differ (the package documentation's table):
//     a tenth varint byte from 2 to 0x7f, a tag or length beyond 32 bits
//     (31 for a length), nesting beyond 100, a message ending inside a
//     group (both refuse it; protowire calls it truncated).
//
// Each payload is also read as packed varints, by AppendVarints, javaRef
// and protowire, under the same rules.
//
//	go test ./internal/pbwire -run '^$' -fuzz '^FuzzReader$' -fuzztime 2m
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkMessage(t, b, 0, len(b), 0)
	})
}

func fuzzSeeds() [][]byte {
	var b []byte
	b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 1513239602974)
	b = protowire.AppendFixed64(protowire.AppendTag(b, 2, protowire.Fixed64Type), math.Float64bits(1.5))
	b = protowire.AppendFixed32(protowire.AppendTag(b, 3, protowire.Fixed32Type), 7)
	inner := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "host")
	inner = protowire.AppendBytes(protowire.AppendTag(inner, 2, protowire.BytesType), protowire.AppendVarint(raw(0x01), 300))
	b = protowire.AppendBytes(protowire.AppendTag(b, 4, protowire.BytesType), inner)
	b = append(b, 0x2b, 0x08, 0x01, 0x33, 0x34, 0x2c) // groups 5 { 1: 1, group 6 {} }
	return [][]byte{
		nil, b,
		cat(raw(0x08), ff(9), raw(0x7f)),             // tenth byte 0x7f
		raw(0x8a, 0x80, 0x80, 0x80, 0x10, 0x01, 'x'), // tag beyond 32 bits
		raw(0x0a, 0x81, 0x80, 0x80, 0x80, 0x10, 'x'), // length beyond 32 bits
		raw(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f),      // negative length
		cat(bytes.Repeat(raw(0x0b), 101), bytes.Repeat(raw(0x0c), 101)),
		raw(0x0b, 0x08, 0x01),                            // group not closed
		raw(0x0b, 0x14), raw(0x0c), raw(0x0e), raw(0x00), // mismatched, stray, wire type 6, field 0
	}
}

// Java and protowire differ on an input that meets one of these.
const (
	trigVarint10 = 1 << iota // a tenth varint byte from 2 to 0x7f
	trigTag32                // a tag of 32 bits or more
	trigLen31                // a length of 31 bits or more
	trigDepth                // nesting beyond MaxDepth
	trigEOFGroup             // the message ends inside a group: both refuse, protowire says truncated
)

// outcome is a message read one way: its fields and how it ended.
type outcome struct {
	fields []string
	code   Code
	at     int // -1 where the reader gives no offset (protowire)
	trig   int // javaRef: the differences met
}

func (o outcome) String() string {
	return fmt.Sprintf("%s | %v at %d", strings.Join(o.fields, " "), o.code, o.at)
}

// fieldString writes a field: number, wire type (protowire's number may
// exceed 29 bits), value or bounds.
func fieldString(num uint64, typ uint32, x uint64, s, e int) string {
	switch typ {
	case BytesType:
		return fmt.Sprintf("%d:[%d,%d)", num, s, e)
	case StartGroupType:
		return fmt.Sprintf("%d:group", num)
	}
	return fmt.Sprintf("%d/%d:%d", num, typ, x)
}

// checkMessage reads b[s:e] at nesting depth depth all ways, compares, and
// recurses into its length-delimited payloads.
func checkMessage(t *testing.T, b []byte, s, e, depth int) {
	t.Helper()
	var payloads [][2]int
	r := NewReaderAt(b, s, e, depth)
	var rd outcome
	for r.More() {
		f := r.Next()
		if f.Tag == 0 {
			break
		}
		rd.fields = append(rd.fields, fieldString(uint64(f.Num()), f.Type(), f.X, f.S, int(f.X)))
		if f.Type() == BytesType {
			payloads = append(payloads, [2]int{f.S, int(f.X)})
		}
	}
	rd.code, rd.at = r.Err(), -1
	if rd.code != OK {
		rd.at = r.ErrOffset()
	}

	// The same with NextShortBytes, Next's inlined fast path, first.
	r = NewReaderAt(b, s, e, depth)
	var fast outcome
	for r.More() {
		f, ok := r.NextShortBytes()
		if !ok {
			f = r.Next()
		} else if f.Type() != BytesType || f.Num() > 15 {
			t.Fatalf("NextShortBytes read %d/%d", f.Num(), f.Type())
		}
		if f.Tag == 0 {
			break
		}
		fast.fields = append(fast.fields, fieldString(uint64(f.Num()), f.Type(), f.X, f.S, int(f.X)))
	}
	fast.code, fast.at = r.Err(), -1
	if fast.code != OK {
		fast.at = r.ErrOffset()
	}
	if fast.String() != rd.String() {
		t.Fatalf("depth %d [%d,%d): with NextShortBytes\n %v\nReader\n %v", depth, s, e, fast, rd)
	}

	if lp := loopRead(b[:e], s, depth); lp.String() != rd.String() {
		t.Fatalf("depth %d [%d,%d): primitives' loop\n %v\nReader\n %v", depth, s, e, lp, rd)
	}
	jr := javaRef(b[:e], s, depth)
	if jr.String() != rd.String() {
		t.Fatalf("depth %d [%d,%d): javaRef\n %v\nReader\n %v", depth, s, e, jr, rd)
	}
	pw := protowireRead(b[:e], s)
	if jr.trig&^trigEOFGroup == 0 {
		want := jr
		want.at = -1
		if jr.trig&trigEOFGroup != 0 && want.code == EndGroup {
			want.code = Truncated
		}
		if pw.String() != want.String() {
			t.Fatalf("depth %d [%d,%d): protowire\n %v\nReader (no difference met)\n %v", depth, s, e, pw, rd)
		}
	}

	for _, p := range payloads {
		checkPacked(t, b, p[0], p[1])
		if depth < MaxDepth {
			checkMessage(t, b, p[0], p[1], depth+1)
		}
	}
	if depth >= MaxDepth {
		// Reader.Message refuses to go deeper, at the payload's prefix.
		r := NewReaderAt(b, s, e, depth)
		for r.More() {
			if f := r.Next(); f.Type() == BytesType && f.Tag != 0 {
				if sub := r.Message(f); sub.More() || sub.Err() != RecursionLimit || sub.ErrOffset() != f.At {
					t.Fatalf("Message at depth %d: got %v at %d", depth, sub.Err(), sub.ErrOffset())
				}
			}
		}
	}
}

// TestJavaDiffers: the inputs where Java and protowire must differ do, and
// javaRef flags them, so that FuzzReader's comparison with protowire leaves
// out only these.
func TestJavaDiffers(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		trig int
	}{
		{"tenth varint byte 0x7f: Java drops the bits, protowire refuses", cat(raw(0x08), ff(9), raw(0x7f)), trigVarint10},
		{"tag beyond 32 bits: Java reads field 1, protowire field 2^29+1", raw(0x8a, 0x80, 0x80, 0x80, 0x10, 0x01, 'x'), trigTag32},
		{"tag beyond 34 bits: Java reads field 1, protowire refuses", raw(0x8a, 0x80, 0x80, 0x80, 0x70, 0x01, 'x'), trigTag32},
		{"length beyond 32 bits: Java reads 1, protowire refuses", raw(0x0a, 0x81, 0x80, 0x80, 0x80, 0x10, 'x'), trigLen31},
		{"negative length: Java says negative, protowire truncated", raw(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), trigLen31},
		{"groups 101 deep: Java refuses, protowire accepts", cat(bytes.Repeat(raw(0x0b), 101), bytes.Repeat(raw(0x0c), 101)), trigDepth},
		{"group not closed: Java says end-group, protowire truncated", raw(0x0b, 0x08, 0x01), trigEOFGroup},
	} {
		t.Run(c.name, func(t *testing.T) {
			jr, pw := javaRef(c.b, 0, 0), protowireRead(c.b, 0)
			jr.at = -1
			if jr.trig != c.trig {
				t.Errorf("javaRef flags %#x; want %#x", jr.trig, c.trig)
			}
			if jr.String() == pw.String() {
				t.Errorf("javaRef and protowire agree: %v", jr)
			}
			r := NewReader(c.b)
			if got := readAll(&r); got == "" && jr.code != OK {
				t.Errorf("Reader accepts what Java refuses")
			}
		})
	}
}

// loopRead reads a message the way a decoder's hand-written loop does, on
// the primitives.
func loopRead(b []byte, i, depth int) outcome {
	var o outcome
	o.at = -1
	fail := func(k, at int) outcome {
		o.code, o.at = Code(-k), at
		return o
	}
	for i < len(b) {
		t, j, ok := ShortTag(b, i)
		if !ok {
			if t, j = Tag(b, i); j < 0 {
				return fail(j, i)
			}
		}
		switch t & 7 {
		case BytesType:
			s, e, ok := ShortLen(b, j)
			if !ok {
				if s, e = Len(b, j); e < 0 {
					return fail(e, j)
				}
			}
			o.fields = append(o.fields, fieldString(uint64(t>>3), t&7, 0, s, e))
			i = e
		case VarintType:
			v, k := Varint(b, j)
			if k < 0 {
				return fail(k, j)
			}
			o.fields = append(o.fields, fieldString(uint64(t>>3), t&7, v, 0, 0))
			i = k
		case Fixed64Type:
			v, k := Fixed64(b, j)
			if k < 0 {
				return fail(k, j)
			}
			o.fields = append(o.fields, fieldString(uint64(t>>3), t&7, v, 0, 0))
			i = k
		case Fixed32Type:
			v, k := Fixed32(b, j)
			if k < 0 {
				return fail(k, j)
			}
			o.fields = append(o.fields, fieldString(uint64(t>>3), t&7, uint64(v), 0, 0))
			i = k
		default:
			k, at := Skip(b, i, j, t, depth)
			if k < 0 {
				return fail(k, at)
			}
			o.fields = append(o.fields, fieldString(uint64(t>>3), t&7, 0, 0, 0))
			i = k
		}
	}
	return o
}

// protowireRead reads a message with protowire.
func protowireRead(b []byte, i int) outcome {
	o := outcome{at: -1}
	fail := func(n int) outcome {
		switch msg := protowire.ParseError(n).Error(); {
		case strings.HasSuffix(msg, "unexpected EOF"):
			o.code = Truncated
		case strings.HasSuffix(msg, "invalid field number"):
			o.code = InvalidTag
		case strings.HasSuffix(msg, "variable length integer overflow"):
			o.code = MalformedVarint
		case strings.HasSuffix(msg, "cannot parse reserved wire type"):
			o.code = InvalidWireType
		case strings.HasSuffix(msg, "mismatching end group marker"):
			o.code = EndGroup
		default:
			o.code = NumCodes
		}
		return o
	}
	for i < len(b) {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return fail(n)
		}
		i += n
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b[i:])
			if n < 0 {
				return fail(n)
			}
			s := i + n - len(v)
			o.fields = append(o.fields, fieldString(uint64(num), uint32(typ), 0, s, s+len(v)))
			i += n
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b[i:])
			if n < 0 {
				return fail(n)
			}
			o.fields = append(o.fields, fieldString(uint64(num), uint32(typ), v, 0, 0))
			i += n
		case protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b[i:])
			if n < 0 {
				return fail(n)
			}
			o.fields = append(o.fields, fieldString(uint64(num), uint32(typ), v, 0, 0))
			i += n
		case protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b[i:])
			if n < 0 {
				return fail(n)
			}
			o.fields = append(o.fields, fieldString(uint64(num), uint32(typ), uint64(v), 0, 0))
			i += n
		default:
			n := protowire.ConsumeFieldValue(num, typ, b[i:])
			if n < 0 {
				return fail(n)
			}
			o.fields = append(o.fields, fieldString(uint64(num), uint32(typ), 0, 0, 0))
			i += n
		}
	}
	return o
}

// javaRef reads a message as CodedInputStream does, written apart from the
// package (byte by byte, with Java's names), noting where Java and
// protowire differ.
type javaStream struct {
	b    []byte
	pos  int
	trig int
}

// readRawVarint64: ten bytes at most; the eleventh is malformed.
func (in *javaStream) readRawVarint64() (uint64, Code) {
	var result uint64
	for shift := 0; shift < 64; shift += 7 {
		if in.pos >= len(in.b) {
			return 0, Truncated
		}
		c := in.b[in.pos]
		in.pos++
		result |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift == 63 && c > 1 {
				in.trig |= trigVarint10
			}
			return result, OK
		}
	}
	return 0, MalformedVarint
}

// readRawVarint32: the same bytes, the low 32 bits kept.
func (in *javaStream) readRawVarint32(limit uint64, trig int) (int32, Code) {
	v, c := in.readRawVarint64()
	if c == OK && v >= limit {
		in.trig |= trig
	}
	return int32(uint32(v)), c
}

// readTag: the low 32 bits of a varint; field number 0 is invalid.
func (in *javaStream) readTag() (uint32, Code) {
	tag, c := in.readRawVarint32(1<<32, trigTag32)
	if c == OK && uint32(tag)>>3 == 0 {
		c = InvalidTag
	}
	return uint32(tag), c
}

// readValue reads the value of a field of wire type 0, 1, 2 or 5: a varint
// or fixed value, or the bounds [s, e) of length-delimited bytes.
func (in *javaStream) readValue(wt uint32) (v uint64, s, e int, c Code) {
	switch wt {
	case 0:
		v, c = in.readRawVarint64()
		return v, 0, 0, c
	case 1, 5:
		size := 8
		if wt == 5 {
			size = 4
		}
		if len(in.b)-in.pos < size {
			return 0, 0, 0, Truncated
		}
		for k := size - 1; k >= 0; k-- {
			v = v<<8 | uint64(in.b[in.pos+k])
		}
		in.pos += size
		return v, 0, 0, OK
	}
	size, c := in.readRawVarint32(1<<31, trigLen31)
	switch {
	case c != OK:
		return 0, 0, 0, c
	case size < 0:
		return 0, 0, 0, NegativeSize
	case int(size) > len(in.b)-in.pos:
		return 0, 0, 0, Truncated
	}
	s = in.pos
	in.pos += int(size)
	return 0, s, in.pos, OK
}

func javaRef(b []byte, i, depth int) outcome {
	in := &javaStream{b: b, pos: i}
	o := outcome{at: -1}
	fail := func(c Code, at int) outcome {
		o.code, o.at, o.trig = c, at, in.trig
		return o
	}
	for in.pos < len(b) {
		tagAt := in.pos
		tag, c := in.readTag()
		if c != OK {
			return fail(c, tagAt)
		}
		valAt := in.pos
		switch wt := tag & 7; wt {
		case 0, 1, 2, 5:
			v, s, e, c := in.readValue(wt)
			if c != OK {
				return fail(c, valAt)
			}
			o.fields = append(o.fields, fieldString(uint64(tag>>3), wt, v, s, e))
		case 3:
			if c, at := in.skipGroup(tag>>3, depth); c != OK {
				return fail(c, at)
			}
			o.fields = append(o.fields, fieldString(uint64(tag>>3), wt, 0, 0, 0))
		case 4:
			// parseUnknownField returns false: the message ends here, on
			// a tag that is not 0 (checkLastTagWas(0) fails).
			return fail(EndGroup, valAt)
		default:
			return fail(InvalidWireType, tagAt)
		}
	}
	o.trig = in.trig
	return o
}

// skipGroup skips a group's fields up to its end-group tag (skipMessage,
// then checkLastTagWas), from fields at depth depth.
func (in *javaStream) skipGroup(num uint32, depth int) (Code, int) {
	if depth >= MaxDepth {
		in.trig |= trigDepth
		return RecursionLimit, in.pos
	}
	for {
		tagAt := in.pos
		if in.pos >= len(in.b) {
			in.trig |= trigEOFGroup // readTag returns 0 at the end
			return EndGroup, tagAt
		}
		tag, c := in.readTag()
		if c != OK {
			return c, tagAt
		}
		valAt := in.pos
		switch wt := tag & 7; wt {
		case 0, 1, 2, 5:
			if _, _, _, c := in.readValue(wt); c != OK {
				return c, valAt
			}
		case 3:
			if c, at := in.skipGroup(tag>>3, depth+1); c != OK {
				return c, at
			}
		case 4:
			if tag>>3 != num {
				return EndGroup, tagAt
			}
			return OK, 0
		default:
			return InvalidWireType, valAt
		}
	}
}

// checkPacked reads b[s:e] as packed varints three ways.
func checkPacked(t *testing.T, b []byte, s, e int) {
	t.Helper()
	got, k, at := AppendVarints(nil, b, s, e)
	code := OK
	if k < 0 {
		code = Code(-k)
	} else {
		at = -1
	}
	in := &javaStream{b: b[:e], pos: s}
	var want []uint64
	wantCode, wantAt := OK, -1
	for in.pos < e {
		p := in.pos
		v, c := in.readRawVarint64()
		if c != OK {
			wantCode, wantAt = c, p
			break
		}
		want = append(want, v)
	}
	if fmt.Sprint(got, code, at) != fmt.Sprint(want, wantCode, wantAt) {
		t.Fatalf("packed [%d,%d): got %v %v at %d; javaRef %v %v at %d", s, e, got, code, at, want, wantCode, wantAt)
	}
	// CheckPacked, through a Reader holding the run as one field.
	r := Reader{b: b[:e]}
	if ok := r.CheckPacked(Field{S: s, X: uint64(e)}, 0); ok != (code == OK) || r.Err() != code || code != OK && r.ErrOffset() != at {
		t.Fatalf("packed [%d,%d): CheckPacked %v, %v at %d; AppendVarints %v at %d", s, e, ok, r.Err(), r.ErrOffset(), code, at)
	}
	got32, k32, at32 := AppendUint32s(nil, b, s, e)
	if k32 != k || at32 != max(at, 0) && k < 0 || len(got32) != len(got) {
		t.Fatalf("packed [%d,%d): AppendUint32s %d at %d, %d values; AppendVarints %d at %d, %d values", s, e, k32, at32, len(got32), k, at, len(got))
	}
	for i, v := range got {
		if got32[i] != uint32(v) {
			t.Fatalf("packed [%d,%d): AppendUint32s[%d] = %d; want the low 32 bits of %d", s, e, i, got32[i], v)
		}
	}
	if in.trig != 0 {
		return
	}
	var pw []uint64
	pwCode := OK
	for p := b[s:e]; len(p) > 0; {
		v, n := protowire.ConsumeVarint(p)
		if n < 0 {
			pwCode = MalformedVarint
			if strings.HasSuffix(protowire.ParseError(n).Error(), "unexpected EOF") {
				pwCode = Truncated
			}
			break
		}
		pw = append(pw, v)
		p = p[n:]
	}
	if fmt.Sprint(pw, pwCode) != fmt.Sprint(want, wantCode) {
		t.Fatalf("packed [%d,%d): protowire %v %v; javaRef %v %v", s, e, pw, pwCode, want, wantCode)
	}
}
