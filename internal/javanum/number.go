// Package javanum parses numbers as Java's NumberFormat does, for the
// decoders of formats MAD reads with it (Graphite, Telegraf).
package javanum

import (
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Parse reads the longest numeric prefix of b as MAD's
// NumberFormat.getInstance().parse(String) does (java.text.DecimalFormat,
// en-US symbols, grouping on); ok is false where Java throws ParseException
// (nothing at the start of b is a number). scratch is reused to build the
// digits for the slow path and returned.
//
// Java's rules, as DecimalFormat.subparse applies them:
//   - "NaN" at the start is NaN; an optional '-' then "∞" is ±Infinity; there
//     is no '+'.
//   - Digits are any BMP character with a decimal digit value
//     (Character.digit), not only ASCII; leading zeros are ignored.
//   - ',' is a grouping separator anywhere before the decimal point (",5" is
//     5, "1,,2" is 12); after the '.', a ',' ends the number.
//   - One '.' starts the fraction; a second ends the number.
//   - 'E', an optional '-' and digits are an exponent (the exponent's long
//     value is cast to int); anything else after 'E' ends the number before
//     the 'E' ("1e3" is 1, "1E+3" is 1).
//   - The value is the decimal correctly rounded to a double; a negative
//     zero is -0.0.
func Parse(b []byte, scratch []byte) (v float64, out []byte, ok bool) {
	// Fast path: [-]digits[.digits], 15 digits at most, nothing else: the
	// mantissa and the power of ten are exact, so one division rounds
	// correctly.
	if n := len(b); n > 0 && n <= 17 {
		i := 0
		neg := b[0] == '-'
		if neg {
			i = 1
		}
		var mant uint64
		dot, digits := -1, 0
		j := i
		for ; j < n; j++ {
			if c := b[j] - '0'; c < 10 {
				mant = mant*10 + uint64(c)
				digits++
				continue
			}
			if b[j] != '.' || dot >= 0 {
				break
			}
			dot = j
		}
		if j == n && digits > 0 && digits <= 15 {
			v = float64(mant)
			if dot >= 0 {
				v /= pow10[n-dot-1]
			}
			if neg {
				v = -v
			}
			return v, scratch, true
		}
	}
	return parseSlow(b, scratch)
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16}

const infinity = "\u221e" // DecimalFormatSymbols.getInfinity() in en-US

func parseSlow(b []byte, scratch []byte) (float64, []byte, bool) {
	if len(b) >= 3 && b[0] == 'N' && b[1] == 'a' && b[2] == 'N' {
		return math.NaN(), scratch, true
	}
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	sign := 1.0
	if neg {
		sign = -1
	}
	if len(b)-i >= len(infinity) && string(b[i:i+len(infinity)]) == infinity {
		return math.Inf(int(sign)), scratch, true
	}
	// DigitList: the significant digits, and decimalAt, the position of the
	// decimal point relative to them.
	digs := append(scratch[:0], '0', '.')
	var decimalAt, digitCount int32
	sawDigit, sawDecimal := false, false
	var exponent int32
loop:
	for i < len(b) {
		c := b[i]
		w := 1
		d := int(c) - '0'
		if c >= utf8.RuneSelf {
			var r rune
			r, w = utf8.DecodeRune(b[i:])
			d = javaDigit(r)
		} else if d > 9 {
			d = -1
		}
		switch {
		case d == 0:
			sawDigit = true
			if len(digs) == 2 {
				if sawDecimal {
					decimalAt--
				}
			} else {
				digitCount++
				digs = append(digs, '0')
			}
		case d > 0:
			sawDigit = true
			digitCount++
			digs = append(digs, byte('0'+d))
		case c == '.':
			if sawDecimal {
				break loop
			}
			decimalAt = digitCount
			sawDecimal = true
		case c == ',':
			if sawDecimal {
				break loop
			}
		case c == 'E':
			if e, ok := javaExponent(b[i+1:]); ok {
				exponent = e
			}
			break loop
		default:
			break loop
		}
		i += w
	}
	if !sawDigit && digitCount == 0 {
		return 0, digs, false
	}
	if !sawDecimal {
		decimalAt = digitCount
	}
	decimalAt += exponent // int arithmetic, wrapping as Java's does
	if len(digs) == 2 {
		return math.Copysign(0, sign), digs, true
	}
	// The value is 0.digits × 10^decimalAt, with digits[0] != 0.
	switch {
	case decimalAt > 310:
		return math.Inf(int(sign)), digs, true
	case decimalAt < -325:
		return math.Copysign(0, sign), digs, true
	}
	digs = append(digs, 'e')
	digs = strconv.AppendInt(digs, int64(decimalAt), 10)
	v, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(digs), len(digs)), 64)
	return sign * v, digs, true
}

// javaExponent reads the exponent after 'E': an optional '-' and at least
// one digit, whose value must fit a long; it is then cast to int.
func javaExponent(b []byte) (int32, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	var n uint64
	sig := 0
	seen := false
	for len(b) > 0 {
		d := int(b[0]) - '0'
		w := 1
		if b[0] >= utf8.RuneSelf {
			var r rune
			r, w = utf8.DecodeRune(b)
			d = javaDigit(r)
		} else if d > 9 {
			d = -1
		}
		if d < 0 {
			break
		}
		seen = true
		if n != 0 || d != 0 {
			sig++
			if sig > 19 {
				return 0, false
			}
			n = n*10 + uint64(d)
		}
		b = b[w:]
	}
	if !seen {
		return 0, false
	}
	// fitsIntoLong: 19 digits at most, within the long range (the minimum
	// only when negative).
	if n > math.MaxInt64 && !(neg && n == 1<<63) {
		return 0, false
	}
	e := int32(int64(n))
	if neg {
		e = -e
	}
	return e, true
}

// javaDigit is Character.digit(ch, 10) for a UTF-16 unit: the value of a
// BMP decimal digit (Unicode Nd), or -1. Supplementary characters are two
// units to Java, neither a digit.
func javaDigit(r rune) int {
	if r > 0xFFFF || r == utf8.RuneError || !unicode.Is(unicode.Nd, r) {
		return -1
	}
	for _, rg := range unicode.Nd.R16 {
		if uint16(r) >= rg.Lo && uint16(r) <= rg.Hi {
			return int(uint16(r)-rg.Lo) % 10
		}
	}
	return -1
}
