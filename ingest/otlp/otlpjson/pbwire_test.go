package otlpjson

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/pbwire"
)

// pbwireRead reads out as the binary decoder will, with pbwire (Java's
// reading), descending into every message field the schema knows and
// checking every string: what fails, or OK.
func pbwireRead(out []byte) pbwire.Code {
	var walk func(r pbwire.Reader, m msgID) pbwire.Code
	walk = func(r pbwire.Reader, m msgID) pbwire.Code {
		for r.More() {
			f := r.Next()
			if f.Tag == 0 {
				break
			}
			var fd *field
			for i := range messages[m].fields {
				if messages[m].fields[i].num == uint8(f.Num()) {
					fd = &messages[m].fields[i]
				}
			}
			switch {
			case fd == nil:
				return pbwire.InvalidTag // the transcoder writes known fields only
			case fd.kind == kMessage:
				if c := walk(r.Message(f), fd.msg); c != pbwire.OK {
					return c
				}
			case fd.kind == kString:
				if _, ok := r.String(f); !ok {
					return r.Err()
				}
			}
		}
		return r.Err()
	}
	return walk(pbwire.NewReader(out), mRequest)
}

// TestBinaryDecoderReads: what the transcoder writes, pbwire reads, to the
// deepest nesting allowed.
func TestBinaryDecoderReads(t *testing.T) {
	for _, body := range [][]byte{readFile(t, "full.json"), readFile(t, "metrics.json"), nested(48)} {
		out, err := transcode(t, body)
		if err != nil {
			t.Fatal(err)
		}
		if c := pbwireRead(out); c != pbwire.OK {
			t.Fatalf("pbwire: %v", c)
		}
	}
	// One level deeper, which the transcoder refuses, pbwire refuses too:
	// the limits are the same.
	m, err := reference(nested(49))
	if err != nil {
		t.Fatal(err)
	}
	deeper, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if c := pbwireRead(deeper); c != pbwire.RecursionLimit {
		t.Fatalf("pbwire: got %v one level deeper; want %v", c, pbwire.RecursionLimit)
	}
}
