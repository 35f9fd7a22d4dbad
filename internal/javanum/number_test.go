package javanum

import (
	"math"
	"testing"
	"unicode"
)

// TestParseNumber: java.text.NumberFormat.getInstance() (en-US) parse
// results.
func TestParseNumber(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"1.23", 1.23, true}, {"-1.23", -1.23, true},
		{"1.", 1, true}, {".5", 0.5, true}, {"-.5", -0.5, true}, {"-0", negZero, true},
		{"-0.000", negZero, true}, {"007", 7, true},
		{"123456789012345678", 123456789012345678, true},
		{"0.1234567890123456789", 0.1234567890123456789, true},
		{"1,234", 1234, true}, {",5", 5, true}, {"1,,2", 12, true}, {"1,.5", 1.5, true},
		{"1.5,2", 1.5, true}, {"1.2.3", 1.2, true}, {"12abc", 12, true},
		{"1E3", 1000, true}, {"1E-3", 0.001, true}, {"1e3", 1, true}, {"1E+3", 1, true},
		{"1E", 1, true}, {"1E-", 1, true}, {"2.5E2x", 250, true},
		{"1E99999999999999999999", 1, true}, // exponent beyond a long: ignored
		{"1E4294967297", 10, true},          // (int) cast of the long exponent
		{"1E400", math.Inf(1), true},        //
		{"-1E400", math.Inf(-1), true},      //
		{"1E-400", 0, true},                 //
		{"NaN", math.NaN(), true}, {"NaNx", math.NaN(), true},
		{"\u221e", math.Inf(1), true}, {"-\u221e", math.Inf(-1), true},
		{"\u0661.\u0665", 1.5, true}, {"\uff11\uff12", 12, true},
		{"", 0, false}, {"-", 0, false}, {"+1", 0, false}, {".", 0, false}, {",", 0, false},
		{"abc", 0, false}, {"nan", 0, false}, {"-NaN", 0, false}, {" 1", 0, false},
		{"E3", 0, false}, {"\U0001D7CE", 0, false},
	} {
		got, _, ok := Parse([]byte(tc.in), nil)
		if ok != tc.ok || ok && !(got == tc.want && math.Signbit(got) == math.Signbit(tc.want) || math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestJavaDigit: every BMP range of Unicode Nd is made of whole runs of ten
// starting at a zero, which javaDigit relies on.
func TestJavaDigit(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Fatalf("Nd range %+v is not whole runs of ten", rg)
		}
	}
	if javaDigit('\u0669') != 9 || javaDigit('\uff10') != 0 || javaDigit('a') != -1 {
		t.Fatal("javaDigit")
	}
}
