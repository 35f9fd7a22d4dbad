package promrw

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// The fuzz targets take the decompressed message and decode it twice: as
// the body itself (exercising the snappy decoder on arbitrary bytes) and
// snappy-compressed (exercising the protobuf decoder and MAD's rules). Each
// time they check that the decoder
//   - never panics and is deterministic (a fresh decoder and one reused
//     after another request give the same samples and the same error);
//   - emits only well-formed keys (sample.ParseKey) whose hash matches, of
//     kind gauge, with finite values and units MAD's normalisation yields;
//   - accounts for every sample: Records = Samples = what was routed;
//   - agrees with the reference transliteration of MAD's parser (promrwref)
//     on what is refused and on every record.
//
//	go test ./ingest/promrw -run '^$' -fuzz '^FuzzDecode$' -fuzztime 2m
//	go test ./ingest/promrw -run '^$' -fuzz '^FuzzDecodeV2$' -fuzztime 2m

var fuzzConfigs = []Config{
	{},
	{InterpretUnits: true, ReservedNameWhitelist: []string{"a_total", "m_count", "x_bytes_sum"}},
}

func FuzzDecode(f *testing.F) {
	for _, s := range seedMessages(f, 1) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) { checkDecode(t, msg, 1) })
}

func FuzzDecodeV2(f *testing.F) {
	for _, s := range seedMessages(f, 2) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) { checkDecode(t, msg, 2) })
}

// reused is one decoder per configuration and version, kept across inputs
// so that the fuzzer also exercises reuse after arbitrary earlier requests.
var reused = map[[2]int]*Decoder{}

func checkDecode(t *testing.T, msg []byte, version int) {
	for ci, cfg := range fuzzConfigs {
		for _, body := range [][]byte{msg, snap(msg)} {
			got, st, err := decodeChecked(t, NewDecoder(cfg), body, version)
			k := [2]int{ci, version}
			if reused[k] == nil {
				reused[k] = NewDecoder(cfg)
			}
			again, st2, err2 := decodeChecked(t, reused[k], body, version)
			if fmt.Sprint(err) != fmt.Sprint(err2) || st != st2 || !sameRecs(got, again) {
				t.Fatalf("not deterministic: %v %+v / %v %+v", err, st, err2, st2)
			}
			want, werr := refDecode(t, body, version, cfg)
			var pe *sample.DecodeError
			switch {
			case errors.Is(err, sample.ErrTooLarge) != errors.Is(werr, sample.ErrTooLarge):
				t.Fatalf("too large: got %v; reference %v", err, werr)
			case errors.Is(err, sample.ErrTooLarge):
			case (err != nil) != (werr != nil):
				t.Fatalf("refused: got %v; reference %v", err, werr)
			case err != nil && !errors.As(err, &pe):
				t.Fatalf("got %v; want a *sample.DecodeError", err)
			case err == nil && !sameRecs(got, want):
				t.Fatalf("got %v; reference %v", got, want)
			}
		}
	}
}

func decodeChecked(t *testing.T, d *Decoder, body []byte, version int) ([]rec, Stats, error) {
	var bs [3]sample.Batch
	// The routing order, to read the samples back in MAD's order.
	type at struct{ b, i int }
	var order []at
	route := func(h uint64) *sample.Batch {
		b := int(h % 3)
		order = append(order, at{b, len(bs[b].Samples)})
		return &bs[b]
	}
	var c sample.Counts
	var err error
	if version == 2 {
		c, err = d.DecodeV2(body, 0, route)
	} else {
		c, err = d.Decode(body, 0, route)
	}
	st := d.Stats()
	if c != st.Counts {
		t.Fatalf("a Decode call returned %+v; Stats says %+v", c, st.Counts)
	}
	n := 0
	var recs [3][]rec
	for i := range bs {
		b := &bs[i]
		n += len(b.Samples)
		for j := range b.Samples {
			s := &b.Samples[j]
			if s.Hash%3 != uint64(i) {
				t.Fatalf("sample routed to batch %d with hash %x", i, s.Hash)
			}
			if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
				t.Fatalf("non-finite sample %+v", s)
			}
			switch s.Unit {
			case sample.UnitNone, sample.Second, sample.Byte, sample.Kelvin:
			default:
				t.Fatalf("unit %v not normalised", s.Unit)
			}
		}
		recs[i] = recsOf(t, b) // checks keys, hashes, kind and flags
	}
	if err == nil && (st.Records != n || st.Samples != n || len(order) != n) {
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

// seedMessages: the first series of each live capture (re-encoded; whole
// captures make every fuzz execution slow), one capture as the compressed
// body it is, the refused vectors, and the rule tables' payloads.
func seedMessages(t testing.TB, version int) [][]byte {
	enc := encV1
	if version == 2 {
		enc = encV2
	}
	var out [][]byte
	for _, v := range append(liveVectors, "testSingleRecord", "testNoNameMetric", "testEmptyNameMetric", "testWhitespaceNameMetric") {
		msg, err := snappyDecode(readVector(t, v))
		if err != nil {
			t.Fatal(err)
		}
		series := refSeries(t, msg, 1)
		out = append(out, enc(series[:min(len(series), 12)]...))
	}
	for _, v := range []string{"testLivePrometheus5", "testCorruptedSnappy", "testCorruptedPrometheusMessage", "testParseEmpty"} {
		out = append(out, readVector(t, v))
	}
	if msg, err := snappyDecode(readVector(t, "testCorruptedPrometheusMessage")); err == nil {
		out = append(out, msg)
	}
	for _, series := range seedTables {
		out = append(out, enc(series...))
	}
	out = append(out, enc(synth(20, 2)...))
	return out
}

// seedTables are the shapes of the rule tests.
var seedTables = [][]ts{
	{{labels: n("up", "job", "node", "instance", "a:9100"), samples: []smp{{1, 1700000000123}}}},
	{{labels: n("h_bucket", "le", "0.5"), samples: one}, {labels: n("a_total"), samples: one}, {labels: n("a_total", "x", "1", "x", "2"), samples: one}},
	{{labels: n("\t m \x00"), samples: []smp{{math.NaN(), 1}, {math.Inf(-1), 2}, {5, 5}}}},
	{{labels: n("lat_seconds"), samples: []smp{{0.25, 1}}}, {labels: n("link_bits"), samples: []smp{{12, 1}}}, {labels: n("temp_celcius"), samples: []smp{{20, 1}}}, {labels: n("x_bytes_sum"), samples: one}},
	{{labels: n(""), samples: one}},
	{{labels: n("m", "a", "1", "a", "1"), samples: one}},
	{{labels: []lbl{{"__name__", "a"}, {"__name__", "b"}, {"", ""}}, samples: one, hists: 2}},
}

var writeCorpus = flag.Bool("write-corpus", false, "write the fuzz seed corpus to testdata/fuzz")

// TestWriteSeedCorpus writes the seeds as files under testdata/fuzz (run
// with -write-corpus after changing them), so that the corpus is visible
// to `go test` runs without -fuzz as well as to the fuzzer.
func TestWriteSeedCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("run with -write-corpus to rewrite testdata/fuzz")
	}
	for target, version := range map[string]int{"FuzzDecode": 1, "FuzzDecodeV2": 2} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seedMessages(t, version) {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
