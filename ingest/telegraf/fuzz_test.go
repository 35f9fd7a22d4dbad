package telegraf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomad/mad/ingest/telegraf/telegrafref"
	"github.com/gomad/mad/internal/sample"
)

// FuzzTelegraf: the decoder never panics and is deterministic (a fresh
// decoder and one reused after other lines agree); it emits only
// well-formed keys (sample.ParseKey) of kind timer, or nameless none
// markers, without unit; it routes nothing for a refused line and accounts
// for every sample routed; a refusal is a *ParseError; and on plain JSON it
// agrees with the reference (telegrafref) on what is refused and on every
// record.
//
//	go test ./ingest/telegraf -run '^$' -fuzz '^FuzzTelegraf$' -fuzztime 90s
func FuzzTelegraf(f *testing.F) {
	for _, s := range seedLines(f) {
		f.Add(s)
	}
	reused := NewDecoder(Config{TimestampUnit: "MICROSECONDS"})
	f.Fuzz(func(t *testing.T, line []byte) {
		got, st, err := decode(t, NewDecoder(Config{TimestampUnit: "MICROSECONDS"}), line)
		again, st2, err2 := decode(t, reused, line)
		if fmt.Sprint(err) != fmt.Sprint(err2) || st != st2 || !sameRecs(got, again) {
			t.Fatalf("not deterministic: %v %v / %v %v", got, err, again, err2)
		}
		var pe *sample.DecodeError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("got %v; want a *sample.DecodeError", err)
		}
		for _, r := range got {
			if r.kind != sample.KindTimer && r.kind != sample.KindNone {
				t.Fatalf("kind %v", r.kind)
			}
		}
		if !telegrafref.Applicable(line) {
			return
		}
		want, wst, werr := refDecode(t, line, "MICROSECONDS")
		switch {
		case (err != nil) != (werr != nil):
			t.Fatalf("refused: got %v; reference %v", err, werr)
		case err == nil && (st != wst || !sameRecs(sortRecs(got), sortRecs(want))):
			t.Fatalf("got %v %+v; reference %v %+v", got, st, want, wst)
		}
	})
}

// seedLines: MAD's vectors and the rule table's lines.
func seedLines(t testing.TB) [][]byte {
	out := [][]byte{readVector(t, "testParse.json"), readVector(t, "testBatch.json"), readVector(t, "testBlankName.json")}
	for _, s := range []string{
		`{"name":"n","timestamp":1,"fields":{"f":2}}`,
		`{"name":12,"timestamp":"12","fields":{"a":"1,5E3","b":true,"c":"x","a":2,"d":"NaN"},"tags":{"n":1,"k":"v","k":"w"}}`,
		`{"name":"a\u00e9","timestamp":1.5e3,"fields":{"f\"":2},"tags":{"k\\":"v\n"}}`,
		`{"metrics":[{"name":"a","timestamp":1,"fields":{"f":1}},{"name":"b","timestamp":2,"fields":{"g":2},"tags":{"k":"v"}}]}`,
		`{"metrics":[null]}`, `{"metrics":{}}`, `{"name":"n","timestamp":-1}`, `{"name":"n","timestamp":9223372036854775807,"fields":{"f":1}}`,
		`{"name":"n","timestamp":1,"fields":{"f":NaN}}`, "{\"name\":\"\xff\",\"timestamp\":1}", `[1]`, ``, `{"name":`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// refDecode decodes line with the reference, into records.
func refDecode(t testing.TB, line []byte, unit string) ([]rec, sample.Counts, error) {
	t.Helper()
	var b sample.Batch
	st, err := telegrafref.Decode(line, unit, &b)
	return recsOf(t, &b), st, err
}

// TestAgainstReference: every seed line the reference can judge, in every
// unit.
func TestAgainstReference(t *testing.T) {
	for i, line := range seedLines(t) {
		if !telegrafref.Applicable(line) {
			continue
		}
		for _, u := range []string{"SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS"} {
			got, st, err := decode(t, NewDecoder(Config{TimestampUnit: u}), line)
			want, wst, werr := refDecode(t, line, u)
			if (err != nil) != (werr != nil) || err == nil && (st != wst || !sameRecs(sortRecs(got), sortRecs(want))) {
				t.Errorf("seed %d %s: got %v %+v (%v); reference %v %+v (%v)", i, u, got, st, err, want, wst, werr)
			}
		}
	}
}

var writeCorpus = flag.Bool("write-corpus", false, "write the fuzz seed corpus to testdata/fuzz")

// TestWriteSeedCorpus writes the seeds as files under testdata/fuzz (run
// with -write-corpus after changing them).
func TestWriteSeedCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzTelegraf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seedLines(t) {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
