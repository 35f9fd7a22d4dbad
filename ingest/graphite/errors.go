package graphite

import "github.com/gomad/mad/internal/sample"

// maxExcerpt bounds the copy of a refused line kept in the error.
const maxExcerpt = 256

// fail fills the decoder's error (a sample.DecodeError of kind
// sample.ErrMalformed: MAD's ParsingException, or an exception MAD does not
// catch; either way TcpLineSource drops the line).
//
// The *sample.DecodeError a Decoder returns is owned by the Decoder and
// reused: it is valid until the next call to DecodeLine. Format it (Error)
// or copy it before then. This keeps refused lines allocation-free too.
func (d *Decoder) fail(line []byte, reason string) (sample.Counts, error) {
	d.perr = sample.DecodeError{Kind: sample.ErrMalformed, Format: "graphite line", Line: append(d.perr.Line[:0], line[:min(len(line), maxExcerpt)]...), HasLine: true,
		Index: -1, Reason: reason, Offset: -1}
	return sample.Counts{}, &d.perr
}
