package transform

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/gomad/mad/internal/sample"
)

// DropSet is one TagDroppingSource dropSet.
type DropSet struct {
	MetricPattern    string // Java regex, matches(): the whole name
	RemoveDimensions []string
}

// Dropper is TagDroppingSource: immutable after CompileDrops, safe for
// concurrent use.
type Dropper struct {
	sets []dropSet
}

type dropSet struct {
	full   *regexp.Regexp // \A(?:pattern)\z
	remove [][]byte
}

// CompileDrops checks and compiles sets: a non-empty list (as MAD), each
// pattern non-empty and a Java regex mad can run (see Compile).
func CompileDrops(sets []DropSet) (*Dropper, error) {
	if len(sets) == 0 {
		return nil, ErrNoDropSets
	}
	d := &Dropper{sets: make([]dropSet, len(sets))}
	for i, ds := range sets {
		if ds.MetricPattern == "" {
			return nil, fmt.Errorf("dropSets[%d].metricPattern: %w", i, ErrEmptyPattern)
		}
		if _, err := compileJava(ds.MetricPattern); err != nil {
			return nil, fmt.Errorf("dropSets[%d].metricPattern: %w", i, err)
		}
		full, err := regexp.Compile(`\A(?:` + closeQuote(ds.MetricPattern) + `)\z`)
		if err != nil {
			return nil, fmt.Errorf("dropSets[%d].metricPattern: %w %q: %v", i, ErrPattern, ds.MetricPattern, err)
		}
		d.sets[i].full = full
		for _, k := range ds.RemoveDimensions {
			d.sets[i].remove = append(d.sets[i].remove, []byte(k))
		}
	}
	return d, nil
}

// Apply calls out exactly once, with name and dims less the union of the
// RemoveDimensions of every set whose pattern matches the whole name. dims
// must be sorted by key with unique keys; so are the dimensions out
// receives, valid only during the call (and not to be modified). It
// allocates nothing once s has grown.
func (d *Dropper) Apply(s *Scratch, name []byte, dims []sample.Dim, out func(name []byte, dims []sample.Dim)) {
	s.excl = s.excl[:0]
	for i := range d.sets {
		ds := &d.sets[i]
		if len(ds.remove) == 0 || !ds.full.Match(name) {
			continue
		}
		for _, k := range ds.remove {
			j := findDim(dims, k)
			if j < 0 {
				continue
			}
			if len(s.excl) == 0 {
				s.excl = slices.Grow(s.excl, len(dims))[:len(dims)]
				clear(s.excl)
			}
			s.excl[j] = true
		}
	}
	if len(s.excl) == 0 {
		out(name, dims)
		return
	}
	s.dims = s.dims[:0]
	for j := range dims {
		if !s.excl[j] {
			s.dims = append(s.dims, dims[j])
		}
	}
	out(name, s.dims)
}
