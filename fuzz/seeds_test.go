package fuzz

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The seed corpus of a target: the files under testdata/fuzz/<Target>
// (checked in: the inputs of the table tests of the decoder's package,
// one file each) and MAD's own vectors, read from testdata/mad/parsers
// where the target adds them.

// seed is one input of a target's corpus.
type seed struct {
	name    string
	data    []byte
	variant uint8
}

// corpus reads the checked-in corpus of target.
func corpus(t testing.TB, target string) []seed {
	t.Helper()
	files := readDir(t, filepath.Join("testdata", "fuzz", target))
	for i := range files {
		s, ok := parseCorpusFile(files[i].data)
		if !ok {
			t.Fatalf("%s: not a corpus file of ([]byte, uint8)", files[i].name)
		}
		files[i].data, files[i].variant = s.data, s.variant
	}
	return files
}

// readDir reads every file of dir, in name order.
func readDir(t testing.TB, dir string) []seed {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []seed
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, seed{name: e.Name(), data: b})
	}
	return out
}

// parseCorpusFile reads a "go test fuzz v1" file of a []byte and a uint8.
func parseCorpusFile(b []byte) (seed, bool) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "go test fuzz v1" {
		return seed{}, false
	}
	data, ok := strings.CutPrefix(lines[1], "[]byte(")
	data, ok2 := strings.CutSuffix(data, ")")
	if !ok || !ok2 {
		return seed{}, false
	}
	d, err := strconv.Unquote(data)
	n, ok3 := corpusUint8(lines[2])
	if err != nil || !ok3 {
		return seed{}, false
	}
	return seed{data: []byte(d), variant: n}, true
}

// corpusUint8 reads a uint8 as Go's fuzzing writes one: uint8(97), or
// byte('a') when it is a printable character.
func corpusUint8(line string) (uint8, bool) {
	if v, ok := strings.CutPrefix(line, "uint8("); ok {
		if v, ok := strings.CutSuffix(v, ")"); ok {
			n, err := strconv.ParseUint(v, 10, 8)
			return uint8(n), err == nil
		}
	}
	if v, ok := strings.CutPrefix(line, "byte("); ok {
		if v, ok := strings.CutSuffix(v, ")"); ok && strings.HasPrefix(v, "'") {
			c, err := strconv.Unquote(v) // a character literal
			if r := []rune(c); err == nil && len(r) == 1 && r[0] < 256 {
				return uint8(r[0]), true
			}
		}
	}
	return 0, false
}

// vectors reads MAD's vectors of one parser test (MAD-SPEC §14), in name
// order.
func vectors(t testing.TB, test string) []seed {
	t.Helper()
	files := readDir(t, filepath.Join("..", "testdata", "mad", "parsers", test))
	for i := range files {
		files[i].name = test + "/" + files[i].name
	}
	return files
}

// compactJSON is a JSON document on one line, as Telegraf writes it to a
// socket: MAD's Telegraf vectors are indented, and a TCP line source would
// cut them into lines.
func compactJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// runSeeds runs check on every seed in every variant below variants, and
// makes sure the seeds are not vacuous: together they close buckets.
func runSeeds(t *testing.T, seeds []seed, variants int, check func(t testing.TB, data []byte, variant uint8) int) {
	closed := 0
	for _, s := range seeds {
		for v := range variants {
			t.Run(s.name+"/"+strconv.Itoa(v), func(t *testing.T) { closed += check(t, s.data, uint8(v)) })
		}
	}
	if closed == 0 && !t.Failed() {
		t.Fatalf("%d seeds closed no bucket", len(seeds))
	}
}
