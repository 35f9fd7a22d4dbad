package pbwire

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// raw returns bytes as they are.
func raw(b ...byte) []byte { return b }

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func ff(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }

// TestVarint: readRawVarint64's rules.
func TestVarint(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		v    uint64
		k    int // index after, or -code
	}{
		{"one byte", raw(0x05), 5, 1},
		{"two bytes", raw(0x96, 0x01), 150, 2},
		{"non-canonical zero", raw(0x80, 0x80, 0x00), 0, 3},
		{"max uint64", cat(ff(9), raw(0x01)), math.MaxUint64, 10},
		{"tenth byte 0x7f: the bits beyond 64 are dropped", cat(ff(9), raw(0x7f)), math.MaxUint64, 10},
		{"tenth byte 0x02", cat(raw(0x81), bytes.Repeat([]byte{0x80}, 8), raw(0x02)), 1, 10},
		{"eleven bytes", cat(ff(10), raw(0x01)), 0, -int(MalformedVarint)},
		{"ten continuation bytes at the end", ff(10), 0, -int(MalformedVarint)},
		{"empty", nil, 0, -int(Truncated)},
		{"truncated", raw(0x80, 0x80), 0, -int(Truncated)},
		{"nine continuation bytes at the end", ff(9), 0, -int(Truncated)},
	} {
		t.Run(c.name, func(t *testing.T) {
			// At offset 0 and after a prefix, with ten bytes left and not.
			for _, pre := range [][]byte{nil, raw(0xaa, 0xbb)} {
				b := cat(pre, c.b)
				v, k := Varint(b, len(pre))
				want := c.k
				if want > 0 {
					want += len(pre)
				}
				if v != c.v || k != want {
					t.Fatalf("prefix %d: got %d, %d; want %d, %d", len(pre), v, k, c.v, want)
				}
			}
		})
	}
}

// TestTag: readTag's rules: the low 32 bits of up to ten bytes, field
// number 0 refused.
func TestTag(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		tag  uint32
		k    int
	}{
		{"field 1 bytes", raw(0x0a), 0x0a, 1},
		{"field 16", raw(0x80, 0x01), 16 << 3, 2},
		{"largest field number", raw(0xfa, 0xff, 0xff, 0xff, 0x0f), math.MaxUint32 &^ 5, 5},
		{"beyond 32 bits: the low 32 bits count", raw(0x8a, 0x80, 0x80, 0x80, 0x10), 0x0a, 5},
		{"ten bytes, only the low 32 bits count", cat(raw(0x8a), bytes.Repeat([]byte{0x80}, 8), raw(0x7f)), 0x0a, 10},
		{"field number 0", raw(0x02), 0, -int(InvalidTag)},
		{"field number 0 in the low 32 bits", raw(0x82, 0x80, 0x80, 0x80, 0x10), 0, -int(InvalidTag)},
		{"eleven bytes", cat(ff(10), raw(0x00)), 0, -int(MalformedVarint)},
		{"truncated", raw(0x8a), 0, -int(Truncated)},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag, k := Tag(c.b, 0)
			if tag != c.tag || k != c.k {
				t.Fatalf("got %#x, %d; want %#x, %d", tag, k, c.tag, c.k)
			}
			st, sj, ok := ShortTag(c.b, 0)
			switch {
			case ok && (st != tag || sj != k):
				t.Fatalf("ShortTag: got %#x, %d; Tag %#x, %d", st, sj, tag, k)
			case !ok && len(c.b) == 1 && c.b[0] >= 8 && c.b[0] < 0x80:
				t.Fatalf("ShortTag refused the one-byte tag %#x", c.b[0])
			case ok && len(c.b) != 1:
				t.Fatalf("ShortTag took the first byte of a longer tag")
			}
		})
	}
}

