//go:build !race

package transform

import (
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/gomad/mad/internal/sample"
)

// TestApplyAllocs: once its Scratch has grown, Apply allocates nothing of
// its own: a series no pattern matches costs no allocation, and one that
// matches costs exactly what Go's regexp allocates to find the matches.
func TestApplyAllocs(t *testing.T) {
	sets := []Set{
		{
			Metrics: []Rule{
				{Pattern: "cat/([^/]*)/dog", Templates: []string{"cat/dog", "cat/dog/${1}"}},
				{Pattern: "tagged/([^/]*)/dog", Templates: []string{"tagged/dog;animal=${1}; b = ${dimension:host} "}},
				{Pattern: "named/(?<animal>[^/]*)", Templates: []string{"named/${animal};src=${host}"}},
			},
			Inject: []Injection{{Key: "cluster", Value: "c1", Overwrite: false}, {Key: "service", Value: "s1", Overwrite: true}},
			Remove: []string{"pid"},
		},
		{Metrics: []Rule{{Pattern: "(_total)?$", Templates: []string{"_count"}}}},
	}
	tr := mustCompile(t, sets, map[string]string{"HOME": "/root"})
	in := dims("host", "h1", "pid", "42", "region", "r")
	cases := []struct {
		name string
	}{
		{name: "no/match/at/all"}, // (_total)?$ matches, empty, at the end
		{name: "cat/sheep/dog"},
		{name: "tagged/sheep/dog"},
		{name: "named/frog"},
		{name: "requests_total"},
	}
	var s Scratch
	sink := 0
	out := func(n []byte, ds []sample.Dim) { sink += len(n) + len(ds) }
	for _, c := range cases {
		name := []byte(c.name)
		// What Go's regexp allocates for the patterns that match.
		var want float64
		for _, r := range tr.sets {
			for _, ru := range r.rules {
				if !ru.re.re.Match(name) {
					continue
				}
				re := ru.re.re
				want += testing.AllocsPerRun(50, func() { re.FindAllSubmatchIndex(name, -1) })
				if ru.re.after == nil {
					continue
				}
				all := re.FindAllSubmatchIndex(name, -1)
				for i, m := range all {
					if p := m[1]; m[0] != p && (i+1 == len(all) || all[i+1][0] != p) {
						_, w := utf8.DecodeLastRune(name[:p])
						after, at := ru.re.after, name[p-w:]
						want += testing.AllocsPerRun(50, func() { after.FindIndex(at) })
					}
				}
			}
		}
		if err := tr.Apply(&s, name, in, out); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := testing.AllocsPerRun(100, func() {
			if err := tr.Apply(&s, name, in, out); err != nil {
				t.Fatal(err)
			}
		})
		if got != want {
			t.Errorf("%s: got %v allocations per Apply; want %v, what regexp allocates", c.name, got, want)
		}
		t.Logf("%s: %v allocations per Apply (all regexp's)", c.name, got)
	}
	if sink == 0 {
		t.Fatal("no output")
	}

	// Sets without patterns: nothing at all.
	plain := mustCompile(t, []Set{{Inject: []Injection{{Key: "a", Value: "b"}}, Remove: []string{"pid"}}, {}}, nil)
	m := []byte("m")
	plain.Apply(&s, m, in, out)
	if got := testing.AllocsPerRun(100, func() { plain.Apply(&s, m, in, out) }); got != 0 {
		t.Errorf("injection and removal only: got %v allocations per Apply; want 0", got)
	}
	// A pattern that does not match: nothing either.
	miss := mustCompile(t, one("cat/([^/]*)/dog", "x"), nil)
	dogcat := []byte("dog/cat")
	if got := testing.AllocsPerRun(100, func() { miss.Apply(&s, dogcat, in, out) }); got != 0 {
		t.Errorf("no match: got %v allocations per Apply; want 0", got)
	}
	// The regexp allocations doc.go reports: for a pattern like these, two
	// for one match and one more per further match.
	re := regexp.MustCompile("cat/([^/]*)/dog")
	for n, want := range map[string]float64{"cat/a/dog": 2, "cat/a/dogcat/b/dog": 3, "cat/a/dogcat/b/dogcat/c/dog": 4} {
		b := []byte(n)
		if got := testing.AllocsPerRun(50, func() { re.FindAllSubmatchIndex(b, -1) }); got != want {
			t.Errorf("FindAllSubmatchIndex(%q): %v allocations; doc.go says %v", n, got, want)
		}
	}
}

// TestDropAllocs: Dropper.Apply allocates nothing once its Scratch has
// grown, removing or not.
func TestDropAllocs(t *testing.T) {
	d, err := CompileDrops([]DropSet{
		{MetricPattern: "cat/.*", RemoveDimensions: []string{"pid", "host"}},
		{MetricPattern: "dog/.*", RemoveDimensions: []string{"absent"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := dims("host", "h1", "pid", "42", "region", "r")
	var s Scratch
	sink := 0
	out := func(n []byte, ds []sample.Dim) { sink += len(n) + len(ds) }
	for _, name := range []string{"cat/x", "dog/x", "bird"} {
		b := []byte(name)
		d.Apply(&s, b, in, out)
		if got := testing.AllocsPerRun(100, func() { d.Apply(&s, b, in, out) }); got != 0 {
			t.Errorf("%s: got %v allocations per Apply; want 0", name, got)
		}
	}
	if sink == 0 {
		t.Fatal("no output")
	}
}
