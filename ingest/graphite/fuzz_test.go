package graphite

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gomad/mad/internal/sample"
)

// graphiteRE is MAD's pattern in RE2 syntax (Java's \s includes \x0B; RE2's
// does not). Anchored at both ends and with greedy, leftmost-first
// submatches it picks the same groups as Java's Matcher.matches.
var graphiteRE = regexp.MustCompile(`^([^ ]+) ([^ ]+)( ([0-9]+))?[\t\n\x0B\f\r ]*$`)

// FuzzGraphite: the decoder never panics and is deterministic (a fresh
// decoder and one reused after other lines agree); it emits only
// well-formed keys (sample.ParseKey) of kind gauge, without unit, one
// sample per accepted line; a refusal is a *ParseError; and it accepts a
// line exactly when MAD's regex matches it (given a valid UTF-8 name, a
// numeric value and a key that fits), with the regex's name and time.
//
//	go test ./ingest/graphite -run '^$' -fuzz '^FuzzGraphite$' -fuzztime 90s
func FuzzGraphite(f *testing.F) {
	for _, s := range seedLines(f) {
		f.Add(s, true)
		f.Add(s, false)
	}
	global := [][2]string{{"service", "svc"}, {"host", "h"}}
	reused := [2]*Decoder{NewDecoder(Config{GlobalTags: global}), NewDecoder(Config{GlobalTags: global, ParseCarbonTags: true})}
	f.Fuzz(func(t *testing.T, line []byte, carbon bool) {
		cfg := Config{GlobalTags: global, ParseCarbonTags: carbon}
		got, st, err := decode(t, NewDecoder(cfg), line)
		r := reused[0]
		if carbon {
			r = reused[1]
		}
		again, st2, err2 := decode(t, r, line)
		if fmt.Sprint(err) != fmt.Sprint(err2) || st != st2 || fmt.Sprint(got) != fmt.Sprint(again) {
			t.Fatalf("not deterministic: %v %v / %v %v", got, err, again, err2)
		}
		var pe *sample.DecodeError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("got %v; want a *sample.DecodeError", err)
		}
		for _, r := range got {
			if r.kind != sample.KindGauge {
				t.Fatalf("kind %v", r.kind)
			}
		}
		m := graphiteRE.FindSubmatch(line)
		if m == nil {
			if err == nil {
				t.Fatalf("accepted %q, which MAD's regex refuses: %v", line, got)
			}
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), "invalid graphite line") {
				t.Fatalf("refused %q, which MAD's regex matches: %v", line, err)
			}
			return
		}
		if !utf8.Valid(m[1]) {
			t.Fatalf("accepted invalid UTF-8 %q", m[1])
		}
		name := string(m[1])
		if carbon {
			name, _, _ = strings.Cut(name, ";")
		}
		want := int64(testNow)
		if m[4] != nil {
			want = seconds(m[4]) * 1000
		}
		if len(got) != 1 || got[0].name != name || got[0].t != want {
			t.Fatalf("got %v; want name %q time %d", got, name, want)
		}
	})
}

// seedLines: MAD's vectors and the rule table's lines.
func seedLines(t testing.TB) [][]byte {
	out := [][]byte{
		readVector(t, "testParseCarbonTags"), readVector(t, "testParseSingleLineNoLineEnding"),
		readVector(t, "testParseSingleLineNoTimestamp"), readVector(t, "testParseSingleLineWithLineEnding"),
	}
	for _, s := range []string{
		"a.b 1 10", "a 2 10\r", "a 2 10 \t\r\n\f\v", "a 1.5\t7", "a 12abc 5", "a 1,234.5", "a 1.5E3",
		"a -0", "a NaN", "a -\u221e", "a 1 99999999999999999999", "a;k;=v;k2=;x==y;;p=q=;m=n 1",
		";k=v 1", ";;; 1", "a  1", "a 1 10 11", "a 1 -10", "a\xff 1", "a \u0661\u0662", "", " ",
	} {
		out = append(out, []byte(s))
	}
	return out
}

var writeCorpus = flag.Bool("write-corpus", false, "write the fuzz seed corpus to testdata/fuzz")

// TestWriteSeedCorpus writes the seeds as files under testdata/fuzz (run
// with -write-corpus after changing them).
func TestWriteSeedCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzGraphite")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seedLines(t) {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\n", s, i%2 == 0)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
