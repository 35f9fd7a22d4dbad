package otlpref

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestJavaDouble: what JDK 19+ Double.toString prints.
func TestJavaDouble(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{1e7, "1.0E7"},
		{9999999.0, "9999999.0"},
		{1234567.0, "1234567.0"},
		{12345678.0, "1.2345678E7"},
		{0.001, "0.001"},
		{0.00099, "9.9E-4"},
		{1e-4, "1.0E-4"},
		{1.0e-5, "1.0E-5"},
		{1e21, "1.0E21"},
		{1e23, "1.0E23"},
		{123456789012345680000, "1.2345678901234568E20"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
		{4.9e-324, "4.9E-324"},     // Double.MIN_VALUE: "5E-324" is shorter, 4.9 closer
		{2 * 4.9e-324, "9.9E-324"}, // JDK 19+; the shortest, "1.0E-323", is farther
		{math.MaxFloat64, "1.7976931348623157E308"},
		{2.2250738585072014e-308, "2.2250738585072014E-308"}, // MIN_NORMAL
		{100.0, "100.0"},
		{1, "1.0"},
		{-1.5, "-1.5"},
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{2.0 / 3, "0.6666666666666666"},
		{0.002, "0.002"},
		{1000000, "1000000.0"},
		{9.223372036854776e18, "9.223372036854776E18"}, // (double) Long.MAX_VALUE
		{5000, "5000.0"},
		{58, "58.0"},
		{1.8e24, "1.8E24"},
		{-123.456, "-123.456"},
		{0.0012345, "0.0012345"},
	} {
		if got := JavaDouble(c.v); got != c.want {
			t.Errorf("JavaDouble(%v): got %q; want %q", c.v, got, c.want)
		}
	}
}

// TestJavaDoubleShortest holds JavaDouble to strconv's shortest digits,
// computed by another algorithm: the same digits when they are 2 or more
// (both pick the closest of the shortest); when strconv needs one digit,
// Java prints the closest decimal of one or two digits. Every string reads
// back to the double.
func TestJavaDoubleShortest(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 20000; i++ {
		var v float64
		switch i % 4 {
		case 0:
			v = math.Float64frombits(rng.Uint64())
		case 1:
			v = float64(rng.IntN(1e6)) * math.Pow(10, float64(rng.IntN(40)-20))
		case 2:
			v = math.Float64frombits(rng.Uint64N(1 << 12)) // subnormals
		default:
			v = math.Ldexp(1, rng.IntN(2098)-1074)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
			continue
		}
		s := JavaDouble(v)
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != v {
			t.Fatalf("JavaDouble(%v) = %q reads back as %v, %v", v, s, back, err)
		}
		gd := sigDigits(strconv.FormatFloat(v, 'e', -1, 64))
		jd := sigDigits(s)
		if len(gd) >= 2 && jd != gd || len(gd) == 1 && len(jd) > 2 {
			t.Fatalf("JavaDouble(%v) = %q (digits %s); strconv's shortest digits are %s", v, s, jd, gd)
		}
	}
}

// sigDigits returns the significant digits of a formatted number, without
// trailing zeros.
func sigDigits(s string) string {
	s = strings.TrimPrefix(s, "-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	s = strings.Replace(s, ".", "", 1)
	s = strings.TrimLeft(s, "0")
	return strings.TrimRight(s, "0")
}

func TestJavaLayout(t *testing.T) {
	for _, c := range []struct {
		digits string
		exp    int
		want   string
	}{
		{"1", 0, "1.0"}, {"1", 6, "1000000.0"}, {"1", 7, "1.0E7"}, {"12", 1, "12.0"}, {"125", 1, "12.5"},
		{"1", -3, "0.001"}, {"1", -4, "1.0E-4"}, {"99", -4, "9.9E-4"}, {"123", -2, "0.0123"},
		{"17976931348623157", 308, "1.7976931348623157E308"},
	} {
		if got := javaLayout(c.digits, c.exp); got != c.want {
			t.Errorf("javaLayout(%s, %d): got %q; want %q", c.digits, c.exp, got, c.want)
		}
	}
}
