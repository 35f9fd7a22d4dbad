package javanum

import (
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Parse reads the number at the start of b as MAD's
// NumberFormat.getInstance().parse(String) does (see the package doc). It
// returns the value, as Number.doubleValue() gives it, and n, how many bytes
// of b the number takes (ParsePosition's index); n == 0 where Java throws
// ParseException. The rest of b is the caller's business. b is UTF-8; an
// invalid byte is a non-digit, as the U+FFFD that Java decodes it to is.
// Parse does not allocate.
func Parse(b []byte) (v float64, n int) {
	// The fast path, inline for the decoders' sake: the common forms,
	// [-]digits[.digits] in ASCII and nothing else (and, out of line, an
	// exponent after them), read exactly as parseSlow would. With at most
	// 15 digits the mantissa and the power of ten are exact doubles, so one
	// operation rounds correctly.
	if l := len(b); l > 0 && l <= 24 {
		i := 0
		if b[0] == '-' {
			i = 1
		}
		var mant int64
		j := i
		for j < l && b[j]-'0' < 10 {
			mant = mant*10 + int64(b[j]-'0')
			j++
		}
		digits, frac := j-i, 0
		if j < l && b[j] == '.' {
			j++
			for j < l && b[j]-'0' < 10 {
				mant = mant*10 + int64(b[j]-'0')
				j++
				frac++
			}
		}
		if digits += frac; j == l && digits > 0 && digits <= 15 {
			v = float64(mant)
			if frac > 0 {
				v /= pow10[frac]
			}
			if i == 1 {
				v = -v
			}
			return v, l
		}
		switch {
		case j == l && digits > 15:
			// Too many digits for one exact operation, and this text is
			// strconv's syntax too, with the same correctly rounded value
			// (at 24 bytes, far below the overflow threshold).
			return parseFloat(b), l
		case j < l && b[j] == 'E' && digits > 0 && digits <= 15:
			if v, ok := exactExponent(b[j+1:], mant, frac, i == 1); ok {
				return v, l
			}
		}
	}
	return parseSlow(b)
}

// exactExponent is Parse's fast path for the exponent: e is the text after
// the 'E' of a mantissa mant with frac fraction digits (at most 15 digits
// in all). It reads [-]digits, at most 3 of them, and nothing else, and the
// value if it is one exact operation, mant × 10^(exponent - frac); ok is
// false otherwise, for parseSlow.
func exactExponent(e []byte, mant int64, frac int, neg bool) (v float64, ok bool) {
	i := 0
	if len(e) > 0 && e[0] == '-' {
		i = 1
	}
	if n := len(e) - i; n == 0 || n > 3 {
		return 0, false
	}
	x := 0
	for _, c := range e[i:] {
		if c-'0' >= 10 {
			return 0, false
		}
		x = x*10 + int(c-'0')
	}
	if i == 1 {
		x = -x
	}
	if x -= frac; x < -22 || x > 22 {
		return 0, false
	}
	v = float64(mant)
	if x < 0 {
		v /= pow10[-x]
	} else {
		v *= pow10[x]
	}
	if neg {
		v = -v
	}
	return v, true
}

// pow10 are the powers of ten that are exact doubles.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

const (
	nan      = "NaN"    // DecimalFormatSymbols.getNaN() in en-US
	infinity = "\u221e" // DecimalFormatSymbols.getInfinity() in en-US

	// maxDigits is how many significant digits longDecimal keeps. A
	// decimal that decides a rounding (a midpoint between neighbouring
	// doubles, or the overflow and underflow thresholds) has at most 767
	// significant digits, so replacing the digits after the 800th by a
	// single '1' when any of them is not zero (a sticky digit) rounds as
	// all of them would. Java's FloatingDecimal does the same past 1100
	// digits.
	maxDigits = 800
)

// parseSlow is Parse for any text: DecimalFormat.parse and subparseNumber
// step by step. Java's DigitList becomes the first 19 significant digits
// in an integer, their count, and decimalAt, the position of the decimal
// point relative to them (the value is 0.digits × 10^decimalAt); Java's
// int arithmetic is int32 here.
func parseSlow(b []byte) (float64, int) {
	if len(b) >= len(nan) && string(b[:len(nan)]) == nan {
		return math.NaN(), len(nan)
	}
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	if len(b)-i >= len(infinity) && string(b[i:i+len(infinity)]) == infinity {
		return math.Inf(sign(neg)), i + len(infinity)
	}
	start := i
	var mant uint64
	var decimalAt, digitCount, exponent int32
	sawDigit, sawDecimal := false, false
	backup, expLen := -1, 0
loop:
	for i < len(b) {
		c := b[i]
		d, w := int(c)-'0', 1
		if c >= utf8.RuneSelf {
			d, w = digitRune(b[i:])
		}
		switch {
		case uint(d) < 10:
			backup = -1
			sawDigit = true
			if digitCount == 0 && d == 0 {
				// Leading zeros: not significant; after the point they
				// move it.
				if sawDecimal {
					decimalAt--
				}
				break
			}
			if digitCount++; digitCount <= 19 {
				mant = mant*10 + uint64(d)
			}
			// The rest of a run of ASCII digits, in a tighter loop
			// (after a character of w > 1 bytes, b[i+1] continues it:
			// no ASCII digit).
			for i+1 < len(b) && b[i+1]-'0' < 10 {
				i++
				if digitCount++; digitCount <= 19 {
					mant = mant*10 + uint64(b[i]-'0')
				}
			}
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
			backup = i // consumed only if a digit follows
		case c == 'E':
			if e, n, ok := exponentAt(b[i+1:]); ok {
				exponent, expLen = e, 1+n
			}
			break loop
		default:
			break loop
		}
		i += w
	}
	mantissa := b[start:i] // digits, ',' and '.'
	i += expLen
	if backup >= 0 {
		i = backup
	}
	if !sawDigit {
		return 0, 0
	}
	if !sawDecimal {
		decimalAt = digitCount
	}
	decimalAt += exponent // wraps, as Java's int does
	v := toFloat(mantissa, mant, digitCount, decimalAt)
	if neg {
		v = -v
	}
	return v, i
}

// toFloat is 0.digits × 10^decimalAt correctly rounded, as
// Double.parseDouble and (for integers that fit a long) Long.doubleValue()
// round it, where the digits are the digitCount significant digits of the
// mantissa's text m (digits, ',' and '.'), the first 19 of them mant.
func toFloat(m []byte, mant uint64, digitCount, decimalAt int32) float64 {
	switch {
	case digitCount == 0:
		return 0
	case int(decimalAt) > len(overflow): // ≥ 10^309
		return math.Inf(1)
	case decimalAt < -325: // < 10^-326, under half the least denormal
		return 0
	case digitCount > 19:
		return longDecimal(m, decimalAt)
	}
	// mant × 10^e, with mant exact.
	if e := decimalAt - digitCount; mant < 1<<53 && e >= -22 && e <= 22 {
		// Both exact: one operation rounds correctly.
		if e < 0 {
			return float64(mant) / pow10[-e]
		}
		return float64(mant) * pow10[e]
	}
	var buf [2 + 19 + 1 + 11]byte
	return decimal(buf[:0], m, 19, decimalAt)
}

// longDecimal is toFloat for more than 19 digits, with room for maxDigits
// (out of line: only this path pays for the buffer).
func longDecimal(m []byte, decimalAt int32) float64 {
	var buf [2 + maxDigits + 1 + 1 + 11]byte
	return decimal(buf[:0], m, maxDigits, decimalAt)
}

// decimal writes 0.digits e decimalAt into buf, the significant digits of
// the mantissa's text m, at most max of them and then a sticky digit, and
// converts it with strconv. buf must have room for max + 15 bytes.
func decimal(buf, m []byte, max int, decimalAt int32) float64 {
	buf = append(buf, '0', '.')
	sticky := false
	for i := 0; i < len(m); {
		c := m[i]
		d, w := int(c)-'0', 1
		if c >= utf8.RuneSelf {
			d, w = digitRune(m[i:])
		}
		i += w
		switch {
		case uint(d) >= 10 || d == 0 && len(buf) == 2: // ',', '.', a leading zero
		case len(buf) < 2+max:
			buf = append(buf, byte('0'+d))
		case d != 0:
			sticky = true
		}
	}
	if int(decimalAt) == len(overflow) && atLeast(buf[2:], overflow) {
		// Decided here: strconv would say so with an error, which
		// allocates.
		return math.Inf(1)
	}
	if sticky {
		buf = append(buf, '1')
	}
	return parseFloat(strconv.AppendInt(append(buf, 'e'), int64(decimalAt), 10))
}

// parseFloat is strconv.ParseFloat of a decimal below the overflow
// threshold, which it rounds correctly, as Java does, and without an error
// (which would allocate); an underflow is 0, as in Java.
func parseFloat(s []byte) float64 {
	v, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	return v
}

// overflow is the least integer that rounds to +Inf: MaxFloat64 plus half
// its ulp, 2^1024 - 2^970 (a tie, which rounds to the even +Inf).
const overflow = "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"

// atLeast reports whether the decimal digits d, as a fraction 0.d, are at
// least 0.t.
func atLeast(d []byte, t string) bool {
	for i := range len(t) {
		c := byte('0')
		if i < len(d) {
			c = d[i]
		}
		if c != t[i] {
			return c > t[i]
		}
	}
	return true
}

// exponentAt reads the exponent after an 'E' as subparse(isExponent) does:
// an optional '-' and at least one digit, whose value must fit a long; it
// is then cast to int. n is the length of the exponent in b.
func exponentAt(b []byte) (e int32, n int, ok bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, n = true, 1
	}
	var u uint64
	sig := 0 // significant digits in u
	seen := false
	for n < len(b) {
		d, w := int(b[n])-'0', 1
		if b[n] >= utf8.RuneSelf {
			d, w = digitRune(b[n:])
		}
		if uint(d) >= 10 {
			break
		}
		seen = true
		if u != 0 || d != 0 {
			if sig++; sig > 19 {
				return 0, 0, false // over 19 digits: never a long
			}
			u = u*10 + uint64(d)
		}
		n += w
	}
	// DigitList.fitsIntoLong: Long.MIN_VALUE only when negative.
	if !seen || u > math.MaxInt64 && !(neg && u == 1<<63) {
		return 0, 0, false
	}
	e = int32(int64(u)) // (int) of the long
	if neg {
		e = -e
	}
	return e, n, true
}

// digitRune is Character.digit(ch, 10) for the character ch beyond ASCII
// at the start of b (-1 if it is no digit), and its length in bytes. The
// callers read an ASCII byte c themselves, as int(c) - '0', a digit if
// within [0, 9]; this is their way out of line.
func digitRune(b []byte) (d, w int) {
	r, w := utf8.DecodeRune(b)
	return javaDigit(r), w
}

// javaDigit is Character.digit(ch, 10) for the character r: the value of a
// BMP decimal digit (Unicode Nd), or -1. A supplementary character is two
// UTF-16 units to Java, neither of them a digit. Java 17's digits are
// exactly Go's unicode.Nd.R16, whose ranges are runs of ten from a zero
// (TestJavaDigit).
func javaDigit(r rune) int {
	if r > 0xFFFF {
		return -1
	}
	for _, rg := range unicode.Nd.R16 {
		if uint16(r) < rg.Lo {
			break
		}
		if uint16(r) <= rg.Hi {
			return int(uint16(r)-rg.Lo) % 10
		}
	}
	return -1
}

func sign(neg bool) int {
	if neg {
		return -1
	}
	return 1
}
