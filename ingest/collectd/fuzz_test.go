package collectd

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomad/mad/ingest/collectd/collectdref"
	"github.com/gomad/mad/internal/sample"
)

// FuzzCollectd: the decoder never panics and is deterministic (a fresh
// decoder and one reused after other requests agree); it emits only
// well-formed keys whose hash matches, of kind gauge, counter or none,
// without unit; it accounts for every sample routed; a refusal is a
// *sample.DecodeError; and on plain JSON it agrees with the reference
// (collectdref) on what is refused, the counts and every record.
//
//	go test ./ingest/collectd -run '^$' -fuzz '^FuzzCollectd$' -fuzztime 2m
func FuzzCollectd(f *testing.F) {
	for _, s := range seedBodies(f) {
		f.Add(s)
	}
	reused := NewDecoder(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		got, st, err := decodeChecked(t, NewDecoder(Config{}), body)
		again, st2, err2 := decodeChecked(t, reused, body)
		if fmt.Sprint(err) != fmt.Sprint(err2) || st != st2 || !sameRecs(got, again) {
			t.Fatalf("not deterministic: %v %+v / %v %+v", err, st, err2, st2)
		}
		var pe *sample.DecodeError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("got %v; want a *sample.DecodeError", err)
		}
		if !collectdref.Applicable(body) {
			return
		}
		want, wst, werr := refDecode(t, body, testHeaders)
		switch {
		case (err != nil) != (werr != nil):
			t.Fatalf("refused: got %v; reference %v", err, werr)
		case err == nil && (st.Counts != wst || !sameRecs(got, want)):
			t.Fatalf("got %v %+v; reference %v %+v", got, st, want, wst)
		}
	})
}

func decodeChecked(t *testing.T, d *Decoder, body []byte) ([]rec, Stats, error) {
	var bs [3]sample.Batch
	// The routing order, to read the samples back in MAD's order.
	type at struct{ b, i int }
	var order []at
	route := func(h uint64) *sample.Batch {
		b := int(h % 3)
		order = append(order, at{b, len(bs[b].Samples)})
		return &bs[b]
	}
	_, err := d.Decode(body, testHeaders, 0, route)
	st := d.Stats()
	n := 0
	var recs [3][]rec
	for i := range bs {
		b := &bs[i]
		n += len(b.Samples)
		for j := range b.Samples {
			if b.Samples[j].Hash%3 != uint64(i) {
				t.Fatalf("sample routed to batch %d with hash %x", i, b.Samples[j].Hash)
			}
		}
		recs[i] = recsOf(t, b) // checks keys, hashes, unit and flags
		for _, r := range recs[i] {
			switch r.kind {
			case sample.KindGauge, sample.KindCounter:
			case sample.KindNone:
				if r.name != "" {
					t.Fatalf("record marker with a name: %v", r)
				}
			default:
				t.Fatalf("kind %v", r.kind)
			}
		}
	}
	if err == nil && (st.Samples != n || st.Samples < st.Records || len(order) != n) {
		t.Fatalf("stats %+v for %d samples routed (%d route calls)", st, n, len(order))
	}
	var out []rec
	if err == nil {
		for _, a := range order {
			out = append(out, recs[a.b][a.i])
		}
	}
	return out, st, err
}

// seedBodies: MAD's vectors, the record tables' bodies, a synthetic body.
func seedBodies(t testing.TB) [][]byte {
	out := [][]byte{
		readVector(t, "testParse.json"), readVector(t, "testParseNullValues.json"), readVector(t, "testParseInvalid.json"),
		synthBody(10),
	}
	for _, extra := range []map[string]any{
		nil,
		{"values": "[1,2,3]", "dstypes": `["derive","counter","gauge"]`, "dsnames": `["rx","value",""]`},
		{"values": "[1,2,1,1,-0.0,0]", "dstypes": `["counter","gauge","counter","gauge","counter","counter"]`, "dsnames": `["x","x","x","x","x","x"]`},
		{"values": "[NaN,Infinity,-Infinity,+INF,null]", "dstypes": `["gauge","gauge","gauge","gauge","gauge"]`, "dsnames": `["a","b","c","d","e"]`},
		{"values": "[null]"},
		{"values": "[]", "dstypes": "[]", "dsnames": "[]"},
		{"values": "null", "dstypes": "null", "dsnames": nil},
		{"host": "12", "plugin": "true", "time": `" 1.5 "`, "values": `["0x1p3","",".5"]`, "dstypes": `["gauge","gauge","gauge"]`, "dsnames": `["a","b","c"]`},
		{"meta": `{"network:received":true,"x":[1,{"y":null}]}`, "plugin_instance": `""`, "type_instance": `""`},
		{"host": `"h\u00e9\"\\"`, "time": "-1.0005"},
		{"type": nil},
		{"values": "[1,2]"},
	} {
		out = append(out, []byte("["+vl(extra)+"]"))
	}
	out = append(out, []byte("["+vl(nil)+"] trailing"), []byte("null"), []byte("[null]"), []byte("{}"))
	return out
}

var writeCorpus = flag.Bool("write-corpus", false, "write the fuzz seed corpus to testdata/fuzz")

// TestWriteSeedCorpus writes the seeds as files under testdata/fuzz (run
// with -write-corpus after changing them).
func TestWriteSeedCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCollectd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seedBodies(t) {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// refDecode decodes body with the reference, into records.
func refDecode(t testing.TB, body []byte, hd []sample.Dim) ([]rec, sample.Counts, error) {
	t.Helper()
	var b sample.Batch
	st, err := collectdref.Decode(body, hd, &b)
	return recsOf(t, &b), st, err
}

// TestAgainstReference: every table body the reference can judge.
func TestAgainstReference(t *testing.T) {
	for i, body := range seedBodies(t) {
		if !collectdref.Applicable(body) {
			continue
		}
		got, st, err := decodeAll(t, Config{}, body, testHeaders)
		want, wst, werr := refDecode(t, body, testHeaders)
		if (err != nil) != (werr != nil) || err == nil && (st.Counts != wst || !sameRecs(got, want)) {
			t.Errorf("seed %d: got %v %+v (%v); reference %v %+v (%v)", i, got, st, err, want, wst, werr)
		}
	}
}
