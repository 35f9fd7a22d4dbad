package pbwire

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// readAll reads a message's fields and returns them as text, with the
// failure, if any: "field 1 bytes [1,3) | field 2 varint 5 | … | code at N".
func readAll(r *Reader) string {
	var out []string
	for r.More() {
		f := r.Next()
		if f.Tag == 0 {
			if r.Err() == OK {
				out = append(out, "BUG: tag 0 without a failure")
			}
			break
		}
		switch f.Type() {
		case BytesType:
			s, e := f.Bounds()
			out = append(out, fmt.Sprintf("%d bytes [%d,%d)", f.Num(), s, e))
		case VarintType:
			out = append(out, fmt.Sprintf("%d varint %d", f.Num(), f.Uint64()))
		case Fixed64Type:
			out = append(out, fmt.Sprintf("%d fixed64 %#x", f.Num(), f.Uint64()))
		case Fixed32Type:
			out = append(out, fmt.Sprintf("%d fixed32 %#x", f.Num(), f.Uint32()))
		case StartGroupType:
			out = append(out, fmt.Sprintf("%d group", f.Num()))
		}
	}
	if r.Err() != OK {
		out = append(out, fmt.Sprintf("%s at %d", r.Err(), r.ErrOffset()))
	}
	return strings.Join(out, " | ")
}

// TestReader: fields and failures as the Reader reports them, on its fast
// and general paths.
func TestReader(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 300)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty message", nil, ""},
		{"each wire type", cat(raw(0x0a, 0x02, 'h', 'i', 0x10, 0x05, 0x19), make([]byte, 8), raw(0x25, 1, 2, 3, 4)),
			"1 bytes [2,4) | 2 varint 5 | 3 fixed64 0x0 | 4 fixed32 0x4030201"},
		{"empty bytes at the end", raw(0x0a, 0x00), "1 bytes [2,2)"},
		{"long varint", raw(0x10, 0x96, 0x01), "2 varint 150"},
		{"long length", cat(raw(0x0a, 0xac, 0x02), long), "1 bytes [3,303)"},
		{"two-byte tag", raw(0x80, 0x01, 0x07), "16 varint 7"},
		{"tag beyond 32 bits: the low 32 bits", raw(0x88, 0x80, 0x80, 0x80, 0x10, 0x07), "1 varint 7"},
		{"tenth varint byte 0x7f", cat(raw(0x08), ff(9), raw(0x7f)), fmt.Sprintf("1 varint %d", uint64(math.MaxUint64))},
		{"group, skipped whole", raw(0x0b, 0x08, 0x01, 0x0c, 0x10, 0x02), "1 group | 2 varint 2"},
		{"wrong wire type for a field number is just a field", raw(0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x08, 0x01), "1 fixed64 0x807060504030201 | 1 varint 1"},

		{"field number 0", raw(0x08, 0x01, 0x00, 0x01), "1 varint 1 | invalid tag (field number 0) at 2"},
		{"field number 0, two bytes", raw(0x80, 0x00), "invalid tag (field number 0) at 0"},
		{"wire type 6", raw(0x08, 0x01, 0x0e), "1 varint 1 | invalid wire type at 2"},
		{"wire type 7", raw(0x0f), "invalid wire type at 0"},
		{"truncated tag", raw(0x80), "truncated message: a field runs past the end of its message at 0"},
		{"malformed tag", cat(ff(10), raw(0x01)), "malformed varint at 0"},
		{"truncated varint", raw(0x08, 0x80), "truncated message: a field runs past the end of its message at 1"},
		{"malformed varint", cat(raw(0x08), ff(10), raw(0x01)), "malformed varint at 1"},
		{"truncated fixed64", raw(0x09, 1, 2, 3), "truncated message: a field runs past the end of its message at 1"},
		{"truncated fixed32", raw(0x0d, 1, 2, 3), "truncated message: a field runs past the end of its message at 1"},
		{"truncated bytes", raw(0x0a, 0x03, 'a'), "truncated message: a field runs past the end of its message at 1"},
		{"negative length", raw(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), "negative length at 1"},
		{"stray end group", raw(0x08, 0x01, 0x0c, 0x08, 0x02), "1 varint 1 | end-group tag does not match a start-group tag at 3"},
		{"group closed by another number", raw(0x0b, 0x14), "end-group tag does not match a start-group tag at 1"},
		{"group not closed", raw(0x0b, 0x08, 0x01), "end-group tag does not match a start-group tag at 3"},
		{"groups 100 deep", cat(bytes.Repeat([]byte{0x0b}, 100), bytes.Repeat([]byte{0x0c}, 100)), "1 group"},
		{"groups 101 deep", cat(bytes.Repeat([]byte{0x0b}, 101), bytes.Repeat([]byte{0x0c}, 101)), "messages nested more than 100 deep at 101"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.b)
			if got := readAll(&r); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			if r.More() || r.Next().Tag != 0 {
				t.Fatalf("fields after the end")
			}
		})
	}
}

