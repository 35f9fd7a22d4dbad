package sample

import (
	"errors"
	"strconv"
	"strings"
)

// The vocabulary every decoder of package ingest shares, so that the layers
// above them (HTTP routes, TCP and UDP loops) answer any format alike.

// Route returns the batch the samples of the series with this key hash go
// to: a producer's Route method. It may publish a full batch and return a
// fresh one.
type Route = func(hash uint64) *Batch

// KeyRoute is Route for a decoder that has the series key in hand before it
// writes the sample: it writes the key (or what a rewriting source makes of
// it) into the batch the sample goes to and returns both; ok false means
// the series is dropped and the sample is not to be written. A producer's
// RouteKey method: a TransformingSource then costs one cache lookup and one
// copy per sample instead of a staging copy and a second pass.
type KeyRoute = func(key []byte, hash uint64) (b *Batch, k KeyRef, ok bool)

// Counts is what one decoding produced: MAD's records (a request's, a
// line's) and the samples they became.
type Counts struct {
	Records, Samples int
	// Handles counts the samples, of Samples, sent by their series'
	// handles (a decoder with a series cache, package sidcache).
	Handles int
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Records += o.Records
	c.Samples += o.Samples
	c.Handles += o.Handles
}

// The kinds of decoding errors. Every error a decoder returns wraps one
// (errors.Is), and the kind alone decides the answer.
var (
	// ErrMalformed is a payload MAD refuses with a ParsingException: HTTP
	// 400, a dropped line.
	ErrMalformed = errors.New("malformed")
	// ErrTooLarge is a payload over a configured limit (records, bytes once
	// decompressed): HTTP 413.
	ErrTooLarge = errors.New("too large")
	// ErrMADFails is a payload on which MAD fails with an error other than
	// a ParsingException (a record id shorter than a UUID): HTTP 500, as
	// MAD answers it.
	ErrMADFails = errors.New("MAD fails on it")
)

// DecodeError is a payload a decoder refuses, where and why:
//
//	cannot parse <Format> [<Line>]: [<Unit> <Index>: ][metric <Metric>: ][<Field>: ]<Reason>[ (at byte <Offset>[ of <OffsetIn>])]
//
// A decoder may own and reuse one (documented where it does).
type DecodeError struct {
	// Kind is ErrMalformed, ErrTooLarge or ErrMADFails.
	Kind error
	// Format names what was decoded: "client protocol v3 body",
	// "graphite line", …
	Format string
	// Line is the start of a refused line, quoted, for a format of lines
	// (HasLine), even when empty.
	Line    []byte
	HasLine bool
	// Unit and Index locate the problem in a payload of several: ("record",
	// 3), ("series", 0); Index -1 for none.
	Unit  string
	Index int
	// Metric is the metric's name, if known; Field the message or JSON field
	// at fault.
	Metric, Field string
	Reason        string
	// Offset is the byte offset at which the problem was found, -1 for
	// none; OffsetIn names what it counts in, if not the payload as
	// received ("the decompressed message").
	Offset   int
	OffsetIn string
}

// Error formats the error.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("cannot parse ")
	b.WriteString(e.Format)
	if e.HasLine {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(string(e.Line)))
	}
	b.WriteString(": ")
	if e.Unit != "" && e.Index >= 0 {
		b.WriteString(e.Unit)
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(e.Index))
		b.WriteString(": ")
	}
	if e.Metric != "" {
		b.WriteString("metric ")
		b.WriteString(strconv.Quote(e.Metric))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Offset >= 0 {
		b.WriteString(" (at byte ")
		b.WriteString(strconv.Itoa(e.Offset))
		if e.OffsetIn != "" {
			b.WriteString(" of ")
			b.WriteString(e.OffsetIn)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the kind.
func (e *DecodeError) Unwrap() error { return e.Kind }
