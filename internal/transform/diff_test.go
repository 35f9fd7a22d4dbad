package transform

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/testseed"
)

// The differential test: random sets of random rules, templates,
// injections and removals, applied to random series by Apply and by the
// reference (ref_test.go).

var diffEnv = map[string]string{"E": "env-e", "a": "env-a", "5": "env-5", "k": "v;x=y"}

// gen draws the random material.
type gen struct{ r *rand.Rand }

func (g gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// pattern draws a Java pattern RE2 runs with the same meaning.
func (g gen) pattern(depth int) string {
	var b strings.Builder
	for range 1 + g.r.IntN(3) {
		switch {
		case depth > 0 && g.r.IntN(4) == 0:
			open := g.pick("(", "(", "(?:", "(?<g>", "(?<h>")
			b.WriteString(open + g.pattern(depth-1) + ")" + g.quant())
		case g.r.IntN(6) == 0:
			b.WriteString(g.pick("^", "$", `\b`, `\B`, "(?m:^)", "(?m:$)"))
		default:
			b.WriteString(g.pick("a", "b", "é", "/", `\.`, ".", "[ab]", "[^/]", "x", "ab", "\n") + g.quant())
		}
	}
	if g.r.IntN(5) == 0 {
		b.WriteString("|" + g.pattern(depth-1))
	}
	return b.String()
}

// javaPattern draws a pattern with each group name at most once.
func (g gen) javaPattern() string {
	for {
		p := g.pattern(2)
		if strings.Count(p, "(?<g>") <= 1 && strings.Count(p, "(?<h>") <= 1 {
			return p
		}
	}
}

func (g gen) quant() string {
	return g.pick("", "", "", "*", "+", "?", "{1,2}", "*?", "??")
}

func (g gen) template() string {
	var b strings.Builder
	for range g.r.IntN(5) {
		if g.r.IntN(40) == 0 {
			b.WriteString(g.pick("$", "${", `\q`, "${foo:x}", "$1", "${}", `\`, "${capture:}", "${99999999999}"))
			continue
		}
		b.WriteString(g.pick("X", "/", ";", "=", "k", " ", "a", `\\`, `\$`, `\{`, `\}`, "}", "{",
			"${0}", "${1}", "${2}", "${g}", "${h}", "${capture:1}", "${capture:g}", "${capture:zz}", "${dimension:a}", "${dimension:zz}",
			"${env:E}", "${env:zz}", "${a}", "${b}", "${E}", "${5}", "${٥}", "${:a}", "${k}", ";t=${1}", ";a=1"))
	}
	return b.String()
}

func (g gen) sets() []Set {
	keys := []string{"a", "b", "c", "5", "E", "g", "k", "zz"}
	sets := make([]Set, 1+g.r.IntN(3))
	for i := range sets {
		s := &sets[i]
		for range g.r.IntN(4) {
			r := Rule{Pattern: g.javaPattern()}
			for range g.r.IntN(3) {
				r.Templates = append(r.Templates, g.template())
			}
			s.Metrics = append(s.Metrics, r)
		}
		for range g.r.IntN(3) {
			v := g.pick("i", "j")
			if g.r.IntN(50) == 0 {
				v = ""
			}
			s.Inject = append(s.Inject, Injection{Key: g.pick(keys...), Value: v, Overwrite: g.r.IntN(2) == 0})
		}
		for range g.r.IntN(3) {
			s.Remove = append(s.Remove, g.pick(keys...))
		}
	}
	return sets
}

func (g gen) name() string {
	var b strings.Builder
	for range g.r.IntN(10) {
		b.WriteString(g.pick("a", "b", "/", "é", "x", ".", "k", "=", ";", " ", "\n", "ab"))
	}
	return b.String()
}

func (g gen) dims() ([]sample.Dim, map[string]string) {
	m := map[string]string{}
	for range g.r.IntN(5) {
		m[g.pick("a", "b", "c", "5", "E", "g", "k", "zz")] = g.pick("1", "v", "é", "", "x;y", "k=v", "1")
	}
	var ds []sample.Dim
	for k, v := range m {
		ds = append(ds, sample.Dim{Key: []byte(k), Value: []byte(v)})
	}
	sample.SortDims(ds)
	return ds, m
}

// refCompile is the configuration error MAD would meet (at build, or at
// the first match of a template), nil if none.
func refCompile(sets []Set, env map[string]string) error {
	if len(sets) == 0 {
		return ErrNoSets
	}
	for _, s := range sets {
		for _, r := range s.Metrics {
			for _, tp := range r.Templates {
				if err := refValidate(r.Pattern, tp, env); err != nil {
					return ErrTemplate
				}
			}
		}
		for _, inj := range s.Inject {
			if inj.Value == "" {
				return ErrEmptyValue
			}
		}
	}
	return nil
}

// diffOne compares Apply with the reference on one series.
func diffOne(t testing.TB, tr *Transformer, s *Scratch, sets []Set, env map[string]string, name string, ds []sample.Dim, m map[string]string) {
	t.Helper()
	got, err := collect(t, tr, s, name, ds)
	want, wantErr := refApply(sets, env, name, m)
	switch {
	case wantErr == nil && err == nil:
		if !slices.Equal(got, want) {
			t.Fatalf("sets %#v\nname %q dims %v:\ngot  %q\nwant %q", sets, name, m, got, want)
		}
	case errors.Is(wantErr, errRefEntry) && errors.Is(err, ErrTagEntry),
		errors.Is(wantErr, errRefDuplicate) && errors.Is(err, ErrTagDuplicate):
		if got != nil {
			t.Fatalf("sets %#v\nname %q dims %v: error %v with outputs %q", sets, name, m, err, got)
		}
	default:
		t.Fatalf("sets %#v\nname %q dims %v:\ngot  %q, %v\nwant %q, %v", sets, name, m, got, err, want, wantErr)
	}
}

func TestDifferential(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(testseed.Seed(t), 0x7ea5))}
	rounds := 3000
	if testing.Short() || raceEnabled {
		rounds = 300
	}
	var s Scratch
	compiled := 0
	for range rounds {
		sets := g.sets()
		tr, err := Compile(sets, diffEnv)
		if want := refCompile(sets, diffEnv); !errors.Is(err, want) || (err == nil) != (want == nil) {
			t.Fatalf("Compile(%#v): got %v; want %v", sets, err, want)
		}
		if err != nil {
			continue
		}
		compiled++
		for range 8 {
			name := g.name()
			ds, m := g.dims()
			diffOne(t, tr, &s, sets, diffEnv, name, ds, m)
		}
	}
	if compiled < rounds/2 {
		t.Fatalf("only %d of %d configurations compiled: the generator is off", compiled, rounds)
	}
}

func TestDifferentialDropper(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(testseed.Seed(t), 0xd209))}
	var s Scratch
	for range 1000 {
		var sets []DropSet
		for range 1 + g.r.IntN(3) {
			ds := DropSet{MetricPattern: g.javaPattern()}
			for range g.r.IntN(3) {
				ds.RemoveDimensions = append(ds.RemoveDimensions, g.pick("a", "b", "c", "5", "E", "g", "k", "zz"))
			}
			sets = append(sets, ds)
		}
		d, err := CompileDrops(sets)
		if err != nil {
			t.Fatalf("CompileDrops(%#v): %v", sets, err)
		}
		for range 8 {
			name := g.name()
			ds, m := g.dims()
			var got []string
			d.Apply(&s, []byte(name), ds, func(n []byte, od []sample.Dim) {
				checkSorted(t, od)
				got = append(got, render(n, od))
			})
			if want := refDrop(sets, name, m); len(got) != 1 || got[0] != want {
				t.Fatalf("drop sets %#v, name %q dims %v: got %q; want [%q]", sets, name, m, got, want)
			}
		}
	}
}