// TestNextShortBytes: the fast path reads exactly the fields it should, as
// Next reads them, and nothing else.
func TestNextShortBytes(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 128)
	for _, c := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"field 1", raw(0x0a, 0x02, 'h', 'i'), true},
		{"field 15, empty", raw(0x7a, 0x00), true},
		{"field 16", raw(0x82, 0x01, 0x00), false},
		{"field number 0", raw(0x02, 0x00), false},
		{"varint", raw(0x08, 0x01), false},
		{"group", raw(0x0b, 0x0c), false},
		{"two-byte length", cat(raw(0x0a, 0x80, 0x01), long), false},
		{"truncated", raw(0x0a, 0x03, 'a'), false},
		{"tag alone", raw(0x0a), false},
		{"empty", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(c.b)
			f, ok := r.NextShortBytes()
			if ok != c.ok {
				t.Fatalf("got %v; want %v", ok, c.ok)
			}
			if !ok {
				if f != (Field{}) || r.Offset() != 0 {
					t.Fatalf("read %+v, to %d", f, r.Offset())
				}
				return
			}
			r2 := NewReader(c.b)
			if g := r2.Next(); g != f || r2.Offset() != r.Offset() {
				t.Fatalf("got %+v to %d; Next %+v to %d", f, r.Offset(), g, r2.Offset())
			}
		})
	}
}

// TestReaderAt: a message inside a buffer keeps the buffer's offsets and
// its depth.
func TestReaderAt(t *testing.T) {
	b := cat(raw(0xaa, 0xbb), raw(0x08, 0x80), raw(0xcc))
	r := NewReaderAt(b, 2, 4, 0)
	if got := readAll(&r); got != "truncated message: a field runs past the end of its message at 3" {
		t.Errorf("got %s", got)
	}
	g := cat(raw(0xaa), bytes.Repeat([]byte{0x0b}, 99), bytes.Repeat([]byte{0x0c}, 99))
	r = NewReaderAt(g, 1, len(g), 1)
	if got := readAll(&r); got != "1 group" {
		t.Errorf("99 groups at depth 1: got %s", got)
	}
	r = NewReaderAt(g, 1, len(g), 2)
	if got := readAll(&r); got != "messages nested more than 100 deep at 100" {
		t.Errorf("99 groups at depth 2: got %s", got)
	}
}

