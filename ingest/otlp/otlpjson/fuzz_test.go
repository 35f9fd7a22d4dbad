package otlpjson

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// FuzzTranscode: any body is either refused with a *sample.DecodeError,
// leaving dst as it was, or transcoded into at most 4 bytes per byte of
// body that proto.Unmarshal accepts; a reused Transcoder answers as a
// fresh one; and the transcoder agrees with the reference (protojson after
// the hex pre-pass): it accepts what the reference accepts, into the same
// message, and refuses what the reference refuses, except for the
// divergences that divergence lists.
//
//	go test ./ingest/otlp/otlpjson -run '^$' -fuzz '^FuzzTranscode$' -fuzztime 2m
func FuzzTranscode(f *testing.F) {
	for _, name := range []string{"metrics.json", "full.json"} {
		f.Add(readFile(f, name))
	}
	for _, tc := range agreeCases {
		f.Add([]byte(tc.body))
	}
	for _, tc := range refuseCases {
		f.Add([]byte(tc.body))
	}
	f.Add(nested(48))
	f.Add(nested(49))
	f.Add([]byte(`{"x":[1e],"y":1E+}`))
	r := rand.New(rand.NewPCG(1, 2)) // fixed: the seeds are the same each run
	for range 8 {
		b64, err := protojson.Marshal(genRequest(r))
		if err != nil {
			f.Fatal(err)
		}
		body, err := rewrite(b64, rewriter{value: base64IDsToHex})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	reused := &Transcoder{}
	var dst []byte
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := transcode(t, body)
		var again error
		dst, again = reused.Transcode(dst[:0], body)
		if fmt.Sprint(err) != fmt.Sprint(again) || err == nil && !bytes.Equal(dst, out) {
			t.Fatalf("reused: got %v %x; fresh: %v %x", again, dst, err, out)
		}
		want, werr := reference(body)
		switch {
		case werr == nil && err == nil:
			got := decode(t, out)
			if err := sameMessage(got, want); err != nil {
				t.Fatalf("%v:\ngot  %v\nwant %v", err, got, want)
			}
			if len(out) != proto.Size(want) {
				t.Fatalf("%d bytes; proto.Size is %d", len(out), proto.Size(want))
			}
		case werr == nil:
			if d := divergence(body, err); d == "" {
				t.Fatalf("refused (%v); the reference accepts it", err)
			}
		case err == nil:
			decode(t, out)
			if d := divergence(body, werr); d == "" {
				t.Fatalf("accepted; the reference refuses it (%v)", werr)
			}
		}
	})
}

// emptyExponent is a JSON number whose exponent has no digit, followed
// by a delimiter: protojson's tokenizer takes it for a number.
var emptyExponent = regexp.MustCompile(`[0-9][eE][+-]?([^0-9+-]|$)`)

// divergence names the known, deliberate difference from the reference
// that explains why one refuses body and the other does not, or "".
//
//   - Messages nested more than 100 deep: refused (pbwire's limit, which
//     the binary decoder applies); protojson reads up to 10 000 levels.
//   - A number with an empty exponent ("1e", "1E+", before a delimiter):
//     refused, as RFC 8259 says. protojson's tokenizer takes it for a
//     number: in an unknown field it is skipped, in an integer field "1e"
//     is read as 1 (its exponent ignored), and only a double field, or an
//     integer one given "1e+", refuses it.
//   - Unknown values nested more than ~10 000 deep: accepted (they are
//     skipped without recursion); protojson stops at its recursion limit
//     and encoding/json, which the pre-pass uses, at 10 000.
func divergence(body []byte, err error) string {
	var de *sample.DecodeError
	if errors.As(err, &de) {
		switch {
		case de.Reason == "messages nested more than 100 deep":
			return "depth"
		case de.Reason == "invalid number" && emptyExponent.Match(body):
			return "empty exponent"
		}
		return ""
	}
	if maxNesting(body) > 9000 {
		return "deep unknown"
	}
	return ""
}

// maxNesting is the deepest nesting of brackets in body, strings aside.
func maxNesting(body []byte) int {
	depth, most, in := 0, 0, false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case in:
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}

// TestDivergences: each divergence is real, and only where it says.
func TestDivergences(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{`{"x":1e}`, "empty exponent"},
		{`{"x":[1E+,2]}`, "empty exponent"},
		{gaugePoint(`{"asInt":10e}`), "empty exponent"},
		{sumWith(`{"aggregationTemporality":1e}`), "empty exponent"},
		{string(nested(49)), "depth"},
	} {
		_, err := transcode(t, []byte(tc.body))
		if _, werr := reference([]byte(tc.body)); werr != nil || err == nil {
			t.Fatalf("%s: got %v, reference %v; want it refused, the reference accepting it", tc.body, err, werr)
		}
		if got := divergence([]byte(tc.body), err); got != tc.want {
			t.Errorf("%s: divergence %q; want %q", tc.body, got, tc.want)
		}
	}
	// The same spellings where a value is read: both refuse.
	for _, body := range []string{gaugePoint(`{"asDouble":1e}`), gaugePoint(`{"asInt":1e+}`)} {
		if _, werr := reference([]byte(body)); werr == nil {
			t.Errorf("%s: the reference accepts it", body)
		}
		if _, err := transcode(t, []byte(body)); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
	if got := maxNesting([]byte(`{"a":"[[[\"[[[","b":[[]]}`)); got != 3 {
		t.Errorf("maxNesting: got %d; want 3", got)
	}
}
