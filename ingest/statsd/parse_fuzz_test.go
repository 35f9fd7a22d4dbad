package statsd

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/statsd/statsdref"
)

// sameParse reports how ParseLine differs from the reference
// (statsdref.ParseLine) on line, or "".
func sameParse(line []byte) string {
	var got Line
	rg := ParseLine(line, &got)
	want, rw := statsdref.ParseLine(line)
	if rg.String() != string(rw) {
		return "result " + rg.String() + "; reference " + string(rw)
	}
	if rg != OK {
		return ""
	}
	switch {
	case !bytes.Equal(got.Name, want.Name):
		return "name"
	case math.Float64bits(got.Value) != math.Float64bits(want.Value) && got.Type != TypeSet:
		return "value"
	case got.Signed != want.Signed || got.Plus != want.Plus:
		return "sign"
	case !bytes.Equal(got.Raw, want.Raw):
		return "raw"
	case got.Type.String() != want.Type:
		return "type"
	case got.Rate != want.Rate || got.HasRate != want.HasRate:
		return "rate"
	case tagString(&got) != refTags(&want):
		return "tags " + tagString(&got) + "; reference " + refTags(&want)
	case got.Timestamp != want.Timestamp:
		return "timestamp"
	case !bytes.Equal(got.Container, want.Container) || (got.Container == nil) != (want.Container == nil):
		return "container"
	}
	if d := lazyAgrees(line, 0, len(line)); d != "" {
		return d
	}
	return identityDecides(&got)
}

// lazyAgrees checks a lazy parse of data[s:e] (Line.lazy: the DogStatsD
// tags left unread), then readTags, as the decoder does, against a parse
// in place: the same result (a bad tag refusing a line before a later
// field's refusal, as in place), and for an accepted line the same tags
// and identity; "" if they agree.
func lazyAgrees(data []byte, s, e int) string {
	pos := flatten(nil, classifyInto(nil, data), 0, len(data))
	i := 0
	for int(pos[i]) < s {
		i++
	}
	var eager Line
	lazy := Line{lazy: true}
	re, _ := parse(data, pos[i:], s, e, &eager)
	r, _ := parse(data, pos[i:], s, e, &lazy)
	if lazy.tagsAt != 0 {
		if rt := lazy.readTags(data, pos[i:], s); rt != OK {
			r = rt
		}
	}
	if r != re {
		return "lazy: " + r.String() + "; in place " + re.String()
	}
	if r == OK && (tagString(&lazy) != tagString(&eager) || !bytes.Equal(lazy.Ident, eager.Ident) ||
		!bytes.Equal(lazy.IdentTags, eager.IdentTags) || (lazy.IdentTags == nil) != (eager.IdentTags == nil)) {
		return "lazy: tags " + tagString(&lazy) + " of " + string(lazy.IdentTags) + "; in place " + tagString(&eager)
	}
	return ""
}

// identityDecides checks the rule the decoder's series cache stands on:
// l's identity (Ident, IdentTags) decides its name and tags. A line of the
// same type made of the identity alone, with any value, must parse to the
// same name and tags.
func identityDecides(l *Line) string {
	line := append(append([]byte{}, l.Ident...), ":1|"...)
	line = append(line, l.Type.String()...)
	if l.IdentTags != nil {
		// A field after the tags (a container id, ignored) keeps a '\r'
		// that ends them: at the line's end it would be the line's own.
		line = append(append(append(line, "|#"...), l.IdentTags...), "|c:0"...)
	}
	var again Line
	if r := ParseLine(line, &again); r != OK {
		return "identity " + string(line) + ": " + r.String()
	}
	if !bytes.Equal(again.Name, l.Name) || tagString(&again) != tagString(l) {
		return "identity " + string(line) + ": name " + string(again.Name) + ", tags " + tagString(&again)
	}
	return ""
}

// refTags is tagString of the reference's tags (sorted by key).
func refTags(l *statsdref.Line) string {
	var parts []string
	for _, d := range l.Tags {
		parts = append(parts, string(d.Key)+"="+string(d.Value))
	}
	return strings.Join(parts, ",")
}