// TestMessage: sub-readers, and Java's recursion limit on messages.
func TestMessage(t *testing.T) {
	inner := raw(0x08, 0x07)
	b := cat(raw(0x12, byte(len(inner))), inner, raw(0x18, 0x01))
	r := NewReader(b)
	f := r.Next()
	sub := r.Message(f)
	if got := readAll(&sub); got != "1 varint 7" {
		t.Errorf("sub-message: got %s", got)
	}
	if got := readAll(&r); got != "3 varint 1" {
		t.Errorf("after the sub-message: got %s", got)
	}

	// Messages nested n deep: field 1 of each holds the next.
	nest := func(n int) []byte {
		m := raw(0x08, 0x01)
		for range n {
			m = protowire.AppendBytes(raw(0x0a), m)
		}
		return m
	}
	depth := func(b []byte) (int, Code, int) {
		r := NewReader(b)
		for d := 0; ; d++ {
			f := r.Next()
			if f.Tag != 1<<3|BytesType {
				return d, r.Err(), r.ErrOffset()
			}
			r = r.Message(f)
		}
	}
	if d, c, _ := depth(nest(100)); d != 100 || c != OK {
		t.Errorf("100 nested messages: got depth %d, %v", d, c)
	}
	// The 101st message is refused, at its length prefix.
	b = nest(101)
	want := 0
	for k := 0; k <= 100; k++ {
		_, n := protowire.ConsumeVarint(b[want+1:])
		if k < 100 {
			want += 1 + n
		}
	}
	want++
	if d, c, at := depth(b); d != 101 || c != RecursionLimit || at != want {
		t.Errorf("101 nested messages: got depth %d, %v at %d; want 101, RecursionLimit at %d", d, c, at, want)
	}
}

// TestAccessors: what Java reads from each wire type.
func TestAccessors(t *testing.T) {
	var b []byte
	b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 1<<32|5)          // int32 5
	b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), math.MaxUint64)   // int32 -1
	b = protowire.AppendVarint(protowire.AppendTag(b, 3, protowire.VarintType), 1<<32|3)          // sint32 -2
	b = protowire.AppendVarint(protowire.AppendTag(b, 4, protowire.VarintType), 2)                // bool true
	b = protowire.AppendFixed32(protowire.AppendTag(b, 5, protowire.Fixed32Type), 0x3fc00000)     // float 1.5
	b = protowire.AppendFixed64(protowire.AppendTag(b, 6, protowire.Fixed64Type), 1<<63)          // double -0
	b = protowire.AppendString(protowire.AppendTag(b, 7, protowire.BytesType), "ok")              // string
	b = protowire.AppendString(protowire.AppendTag(b, 8, protowire.BytesType), "\xed\xa0\x80")    // a surrogate
	b = protowire.AppendVarint(protowire.AppendTag(b, 9, protowire.VarintType), math.MaxUint64-1) // sint64 max
	r := NewReader(b)
	var got []string
	for r.More() {
		f := r.Next()
		switch f.Num() {
		case 1, 2:
			got = append(got, fmt.Sprint(f.Int32(), f.Uint32()))
		case 3:
			got = append(got, fmt.Sprint(f.Sint32(), f.Sint64()))
		case 4:
			got = append(got, fmt.Sprint(f.Bool(), f.Int64()))
		case 5:
			got = append(got, fmt.Sprint(f.Float()))
		case 6:
			got = append(got, fmt.Sprint(math.Signbit(f.Double()), f.Double()))
		case 7, 8:
			s, ok := r.String(f)
			got = append(got, fmt.Sprintf("%q %v", s, ok))
		case 9:
			got = append(got, fmt.Sprint(f.Sint64()))
		}
	}
	want := `5 5|-1 4294967295|-2 -2147483650|true 2|1.5|true -0|"ok" true|"" false`
	if s := strings.Join(got, "|"); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
	if r.Err() != InvalidUTF8 || r.ErrOffset() != len(b)-len("\xed\xa0\x80")-1-len(protowire.AppendVarint(protowire.AppendTag(nil, 9, 0), math.MaxUint64-1)) {
		t.Errorf("got %v at %d", r.Err(), r.ErrOffset())
	}
}

