package javanum

import (
	"math"
	"strconv"
)

// AppendDouble appends v as Java's Double.toString writes it: "NaN",
// "Infinity", "-Infinity", "0.0", "-0.0"; for 10^-3 ≤ |v| < 10^7 the
// plain decimal with at least one digit after the point ("1.0", "0.001",
// "1234567.5"); otherwise one digit, a point, at least one more digit,
// "E" and the exponent ("1.0E7", "1.0E-4", "4.9E-324"). The digits are the
// shortest that read back as v, and of two digits the closest to v where
// one would do, as JDK 19 and later choose them (JDK-4511638; JDK 17's
// older algorithm prints a longer string for a few doubles). It does not
// allocate beyond dst's growth.
func AppendDouble(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(v, -1):
		return append(dst, "-Infinity"...)
	case v == 0:
		if math.Signbit(v) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	// The shortest digits, as strconv writes them in 'e' form:
	// [-]d[.ddd]e±XX.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], v, 'e', -1, 64)
	if len(e) > 1 && (e[1] == 'e' || e[0] == '-' && e[2] == 'e') {
		// One digit is enough to read back as v: Java writes the two-digit
		// decimal closest to v (Double.MIN_VALUE is "4.9E-324", not 5E-324),
		// which reads back as v too.
		e = strconv.AppendFloat(buf[:0], v, 'e', 1, 64)
	}
	if e[0] == '-' {
		dst = append(dst, '-')
		e = e[1:]
	}
	var digits [20]byte
	nd := 0
	i := 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	for nd > 1 && digits[nd-1] == '0' {
		nd-- // of two digits, "1.0e-03": the layout writes what zeros it needs
	}
	exp := 0
	neg := e[i+1] == '-'
	for _, c := range e[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if neg {
		exp = -exp
	}
	// v = 0.d1d2…dn × 10^(exp+1); Java's ranges on |v|.
	if exp >= -3 && exp < 7 {
		if exp < 0 {
			dst = append(dst, '0', '.')
			for k := 0; k < -exp-1; k++ {
				dst = append(dst, '0')
			}
			return append(dst, digits[:nd]...)
		}
		// exp+1 digits before the point.
		if nd <= exp+1 {
			dst = append(dst, digits[:nd]...)
			for k := nd; k < exp+1; k++ {
				dst = append(dst, '0')
			}
			return append(dst, '.', '0')
		}
		dst = append(dst, digits[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, digits[exp+1:nd]...)
	}
	dst = append(dst, digits[0], '.')
	if nd == 1 {
		dst = append(dst, '0')
	} else {
		dst = append(dst, digits[1:nd]...)
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}
