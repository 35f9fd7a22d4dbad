package statsd

import (
	"strings"
	"testing"
)

func tagString(l *Line) string {
	var parts []string
	for _, d := range l.Tags {
		parts = append(parts, string(l.Src[d.K0:d.K1])+"="+string(l.Src[d.V0:d.V1]))
	}
	return strings.Join(parts, ",")
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		want  Result
		name  string
		value float64
		typ   Type
		rate  float64
		tags  string
	}{
		// MAD's StatsdToRecordParserTest.
		{"page.views:1|c", OK, "page.views", 1, TypeCounter, 1, ""},
		{"fuel.level:0.5|g", OK, "fuel.level", 0.5, TypeGauge, 1, ""},
		{"song.length:240|h|@0.5", OK, "song.length", 240, TypeHistogram, 0.5, ""},
		{"song.length:240|h|@1", OK, "song.length", 240, TypeHistogram, 1, ""},
		{"song.length:240|h|@0", OK, "song.length", 240, TypeHistogram, 0, ""},
		{"users.online:1|c|#country:china", OK, "users.online", 1, TypeCounter, 1, "country=china"},
		{"users.online:1|c|#country:china,anotherTag", ErrTag, "", 0, 0, 0, ""},
		{"users.online,service=statsd:1|c", OK, "users.online", 1, TypeCounter, 1, "service=statsd"},
		{"users.online,service=statsd,tag2:1|c", ErrTag, "", 0, 0, 0, ""},
		// MAD refuses sets; mad counts distinct members.
		{"users.uniques:1234|s", OK, "users.uniques", 0, TypeSet, 1, ""},
		// Types.
		{"t:12|ms", OK, "t", 12, TypeTimer, 1, ""},
		{"m:3|m", OK, "m", 3, TypeMeter, 1, ""},
		{"d:7|d", OK, "d", 7, TypeDistribution, 1, ""},
		{"x:1|q", ErrType, "", 0, 0, 0, ""},
		{"x:1|", ErrType, "", 0, 0, 0, ""},
		{"x:1|cc", ErrType, "", 0, 0, 0, ""},
		// Values as NumberFormat reads them.
		{"x:12abc|c", OK, "x", 12, TypeCounter, 1, ""},
		{"x:1,234|c", OK, "x", 1234, TypeCounter, 1, ""},
		{"x:-5|g", OK, "x", -5, TypeGauge, 1, ""},
		{"x:+5|g", OK, "x", 5, TypeGauge, 1, ""},
		{"x:+5|c", ErrValue, "", 0, 0, 0, ""},
		{"x:abc|c", ErrValue, "", 0, 0, 0, ""},
		{"x:.5|c", OK, "x", 0.5, TypeCounter, 1, ""},
		{"x:5.|c", OK, "x", 5, TypeCounter, 1, ""},
		{"x:1.5E3|c", OK, "x", 1500, TypeCounter, 1, ""},
		{"x:1.5e3|c", OK, "x", 1.5, TypeCounter, 1, ""},
		{"x:2E-2|c", OK, "x", 0.02, TypeCounter, 1, ""},
		{"x: 5|c", ErrValue, "", 0, 0, 0, ""},
		// Sample rates.
		{"c:1|c|@0.1", OK, "c", 1, TypeCounter, 0.1, ""},
		{"c:1|c|@1.5", ErrSampleRate, "", 0, 0, 0, ""},
		{"c:1|c|@-0.1", ErrSampleRate, "", 0, 0, 0, ""},
		{"c:1|c|@NaN", ErrSampleRate, "", 0, 0, 0, ""},
		{"c:1|c|@x", ErrSampleRate, "", 0, 0, 0, ""},
		{"g:1|g|@0.5", ErrRateNotAllowed, "", 0, 0, 0, ""},
		{"m:1|m|@0.5", ErrRateNotAllowed, "", 0, 0, 0, ""},
		// Tags, both styles; duplicates across styles.
		{"n,a=1,b=2:1|c|#c:3", OK, "n", 1, TypeCounter, 1, "a=1,b=2,c=3"},
		{"n,a=1:1|c|#a:2", ErrDuplicateTag, "", 0, 0, 0, ""},
		{"n:1|c|#a:1,a:2", ErrDuplicateTag, "", 0, 0, 0, ""},
		{"n:1|c|#a:1:2", ErrTag, "", 0, 0, 0, ""},
		{"n:1|c|#a:1,", ErrTag, "", 0, 0, 0, ""},
		{"n:1|c|#", ErrTag, "", 0, 0, 0, ""},
		{"n,a=1=2:1|c", ErrTag, "", 0, 0, 0, ""},
		{"n:1|c|#:v", OK, "n", 1, TypeCounter, 1, "=v"},
		// DogStatsD fields in any order, container ids, timestamps.
		{"n:1|c|#a:b|@0.5", OK, "n", 1, TypeCounter, 0.5, "a=b"},
		{"n:1|c|@0.5|#a:b|c:abc123|T1656581400", OK, "n", 1, TypeCounter, 0.5, "a=b"},
		{"n:1|c|T12x", ErrField, "", 0, 0, 0, ""},
		{"n:1|c|c-abc", ErrField, "", 0, 0, 0, ""},
		{"n:1|c|x", ErrField, "", 0, 0, 0, ""},
		{"n:1|c||", ErrField, "", 0, 0, 0, ""},
		{"n:1|c|@0.5|@0.5", ErrField, "", 0, 0, 0, ""},
		// Events and service checks.
		{"_e{5,4}:title|text|#a:b", SkipEvent, "", 0, 0, 0, ""},
		{"_sc|svc.up|0|#a:b", SkipServiceCheck, "", 0, 0, 0, ""},
		// Syntax.
		{":1|c", ErrSyntax, "", 0, 0, 0, ""},
		{"n|c", ErrSyntax, "", 0, 0, 0, ""},
		{"n:1", ErrSyntax, "", 0, 0, 0, ""},
		{"n:|c", ErrSyntax, "", 0, 0, 0, ""},
		{"n", ErrSyntax, "", 0, 0, 0, ""},
		{"n@x:1|c", ErrSyntax, "", 0, 0, 0, ""},
		{"n,a=1|c", ErrSyntax, "", 0, 0, 0, ""},
		// A trailing \r (TCP clients writing \r\n) is tolerated.
		{"n:1|c\r", OK, "n", 1, TypeCounter, 1, ""},
	} {
		t.Run(tc.line, func(t *testing.T) {
			var l Line
			got := ParseLine([]byte(tc.line), &l)
			if got != tc.want {
				t.Fatalf("result %v; want %v", got, tc.want)
			}
			if got != OK {
				return
			}
			if string(l.Name) != tc.name || l.Type != tc.typ || l.Rate != tc.rate || tagString(&l) != tc.tags {
				t.Fatalf("got name %q type %v rate %v tags %q; want %q %v %v %q", l.Name, l.Type, l.Rate, tagString(&l), tc.name, tc.typ, tc.rate, tc.tags)
			}
			if l.Type != TypeSet && l.Value != tc.value {
				t.Fatalf("value %v; want %v", l.Value, tc.value)
			}
		})
	}
}

