package javanum_test

import (
	"math"
	"math/big"
	"testing"
	"unicode"
	"unicode/utf16"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/javanum/javanumtest"
)

// refParse is an independent reference for Parse, written the way the JDK
// reads: the text as UTF-16 units (invalid UTF-8 as U+FFFD, as MAD decodes
// it), DecimalFormat.parse and subparseNumber transliterated, every digit
// kept, and the value made exact with big.Rat and rounded once by
// Rat.Float64. It returns the value and ParsePosition's index (0: a
// ParseException).
func refParse(b []byte) (float64, int) {
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
		d := refDigit(ch)
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
			for ; p < len(s) && refDigit(s[p]) >= 0; p++ {
				mag.Mul(mag, big.NewInt(10))
				mag.Add(mag, big.NewInt(int64(refDigit(s[p]))))
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

// refDigit is Character.digit(ch, 10) for a UTF-16 unit: for a decimal
// digit (Nd), its distance from the start of its run of digits, mod 10.
func refDigit(ch uint16) int {
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

// checkParse holds Parse (its fast path where it takes b), its slow path
// alone and the reference to each other on b.
func checkParse(t *testing.T, b []byte) {
	t.Helper()
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
	}
	v, n := javanum.Parse(b)
	sv, sn := javanum.ParseSlow(b)
	if !same(v, sv) || n != sn {
		t.Fatalf("Parse(%q) = %v, %d; slow path %v, %d", b, v, n, sv, sn)
	}
	rv, rn := refParse(b)
	if got := javanumtest.UTF16Len(string(b[:n])); !same(v, rv) || got != rn {
		t.Fatalf("Parse(%q) = %v (%#x), index %d; reference %v (%#x), %d",
			b, v, math.Float64bits(v), got, rv, math.Float64bits(rv), rn)
	}
}

// TestReference: the reference gives Java's answers on the whole table (so
// the fuzzer holds Parse to something Java vouches for).
func TestReference(t *testing.T) {
	for _, c := range javanumtest.Cases() {
		v, n := refParse([]byte(c.In))
		if (n > 0) != c.OK || c.OK && (!c.Same(v) || n != c.Index) {
			t.Errorf("refParse(%.40q) = %v, %d; Java %v (ok %v), %d", c.In, v, n, c.Value(), c.OK, c.Index)
		}
	}
}

// FuzzParse: Parse (its fast path where it applies), its slow path alone
// and the reference agree on every input: value (bit for bit) and length.
//
//	go test ./internal/javanum -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	for _, c := range javanumtest.Cases() {
		f.Add([]byte(c.In))
	}
	for _, s := range []string{"1\xff2", "12345678901234.5", "123456789012345", "1234567890123456", "-.000000000000001",
		"0.30000000000000004", "1,2.3E-4,5", "9,007,199,254,740,993", "\u0661\u0662\u0663E-\u0664"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParse(t, b)
	})
}
