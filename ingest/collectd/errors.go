package collectd

import (
	"errors"
	"strconv"
	"strings"
)

// ErrTooManyRecords is returned when a body holds more records than
// Config.MaxRecords. The HTTP layer answers 413.
var ErrTooManyRecords = errors.New("collectd: too many records in one request")

// ErrTooLarge exists for the common shape of the HTTP decoders (413); the
// collectd decoder never returns it, since its body is not compressed: the
// HTTP layer bounds the body it reads.
var ErrTooLarge = errors.New("collectd: request larger than the limit")

// ParseError describes a body MAD refuses with 400 (a ParsingException):
// invalid JSON, a body that is not an array of objects, a missing required
// field, a field of the wrong JSON type, or values, dstypes and dsnames of
// different lengths.
type ParseError struct {
	// Record is the index of the record in the array, or -1 if the problem
	// is with the body as a whole.
	Record int
	// Field names the record's field at fault, if any.
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *ParseError) Error() string {
	var sb strings.Builder
	sb.WriteString("cannot parse collectd write_http JSON: ")
	if e.Record >= 0 {
		sb.WriteString("record ")
		sb.WriteString(strconv.Itoa(e.Record))
		sb.WriteString(": ")
	}
	if e.Field != "" {
		sb.WriteString(strconv.Quote(e.Field))
		sb.WriteString(": ")
	}
	sb.WriteString(e.Reason)
	return sb.String()
}
