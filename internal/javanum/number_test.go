package javanum_test

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/javanum/javanumtest"
)

// TestParse: every case of the Java table, value and length.
func TestParse(t *testing.T) {
	for _, c := range javanumtest.Cases() {
		t.Run(c.In, func(t *testing.T) {
			v, n := javanum.Parse([]byte(c.In))
			switch {
			case !c.OK && n != 0:
				t.Fatalf("got %v (%d bytes); want ParseException", v, n)
			case c.OK && n == 0:
				t.Fatalf("got no number; want %v", c.Value())
			case c.OK && (!c.Same(v) || javanumtest.UTF16Len(c.In[:n]) != c.Index):
				t.Fatalf("got %v (%#x) at index %d; want %v (%#x) at %d",
					v, math.Float64bits(v), javanumtest.UTF16Len(c.In[:n]), c.Value(), c.Bits, c.Index)
			}
		})
	}
}

// TestParseInvalidUTF8: a byte that is not UTF-8 ends the number, as the
// U+FFFD MAD decodes it to does.
func TestParseInvalidUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		n    int
	}{
		{"1\xff2", 1, 1}, {"\xff1", 0, 0}, {"1,\xff", 1, 1}, {"1E\xff", 1, 1}, {"-\xe2\x88", 0, 0},
		{"\xed\xa0\x80", 0, 0}, // a UTF-16 surrogate, which UTF-8 does not encode
	} {
		if v, n := javanum.Parse([]byte(tc.in)); v != tc.want || n != tc.n {
			t.Errorf("Parse(%q) = %v, %d; want %v, %d", tc.in, v, n, tc.want, tc.n)
		}
	}
}

// TestParseAllocs: Parse never allocates, on any case of the table.
func TestParseAllocs(t *testing.T) {
	var in [][]byte
	for _, c := range javanumtest.Cases() {
		in = append(in, []byte(c.In))
	}
	var sink float64
	if n := testing.AllocsPerRun(100, func() {
		for _, b := range in {
			v, _ := javanum.Parse(b)
			sink += v
		}
	}); n != 0 {
		t.Fatalf("got %v allocations per run of %d parses; want 0", n, len(in))
	}
}

// TestJavaDigit: every BMP range of Unicode Nd is made of whole runs of ten
// starting at a zero, which javaDigit relies on. (That these are exactly
// the characters of Java 17's Character.digit(ch, 10) was checked by
// listing them with Java; the "Digits" section of the table samples it.)
func TestJavaDigit(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Fatalf("Nd range %+v is not whole runs of ten", rg)
		}
	}
	for _, tc := range []struct {
		r    rune
		want int
	}{{'0', 0}, {'9', 9}, {'a', -1}, {'\u0669', 9}, {'\uff10', 0}, {'\u00b2', -1}, {'\U0001d7ce', -1}, {'\ufffd', -1}} {
		if got := javanum.JavaDigit(tc.r); got != tc.want {
			t.Errorf("javaDigit(%U) = %d; want %d", tc.r, got, tc.want)
		}
	}
}

// TestOverflowThreshold: the constant is 2^1024 - 2^970, and it and the
// decimals around it round as strconv does.
func TestOverflowThreshold(t *testing.T) {
	want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 1024), new(big.Int).Lsh(big.NewInt(1), 970))
	if javanum.Overflow != want.String() {
		t.Fatalf("overflow = %s; want %s", javanum.Overflow, want)
	}
	below := new(big.Int).Sub(want, big.NewInt(1)).String()
	for _, s := range []string{javanum.Overflow, below, below + ".999", javanum.Overflow + ".000", "0." + javanum.Overflow + "E309", "-" + below} {
		v, n := javanum.Parse([]byte(s))
		f, _ := strconv.ParseFloat(strings.Replace(s, "E", "e", 1), 64)
		if n != len(s) || math.Float64bits(v) != math.Float64bits(f) {
			t.Errorf("Parse(%.20q…) = %v, %d; want %v, %d", s, v, n, f, len(s))
		}
	}
}

// TestParseRounding: the decimals of random doubles in Java's notation
// (shortest, 17 and 25 digits, plain), and random texts of the fast path's
// shapes, parse as strconv reads the same digits, on both paths.
func TestParseRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var cases []string
	for i := range 20000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		for _, prec := range []int{-1, 17, 25} {
			cases = append(cases, strings.Replace(strconv.FormatFloat(f, 'E', prec, 64), "E+", "E", 1))
		}
		cases = append(cases, fmt.Sprintf("%d.%03d", i*7919, i%1000), strconv.FormatFloat(f, 'f', -1, 64))
	}
	// The fast path's shapes: up to 24 bytes, signs, leading zeros, short
	// exponents.
	for range 40000 {
		var m []byte
		if r.IntN(4) == 0 {
			m = append(m, '-')
		}
		for n := 1 + r.IntN(24); n > 0; n-- {
			m = append(m, "0123456789."[r.IntN(11)])
		}
		if bytes.Count(m, []byte(".")) > 1 || !bytes.ContainsAny(m, "0123456789") {
			continue
		}
		if r.IntN(3) == 0 {
			m = append(m, 'E')
			if r.IntN(2) == 0 {
				m = append(m, '-')
			}
			for n := 1 + r.IntN(3); n > 0; n-- {
				m = append(m, byte('0'+r.IntN(10)))
			}
		}
		cases = append(cases, string(m))
	}
	for _, c := range cases {
		want, err := strconv.ParseFloat(strings.Replace(strings.Replace(c, "E-", "e-", 1), "E", "e+", 1), 64)
		if err != nil && !math.IsInf(want, 0) {
			t.Fatalf("strconv.ParseFloat(%q): %v", c, err)
		}
		got, n := javanum.Parse([]byte(c))
		slow, sn := javanum.ParseSlow([]byte(c))
		if n != len(c) || sn != n || math.Float64bits(got) != math.Float64bits(want) || math.Float64bits(slow) != math.Float64bits(want) {
			t.Fatalf("Parse(%q) = %v, %d (slow path %v, %d); want %v, %d", c, got, n, slow, sn, want, len(c))
		}
	}
}