func TestParseLineFields(t *testing.T) {
	var l Line
	if r := ParseLine([]byte("n:1|c|c:abc123|T1656581400"), &l); r != OK {
		t.Fatal(r)
	}
	if string(l.Container) != "abc123" || l.Timestamp != 1656581400 {
		t.Fatalf("container %q timestamp %d", l.Container, l.Timestamp)
	}
	if r := ParseLine([]byte("set:member-7|s"), &l); r != OK || string(l.Raw) != "member-7" {
		t.Fatalf("set member %q (%v)", l.Raw, r)
	}
	if r := ParseLine([]byte("g:-5|g"), &l); r != OK || !l.Signed || l.Plus {
		t.Fatalf("-5: signed %v plus %v", l.Signed, l.Plus)
	}
	// Fields of an earlier line must not leak into the next.
	ParseLine([]byte("n:1|c|@0.5|#a:b|c:x|T5"), &l)
	if r := ParseLine([]byte("n:1|c"), &l); r != OK || l.HasRate || l.Rate != 1 || len(l.Tags) != 0 || l.Container != nil || l.Timestamp != 0 {
		t.Fatalf("state leaked: %+v", l)
	}
}

func TestParseLineAllocs(t *testing.T) {
	lines := [][]byte{
		[]byte("a.b.c:1|c"),
		[]byte("api.latency:12.5|ms|@0.5|#host:h1,endpoint:/users,region:eu"),
		[]byte("n,a=1,b=2:3|g"),
	}
	var l Line
	for _, ln := range lines {
		ParseLine(ln, &l)
	}
	if n := testing.AllocsPerRun(1000, func() {
		for _, ln := range lines {
			ParseLine(ln, &l)
		}
	}); n != 0 {
		t.Fatalf("ParseLine allocated %v times; want 0", n)
	}
}
