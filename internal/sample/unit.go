package sample

// Unit is MAD's unit enum (com.arpnetworking.metrics.mad.model.Unit), plus
// UnitNone for a quantity without a unit. After normalisation (Normalize) only
// UnitNone, Second, Byte and Kelvin remain.
type Unit uint8

// Units in MAD's declaration order.
const (
	UnitNone Unit = iota
	Nanosecond
	Microsecond
	Millisecond
	Second
	Minute
	Hour
	Day
	Week
	Bit
	Byte
	Kilobit
	Megabit
	Gigabit
	Terabit
	Petabit
	Kilobyte
	Megabyte
	Gigabyte
	Terabyte
	Petabyte
	Kelvin
	Celcius // sic: MAD's spelling, which is also its wire name
	Fahrenheit

	numUnits
)

// UnitFamily is MAD's UnitType.
type UnitFamily uint8

// Unit families.
const (
	FamilyNone UnitFamily = iota
	FamilyTime
	FamilyDataSize
	FamilyTemperature
)

type unitInfo struct {
	name   string
	family UnitFamily
	// scale relative to the family's base unit (nanosecond, bit), as the
	// double MAD stores; unused for temperatures, which convert affinely.
	scale float64
}

var units = [numUnits]unitInfo{
	UnitNone:    {"", FamilyNone, 0},
	Nanosecond:  {"NANOSECOND", FamilyTime, 1},
	Microsecond: {"MICROSECOND", FamilyTime, 1e3},
	Millisecond: {"MILLISECOND", FamilyTime, 1e6},
	Second:      {"SECOND", FamilyTime, 1e9},
	Minute:      {"MINUTE", FamilyTime, 1e9 * 60},
	Hour:        {"HOUR", FamilyTime, 1e9 * 60 * 60},
	Day:         {"DAY", FamilyTime, 1e9 * 60 * 60 * 24},
	Week:        {"WEEK", FamilyTime, 1e9 * 60 * 60 * 24 * 7},
	Bit:         {"BIT", FamilyDataSize, 1},
	Byte:        {"BYTE", FamilyDataSize, 8},
	// Bits scale in powers of 1024, bytes in powers of 1000: MAD's table.
	Kilobit:    {"KILOBIT", FamilyDataSize, 1 << 10},
	Megabit:    {"MEGABIT", FamilyDataSize, 1 << 20},
	Gigabit:    {"GIGABIT", FamilyDataSize, 1 << 30},
	Terabit:    {"TERABIT", FamilyDataSize, 1 << 40},
	Petabit:    {"PETABIT", FamilyDataSize, 1 << 50},
	Kilobyte:   {"KILOBYTE", FamilyDataSize, 8e3},
	Megabyte:   {"MEGABYTE", FamilyDataSize, 8e6},
	Gigabyte:   {"GIGABYTE", FamilyDataSize, 8e9},
	Terabyte:   {"TERABYTE", FamilyDataSize, 8e12},
	Petabyte:   {"PETABYTE", FamilyDataSize, 8e15},
	Kelvin:     {"KELVIN", FamilyTemperature, 0},
	Celcius:    {"CELCIUS", FamilyTemperature, 0},
	Fahrenheit: {"FAHRENHEIT", FamilyTemperature, 0},
}

// String returns MAD's enum name ("SECOND", "CELCIUS", …), or "" for UnitNone
// and for values outside the enum. This is the unit string on MAD's wires.
func (u Unit) String() string {
	if u >= numUnits {
		return ""
	}
	return units[u].name
}

// Valid reports whether u is one of the enum's values.
func (u Unit) Valid() bool { return u < numUnits }

// Family returns the unit's family (FamilyNone for UnitNone).
func (u Unit) Family() UnitFamily {
	if u >= numUnits {
		return FamilyNone
	}
	return units[u].family
}

// ParseUnit maps a MAD enum name to a Unit, as Java's Unit.valueOf does
// (exact, case-sensitive). The empty string is not a unit.
func ParseUnit(name string) (Unit, bool) {
	for u := Nanosecond; u < numUnits; u++ {
		if units[u].name == name {
			return u, true
		}
	}
	return UnitNone, false
}

// defaultUnit is the unit every quantity of a family is normalised to.
func (f UnitFamily) defaultUnit() Unit {
	switch f {
	case FamilyTime:
		return Second
	case FamilyDataSize:
		return Byte
	case FamilyTemperature:
		return Kelvin
	}
	return UnitNone
}

// Normalize converts v in unit u to its family's default unit (SECOND, BYTE,
// KELVIN), exactly as MAD's DefaultQuantity.Builder.normalize does in double
// arithmetic: sourceScale / targetScale * v, and the affine formulas for
// temperatures. UnitNone and invalid units are returned unchanged.
func Normalize(v float64, u Unit) (float64, Unit) {
	if u == UnitNone || u >= numUnits {
		return v, u
	}
	target := units[u].family.defaultUnit()
	if u == target {
		return v, u
	}
	switch u {
	case Celcius:
		return v + 273.15, Kelvin
	case Fahrenheit:
		return (v + 459.67) * 5.0 / 9.0, Kelvin
	}
	return units[u].scale / units[target].scale * v, target
}
