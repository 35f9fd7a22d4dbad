package telegraf

import "strconv"

// maxExcerpt bounds the copy of a refused line kept in a ParseError.
const maxExcerpt = 256

// ParseError describes a line MAD refuses (a ParsingException, or an
// exception MAD does not catch: either way TcpLineSource drops the line).
//
// The *ParseError a Decoder returns is owned by the Decoder and reused: it
// is valid until the next call to DecodeLine. Format it (Error) or copy it
// before then.
type ParseError struct {
	// Metric is the index of the telegraf metric in a {"metrics":[...]}
	// batch, or -1.
	Metric int
	// Reason says what is wrong with the line.
	Reason string
	// Line is the start of the line (at most 256 bytes).
	Line []byte
}

// Error implements error.
func (e *ParseError) Error() string {
	s := "cannot parse telegraf JSON line " + strconv.Quote(string(e.Line)) + ": "
	if e.Metric >= 0 {
		s += "metric " + strconv.Itoa(e.Metric) + ": "
	}
	return s + e.Reason
}

// fail fills the decoder's ParseError for the current metric.
func (d *Decoder) fail(reason string) error {
	d.perr.Metric = d.idx
	d.perr.Reason = reason
	d.perr.Line = append(d.perr.Line[:0], d.line[:min(len(d.line), maxExcerpt)]...)
	return &d.perr
}
