package promrw

import (
	"errors"
	"strconv"
	"strings"
)

// ErrTooManyRecords is returned when a request holds more records (samples,
// each one MAD record) than Config.MaxRecords. The HTTP layer answers 413.
var ErrTooManyRecords = errors.New("promrw: too many records in one request")

// ErrTooLarge is returned when the snappy block declares a decompressed size
// above Config.MaxDecompressed; nothing is allocated for it. The HTTP layer
// answers 413.
var ErrTooLarge = errors.New("promrw: decompressed request larger than the limit")

// ParseError describes a body MAD refuses with 400 (a ParsingException): a
// corrupt snappy block, a malformed protobuf message (which includes invalid
// UTF-8 in a string field), a series with an empty name, a series with a
// duplicate label name, or, in remote write 2.0, a malformed label reference.
type ParseError struct {
	// Version is the remote write protocol: 1 or 2.
	Version int
	// Offset is the byte offset in the decompressed message at which the
	// problem was found, or -1 for a problem with the snappy block.
	Offset int
	// Series is the index of the time series, or -1 if the problem lies
	// outside any series.
	Series int
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *ParseError) Error() string {
	var sb strings.Builder
	sb.WriteString("cannot parse prometheus remote write ")
	if e.Version == 2 {
		sb.WriteString("2.0")
	} else {
		sb.WriteString("1.0")
	}
	sb.WriteString(" request: ")
	if e.Series >= 0 {
		sb.WriteString("series ")
		sb.WriteString(strconv.Itoa(e.Series))
		sb.WriteString(": ")
	}
	sb.WriteString(e.Reason)
	if e.Offset >= 0 {
		sb.WriteString(" (at byte ")
		sb.WriteString(strconv.Itoa(e.Offset))
		sb.WriteString(" of the decompressed message)")
	}
	return sb.String()
}

// strconvQuote quotes a label name for an error message.
func strconvQuote(b []byte) string { return strconv.Quote(string(b)) }
