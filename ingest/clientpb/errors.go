package clientpb

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gomad/mad/internal/pbwire"
)

// ErrTooManyRecords is returned when a body holds more records than
// Config.MaxRecords.
var ErrTooManyRecords = errors.New("clientpb: too many records in one request")

// ErrShortID is wrapped by the error returned for a record whose id has
// fewer than 16 bytes (an absent id is empty). MAD reads the id with
// ByteBuffer.getLong, whose BufferUnderflowException is not a
// ParsingException: MAD answers such a request with 500, not 400. The error
// is therefore not a *ParseError; the HTTP layer decides what to answer.
var ErrShortID = errors.New("clientpb: record id shorter than 16 bytes")

// ParseError describes a body MAD refuses with 400 (a ParsingException): a
// malformed protobuf message (InvalidProtocolBufferException, which includes
// invalid UTF-8 in a string field) or a record MAD cannot build (duplicate
// dimension, annotation or metric names, an unknown unit, a V3 identifier that
// is not set).
type ParseError struct {
	// Version is the client protocol: 1, 2 or 3.
	Version int
	// Offset is the byte offset in the body at which the problem was found.
	Offset int
	// Record is the index of the record, or -1 if the problem lies outside
	// any record.
	Record int
	// Metric is the metric's name, if the problem is in a metric whose name
	// is known.
	Metric string
	// Field names the protobuf message field, e.g. "NumericalData.samples".
	Field string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *ParseError) Error() string {
	var sb strings.Builder
	sb.WriteString("cannot parse client protocol v")
	sb.WriteString(strconv.Itoa(e.Version))
	sb.WriteString(" body: ")
	if e.Record >= 0 {
		sb.WriteString("record ")
		sb.WriteString(strconv.Itoa(e.Record))
		sb.WriteString(": ")
	}
	if e.Metric != "" {
		sb.WriteString("metric ")
		sb.WriteString(strconv.Quote(e.Metric))
		sb.WriteString(": ")
	}
	if e.Field != "" {
		sb.WriteString(e.Field)
		sb.WriteString(": ")
	}
	sb.WriteString(e.Reason)
	sb.WriteString(" (at byte ")
	sb.WriteString(strconv.Itoa(e.Offset))
	sb.WriteString(")")
	return sb.String()
}

// Failure codes: pbwire's (a body that is not a valid message, as
// protobuf-java reads it), then those of a record MAD cannot build.
const (
	errDupDimension = int(pbwire.NumCodes) + iota
	errDupAnnotation
	errDupMetric
	errUnknownUnit
	errIdentifierNotSet
	errShortID
	errTooLarge
)

var reasons = [...]string{
	errDupDimension - int(pbwire.NumCodes):     "duplicate dimension name",
	errDupAnnotation - int(pbwire.NumCodes):    "duplicate annotation name",
	errDupMetric - int(pbwire.NumCodes):        "duplicate metric name",
	errUnknownUnit - int(pbwire.NumCodes):      "unknown unit",
	errIdentifierNotSet - int(pbwire.NumCodes): "required identifier is not set",
	errShortID - int(pbwire.NumCodes):          "record id shorter than 16 bytes",
	errTooLarge - int(pbwire.NumCodes):         "body larger than 2 GiB",
}

// reason says what a failure code means.
func reason(code int) string {
	if code < int(pbwire.NumCodes) {
		return pbwire.Code(code).String()
	}
	return reasons[code-int(pbwire.NumCodes)]
}