// TestLen: length prefixes as readRawVarint32 reads them.
func TestLen(t *testing.T) {
	payload := bytes.Repeat([]byte{'x'}, 200)
	for _, c := range []struct {
		name string
		b    []byte
		s, e int
	}{
		{"empty payload", raw(0x00), 1, 1},
		{"one-byte length", cat(raw(0x03), payload[:3]), 1, 4},
		{"two-byte length", cat(raw(0xc8, 0x01), payload), 2, 202},
		{"non-canonical", cat(raw(0x83, 0x80, 0x00), payload[:3]), 3, 6},
		{"beyond 32 bits: the low 32 bits count", cat(raw(0x83, 0x80, 0x80, 0x80, 0x10), payload[:3]), 5, 8},
		{"ten bytes", cat(raw(0x83), bytes.Repeat([]byte{0x80}, 8), raw(0x7f), payload[:3]), 10, 13},
		{"negative", raw(0xff, 0xff, 0xff, 0xff, 0x0f), 0, -int(NegativeSize)},
		{"negative, as a ten-byte -1", cat(ff(9), raw(0x01)), 0, -int(NegativeSize)},
		{"2^31 - 1 is truncated", raw(0xff, 0xff, 0xff, 0xff, 0x07), 0, -int(Truncated)},
		{"past the end", raw(0x05, 'a'), 0, -int(Truncated)},
		{"malformed", cat(ff(10), raw(0x00)), 0, -int(MalformedVarint)},
		{"truncated prefix", raw(0x80), 0, -int(Truncated)},
		{"no prefix", nil, 0, -int(Truncated)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, e := Len(c.b, 0)
			if e < 0 {
				s = 0
			}
			if s != c.s || e != c.e {
				t.Fatalf("got %d, %d; want %d, %d", s, e, c.s, c.e)
			}
			// ShortLen agrees wherever it answers, and answers for every
			// canonical length below 16 KiB that fits.
			ss, se, ok := ShortLen(c.b, 0)
			if ok && (ss != s || se != e) {
				t.Fatalf("ShortLen: got %d, %d; Len %d, %d", ss, se, s, e)
			}
		})
	}
	for _, n := range []int{0, 1, 127, 128, 300, 1<<14 - 1} {
		b := protowire.AppendBytes(nil, make([]byte, n))
		if s, e, ok := ShortLen(b, 0); !ok || s != len(b)-n || e != len(b) {
			t.Errorf("ShortLen of a %d-byte payload: got %d, %d, %v", n, s, e, ok)
		}
		if _, e, ok := ShortLen(b[:len(b)-1], 0); ok {
			t.Errorf("ShortLen of a truncated %d-byte payload: got end %d", n, e)
		}
	}
	if _, _, ok := ShortLen(protowire.AppendBytes(nil, make([]byte, 1<<14)), 0); ok {
		t.Errorf("ShortLen answered for a three-byte length")
	}
}

// TestFixed: fixed-size values, and what is read from them.
func TestFixed(t *testing.T) {
	b := raw(1, 2, 3, 4, 5, 6, 7, 8)
	if v, k := Fixed64(b, 0); v != 0x0807060504030201 || k != 8 {
		t.Errorf("Fixed64: got %#x, %d", v, k)
	}
	if _, k := Fixed64(b, 1); k != -int(Truncated) {
		t.Errorf("Fixed64 of 7 bytes: got %d; want %d", k, -int(Truncated))
	}
	if v, k := Fixed32(b, 4); v != 0x08070605 || k != 8 {
		t.Errorf("Fixed32: got %#x, %d", v, k)
	}
	if _, k := Fixed32(b, 5); k != -int(Truncated) {
		t.Errorf("Fixed32 of 3 bytes: got %d", k)
	}
	if v, k := Double(protowire.AppendFixed64(nil, math.Float64bits(-2.5)), 0); v != -2.5 || k != 8 {
		t.Errorf("Double: got %v, %d", v, k)
	}
	for _, c := range []struct {
		x   uint64
		s64 int64
		s32 int32
	}{
		{0, 0, 0}, {1, -1, -1}, {2, 1, 1}, {math.MaxUint64, math.MinInt64, math.MinInt32},
		{0xfffffffe, math.MaxInt32, math.MaxInt32},
		// Java reads a sint32 from the low 32 bits of the varint.
		{1<<32 | 3, -(1<<31 + 2), -2},
	} {
		if got := ZigZag64(c.x); got != c.s64 {
			t.Errorf("ZigZag64(%#x): got %d; want %d", c.x, got, c.s64)
		}
		if got := ZigZag32(c.x); got != c.s32 {
			t.Errorf("ZigZag32(%#x): got %d; want %d", c.x, got, c.s32)
		}
	}
}

