package graphite

import "strconv"

// maxExcerpt bounds the copy of a refused line kept in a ParseError.
const maxExcerpt = 256

// ParseError describes a line MAD refuses (a ParsingException, or an
// exception MAD does not catch: either way TcpLineSource drops the line).
//
// The *ParseError a Decoder returns is owned by the Decoder and reused: it
// is valid until the next call to DecodeLine. Format it (Error) or copy it
// before then. This keeps refused lines allocation-free too.
type ParseError struct {
	// Reason says what is wrong with the line.
	Reason string
	// Line is the start of the line (at most 256 bytes).
	Line []byte
}

// Error implements error.
func (e *ParseError) Error() string {
	return "cannot parse graphite line " + strconv.Quote(string(e.Line)) + ": " + e.Reason
}

// fail fills the decoder's ParseError.
func (d *Decoder) fail(line []byte, reason string) (Stats, error) {
	d.perr.Reason = reason
	d.perr.Line = append(d.perr.Line[:0], line[:min(len(line), maxExcerpt)]...)
	return Stats{}, &d.perr
}
