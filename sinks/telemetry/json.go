package telemetry

import (
	"math"

	"github.com/gomad/mad/internal/javanum"
)

// appendDouble appends v as a JSON number the way MAD's Jackson writes a
// double (Java's Double.toString: "1.0", "1.0E7", "1.0E-4");
// non-finite values are null.
func appendDouble(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	return javanum.AppendDouble(dst, v)
}
