package promrw

import (
	"bytes"

	"github.com/gomad/mad/internal/sample"
)

// MAD's series rules (PrometheusToRecordParser.parse and parseNameAndUnit),
// applied to both protocol versions.

// trimJava is Java's String.trim: it removes every character <= ' ' (U+0000
// to U+0020) from both ends. On UTF-8 bytes that is the same as on UTF-16
// chars, since no byte of a multi-byte sequence is below 0x80.
func trimJava(b []byte) []byte {
	for len(b) > 0 && b[0] <= ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] <= ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// isAggregationKey reports whether s is one of MAD's
// PROMETHEUS_AGGREGATION_KEYS.
func isAggregationKey(s []byte) bool {
	switch string(s) {
	case "total", "bucket", "sum", "avg", "count":
		return true
	}
	return false
}

// unitOf is MAD's UNIT_MAP: the only four unit tokens it knows. "celcius" is
// MAD's spelling; "celsius" (and "milliseconds", "kilobytes", …) mean no
// unit.
func unitOf(tok []byte) sample.Unit {
	switch string(tok) {
	case "seconds":
		return sample.Second
	case "celcius":
		return sample.Celcius
	case "bytes":
		return sample.Byte
	case "bits":
		return sample.Bit
	}
	return sample.UnitNone
}

// nameRule is what MAD's parseNameAndUnit decides for a (trimmed) name.
type nameRule struct {
	// aggregation: the last '_'-separated token is an aggregation key.
	aggregation bool
	// unit from the name (only with interpretUnits; UnitNone otherwise).
	unit sample.Unit
}

// parseNameAndUnit is MAD's method of that name, index for index:
//
//	lastUnderscore = name.lastIndexOf('_')
//	aggregation    = the token after it is total|bucket|sum|avg|count
//	unitIndexEnd   = aggregation ? lastUnderscore - 1 : name.length() - 1
//	unit           = UNIT_MAP[name.substring(name.lastIndexOf('_', unitIndexEnd) + 1, unitIndexEnd + 1)]
//
// So the unit is the last token, or the token before the aggregation key;
// "foo_seconds_" and "seconds_total_count" have none. The name itself is
// never changed.
func parseNameAndUnit(name []byte, interpretUnits bool) nameRule {
	var r nameRule
	last := bytes.LastIndexByte(name, '_')
	if last >= 0 && isAggregationKey(name[last+1:]) {
		r.aggregation = true
	}
	if !interpretUnits {
		return r
	}
	end := len(name) // exclusive: unitIndexEnd + 1
	if r.aggregation {
		end = last
	}
	start := bytes.LastIndexByte(name[:end], '_') + 1
	r.unit = unitOf(name[start:end])
	return r
}
