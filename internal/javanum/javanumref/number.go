// Package javanumref is an independent reference for package javanum:
// numbers as MAD reads them with java.text.NumberFormat.getInstance(),
// written the way the JDK reads: the text as UTF-16 units (invalid UTF-8 as
// U+FFFD, as MAD decodes it), DecimalFormat.parse and subparseNumber
// transliterated, every digit kept, and the value made exact with big.Rat
// and rounded once by Rat.Float64. It is slow and shares no code with
// javanum. The tests of javanum hold Parse to it, and the reference
// decoders (StatsD, Graphite, Telegraf) read their values with it.
package javanumref

import (
	"math"
	"math/big"
	"unicode"
	"unicode/utf16"
)

// Parse reads the number at the start of b as MAD's
// NumberFormat.getInstance().parse(String) does. It returns the value, as
// Number.doubleValue() gives it, and ParsePosition's index in UTF-16 units
// (0: a ParseException).
func Parse(b []byte) (float64, int) {
	s := utf16.Encode([]rune(string(b)))
	at := func(i int, lit string) bool {
		u := utf16.Encode([]rune(lit))
		if len(s)-i < len(u) {
			return false
		}
		for k := range u {
			if s[i+k] != u[k] {
				return false
			}
		}
		return true
	}
	if at(0, "NaN") {
		return math.NaN(), 3
	}
	pos := 0
	neg := at(0, "-")
	if neg {
		pos = 1
	}
	if at(pos, "\u221e") {
		if neg {
			return math.Inf(-1), pos + 1
		}
		return math.Inf(1), pos + 1
	}
	var digits []byte // significant digits
	var decimalAt, digitCount, exponent int32
	sawDigit, sawDecimal := false, false
	backup := -1
	for ; pos < len(s); pos++ {
		ch := s[pos]
		d := digit(ch)
		if d == 0 {
			backup = -1
			sawDigit = true
			if len(digits) == 0 {
				if sawDecimal {
					decimalAt--
				}
				continue
			}
			digitCount++
			digits = append(digits, '0')
		} else if d > 0 {
			sawDigit = true
			digitCount++
			digits = append(digits, byte('0'+d))
			backup = -1
		} else if ch == '.' {
			if sawDecimal {
				break
			}
			decimalAt = digitCount
			sawDecimal = true
		} else if ch == ',' {
			if sawDecimal {
				break
			}
			backup = pos
		} else if ch == 'E' {
			// subparse("", "-", isExponent): a sign, digits only, a long.
			p := pos + 1
			eneg := p < len(s) && s[p] == '-'
			if eneg {
				p++
			}
			mag := new(big.Int) // exponentDigits: the magnitude
			start := p
			for ; p < len(s) && digit(s[p]) >= 0; p++ {
				mag.Mul(mag, big.NewInt(10))
				mag.Add(mag, big.NewInt(int64(digit(s[p]))))
			}
			minLong := new(big.Int).Lsh(big.NewInt(1), 63)
			if p > start && (mag.IsInt64() || eneg && mag.Cmp(minLong) == 0) {
				// (int)getLong(), negated when negative; getLong() of
				// 2^63 is Long.MIN_VALUE.
				long := int64(mag.Uint64())
				exponent = int32(long)
				if eneg {
					exponent = -exponent
				}
				pos = p
			}
			break
		} else {
			break
		}
	}
	if backup != -1 {
		pos = backup
	}
	if !sawDigit {
		return 0, 0
	}
	if !sawDecimal {
		decimalAt = digitCount
	}
	decimalAt += exponent
	var v float64
	switch {
	case len(digits) == 0:
		v = 0
	case decimalAt > 400:
		v = math.Inf(1)
	case decimalAt < -400:
		v = 0
	default:
		// 0.digits × 10^decimalAt = digits × 10^(decimalAt - len(digits)).
		r := new(big.Rat)
		m, _ := new(big.Int).SetString(string(digits), 10)
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(int(decimalAt)-len(digits)))), nil)
		if int(decimalAt) >= len(digits) {
			r.SetInt(m.Mul(m, p))
		} else {
			r.SetFrac(m, p)
		}
		v, _ = r.Float64()
	}
	if neg {
		v = -v
	}
	return v, pos
}

// digit is Character.digit(ch, 10) for a UTF-16 unit: for a decimal
// digit (Nd), its distance from the start of its run of digits, mod 10.
func digit(ch uint16) int {
	r := rune(ch)
	if !unicode.Is(unicode.Nd, r) {
		return -1
	}
	z := r
	for unicode.Is(unicode.Nd, z-1) {
		z--
	}
	return int(r-z) % 10
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
