package hist

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWorkedTable checks every row of MAD-SPEC §8's worked table.
func TestWorkedTable(t *testing.T) {
	for _, tc := range []struct {
		value  float64
		bucket float64
		packed Key
	}{
		{0.0, 0.0, 0},
		{1.0, 1.0, 130944},
		{2.0, 2.0, 131072},
		{3.0, 3.0, 131136},
		{5.0, 5.0, 131232},
		{10.48, 10.4375, 131367},
		{100, 100, 131784},
		{257, 256, 131968},
		{258, 258, 131969},
		{1234.5678, 1232, 132250},
		{0.001, 0.00099945068359375, 129667},
		{-5.3, -5.28125, 393385},
		{1e9, 998244352, 134766},
	} {
		if got := Truncate(tc.value); got != tc.bucket {
			t.Errorf("Truncate(%v) = %v; want %v", tc.value, got, tc.bucket)
		}
		if got := Pack(tc.value); got != tc.packed {
			t.Errorf("Pack(%v) = %d; want %d", tc.value, got, tc.packed)
		}
		if got := tc.packed.Value(); got != tc.bucket {
			t.Errorf("Key(%d).Value() = %v; want %v", tc.packed, got, tc.bucket)
		}
	}
}

// TestV3Buckets decodes the packed keys of ProtobufV3ParserTest/testSingleRecord.
func TestV3Buckets(t *testing.T) {
	for i, k := range []int64{130944, 131072, 131136, 131200, 131232} {
		if got, want := PackedKey(k).Value(), float64(i+1); got != want {
			t.Errorf("PackedKey(%d).Value() = %v; want %v", k, got, want)
		}
	}
	// Like MAD's unpack (packed << 45), bits above the 19th do not survive.
	if got, want := PackedKey(130944|1<<30).Value(), 1.0; got != want {
		t.Errorf("PackedKey with high bits = %v; want %v", got, want)
	}
}

func TestSmallIntegersExact(t *testing.T) {
	for i := -256; i < 256; i++ {
		v := float64(i)
		if got := Pack(v).Value(); got != v {
			t.Fatalf("Pack(%v).Value() = %v; want exact", v, got)
		}
	}
}

func TestRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		v := (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
		if v == 0 {
			continue
		}
		b := Pack(v).Value()
		if rel := math.Abs((v - b) / v); rel >= 1.0/128 {
			t.Fatalf("value %v bucket %v: relative error %v; want < 2^-7", v, b, rel)
		}
		if math.Abs(b) > math.Abs(v) {
			t.Fatalf("value %v bucket %v: truncation must go toward zero", v, b)
		}
	}
}

func TestFinite(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want bool
	}{
		{0, true}, {1, true}, {-1, true}, {math.MaxFloat64, true}, {-math.MaxFloat64, true},
		{math.SmallestNonzeroFloat64, true},
		{math.Inf(1), false}, {math.Inf(-1), false}, {math.NaN(), false},
	} {
		if got := Pack(tc.v).Finite(); got != tc.want {
			t.Errorf("Pack(%v).Finite() = %v; want %v", tc.v, got, tc.want)
		}
	}
}

// TestOrder checks that keys sort like Java's Double.compare of their values.
func TestOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []float64{math.Copysign(0, -1), 0, -1, 1, -256, 256, -1e300, 1e300, -1e-300, 1e-300}
	for i := 0; i < 2000; i++ {
		vals = append(vals, (r.Float64()-0.5)*math.Pow(10, float64(r.IntN(30)-15)))
	}
	javaCompare := func(a, b float64) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		// Equal values: -0.0 sorts before 0.0.
		sa, sb := math.Signbit(a), math.Signbit(b)
		switch {
		case sa && !sb:
			return -1
		case !sa && sb:
			return 1
		}
		return 0
	}
	for _, a := range vals {
		for _, b := range vals[:50] {
			ka, kb := Pack(a), Pack(b)
			want := javaCompare(ka.Value(), kb.Value()) < 0
			if got := Less(ka, kb); got != want {
				t.Fatalf("Less(%v, %v) = %v; want %v", ka.Value(), kb.Value(), got, want)
			}
		}
	}
}
