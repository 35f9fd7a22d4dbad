package collectd

import (
	"strconv"

	"github.com/gomad/mad/internal/sample"
)

// format names what the decoder reads, in its errors.
const format = "collectd write_http JSON"

// parseError is a body MAD refuses with 400 (a ParsingException): invalid
// JSON, a body that is not an array of objects, a missing required field, a
// field of the wrong JSON type, or values, dstypes and dsnames of
// different lengths; in record (-1: the body as a whole), field (a JSON
// key, quoted; if any).
func parseError(record int, field, reason string) error {
	if field != "" {
		field = strconv.Quote(field)
	}
	return &sample.DecodeError{Kind: sample.ErrMalformed, Format: format, Unit: "record", Index: record, Field: field, Reason: reason, Offset: -1}
}
