package transform

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/gomad/mad/internal/sample"
)

// FuzzApply: Apply against the reference (ref_test.go) on a fuzzed pattern,
// template, name and dimensions, in a first set with a removal and a second
// set with an injection; Compile against the reference's template checks;
// Dropper against its reference with the same pattern.
func FuzzApply(f *testing.F) {
	f.Add("cat/([^/]*)/dog", "cat/dog/${1}", "cat/sheep/dog", "host=h;animal=cat", "x", "injected", uint8(0))
	f.Add("tagged/([^/]*)/dog", "tagged/dog;animal=${1}", "tagged/sheep/dog", "", "", "", uint8(1))
	f.Add("named/(?<animal>[^/]*)", "named/extracted_animal;extracted=${animal}", "named/frog", "animal=cat", "", "extracted", uint8(2))
	f.Add("tagged/([^/]*)/animal", "tagged/${animal}/animal", "tagged/foo/animal", "animal=frog;host=h", "host", "", uint8(3))
	f.Add("(_total)?$", "_count", "foo_total", "", "", "", uint8(0))
	f.Add(`a|\b`, "X${0}", "a b", "", "", "", uint8(0))
	f.Add("input_string_(?<var>.*)_(.*)", "${dimension:var}_${env:E}_${capture:var}_${capture:2};k=${k}", "input_string_ending_ending2", "var=v;k=w", "", "k", uint8(1))
	f.Add("x", "n; a=1 ;;b=2;a=3", "x", "a=0", "", "", uint8(0))
	f.Fuzz(func(t *testing.T, pattern, template, name, dimSpec, remove, inject string, flags uint8) {
		if len(pattern) > 64 || len(template) > 64 || len(name) > 64 || len(dimSpec) > 128 {
			return
		}
		// The reference does not take \Q to the end of a pattern, and knows
		// only a few runs of Unicode digits.
		if strings.Contains(pattern, `\Q`) {
			return
		}
		for _, r := range template {
			if unicode.IsDigit(r) && refDigit(r) < 0 {
				return
			}
		}
		if _, err := compileJava(pattern); err != nil {
			return
		}
		sets := []Set{
			{Metrics: []Rule{{Pattern: pattern, Templates: []string{template}}}, Remove: []string{remove}},
			{Inject: []Injection{{Key: inject, Value: "i", Overwrite: flags&1 != 0}}},
		}
		if flags&2 != 0 {
			sets = sets[:1]
		}
		if flags&4 != 0 {
			sets[0].Metrics[0].Templates = append(sets[0].Metrics[0].Templates, "${0}")
		}
		tr, err := Compile(sets, diffEnv)
		if want := refCompile(sets, diffEnv); !errors.Is(err, want) || (err == nil) != (want == nil) {
			t.Fatalf("Compile(%#v): got %v; want %v", sets, err, want)
		}
		m := map[string]string{}
		var ds []sample.Dim
		for _, kv := range strings.Split(dimSpec, ";") {
			k, v, _ := strings.Cut(kv, "=")
			if _, dup := m[k]; dup || kv == "" {
				continue
			}
			m[k] = v
			ds = append(ds, sample.Dim{Key: []byte(k), Value: []byte(v)})
		}
		sample.SortDims(ds)
		if err == nil {
			var s Scratch
			diffOne(t, tr, &s, sets, diffEnv, name, ds, m)
			diffOne(t, tr, &s, sets, diffEnv, name, ds, m) // a used Scratch
		}
		if pattern == "" {
			return
		}
		drops := []DropSet{{MetricPattern: pattern, RemoveDimensions: []string{remove, inject}}}
		d, err := CompileDrops(drops)
		if err != nil {
			t.Fatalf("CompileDrops(%q): %v, but Compile accepted it", pattern, err)
		}
		var got []string
		d.Apply(&Scratch{}, []byte(name), ds, func(n []byte, od []sample.Dim) {
			checkSorted(t, od)
			got = append(got, render(n, od))
		})
		if want := refDrop(drops, name, m); len(got) != 1 || got[0] != want {
			t.Fatalf("drop %q from %q %v: got %q; want [%q]", pattern, name, m, got, want)
		}
	})
}
