package statsd

import (
	"strconv"
	"unsafe"
)

// parseNumber reads a value as MAD does with java.text.NumberFormat
// (en-US): the longest prefix of the form
//
//	[-] digits-with-','-grouping [. digits] [E [-] digits]
//
// with at least one digit; anything after it is ignored ("12abc" is 12,
// "1,234" is 1234, "1.5e3" is 1.5 because only 'E' starts an exponent).
// NumberFormat has no '+'; a leading '+' is accepted here and reported in
// plus, so that gauges can treat it as a delta. The result is correctly
// rounded, as Java's conversion is.
func parseNumber(b []byte) (v float64, signed, plus, ok bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		signed, plus, neg = true, b[0] == '+', b[0] == '-'
		i = 1
	}
	// Fast path: the whole text is digits with at most one '.', 15 digits
	// at most (so the mantissa is exact): one exact operation at most.
	if n := len(b) - i; n > 0 && n <= 16 {
		var mant uint64
		dot := -1
		j := i
		for ; j < len(b); j++ {
			if d := b[j] - '0'; d < 10 {
				mant = mant*10 + uint64(d)
				continue
			}
			if b[j] != '.' || dot >= 0 {
				break
			}
			dot = j
		}
		if j == len(b) && (dot < 0 || n > 1) && (dot >= 0 || n <= 15) {
			v = float64(mant)
			if dot >= 0 {
				v /= pow10[len(b)-dot-1]
			}
			if neg {
				v = -v
			}
			return v, signed, plus, true
		}
	}
	return parseNumberSlow(b)
}

// parseNumberSlow is parseNumber for any text.
func parseNumberSlow(b []byte) (v float64, signed, plus, ok bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		signed, plus, neg = true, b[0] == '+', b[0] == '-'
		i = 1
	}
	start := i
	var mant uint64
	digits := 0 // significant digits in mant
	exp := 0    // decimal exponent of mant
	exact := true
	sawDigit := false
	// Integer part, with grouping commas between digits.
	for i < len(b) {
		c := b[i]
		if c >= '0' && c <= '9' {
			sawDigit = true
			if mant != 0 || c != '0' {
				if digits < 19 {
					mant = mant*10 + uint64(c-'0')
					digits++
				} else {
					exact = false
				}
			}
			i++
			continue
		}
		if c == ',' && sawDigit && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' {
			i++
			continue
		}
		break
	}
	if !exact {
		exp = 0 // recomputed by the slow path
	}
	// Fraction.
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			sawDigit = true
			c := b[i]
			switch {
			case mant == 0 && c == '0':
				exp--
			case digits < 19:
				mant = mant*10 + uint64(c-'0')
				digits++
				exp--
			default:
				exact = false
			}
			i++
		}
	}
	if !sawDigit {
		return 0, false, false, false
	}
	end := i
	// Exponent: 'E', optional '-', at least one digit; otherwise the number
	// ends before the 'E'.
	e := 0
	if i < len(b) && b[i] == 'E' {
		j := i + 1
		eneg := false
		if j < len(b) && b[j] == '-' {
			eneg = true
			j++
		}
		digitsAt := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			if e < 100000 {
				e = e*10 + int(b[j]-'0')
			}
			j++
		}
		if j > digitsAt && eneg {
			e = -e
		} else if j == digitsAt {
			e = 0
		}
	}
	exp += e
	switch {
	case mant == 0 && exact:
		v = 0
	case exact && mant <= 1<<53 && exp >= -22 && exp <= 22:
		// Both operands exact: one IEEE operation, correctly rounded.
		v = float64(mant)
		if exp < 0 {
			v /= pow10[-exp]
		} else {
			v *= pow10[exp]
		}
	default:
		v = slowFloat(b[start:end], e)
	}
	if neg {
		v = -v
	}
	return v, signed, plus, true
}

var pow10 = [23]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// slowFloat converts digits (with grouping commas and an optional '.') times
// 10^e with strconv, which rounds correctly given every digit.
func slowFloat(digits []byte, e int) float64 {
	var stack [64]byte
	s := stack[:0]
	for _, c := range digits {
		if c != ',' {
			s = append(s, c)
		}
	}
	s = append(s, 'e')
	s = strconv.AppendInt(s, int64(e), 10)
	v, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	// Out of range gives ±Inf or 0, as Java's conversion does.
	return v
}

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
