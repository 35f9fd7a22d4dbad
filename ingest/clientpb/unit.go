package clientpb

import "github.com/gomad/mad/internal/sample"

// MAD builds a unit name from the first numerator of a CompoundUnit,
// scale name + type name, and looks it up with Unit.valueOf; anything that
// is not one of MAD's units is a 400. The names of the proto enums:
var (
	typeNames = [...]string{"SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "BIT", "BYTE",
		"ROTATION", "DEGREE", "RADIAN", "CELSIUS", "FAHRENHEIT", "KELVIN"}
	scaleNames = [...]string{"YOCTO", "ZEPTO", "ATTO", "FEMTO", "PICO", "NANO", "MICRO",
		"MILLI", "CENTI", "DECI", "DECA", "HECTO", "KILO", "MEGA", "GIGA", "TERA", "PETA",
		"EXA", "ZETTA", "YOTTA", "KIBI", "MEBI", "GIBI", "TEBI", "PEBI", "EXBI", "ZEBI", "YOBI"}
)

const (
	numTypes  = len(typeNames)
	noScale   = len(scaleNames) // the name is the type's alone
	badUnit   = 0xFF
	unitNoneV = 0xFE // no unit at all
)

// unitTab maps (type, scale) indices to a sample.Unit, or badUnit.
var unitTab [numTypes][noScale + 1]uint8

func init() {
	for t := range numTypes {
		for s := 0; s <= noScale; s++ {
			u, ok := sample.ParseUnit(unitName(t, s))
			if !ok {
				unitTab[t][s] = badUnit
				continue
			}
			unitTab[t][s] = uint8(u)
		}
	}
}

func unitName(t, s int) string {
	if s == noScale {
		return typeNames[t]
	}
	return scaleNames[s] + typeNames[t]
}

// unitIndex maps the raw enum numbers of a V1 or V2 Unit to name indices.
// none reports that MAD gives the quantity no unit (V1: an unrecognised
// type; V2: type UNKNOWN or unrecognised).
//
// V1: Type SECOND=0 … KELVIN=12; Scale YOCTO=0 … YOBI=27 (and UNIT=28 in
// later revisions): UNIT or an unrecognised scale means the type's name
// alone. An unset scale is YOCTO, so e.g. a bare SECOND is YOCTOSECOND,
// which MAD refuses.
//
// V2: Type UNKNOWN=0, SECOND=1 … KELVIN=13; Scale UNKNOWN=0, UNIT=1,
// YOCTO=2 … YOBI=29: UNKNOWN, UNIT or unrecognised mean the type alone.
func unitIndex(version int, typ, scl int32) (t, s int, none bool) {
	if version == 1 {
		if typ < 0 || int(typ) >= numTypes {
			return 0, 0, true
		}
		t, s = int(typ), noScale
		if scl >= 0 && int(scl) < noScale {
			s = int(scl)
		}
		return t, s, false
	}
	if typ < 1 || int(typ) > numTypes {
		return 0, 0, true
	}
	t, s = int(typ)-1, noScale
	if scl >= 2 && int(scl)-2 < noScale {
		s = int(scl) - 2
	}
	return t, s, false
}

// resolveUnit returns the unit of a quantity's first numerator, unitNoneV,
// or badUnit.
func resolveUnit(version int, typ, scl int32) uint8 {
	t, s, none := unitIndex(version, typ, scl)
	if none {
		return unitNoneV
	}
	return unitTab[t][s]
}