// TestValidUTF8: Java's Utf8.isValidUtf8, on both paths (under and over 8
// bytes).
func TestValidUTF8(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"", true},
		{"abc", true},
		{"service/checkout/http/request_latency", true},
		{"é", true},
		{"日本語のメトリクス名", true},
		{"\U0010ffff", true},
		{"\xed\xa0\x80", false},          // U+D800: a surrogate
		{"\xc0\x80", false},              // overlong NUL (Java's modified UTF-8 is not UTF-8)
		{"\xf4\x90\x80\x80", false},      // above U+10FFFF
		{"a\xffb", false},                //
		{"abcdefgh\xff", false},          // past the first 8 bytes
		{"abcdefghij\xe6\x97", false},    // truncated sequence at the end
		{"\xe6\x97\xa5abcdefghij", true}, //
	} {
		if got := ValidUTF8([]byte(c.s)); got != c.want {
			t.Errorf("ValidUTF8(%q): got %v; want %v", c.s, got, c.want)
		}
		ascii := !strings.ContainsFunc(c.s, func(r rune) bool { return r >= 0x80 })
		if got := ASCII([]byte(c.s)); got != ascii {
			t.Errorf("ASCII(%q): got %v; want %v", c.s, got, ascii)
		}
	}
}

// TestSkip: unknown fields are skipped as Java's skipField does, with the
// offset of each failure.
func TestSkip(t *testing.T) {
	nested := func(depth int) []byte {
		return cat(bytes.Repeat([]byte{0x1b}, depth), bytes.Repeat([]byte{0x1c}, depth))
	}
	for _, c := range []struct {
		name  string
		b     []byte // a tag, then its value
		depth int
		k     int // index after, or -code
		at    int // where a failure is found
	}{
		{"varint", raw(0x08, 0x96, 0x01), 0, 3, 0},
		{"fixed64", cat(raw(0x09), make([]byte, 8)), 0, 9, 0},
		{"fixed32", cat(raw(0x0d), make([]byte, 4)), 0, 5, 0},
		{"bytes", raw(0x0a, 0x02, 'h', 'i'), 0, 4, 0},
		{"group", raw(0x0b, 0x08, 0x01, 0x12, 0x00, 0x0c), 0, 6, 0},
		{"nested groups", raw(0x0b, 0x13, 0x1b, 0x1c, 0x14, 0x0c), 0, 6, 0},
		{"truncated varint", raw(0x08, 0x80), 0, -int(Truncated), 1},
		{"malformed varint", cat(raw(0x08), ff(10), raw(0x00)), 0, -int(MalformedVarint), 1},
		{"truncated fixed64", cat(raw(0x09), make([]byte, 7)), 0, -int(Truncated), 1},
		{"truncated fixed32", cat(raw(0x0d), make([]byte, 3)), 0, -int(Truncated), 1},
		{"negative length", raw(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), 0, -int(NegativeSize), 1},
		{"field number 0", raw(0x00, 0x00), 0, -int(InvalidTag), 0},
		{"wire type 6", raw(0x0e, 0x00), 0, -int(InvalidWireType), 0},
		{"wire type 7", raw(0x0f, 0x00), 0, -int(InvalidWireType), 0},
		{"stray end group", raw(0x0c), 0, -int(EndGroup), 1},
		{"group closed by another number", raw(0x0b, 0x14), 0, -int(EndGroup), 1},
		{"group not closed", raw(0x0b, 0x08, 0x01), 0, -int(EndGroup), 3},
		{"field number 0 in a group", raw(0x0b, 0x00), 0, -int(InvalidTag), 1},
		{"wire type 7 in a group", raw(0x0b, 0x0f, 0x0c), 0, -int(InvalidWireType), 2},
		{"truncated in a group", raw(0x0b, 0x0a, 0x05, 0x0c), 0, -int(Truncated), 2},
		{"100 nested groups at depth 0", nested(100), 0, 200, 0},
		{"101 nested groups at depth 0", nested(101), 0, -int(RecursionLimit), 101},
		{"99 nested groups at depth 1", nested(99), 1, 198, 0},
		{"100 nested groups at depth 1", nested(100), 1, -int(RecursionLimit), 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag, j := Tag(c.b, 0)
			if j < 0 {
				tag, j = uint32(c.b[0]), 1
			}
			k, at := Skip(c.b, 0, j, tag, c.depth)
			if k != c.k || (k < 0 && at != c.at) {
				t.Fatalf("got %d at %d; want %d at %d", k, at, c.k, c.at)
			}
		})
	}
}