// TestReaderPacked: packed fields through the Reader, failing it.
func TestReaderPacked(t *testing.T) {
	var b []byte
	b = protowire.AppendBytes(protowire.AppendTag(b, 1, protowire.BytesType), protowire.AppendFixed64(nil, math.Float64bits(2)))
	b = protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), raw(0x01, 0x96, 0x01))
	b = protowire.AppendBytes(protowire.AppendTag(b, 3, protowire.BytesType), protowire.AppendFixed64(nil, 7))
	b = protowire.AppendBytes(protowire.AppendTag(b, 4, protowire.BytesType), protowire.AppendFixed32(nil, 9))
	bad := len(b)
	b = protowire.AppendBytes(protowire.AppendTag(b, 5, protowire.BytesType), raw(0x01, 0x80))
	r := NewReader(b)
	var ds []float64
	var vs, f64 []uint64
	var f32, u32 []uint32
	ok := true
	for r.More() && ok {
		f := r.Next()
		switch f.Num() {
		case 1:
			ds, ok = r.AppendDoubles(ds, f)
		case 2:
			vs, ok = r.AppendVarints(vs, f)
			if ok {
				u32, ok = r.AppendUint32s(u32, f)
			}
		case 5:
			vs, ok = r.AppendVarints(vs, f)
		case 3:
			f64, ok = r.AppendFixed64s(f64, f)
		case 4:
			f32, ok = r.AppendFixed32s(f32, f)
		}
	}
	r2 := NewReader(b)
	for _, size := range []int{8, 0, 8, 4} {
		if !r2.CheckPacked(r2.Next(), size) {
			t.Fatalf("CheckPacked of a valid run, size %d: %v", size, r2.Err())
		}
	}
	if r2.CheckPacked(r2.Next(), 0) || r2.Err() != Truncated || r2.ErrOffset() != bad+3 {
		t.Errorf("CheckPacked of a truncated varint: got %v at %d", r2.Err(), r2.ErrOffset())
	}
	if got := fmt.Sprint(ds, vs, f64, f32, u32); got != "[2] [1 150 1] [7] [9] [1 150]" {
		t.Errorf("got %s", got)
	}
	if r.Err() != Truncated || r.ErrOffset() != bad+3 {
		t.Errorf("got %v at %d; want Truncated at %d", r.Err(), r.ErrOffset(), bad+3)
	}
	r = NewReader(b[bad:])
	if _, ok := r.AppendUint32s(nil, r.Next()); ok || r.Err() != Truncated || r.ErrOffset() != 3 {
		t.Errorf("AppendUint32s, truncated: got %v, %v at %d", ok, r.Err(), r.ErrOffset())
	}
	for _, c := range []struct {
		num  int
		p    []byte
		code Code
	}{{1, make([]byte, 7), PackedFixed64}, {3, make([]byte, 9), PackedFixed64}, {4, make([]byte, 5), PackedFixed32}} {
		b := protowire.AppendBytes(protowire.AppendTag(raw(0x08, 0x01), protowire.Number(c.num), protowire.BytesType), c.p)
		r := NewReader(b)
		r.Next()
		f := r.Next()
		var ok bool
		switch c.num {
		case 1:
			_, ok = r.AppendDoubles(nil, f)
		case 3:
			_, ok = r.AppendFixed64s(nil, f)
		case 4:
			_, ok = r.AppendFixed32s(nil, f)
		}
		if ok || r.Err() != c.code || r.ErrOffset() != 3 || r.More() {
			t.Errorf("field %d, %d bytes: got %v, %v at %d; want %v at 3", c.num, len(c.p), ok, r.Err(), r.ErrOffset(), c.code)
		}
		size := map[int]int{1: 8, 3: 8, 4: 4}[c.num]
		r = NewReader(b)
		r.Next()
		if ok := r.CheckPacked(r.Next(), size); ok || r.Err() != c.code || r.ErrOffset() != 3 || r.More() {
			t.Errorf("CheckPacked field %d, %d bytes: got %v, %v at %d; want %v at 3", c.num, len(c.p), ok, r.Err(), r.ErrOffset(), c.code)
		}
	}
}
