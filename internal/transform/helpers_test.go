package transform

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// dims builds sorted dimensions from key, value pairs.
func dims(kv ...string) []sample.Dim {
	var ds []sample.Dim
	for i := 0; i+1 < len(kv); i += 2 {
		ds = append(ds, sample.Dim{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	if sample.SortDims(ds) >= 0 {
		panic("duplicate key in test dimensions")
	}
	return ds
}

// render writes a series as name{k=v,k=v}.
func render(name []byte, ds []sample.Dim) string {
	var b strings.Builder
	b.Write(name)
	b.WriteByte('{')
	for i, d := range ds {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(d.Key)
		b.WriteByte('=')
		b.Write(d.Value)
	}
	b.WriteByte('}')
	return b.String()
}

// collect applies tr to (name, ds) and renders the outputs, checking that
// each output's dimensions are sorted and unique.
func collect(t testing.TB, tr *Transformer, s *Scratch, name string, ds []sample.Dim) ([]string, error) {
	t.Helper()
	var got []string
	err := tr.Apply(s, []byte(name), ds, func(n []byte, od []sample.Dim) {
		checkSorted(t, od)
		got = append(got, render(n, od))
	})
	return got, err
}

func checkSorted(t testing.TB, ds []sample.Dim) {
	t.Helper()
	if !slices.IsSortedFunc(ds, func(a, b sample.Dim) int { return bytes.Compare(a.Key, b.Key) }) {
		t.Fatalf("output dimensions %s not sorted", render(nil, ds))
	}
	for i := 1; i < len(ds); i++ {
		if bytes.Equal(ds[i-1].Key, ds[i].Key) {
			t.Fatalf("output dimensions %s: key %q twice", render(nil, ds), ds[i].Key)
		}
	}
}

func mustCompile(t testing.TB, sets []Set, env map[string]string) *Transformer {
	t.Helper()
	tr, err := Compile(sets, env)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tr
}

// one is a single set with a single rule.
func one(pattern string, templates ...string) []Set {
	return []Set{{Metrics: []Rule{{Pattern: pattern, Templates: templates}}}}
}
