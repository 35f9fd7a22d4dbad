package telegraf

import "github.com/gomad/mad/internal/sample"

// maxExcerpt bounds the copy of a refused line kept in the error.
const maxExcerpt = 256

// fail fills the decoder's error for the current metric (a
// sample.DecodeError of kind sample.ErrMalformed: MAD's ParsingException, or
// an exception MAD does not catch; either way TcpLineSource drops the line),
// with the index of the metric in a {"metrics":[...]} batch, if any.
//
// The *sample.DecodeError a Decoder returns is owned by the Decoder and
// reused: it is valid until the next call to DecodeLine. Format it (Error)
// or copy it before then.
func (d *Decoder) fail(reason string) error {
	d.perr = sample.DecodeError{Kind: sample.ErrMalformed, Format: "telegraf JSON line", Line: append(d.perr.Line[:0], d.line[:min(len(d.line), maxExcerpt)]...), HasLine: true,
		Unit: "metric", Index: d.idx, Reason: reason, Offset: -1}
	return &d.perr
}
