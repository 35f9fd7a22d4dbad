package javanum_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/javanum"
)

// Java 17/21's Double.toString of each (these all print the same on both).
var javaDoubles = []struct {
	v    float64
	want string
}{
	{1, "1.0"}, {-1, "-1.0"}, {0, "0.0"}, {math.Copysign(0, -1), "-0.0"},
	{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
	{0.001, "0.001"}, {0.00099, "9.9E-4"}, {1e-4, "1.0E-4"}, {1e-5, "1.0E-5"},
	{1e7, "1.0E7"}, {9999999.0, "9999999.0"}, {1234567.5, "1234567.5"},
	{100, "100.0"}, {0.1, "0.1"}, {0.5, "0.5"}, {123.456, "123.456"},
	{1e21, "1.0E21"}, {1.2345e-7, "1.2345E-7"}, {-3.5e10, "-3.5E10"},
	{math.MaxFloat64, "1.7976931348623157E308"}, {4.9e-324, "4.9E-324"},
	{2.2250738585072014e-308, "2.2250738585072014E-308"},
	{0.30000000000000004, "0.30000000000000004"}, {58, "58.0"}, {1.8e24, "1.8E24"},
	{12345678, "1.2345678E7"}, {0.0012, "0.0012"},
}

func TestAppendDouble(t *testing.T) {
	for _, c := range javaDoubles {
		if got := string(javanum.AppendDouble(nil, c.v)); got != c.want {
			t.Errorf("AppendDouble(%v) = %q; Java prints %q", c.v, got, c.want)
		}
	}
}

func TestAppendDoubleAllocs(t *testing.T) {
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { dst = javanum.AppendDouble(dst[:0], 1.2345678e-300) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzAppendDouble: what AppendDouble writes reads back as the double, in
// Java's layout.
func FuzzAppendDouble(f *testing.F) {
	for _, c := range javaDoubles {
		f.Add(math.Float64bits(c.v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		s := string(javanum.AppendDouble(nil, v))
		if math.IsNaN(v) {
			if s != "NaN" {
				t.Fatalf("%q", s)
			}
			return
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil && !math.IsInf(v, 0) || err == nil && math.Float64bits(back) != bits && !math.IsInf(v, 0) {
			t.Fatalf("AppendDouble(%v) = %q reads back as %v, %v", v, s, back, err)
		}
		a := math.Abs(v)
		plain := a >= 1e-3 && a < 1e7 || a == 0
		if !math.IsInf(v, 0) && plain == strings.Contains(s, "E") || !strings.Contains(s, ".") && !math.IsInf(v, 0) {
			t.Fatalf("AppendDouble(%v) = %q: not Java's layout", v, s)
		}
	})
}
