package collectd

import (
	"math"
	"strconv"
	"unsafe"
)

// How MAD's Jackson (ALLOW_NON_NUMERIC_NUMBERS, default coercions) reads a
// Double.

// maxNumberLen is Jackson's StreamReadConstraints.maxNumberLength.
const maxNumberLen = 1000

// b2s returns b as a string without copying; valid while b is unchanged.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// jsonNumber reads a number token as Jackson does: JSON's grammar
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) or one of the non-numeric
// tokens NaN, Infinity, +Infinity, -Infinity, +INF, -INF (fastjson hands
// Infinity over as +INF, see unInfinity). The result is correctly rounded,
// as Java's; integer tokens convert as Jackson converts an int or a long,
// so "-0" is +0.0.
func jsonNumber(raw []byte) (float64, bool) {
	n, ok := scanNumber(raw)
	if !ok {
		return 0, false
	}
	if n.special {
		return n.v, true
	}
	var v float64
	switch {
	case n.digits == 0:
		v = 0
	case n.digits <= 15 && n.exp >= -22 && n.exp <= 22:
		// Exact operands, one rounding: correctly rounded (what strconv's
		// own fast path does, without parsing the text again).
		v = float64(n.mant)
		if n.exp < 0 {
			v /= pow10[-n.exp]
		} else {
			v *= pow10[n.exp]
		}
	default:
		v, _ = strconv.ParseFloat(b2s(raw), 64) // out of range: ±Inf or 0, as Java
		v = math.Abs(v)
	}
	if n.neg && !n.integer {
		v = -v
	} else if n.neg && v != 0 {
		v = -v
	}
	return v, true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number is a scanned number token: mant × 10^exp, where mant holds the
// first 19 significant digits (digits counts them all), or a special value
// in v.
type number struct {
	mant                  uint64
	exp, digits           int
	neg, integer, special bool
	v                     float64
}

// digit adds a decimal digit; it reports whether the digit was kept in
// mant (leading zeros are not significant and not counted).
func (n *number) digit(c byte) (kept bool) {
	if n.digits == 0 && c == '0' {
		return true
	}
	n.digits++
	if n.digits > 19 {
		return false
	}
	n.mant = n.mant*10 + uint64(c-'0')
	return true
}

// scanNumber checks a number token against Jackson's grammar (see
// jsonNumber) and scans it.
func scanNumber(raw []byte) (n number, ok bool) {
	switch b2s(raw) {
	case "NaN":
		return number{special: true, v: math.NaN()}, true
	case "+INF":
		return number{special: true, v: math.Inf(1)}, true
	case "-INF":
		return number{special: true, v: math.Inf(-1)}, true
	}
	if len(raw) == 0 || len(raw) > maxNumberLen {
		return n, false
	}
	i := 0
	if raw[0] == '-' {
		n.neg = true
		i++
	}
	start := i
	for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
		if !n.digit(raw[i]) {
			n.exp++ // an integer digit beyond mant's: ×10
		}
	}
	if i == start || (i-start > 1 && raw[start] == '0') {
		return n, false // no digit, or a leading zero
	}
	n.integer = true
	if i < len(raw) && raw[i] == '.' {
		i++
		start = i
		for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
			if n.digit(raw[i]) {
				n.exp-- // a fraction digit in mant (or a leading zero)
			}
		}
		if i == start {
			return n, false
		}
		n.integer = false
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		eneg := false
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			eneg = raw[i] == '-'
			i++
		}
		start = i
		e := 0
		for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
			if e < 1e6 {
				e = e*10 + int(raw[i]-'0')
			}
		}
		if i == start {
			return n, false
		}
		if eneg {
			e = -e
		}
		n.exp += e
		n.integer = false
	}
	return n, i == len(raw)
}

// coerceDouble reads a JSON string where a Double is expected, as
// Jackson's default coercion does: "INF", "Infinity", "-INF", "-Infinity"
// and "NaN" first; an empty or blank string or "null" is null; otherwise
// Java's Double.parseDouble of the trimmed text.
func coerceDouble(s []byte) (v float64, null, ok bool) {
	switch b2s(s) {
	case "INF", "Infinity":
		return math.Inf(1), false, true
	case "-INF", "-Infinity":
		return math.Inf(-1), false, true
	case "NaN":
		return math.NaN(), false, true
	}
	t := trimJava(s)
	if len(t) == 0 || b2s(t) == "null" {
		return 0, true, true
	}
	v, ok = javaParseDouble(t)
	return v, false, ok
}

// javaParseDouble is Double.parseDouble on trimmed text: an optional sign,
// then NaN, Infinity, a decimal (digits with an optional point, at least
// one digit, an optional exponent) or a hexadecimal floating-point literal
// (0x…p…), then an optional f, F, d or D.
func javaParseDouble(t []byte) (float64, bool) {
	if len(t) > maxNumberLen {
		return 0, false
	}
	neg := false
	body := t
	if len(body) > 0 && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	switch b2s(body) {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	if n := len(body); n > 0 {
		switch body[n-1] {
		case 'f', 'F', 'd', 'D':
			body = body[:n-1]
		}
	}
	if len(body) > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') {
		return parseHex(neg, body)
	}
	digits, i := 0, 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
		digits++
	}
	if i < len(body) && body[i] == '.' {
		i++
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		e := i
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
		}
		if i == e {
			return 0, false
		}
	}
	if i != len(body) {
		return 0, false
	}
	v, _ := strconv.ParseFloat(b2s(body), 64)
	if neg {
		v = -v
	}
	return v, true
}

// parseHex reads Java's hexadecimal floating-point literal 0x[h*][.h*]p[+-]d+
// (at least one hex digit; the binary exponent is required).
func parseHex(neg bool, body []byte) (float64, bool) {
	hex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	i, digits := 2, 0
	for i < len(body) && hex(body[i]) {
		i++
		digits++
	}
	if i < len(body) && body[i] == '.' {
		i++
		for i < len(body) && hex(body[i]) {
			i++
			digits++
		}
	}
	if digits == 0 || i >= len(body) || (body[i] != 'p' && body[i] != 'P') {
		return 0, false
	}
	i++
	if i < len(body) && (body[i] == '+' || body[i] == '-') {
		i++
	}
	e := i
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	if i == e || i != len(body) {
		return 0, false
	}
	v, err := strconv.ParseFloat(b2s(body), 64)
	if err != nil && !math.IsInf(v, 0) && v != 0 {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// trimJava is Java's String.trim: it removes every character <= ' ' from
// both ends.
func trimJava(b []byte) []byte {
	for len(b) > 0 && b[0] <= ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] <= ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// javaRound is Java's Math.round(double): the closest long, ties toward
// positive infinity, NaN → 0, saturating at the long range.
func javaRound(x float64) int64 {
	if math.IsNaN(x) {
		return 0
	}
	f := math.Floor(x)
	if x-f >= 0.5 {
		f++
	}
	switch {
	case f >= 1<<63:
		return math.MaxInt64
	case f < -(1 << 63):
		return math.MinInt64
	}
	return int64(f)
}
