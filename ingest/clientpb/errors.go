package clientpb

import (
	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

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
	errTooManyRecords
)

var reasons = [...]string{
	errDupDimension - int(pbwire.NumCodes):     "duplicate dimension name",
	errDupAnnotation - int(pbwire.NumCodes):    "duplicate annotation name",
	errDupMetric - int(pbwire.NumCodes):        "duplicate metric name",
	errUnknownUnit - int(pbwire.NumCodes):      "unknown unit",
	errIdentifierNotSet - int(pbwire.NumCodes): "required identifier is not set",
	errShortID - int(pbwire.NumCodes):          "record id shorter than 16 bytes",
	errTooLarge - int(pbwire.NumCodes):         "body larger than 2 GiB",
	errTooManyRecords - int(pbwire.NumCodes):   "more records than the limit",
}

// kindOf says how a failure is answered: MAD refuses a body with 400 (a
// ParsingException: a malformed protobuf message, which includes invalid
// UTF-8 in a string field, or a record MAD cannot build: duplicate
// dimension, annotation or metric names, an unknown unit, a V3 identifier
// that is not set), except a record id shorter than 16 bytes: MAD reads it
// with ByteBuffer.getLong, whose BufferUnderflowException is not a
// ParsingException, and answers 500. Over a limit is 413.
func kindOf(code int) error {
	switch code {
	case errShortID:
		return sample.ErrMADFails
	case errTooLarge, errTooManyRecords:
		return sample.ErrTooLarge
	}
	return sample.ErrMalformed
}

// reason says what a failure code means.
func reason(code int) string {
	if code < int(pbwire.NumCodes) {
		return pbwire.Code(code).String()
	}
	return reasons[code-int(pbwire.NumCodes)]
}
