package otlpjson

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The reference: protojson, after a pre-pass that turns the hex traceId and
// spanId of exemplars into base64 (OTLP's one exception to the proto3 JSON
// mapping, which the OTLP Go implementation makes the same way: an empty
// string is an unset id; anything else must be 32 or 16 hex digits, either
// case).

var requestDesc = (&colmetricspb.ExportMetricsServiceRequest{}).ProtoReflect().Descriptor()

// reference decodes body as the reference does.
func reference(body []byte) (*colmetricspb.ExportMetricsServiceRequest, error) {
	conv, err := rewrite(body, rewriter{value: hexIDsToBase64})
	var bad *badID
	switch {
	case errors.As(err, &bad):
		return nil, err
	case err != nil:
		// Not JSON to encoding/json: protojson decides alone (there is
		// no id to convert in what it may accept but for the spellings
		// of numbers that only its tokenizer takes).
		conv = body
	}
	m := &colmetricspb.ExportMetricsServiceRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(conv, m); err != nil {
		return nil, err
	}
	return m, nil
}

// isID reports whether fd is an exemplar's trace or span id.
func isID(fd protoreflect.FieldDescriptor) (n int, ok bool) {
	switch fd.FullName() {
	case "opentelemetry.proto.metrics.v1.Exemplar.trace_id":
		return 16, true
	case "opentelemetry.proto.metrics.v1.Exemplar.span_id":
		return 8, true
	}
	return 0, false
}

func hexIDsToBase64(fd protoreflect.FieldDescriptor, raw []byte) ([]byte, error) {
	n, ok := isID(fd)
	if !ok || raw[0] != '"' {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, &badID{err.Error()}
	}
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, &badID{fmt.Sprintf("%s: %q is not %d bytes of hex", fd.Name(), s, n)}
	}
	return []byte(`"` + base64.StdEncoding.EncodeToString(b) + `"`), nil
}

// badID is an id that is not hex of its length.
type badID struct{ msg string }

func (e *badID) Error() string { return e.msg }

func base64IDsToHex(fd protoreflect.FieldDescriptor, raw []byte) ([]byte, error) {
	if _, ok := isID(fd); !ok || raw[0] != '"' {
		return nil, nil
	}
	var b []byte
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return []byte(`"` + hex.EncodeToString(b) + `"`), nil
}

// rewriter changes a JSON request in place, knowing each value's field:
// key replaces a known field's name (the raw token, quotes included),
// value a scalar value of a known field (or an element of a known list),
// and open inserts a member at the start of each object (after its '{');
// each returns nil to keep what is there.
type rewriter struct {
	key   func(fd protoreflect.FieldDescriptor, raw []byte) []byte
	value func(fd protoreflect.FieldDescriptor, raw []byte) ([]byte, error)
	open  func(md protoreflect.MessageDescriptor) []byte
}

type edit struct {
	s, e int
	with []byte
}

// rewrite applies r to body, walking it with encoding/json's tokenizer and
// the generated descriptors.
func rewrite(body []byte, r rewriter) ([]byte, error) {
	type frame struct {
		obj bool
		md  protoreflect.MessageDescriptor // obj: the message (nil: unknown)
		fd  protoreflect.FieldDescriptor   // obj: the field whose value is next; array: the list field
		key bool                           // obj: a name is next
	}
	var stack []*frame
	var edits []edit
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// ctx is the field the next value belongs to, and whether it is an
	// element of a list.
	ctx := func() (protoreflect.FieldDescriptor, bool) {
		if len(stack) == 0 {
			return nil, false
		}
		top := stack[len(stack)-1]
		return top.fd, !top.obj
	}
	done := func() {
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
	for {
		p0 := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		p1 := int(dec.InputOffset())
		s := p0
		for s < p1 && strings.IndexByte(" \t\r\n,:", body[s]) >= 0 {
			s++
		}
		raw := body[s:p1]
		switch tok {
		case json.Delim('{'):
			var md protoreflect.MessageDescriptor
			fd, elem := ctx()
			switch {
			case len(stack) == 0:
				md = requestDesc
			case fd != nil && fd.Message() != nil && fd.IsList() == elem:
				md = fd.Message()
			}
			stack = append(stack, &frame{obj: true, md: md, key: true})
			if r.open != nil && md != nil {
				if ins := r.open(md); ins != nil {
					n := p1
					for n < len(body) && strings.IndexByte(" \t\r\n", body[n]) >= 0 {
						n++
					}
					if n < len(body) && body[n] != '}' {
						ins = append(ins, ',')
					}
					edits = append(edits, edit{p1, p1, ins})
				}
			}
			continue
		case json.Delim('['):
			fd, elem := ctx()
			if fd == nil || !fd.IsList() || elem {
				fd = nil
			}
			stack = append(stack, &frame{fd: fd})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		if top := len(stack) - 1; top >= 0 && stack[top].obj && stack[top].key {
			name := tok.(string)
			var fd protoreflect.FieldDescriptor
			if md := stack[top].md; md != nil {
				if fd = md.Fields().ByJSONName(name); fd == nil {
					fd = md.Fields().ByTextName(name)
				}
			}
			stack[top].fd, stack[top].key = fd, false
			if fd != nil && r.key != nil {
				if with := r.key(fd, raw); with != nil {
					edits = append(edits, edit{s, p1, with})
				}
			}
			continue
		}
		if fd, elem := ctx(); fd != nil && fd.IsList() == elem && fd.Message() == nil && r.value != nil && tok != nil {
			with, err := r.value(fd, raw)
			if err != nil {
				return nil, err
			}
			if with != nil {
				edits = append(edits, edit{s, p1, with})
			}
		}
		done()
	}
	var out []byte
	at := 0
	for _, e := range edits {
		out = append(out, body[at:e.s]...)
		out = append(out, e.with...)
		at = e.e
	}
	return append(out, body[at:]...), nil
}

// sameMessage reports whether got and want are equal, also in what
// proto.Equal does not see: -0 against +0 and NaN payloads (deterministic
// encodings of equal messages are equal).
func sameMessage(got, want proto.Message) error {
	if !proto.Equal(got, want) {
		return errors.New("messages differ")
	}
	opts := proto.MarshalOptions{Deterministic: true}
	gb, err1 := opts.Marshal(got)
	wb, err2 := opts.Marshal(want)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("marshal: %v, %v", err1, err2)
	}
	if !bytes.Equal(gb, wb) {
		return errors.New("messages differ in their encodings (-0 or a NaN)")
	}
	return nil
}
