package otlpjson

import (
	"math"
	"strconv"
	"unsafe"
)

// Numbers as protojson reads them. A JSON number (checked by scanNumber)
// is an integer if its value is one, whatever its spelling: 1, 1.0, 1e2,
// 1.5e1 and 100e-2 are integers, 1.5 and 1e-1 are not. That is protojson's
// normalizeToIntString, here without building the digits: the number is
// taken apart into its sign, integer digits (none for a leading 0),
// fraction digits (trailing zeros dropped) and exponent; a number with
// neither integer nor fraction digits is 0 whatever its exponent; the
// exponent must fit an int32; the digits of the value are the integer
// digits, then the fraction's, then zeros, and there may be at most 20 of
// them (counting the integer digits and the exponent); a negative exponent
// may only drop zeros.

// intValue is an integer read from a JSON number: its magnitude and sign.
type intValue struct {
	mag uint64
	neg bool
}

// parseInt reads the integer value of the JSON number raw (checked by
// scanNumber); ok is false if raw is not an integer or its magnitude does
// not fit in a uint64.
func parseInt(raw []byte) (v intValue, ok bool) {
	i := 0
	if raw[0] == '-' {
		v.neg = true
		i++
	}
	var intp []byte
	if raw[i] == '0' {
		i++
	} else {
		j := digits(raw, i)
		intp, i = raw[i:j], j
	}
	var frac []byte
	if i < len(raw) && raw[i] == '.' {
		j := digits(raw, i+1)
		frac, i = raw[i+1:j], j
		for len(frac) > 0 && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
	}
	if len(intp) == 0 && len(frac) == 0 {
		return intValue{}, true // 0, -0, 0.000, 0e999999999999
	}
	exp := 0
	if i < len(raw) { // 'e' or 'E'
		i++
		eneg := false
		switch raw[i] {
		case '-':
			eneg = true
			i++
		case '+':
			i++
		}
		var e uint64
		for _, c := range raw[i:] {
			e = e*10 + uint64(c-'0')
			if e > 1<<31 {
				return intValue{}, false
			}
		}
		if !eneg && e > math.MaxInt32 {
			return intValue{}, false
		}
		exp = int(e)
		if eneg {
			exp = -exp
		}
	}
	var mag uint64
	add := func(d byte) bool {
		x := uint64(d - '0')
		if mag > (math.MaxUint64-x)/10 {
			return false
		}
		mag = mag*10 + x
		return true
	}
	if exp >= 0 {
		if len(frac) > exp || len(intp)+exp > 20 {
			return intValue{}, false
		}
		for _, d := range intp {
			if !add(d) {
				return intValue{}, false
			}
		}
		for _, d := range frac {
			if !add(d) {
				return intValue{}, false
			}
		}
		for range exp - len(frac) {
			if !add('0') {
				return intValue{}, false
			}
		}
	} else {
		at := len(intp) + exp
		if len(frac) > 0 || at < 0 {
			return intValue{}, false
		}
		for _, d := range intp[at:] {
			if d != '0' {
				return intValue{}, false
			}
		}
		for _, d := range intp[:at] {
			if !add(d) {
				return intValue{}, false
			}
		}
	}
	v.mag = mag
	return v, true
}

// int64 returns v as an int64 of bits bits (32 or 64), as
// strconv.ParseInt does: false when out of range.
func (v intValue) int64(bits uint) (int64, bool) {
	lim := uint64(1) << (bits - 1)
	if v.neg {
		if v.mag > lim {
			return 0, false
		}
		return -int64(v.mag-1) - 1, true // no overflow at -2^63
	}
	if v.mag >= lim {
		return 0, false
	}
	return int64(v.mag), true
}

// uint64 returns v as a uint64 of bits bits (32 or 64), as
// strconv.ParseUint does: false when negative (not zero) or out of range.
func (v intValue) uint64(bits uint) (uint64, bool) {
	if v.neg && v.mag != 0 {
		return 0, false
	}
	if bits < 64 && v.mag >= 1<<bits {
		return 0, false
	}
	return v.mag, true
}

// parseFloat reads the JSON number raw (checked by scanNumber) as a double,
// as strconv.ParseFloat does: false when out of range.
func parseFloat(raw []byte) (float64, bool) {
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(raw), len(raw)), 64)
	return f, err == nil
}
