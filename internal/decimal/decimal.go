// Package decimal writes integers in decimal text, as the sinks' JSON
// lines do for every count, population size and whole-number statistic.
package decimal

import "slices"

// AppendInt appends v in decimal, as strconv.AppendInt(dst, v, 10) does,
// writing the digits in place, two at a time, from the last. strconv
// formats into a buffer of its own and then copies it into dst (a memmove
// call for each number): in the JSON lines sink that was a quarter of a
// row's emission.
func AppendInt(dst []byte, v int64) []byte {
	u := uint64(v)
	if v < 0 {
		dst = append(dst, '-')
		u = -u // also right for math.MinInt64: 1<<63
	}
	if u < 10 {
		return append(dst, byte('0'+u))
	}
	n := digits(u)
	dst = slices.Grow(dst, n)
	i := len(dst) + n
	b := dst[:i]
	for u >= 100 {
		q := u / 100
		r := (u - q*100) * 2
		i -= 2
		b[i], b[i+1] = pairs[r], pairs[r+1]
		u = q
	}
	if u >= 10 {
		b[i-2], b[i-1] = pairs[u*2], pairs[u*2+1]
	} else {
		b[i-1] = byte('0' + u)
	}
	return b
}

// digits is the number of decimal digits of u ≥ 10.
func digits(u uint64) int {
	n := 2
	for p := uint64(100); n < 20 && u >= p; p *= 10 {
		n++
	}
	return n
}

// pairs holds "00" to "99".
const pairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"
