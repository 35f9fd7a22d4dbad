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
	// The fast path, inline for the decoders' sake: the common form,
	// [-]digits[.digits] with at most 15 digits and nothing else, read
	// exactly as parseSlow would. The mantissa and the power of ten are
	// exact doubles, so one division rounds correctly. Anything else goes
	// to parseSlow.
	n = len(b)
	if n == 0 || n > 17 {
		return parseSlow(b)
	}
	i := 0
	if b[0] == '-' {
		i = 1
	}
	var mant uint64
	dot := -1
	for j := i; j < n; j++ {
		if c := b[j] - '0'; c < 10 {
			mant = mant*10 + uint64(c)
			continue
		}
		if b[j] != '.' || dot >= 0 {
			return parseSlow(b)
		}
		dot = j
	}
	digits := n - i
	if dot >= 0 {
		digits--
	}
	if digits == 0 || digits > 15 {
		return parseSlow(b)
	}
	v = float64(mant)
	if dot >= 0 {
		v /= pow10[n-dot-1]
	}
	if i == 1 {
		v = -v
	}
	return v, n
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16}

const (
	nan      = "NaN"    // DecimalFormatSymbols.getNaN() in en-US
	infinity = "\u221e" // DecimalFormatSymbols.getInfinity() in en-US

	// maxDigits is how many significant digits parseSlow keeps. A decimal
	// that decides a rounding (a midpoint between neighbouring doubles, or
	// the overflow and underflow thresholds) has at most 767 significant
	// digits, so replacing the digits after the 800th by a single '1' when
	// any of them is not zero (a sticky digit) rounds as all of them would.
	// Java's FloatingDecimal does the same past 1100 digits.
	maxDigits = 800
)

// parseSlow is Parse for any text: DecimalFormat.parse and subparseNumber
// step by step.
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
	// The DigitList as text: "0." then the significant digits (digitCount
	// of them, the first maxDigits kept); the value is 0.digits ×
	// 10^decimalAt. Java's int arithmetic is int32 here.
	var buf [2 + maxDigits + 1 + 1 + 11]byte
	buf[0], buf[1] = '0', '.'
	nd := 2 // end of the digits in buf
	sticky := false
	var decimalAt, digitCount, exponent int32
	sawDigit, sawDecimal := false, false
	backup := -1
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
		case d >= 0:
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
			if digitCount++; digitCount <= maxDigits {
				buf[nd] = byte('0' + d)
				nd++
			} else if d != 0 {
				sticky = true
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
				exponent = e
				i += 1 + n
			}
			break loop
		default:
			break loop
		}
		i += w
	}
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
	var v float64
	switch {
	case digitCount == 0:
		v = 0
	case int(decimalAt) > len(overflow) || int(decimalAt) == len(overflow) && atLeast(buf[2:nd], overflow):
		// Decided here: strconv would say so with an error, which
		// allocates.
		v = math.Inf(1)
	case decimalAt < -325: // < 10^-326, under half the least denormal
		v = 0
	default:
		if sticky {
			buf[nd] = '1'
			nd++
		}
		buf[nd] = 'e'
		s := strconv.AppendInt(buf[:nd+1], int64(decimalAt), 10)
		// Correctly rounded, as Double.parseDouble and (for integers that
		// fit a long) Long.doubleValue() are; below the overflow threshold
		// there is no error, and an underflow gives 0, as in Java.
		v, _ = strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	}
	if neg {
		v = -v
	}
	return v, i
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
		d := int(b[n]) - '0'
		w := 1
		if b[n] >= utf8.RuneSelf {
			var r rune
			r, w = utf8.DecodeRune(b[n:])
			d = javaDigit(r)
		} else if d > 9 {
			d = -1
		}
		if d < 0 {
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
