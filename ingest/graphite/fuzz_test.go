package graphite

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/graphite/graphiteref"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache/sidcachetest"
)

// FuzzGraphite: the decoder never panics and is deterministic (a fresh
// decoder and one reused after other lines agree); it emits only
// well-formed keys (sample.ParseKey) of kind gauge, without unit, one
// sample per accepted line; a refusal is a *ParseError; it refuses a line
// as not matching MAD's regex exactly when the regex does not match it;
// it accepts exactly the lines the reference (graphiteref) accepts, with
// the reference's sample (name, dimensions, value, time); and a decoder
// with a series cache (one for every input, answered as the shards would)
// decodes each line twice as without it, by handle once it has asked.
//
//	go test ./ingest/graphite -run '^$' -fuzz '^FuzzGraphite$' -fuzztime 90s
func FuzzGraphite(f *testing.F) {
	for _, s := range seedLines(f) {
		f.Add(s, true)
		f.Add(s, false)
	}
	global := [][2]string{{"service", "svc"}, {"host", "h"}}
	reused := [2]*Decoder{NewDecoder(Config{GlobalTags: global}), NewDecoder(Config{GlobalTags: global, ParseCarbonTags: true})}
	cached := [2]*Decoder{NewDecoder(Config{GlobalTags: global}), NewDecoder(Config{GlobalTags: global, ParseCarbonTags: true})}
	shards := [2]*sidcachetest.Shards{sidcachetest.New(), sidcachetest.New()}
	for i, d := range cached {
		d.SetCache(shards[i].Cache)
	}
	f.Fuzz(func(t *testing.T, line []byte, carbon bool) {
		cfg := Config{GlobalTags: global, ParseCarbonTags: carbon}
		got, st, err := decode(t, NewDecoder(cfg), line)
		c := 0
		if carbon {
			c = 1
		}
		r := reused[c]
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
		var b sample.Batch
		_, werr := graphiteref.Decode(line, testNow, graphiteref.Config{GlobalTags: global, ParseCarbonTags: carbon}, &b)
		want := recsOf(t, &b)
		if syntax := err != nil && strings.Contains(err.Error(), "invalid graphite line"); syntax != errors.Is(werr, graphiteref.ErrSyntax) {
			t.Fatalf("%q: got %v; reference %v (MAD's regex matches: %v)", line, err, werr, !errors.Is(werr, graphiteref.ErrSyntax))
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: refused: got %v; reference %v", line, err, werr)
		}
		if len(got) != len(want) || len(got) == 1 && !sameRec(got[0], want[0]) {
			t.Fatalf("%q: got %v; reference %v", line, got, want)
		}
		shards[c].Bound(1 << 16) // over a long run
		cachedAgrees(t, shards[c], cached[c], cfg, line, 2)
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
