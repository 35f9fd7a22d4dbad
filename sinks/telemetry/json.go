package telemetry

import (
	"math"
	"strconv"
)

// appendDouble appends v as a JSON number the way Jackson writes a double
// (a whole number keeps ".0"); non-finite values are null.
func appendDouble(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	if a := math.Abs(v); a != 0 && (a < 1e-3 || a >= 1e7) {
		return strconv.AppendFloat(dst, v, 'E', -1, 64)
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, v, 'f', -1, 64)
	for _, c := range dst[n:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}
