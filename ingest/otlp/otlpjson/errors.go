package otlpjson

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomad/mad/internal/sample"
)

// format is the DecodeError's Format.
const format = "otlp json body"

// fail records the refusal of the body at byte at and returns false. The
// error says where the walk was: the path of fields and list elements
// (resourceMetrics[0].scopeMetrics[1].metrics[2].gauge.dataPoints[0].asDouble),
// and the metric's name if it was read before.
func (t *Transcoder) fail(at int, reason string) bool {
	e := &sample.DecodeError{Kind: sample.ErrMalformed, Format: format, Index: -1,
		Field: t.pathString(), Reason: reason, Offset: at}
	if t.inM && t.metric[1] > t.metric[0] {
		e.Metric = string(unescape(nil, t.b[t.metric[0]:t.metric[1]]))
	}
	t.err = e
	return false
}

func (t *Transcoder) failf(at int, f string, args ...any) bool {
	return t.fail(at, fmt.Sprintf(f, args...))
}

// maxNameInError bounds an unknown field's name in an error's path.
const maxNameInError = 64

func (t *Transcoder) pathString() string {
	var b strings.Builder
	for k, s := range t.path {
		if k > 0 {
			b.WriteByte('.')
		}
		if s.name != "" {
			b.WriteString(s.name)
		} else {
			name := unescape(nil, t.b[s.ks:s.ke])
			if len(name) > maxNameInError {
				name = append(name[:maxNameInError], "…"...)
			}
			b.WriteString(strconv.Quote(string(name)))
		}
		if s.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(int(s.index)))
			b.WriteByte(']')
		}
	}
	return b.String()
}
