package otlpref

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// JavaDouble returns Java's Double.toString(v) as JDK 19 and later write it
// (Raffaello Giulietti's specification, JDK-4511638):
//
//   - R is the set of decimals that round to v; p the smallest length
//     (significant digits) of a decimal in R;
//   - T is the set of decimals in R of length p, or, when p is 1, of
//     length 1 or 2;
//   - the decimal is the one of T closest to v, the one whose least
//     significant digit is even if two are;
//   - it is written plain when 10^-3 <= |d| < 10^7 ("100.0", "0.001"),
//     else as computerized scientific notation ("1.0E7", "9.9E-4"), with at
//     least one digit after the point either way.
//
// It is deliberately slow and independent of any shortest-digits
// algorithm: candidates are cut from v's exact decimal expansion, checked
// with strconv.ParseFloat and compared exactly with math/big.
func JavaDouble(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	case v == 0:
		if math.Signbit(v) {
			return "-0.0"
		}
		return "0.0"
	}
	sign := ""
	if v < 0 {
		sign = "-"
		v = -v
	}
	digits, exp := javaDecimal(v)
	return sign + javaLayout(digits, exp)
}

// decimal is digits × 10^exp10 with digits a string of decimal digits
// without leading zeros.
type decimal struct {
	digits string
	exp10  int
}

func (d decimal) String() string { return d.digits + "e" + strconv.Itoa(d.exp10) }

func (d decimal) rat() *big.Rat {
	r, ok := new(big.Rat).SetString(d.String())
	if !ok {
		panic("BUG: bad decimal " + d.String())
	}
	return r
}

// javaDecimal returns the significant digits of the decimal Java selects for
// v > 0 (no trailing zeros) and the exponent of its first digit: v is
// written d.ddd × 10^exp.
func javaDecimal(v float64) (string, int) {
	// The exact expansion: a double has at most 767 significant digits.
	s := new(big.Float).SetFloat64(v).Text('e', 800)
	mant, e, _ := strings.Cut(s, "e")
	all := strings.Replace(mant, ".", "", 1)
	e0, err := strconv.Atoi(e)
	if err != nil {
		panic("BUG: " + s)
	}
	exact := new(big.Rat).SetFloat64(v)
	for n := 1; n <= 17; n++ {
		in := bracket(all, e0, n, v)
		if len(in) == 0 {
			continue
		}
		if n == 1 {
			// p = 1: the decimals of length 2 compete too, and those of
			// length 1 are among them.
			if in2 := bracket(all, e0, 2, v); len(in2) > 0 {
				in = in2
			}
		}
		best := in[0]
		if len(in) == 2 {
			d0 := new(big.Rat).Abs(new(big.Rat).Sub(in[0].rat(), exact))
			d1 := new(big.Rat).Abs(new(big.Rat).Sub(in[1].rat(), exact))
			switch c := d0.Cmp(d1); {
			case c > 0:
				best = in[1]
			case c == 0 && (in[0].digits[len(in[0].digits)-1]-'0')%2 != 0:
				best = in[1]
			}
		}
		d := strings.TrimRight(best.digits, "0")
		return d, best.exp10 + len(best.digits) - 1
	}
	panic("BUG: no decimal of 17 digits rounds to " + strconv.FormatFloat(v, 'e', -1, 64))
}

// bracket returns the decimals of n significant digits just below and just
// above v, whose exact value is all × 10^(e0-len(all)+1) (one if it has n
// digits or fewer), that parse back to v.
func bracket(all string, e0, n int, v float64) []decimal {
	lo := decimal{digits: all[:n], exp10: e0 - n + 1}
	cands := []decimal{lo}
	if strings.TrimRight(all[n:], "0") != "" {
		up := new(big.Int)
		up.SetString(lo.digits, 10)
		up.Add(up, big.NewInt(1))
		cands = append(cands, decimal{digits: up.String(), exp10: lo.exp10})
	}
	var in []decimal
	for _, c := range cands {
		if f, err := strconv.ParseFloat(c.String(), 64); err == nil && f == v {
			in = append(in, c)
		}
	}
	return in
}

// javaLayout writes d.ddd × 10^exp as Double.toString lays it out.
func javaLayout(digits string, exp int) string {
	if exp < -3 || exp >= 7 {
		frac := digits[1:]
		if frac == "" {
			frac = "0"
		}
		return digits[:1] + "." + frac + "E" + strconv.Itoa(exp)
	}
	if exp < 0 {
		return "0." + strings.Repeat("0", -exp-1) + digits
	}
	for len(digits) < exp+1 {
		digits += "0"
	}
	frac := digits[exp+1:]
	if frac == "" {
		frac = "0"
	}
	return digits[:exp+1] + "." + frac
}
