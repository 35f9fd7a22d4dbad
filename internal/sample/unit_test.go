package sample

import "testing"

// java computes sourceScale / targetScale * v at run time in doubles, as
// MAD's Unit.convert does. (A Go constant expression would be folded exactly
// at compile time and differ in the last bit.)
//
//go:noinline
func java(sourceScale, targetScale, v float64) float64 { return sourceScale / targetScale * v }

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		u    Unit
		want float64
		to   Unit
	}{
		// ProtobufV1/V2ParserTest: 508 ms → 0.508 s, computed as MAD does:
		// sourceScale / targetScale * value, in doubles.
		{508, Millisecond, java(1e6, 1e9, 508), Second},
		{1.5, Second, 1.5, Second},
		{3, Nanosecond, java(1, 1e9, 3), Second},
		{2, Minute, java(60e9, 1e9, 2), Second},
		{1, Week, java(604800e9, 1e9, 1), Second},
		// Bits scale in powers of 1024, bytes in powers of 1000.
		{1, Kilobit, java(1024, 8, 1), Byte},
		{1, Megabit, java(1048576, 8, 1), Byte},
		{1, Kilobyte, 1000, Byte},
		{1, Petabyte, 1e15, Byte},
		{16, Bit, 2, Byte},
		{0, Celcius, 273.15, Kelvin},
		{32, Fahrenheit, fahrenheitToKelvin(32), Kelvin},
		{7, Kelvin, 7, Kelvin},
		{7, UnitNone, 7, UnitNone},
	} {
		got, to := Normalize(tc.v, tc.u)
		if got != tc.want || to != tc.to {
			t.Errorf("Normalize(%v, %v) = %v %v; want %v %v", tc.v, tc.u, got, to, tc.want, tc.to)
		}
	}
}

func TestParseUnit(t *testing.T) {
	for u := Nanosecond; u < numUnits; u++ {
		got, ok := ParseUnit(u.String())
		if !ok || got != u {
			t.Errorf("ParseUnit(%q) = %v, %v", u.String(), got, ok)
		}
	}
	// MAD spells it CELCIUS; the protocol's CELSIUS is refused (MAD-SPEC §4.1).
	for _, bad := range []string{"CELSIUS", "second", "", "ROTATION", "KIBIBYTE", "YOCTOSECOND"} {
		if _, ok := ParseUnit(bad); ok {
			t.Errorf("ParseUnit(%q) succeeded", bad)
		}
	}
	if UnitNone.String() != "" || Unit(250).String() != "" || Unit(250).Valid() {
		t.Error("UnitNone and invalid units must print as the empty string and be invalid")
	}
}

//go:noinline
func fahrenheitToKelvin(f float64) float64 { return (f + 459.67) * 5.0 / 9.0 }
