package clientpb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// The fuzz targets check, for any body:
//   - the decoder never panics, and fails only with a *sample.DecodeError
//     of kind ErrMalformed or ErrMADFails;
//   - decoding is deterministic: a fresh decoder and a decoder whose caches
//     were warmed on other bodies (and on this one) route exactly the same
//     samples, and fail the same way;
//   - every routed key is canonical (sample.ParseKey accepts it) and carries
//     its hash;
//   - the decoder agrees with the slow reference decoder (clientpbref) on
//     the outcome (200, 400 or 500) and on every series' samples.
//
//	go test ./ingest/clientpb -run '^$' -fuzz FuzzDecodeV3 -fuzztime 2m
//
// Seeds: testdata/fuzz/FuzzDecodeV{1,2,3} (MAD's vectors and the bodies of
// the table tests, written by TestWriteCorpus).

func FuzzDecodeV1(f *testing.F) { fuzzDecode(f, 1) }
func FuzzDecodeV2(f *testing.F) { fuzzDecode(f, 2) }
func FuzzDecodeV3(f *testing.F) { fuzzDecode(f, 3) }

func fuzzDecode(f *testing.F, version int) {
	for _, s := range seeds(version) {
		f.Add(s.body)
	}
	warm := NewDecoder(Config{})
	var wb sample.Batch
	for _, s := range seeds(version) {
		wb.Reset()
		versions[version](warm, s.body, 0, func(uint64) *sample.Batch { return &wb })
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantSt, wantErr := collect(t, version, body)
		checkErr(t, wantErr)
		checkReference(t, version, body, want, wantSt, wantErr)
		for round := range 2 {
			var b sample.Batch
			_, err := versions[version](warm, body, 1_000_000, func(uint64) *sample.Batch { return &b })
			st := warm.Stats()
			got := outs(t, &b)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || st != wantSt || !sameOuts(got, want) {
				t.Fatalf("round %d with a warm decoder: got %+v, %v,\n%v\nwant %+v, %v,\n%v", round, st, err, got, wantSt, wantErr, want)
			}
		}
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var de *sample.DecodeError
	if err != nil && (!errors.As(err, &de) || (!errors.Is(err, sample.ErrMalformed) && !errors.Is(err, sample.ErrMADFails))) {
		t.Fatalf("unexpected error %v", err)
	}
}

func sameOuts(a, b []out) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalOut(a[i], b[i]) || a[i].count != b[i].count {
			return false
		}
	}
	return true
}

type seed struct {
	name string
	body []byte
}

// seeds returns MAD's vectors and every table-test body of a version.
func seeds(version int) []seed {
	dir := fmt.Sprintf("../../testdata/mad/parsers/ProtobufV%dParserTest", version)
	var res []seed
	for _, n := range []string{"testSingleRecord", "testParseEmpty"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			res = append(res, seed{"vector-" + n, b})
		}
	}
	for _, c := range errCases() {
		if c.version == version {
			res = append(res, seed{"error-" + c.name, c.body})
		}
	}
	for _, c := range append(v3SemCases(), v12SemCases()...) {
		if c.version == version {
			res = append(res, seed{"semantics-" + c.name, c.body})
		}
	}
	if version == 3 {
		res = append(res, seed{"workload", v3Body(3, false, false)}, seed{"workload-hosts", v3Body(3, true, true)})
	} else {
		res = append(res, seed{"workload", v12Body(version, 3, false)})
	}
	return res
}

// TestWriteCorpus writes the seeds as Go fuzz corpus files when
// CLIENTPB_WRITE_CORPUS is set.
func TestWriteCorpus(t *testing.T) {
	if os.Getenv("CLIENTPB_WRITE_CORPUS") == "" {
		t.Skip("set CLIENTPB_WRITE_CORPUS=1 to write testdata/fuzz")
	}
	for v := 1; v <= 3; v++ {
		dir := filepath.Join("testdata", "fuzz", fmt.Sprintf("FuzzDecodeV%d", v))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds(v) {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.body)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
