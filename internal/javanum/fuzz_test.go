package javanum_test

import (
	"math"
	"testing"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/javanum/javanumref"
	"github.com/gomad/mad/internal/javanum/javanumtest"
)

// checkParse holds Parse (its fast path where it takes b), its slow path
// alone and the reference to each other on b.
func checkParse(t *testing.T, b []byte) {
	t.Helper()
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
	}
	v, n := javanum.Parse(b)
	sv, sn := javanum.ParseSlow(b)
	if !same(v, sv) || n != sn {
		t.Fatalf("Parse(%q) = %v, %d; slow path %v, %d", b, v, n, sv, sn)
	}
	rv, rn := javanumref.Parse(b)
	if got := javanumtest.UTF16Len(string(b[:n])); !same(v, rv) || got != rn {
		t.Fatalf("Parse(%q) = %v (%#x), index %d; reference %v (%#x), %d",
			b, v, math.Float64bits(v), got, rv, math.Float64bits(rv), rn)
	}
}

// TestReference: the reference gives Java's answers on the whole table (so
// the fuzzer holds Parse to something Java vouches for).
func TestReference(t *testing.T) {
	for _, c := range javanumtest.Cases() {
		v, n := javanumref.Parse([]byte(c.In))
		if (n > 0) != c.OK || c.OK && (!c.Same(v) || n != c.Index) {
			t.Errorf("javanumref.Parse(%.40q) = %v, %d; Java %v (ok %v), %d", c.In, v, n, c.Value(), c.OK, c.Index)
		}
	}
}

// FuzzParse: Parse (its fast path where it applies), its slow path alone
// and the reference agree on every input: value (bit for bit) and length.
//
//	go test ./internal/javanum -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	for _, c := range javanumtest.Cases() {
		f.Add([]byte(c.In))
	}
	for _, s := range []string{"1\xff2", "12345678901234.5", "123456789012345", "1234567890123456", "-.000000000000001",
		"0.30000000000000004", "1,2.3E-4,5", "9,007,199,254,740,993", "\u0661\u0662\u0663E-\u0664"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParse(t, b)
	})
}