// TestPacked: packed repeated fields.
func TestPacked(t *testing.T) {
	var p []byte
	for _, v := range []float64{1.5, -2, math.Inf(1)} {
		p = protowire.AppendFixed64(p, math.Float64bits(v))
	}
	if got, c := AppendDoubles([]float64{9}, p); c != OK || fmt.Sprint(got) != "[9 1.5 -2 +Inf]" {
		t.Errorf("AppendDoubles: got %v, %v", got, c)
	}
	if got, c := AppendDoubles([]float64{9}, p[:12]); c != PackedFixed64 || len(got) != 1 {
		t.Errorf("AppendDoubles of 12 bytes: got %v, %v", got, c)
	}
	if got, c := AppendFixed64s(nil, p[:16]); c != OK || len(got) != 2 || got[0] != math.Float64bits(1.5) {
		t.Errorf("AppendFixed64s: got %v, %v", got, c)
	}
	if _, c := AppendFixed64s(nil, p[:9]); c != PackedFixed64 {
		t.Errorf("AppendFixed64s of 9 bytes: got %v", c)
	}
	if got, c := AppendFixed32s(nil, raw(1, 0, 0, 0, 2, 0, 0, 0)); c != OK || fmt.Sprint(got) != "[1 2]" {
		t.Errorf("AppendFixed32s: got %v, %v", got, c)
	}
	if _, c := AppendFixed32s(nil, raw(1, 0, 0)); c != PackedFixed32 {
		t.Errorf("AppendFixed32s of 3 bytes: got %v", c)
	}
	// Varints: the payload b[2:], after a two-byte prefix.
	b := cat(raw(0xaa, 0xbb, 0x01, 0x96, 0x01), ff(9), raw(0x7f), raw(0x05))
	if got, k, _ := AppendVarints(nil, b, 2, len(b)); k != len(b) || fmt.Sprint(got) != fmt.Sprint([]uint64{1, 150, math.MaxUint64, 5}) {
		t.Errorf("AppendVarints: got %v, %d", got, k)
	}
	if got, k, at := AppendVarints(nil, b, 2, 6); k != -int(Truncated) || at != 5 || len(got) != 2 {
		t.Errorf("AppendVarints, truncated: got %v, %d at %d; want 2 values, %d at 5", got, k, at, -int(Truncated))
	}
	if got, k, _ := AppendUint32s(nil, b, 2, len(b)); k != len(b) || fmt.Sprint(got) != fmt.Sprint([]uint32{1, 150, math.MaxUint32, 5}) {
		t.Errorf("AppendUint32s: got %v, %d", got, k)
	}
	bad := cat(raw(0x01), ff(10), raw(0x01))
	if _, k, at := AppendVarints(nil, bad, 0, len(bad)); k != -int(MalformedVarint) || at != 1 {
		t.Errorf("AppendVarints, malformed: got %d at %d", k, at)
	}
}

func TestCodeString(t *testing.T) {
	for c := OK; c < NumCodes; c++ {
		if s := c.String(); s == "" || strings.HasPrefix(s, "BUG") {
			t.Errorf("code %d has no reason", c)
		}
	}
	if s := NumCodes.String(); !strings.HasPrefix(s, "BUG: ") {
		t.Errorf("NumCodes: got %q", s)
	}
}