// TestParseLineAgainstReference: random lines over the grammar's alphabet,
// of every length around the 64-byte chunks, parse as the reference does.
func TestParseLineAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "b.c", ":", ",", "|", "@", "=", "#", "1", "2.5", "-", "+", "E", "c", "ms", "g", "s",
		"|@0.5", "|#", "k:v", "k=v", "ka:v", "k.b=v", "kb:w", "|c:", "|T12", "\r", "_e{", "_sc|", "0", ".", "x", "\xff"}
	for n := 0; n < 200000; n++ {
		var b []byte
		for want := r.IntN(150); len(b) < want; {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		if d := sameParse(b); d != "" {
			t.Fatalf("%q: %s", b, d)
		}
	}
	for _, l := range seedLines {
		if d := sameParse([]byte(l)); d != "" {
			t.Fatalf("%q: %s", l, d)
		}
	}
}

// TestParseInDatagram: a line parsed inside a datagram (where chunks read
// into the next lines) parses as it does alone.
func TestParseInDatagram(t *testing.T) {
	for _, pre := range []string{"", "x", "a.b:1|c", string(bytes.Repeat([]byte("y"), 70))} {
		for _, l := range seedLines {
			for _, post := range []string{"", ":|,@=", "\nq:1|c|#a:b,c:d", "\n" + string(bytes.Repeat([]byte("|:"), 50))} {
				data := []byte(pre + "\n" + l + post)
				s, e := len(pre)+1, len(pre)+1+len(l)
				var alone, in Line
				ra, ri := ParseLine([]byte(l), &alone), parseAt(data, s, e, &in)
				if ra != ri || (ra == OK && (tagString(&alone) != tagString(&in) || !bytes.Equal(alone.Name, in.Name) || math.Float64bits(alone.Value) != math.Float64bits(in.Value))) {
					t.Fatalf("%q in %q: %v %s; alone %v %s", l, data, ri, tagString(&in), ra, tagString(&alone))
				}
				if d := lazyAgrees(data, s, e); d != "" {
					t.Fatalf("%q in %q: %s", l, data, d)
				}
			}
		}
	}
}

// TestClassify: the AVX2 and generic classifiers and flatten agree with a
// byte loop, on data of every length around the blocks.
func TestClassify(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte(":,|@=\n\x00\xff\x80\x7f\xba\xbc\x8aabz09;<>{}\x3b\x39\x1a\x2d\x2b\xac\xfc\x0b\x09")
	for n := 0; n < 5000; n++ {
		data := make([]byte, r.IntN(300))
		for i := range data {
			data[i] = alphabet[r.IntN(len(alphabet))]
		}
		var wantPos, wantNL []uint32
		for i, c := range data {
			switch c {
			case ':', ',', '|', '@', '=':
				wantPos = append(wantPos, uint32(i))
			case '\n':
				wantNL = append(wantNL, uint32(i))
			}
		}
		end := uint32(len(data))
		wantPos, wantNL = append(wantPos, end, end), append(wantNL, end, end)
		words := classifyInto(nil, data)
		if got := flatten(nil, words, 0, len(data)); !slices.Equal(got, wantPos) {
			t.Fatalf("structural positions of %q = %v; want %v", data, got, wantPos)
		}
		if got := flatten(nil, words, 1, len(data)); !slices.Equal(got, wantNL) {
			t.Fatalf("line ends of %q = %v; want %v", data, got, wantNL)
		}
		if full := len(data) / 64; full > 0 {
			generic := make([]uint64, 2*full)
			classifyGeneric(data, generic)
			if !slices.Equal(generic, words[:2*full]) {
				t.Fatalf("classifyGeneric(%q) = %x; classify %x", data, generic, words[:2*full])
			}
		}
	}
}

// FuzzParseLine: ParseLine agrees with the reference parser on any line.
//
//	go test ./ingest/statsd -run '^$' -fuzz FuzzParseLine -fuzztime 60s
func FuzzParseLine(f *testing.F) {
	for _, l := range seedLines {
		f.Add([]byte(l))
	}
	f.Add([]byte("api.request.latency:12.5|ms|@0.5|#host:web-042,endpoint:/v1/users,region:eu-west-1"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return
		}
		if d := sameParse(line); d != "" {
			t.Fatalf("%q: %s", line, d)
		}
	})
}

// parseAt parses data[s:e] as Decode does, inside the whole of data.
func parseAt(data []byte, s, e int, l *Line) Result {
	pos := flatten(nil, classifyInto(nil, data), 0, len(data))
	i := 0
	for int(pos[i]) < s {
		i++
	}
	r, _ := parse(data, pos[i:], s, e, l)
	return r
}
