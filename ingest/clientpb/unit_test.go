package clientpb

import (
	"sort"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// MAD's scales (MAD-SPEC §7.1): nanoseconds and bits.
var (
	nsPerSecond   = 1e9
	bitsPerByte   = 8.0
	unitScale     = map[string]float64{"NANOSECOND": 1, "MICROSECOND": 1e3, "MILLISECOND": 1e6, "SECOND": 1e9, "MINUTE": 6e10, "HOUR": 3.6e12, "DAY": 8.64e13, "WEEK": 6.048e14, "BIT": 1, "BYTE": 8, "KILOBIT": 1024, "MEGABIT": 1 << 20, "GIGABIT": 1 << 30, "TERABIT": 1 << 40, "PETABIT": 1 << 50, "KILOBYTE": 8e3, "MEGABYTE": 8e6, "GIGABYTE": 8e9, "TERABYTE": 8e12, "PETABYTE": 8e15}
	v2TypeNumbers = map[string]int{"SECOND": 1, "MINUTE": 2, "HOUR": 3, "DAY": 4, "WEEK": 5, "BIT": 6, "BYTE": 7, "CELSIUS": 11, "FAHRENHEIT": 12, "KELVIN": 13}
	v2Scales      = map[string]int{"": 1, "NANO": 7, "MICRO": 8, "MILLI": 9, "KILO": 14, "MEGA": 15, "GIGA": 16, "TERA": 17, "PETA": 18}
)

// mad converts v in unit name to its default unit with MAD's double
// arithmetic: sourceScale / targetScale * v, and the temperature formulas.
func mad(v float64, name string) (float64, sample.Unit) {
	switch name {
	case "KELVIN":
		return v, sample.Kelvin
	case "FAHRENHEIT":
		return (v + 459.67) * 5.0 / 9.0, sample.Kelvin
	}
	s := unitScale[name]
	if strings.HasSuffix(name, "SECOND") || name == "MINUTE" || name == "HOUR" || name == "DAY" || name == "WEEK" {
		return s / nsPerSecond * v, sample.Second
	}
	return s / bitsPerByte * v, sample.Byte
}

func TestUnitNormalisation(t *testing.T) {
	for _, c := range []struct {
		scale, typ string
		v          float64
		want       float64 // checked against MAD's formula and, when set, this literal
	}{
		{"MILLI", "SECOND", 508, 0.508},
		{"NANO", "SECOND", 1e9, 1},
		{"MICRO", "SECOND", 1500, 0.0015},
		{"", "SECOND", 2.5, 2.5},
		{"", "MINUTE", 2, 120},
		{"", "HOUR", 1, 3600},
		{"", "DAY", 1, 86400},
		{"", "WEEK", 1, 604800},
		{"", "BIT", 16, 2},
		{"", "BYTE", 3, 3},
		{"KILO", "BIT", 1, 128},
		{"MEGA", "BIT", 1, 131072},
		{"GIGA", "BIT", 1, 134217728},
		{"TERA", "BIT", 1, 137438953472},
		{"PETA", "BIT", 1, 140737488355328},
		{"KILO", "BYTE", 1.5, 1500},
		{"MEGA", "BYTE", 1, 1e6},
		{"GIGA", "BYTE", 1, 1e9},
		{"TERA", "BYTE", 1, 1e12},
		{"PETA", "BYTE", 1, 1e15},
		{"", "KELVIN", 300, 300},
		{"", "FAHRENHEIT", 32, 0},
		{"", "FAHRENHEIT", -459.67, 0},
	} {
		name := c.scale + c.typ
		t.Run(name, func(t *testing.T) {
			wantV, wantU := mad(c.v, name)
			if c.want != 0 && wantV != c.want {
				t.Fatalf("MAD's formula gives %v; the table says %v", wantV, c.want)
			}
			for _, version := range []int{1, 2} {
				var q []byte
				if version == 1 {
					scale := 28 // UNIT
					if c.scale != "" {
						scale = v2Scales[c.scale] - 2
					}
					q = v1Qty(c.v, v2TypeNumbers[c.typ]-1, scale)
				} else {
					q = v2Qty(c.v, v2TypeNumbers[c.typ], v2Scales[c.scale])
				}
				got, _, err := collect(t, version, v12Record(v12Metric(v12Timers, "t", q)))
				if err != nil {
					t.Fatalf("v%d: %v", version, err)
				}
				if len(got) != 1 || !sameFloat(got[0].value, wantV) || got[0].unit != wantU {
					t.Fatalf("v%d: got %v; want %v %s", version, got, wantV, wantU)
				}
			}
		})
	}
}

// TestUnitTable: every (type, scale) of V1 and V2 resolves exactly to the
// MAD units its name spells, and every other combination is refused.
func TestUnitTable(t *testing.T) {
	want := []string{"BIT", "BYTE", "DAY", "FAHRENHEIT", "GIGABIT", "GIGABYTE", "HOUR", "KELVIN", "KILOBIT", "KILOBYTE",
		"MEGABIT", "MEGABYTE", "MICROSECOND", "MILLISECOND", "MINUTE", "NANOSECOND", "PETABIT", "PETABYTE", "SECOND",
		"TERABIT", "TERABYTE", "WEEK"}
	for _, version := range []int{1, 2} {
		reached := map[string]bool{}
		for typ := int32(-1); typ < 16; typ++ {
			for scl := int32(-1); scl < 32; scl++ {
				u := resolveUnit(version, typ, scl)
				switch u {
				case unitNoneV, badUnit:
					continue
				}
				name := sample.Unit(u).String()
				tt, ss, _ := unitIndex(version, typ, scl)
				if unitName(tt, ss) != name {
					t.Errorf("v%d (%d, %d): %s; its name spells %s", version, typ, scl, name, unitName(tt, ss))
				}
				reached[name] = true
			}
		}
		var got []string
		for n := range reached {
			got = append(got, n)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("v%d reaches %v; want %v", version, got, want)
		}
	}
}
