package statsd

import (
	"math"
	"strconv"
	"unsafe"
)

// splitSign splits a value's text for NumberFormat, which MAD reads it with
// (javanum.Parse: the longest numeric prefix, the rest ignored, "+1"
// refused). signed is set when the text starts with '+' or '-', which makes
// a gauge value a delta (always for '+', an extension: MAD refuses it; for
// '-' if so configured). A '+' is not NumberFormat's: num is the text after
// it, unless it is signed again ("+-1" stays a refusal). The caller calls
// javanum.Parse(num) itself, so that this inlines and the hot path makes
// one call.
func splitSign(b []byte) (num []byte, signed, plus bool) {
	if unsigned(b) {
		return b, false, false
	}
	if b[0] == '+' && len(b) > 1 && b[1] != '-' {
		return b[1:], true, true
	}
	return b, b[0] == '-' || b[0] == '+', false
}

// unsigned reports whether value text b surely has no sign: it is empty,
// or its first byte comes after '+' ',' '-' (as digits and '.' do). A text
// it does not clear may still have none (splitSign tells).
func unsigned(b []byte) bool { return len(b) == 0 || b[0] > '-' }

// nonFinite reads the spellings of NaN and the infinities that clients
// write and NumberFormat refuses: "nan", "inf" and "infinity" in any case,
// after an optional '-' (Go's "+Inf" and "NaN", Java's and JavaScript's
// "Infinity", Python's "inf" and "nan"), the whole value text. It returns
// the value and len(b), or 0 if b is no such spelling. The decoder drops
// non-finite values and counts them as such (Stats.NonFinite), so that a
// client sending them sees them counted as non-finite, not as values that
// are not numbers; MAD refuses these spellings (a ParseException), so
// either way the line is dropped. Only called once javanum.Parse refused b.
func nonFinite(b []byte) (float64, int) {
	t, sign := b, 1
	if len(t) > 0 && t[0] == '-' {
		t, sign = t[1:], -1
	}
	if len(t) != 3 && len(t) != 8 {
		return 0, 0
	}
	var w [8]byte
	for i, c := range t {
		w[i] = c | 0x20 // ASCII lower case; other bytes cannot match
	}
	switch string(w[:len(t)]) {
	case "nan":
		return math.NaN(), len(b)
	case "inf", "infinity":
		return math.Inf(sign), len(b)
	}
	return 0, 0
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseRate reads a sample rate as Java's Double.valueOf does for the forms
// clients send (decimal, optional exponent).
func parseRate(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	// Fast path: digits[.digits] with few digits is one exact division.
	var mant uint64
	frac, digits, dot := 0, 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9' && digits < 15:
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
			continue
		case c == '.' && !dot:
			dot = true
			continue
		}
		digits = -1
		break
	}
	if digits > 0 {
		v := float64(mant) / pow10[frac]
		return v, v <= 1
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	// Double.compareTo puts NaN above 1, so MAD refuses it; so do we.
	if err != nil || !(v >= 0 && v <= 1) {
		return 0, false
	}
	return v, true
}

// parseUint reads a non-empty run of decimal digits.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
