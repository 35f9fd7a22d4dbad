package otlp

import (
	"strconv"
	"strings"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// Failure codes: pbwire's (a body that is not a valid message, as
// protobuf-java reads it), then those of a request MAD cannot parse.
const (
	errDupAttribute = int(pbwire.NumCodes) + iota
	errOneBound
	errTooLarge
	errTooManyPoints
)

var reasons = [...]string{
	errDupAttribute - int(pbwire.NumCodes):  "duplicate attribute key in a data point",
	errOneBound - int(pbwire.NumCodes):      "histogram overflow bucket without max and with a single explicit bound",
	errTooLarge - int(pbwire.NumCodes):      "body larger than 2 GiB",
	errTooManyPoints - int(pbwire.NumCodes): "more data points than the limit",
}

// kindOf says how a failure is answered: a message protobuf-java cannot
// read is malformed (400, INVALID_ARGUMENT); where MAD's parser throws
// otherwise (a duplicate point attribute: IllegalStateException; a single
// bound: an index out of bounds) it fails (500, INTERNAL); over a limit is
// too large (413, RESOURCE_EXHAUSTED).
func kindOf(code int) error {
	switch code {
	case errDupAttribute, errOneBound:
		return sample.ErrMADFails
	case errTooLarge, errTooManyPoints:
		return sample.ErrTooLarge
	}
	return sample.ErrMalformed
}

func reason(code int) string {
	if code < int(pbwire.NumCodes) {
		return pbwire.Code(code).String()
	}
	return reasons[code-int(pbwire.NumCodes)]
}

// failure is the first failure of a call, where it was.
type failure struct {
	code  int
	off   int
	field string
	path  [4]int // resource_metrics, scope_metrics, metrics, data_points; -1 for none
	name  span
	data  string // the metric's data member, if known
}

// path indexes of the message being read, for failures.
type path struct{ rm, sm, m, dp int }

// failAt records a failure of code at byte off (-1: none) in field.
func (d *Decoder) failAt(code, off int, field string) bool {
	if d.f.code == 0 {
		d.f = failure{code: code, off: off, field: field,
			path: [4]int{d.at.rm, d.at.sm, d.at.m, d.at.dp}, name: d.name, data: d.dataName}
	}
	return false
}

// wire records the failure of a pbwire Reader.
func (d *Decoder) wire(r pbwire.Reader, field string) bool {
	return d.failAt(int(r.Err()), r.ErrOffset(), field)
}

// err turns the recorded failure into the error the call returns.
func (d *Decoder) err() error {
	f := &d.f
	var b strings.Builder
	names := [4]string{"resource_metrics", "scope_metrics", "metrics", "data_points"}
	for i, n := range f.path {
		if n < 0 {
			break
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if i == 3 && f.data != "" {
			b.WriteString(f.data)
			b.WriteByte('.')
		}
		b.WriteString(names[i])
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(n))
		b.WriteByte(']')
	}
	if f.field != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.field)
	}
	e := &sample.DecodeError{Kind: kindOf(f.code), Format: "otlp metrics request", Index: -1,
		Field: b.String(), Reason: reason(f.code), Offset: f.off}
	if f.name.e > f.name.s {
		e.Metric = string(d.body[f.name.s:f.name.e])
	}
	return e
}
