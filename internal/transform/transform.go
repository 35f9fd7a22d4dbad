package transform

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/gomad/mad/internal/sample"
)

// Rule is one transformMetrics entry: a pattern (Java regex, find():
// unanchored) and its templates.
type Rule struct {
	Pattern   string
	Templates []string
}

// Injection is one injectDimensions entry.
type Injection struct {
	Key, Value string
	Overwrite  bool
}

// Set is one TransformationSet.
type Set struct {
	Metrics []Rule
	Inject  []Injection
	Remove  []string
}

// Transformer applies TransformingSource's sets to a series. It is
// immutable after Compile and safe for concurrent use; each goroutine
// brings its own Scratch.
type Transformer struct {
	sets []set
}

type set struct {
	rules  []rule
	inject []injection
	remove [][]byte
}

type rule struct {
	re     *javaRegexp
	stride int // ints per match: 2·(groups+1)
	tmpls  []template
}

type injection struct {
	dim       sample.Dim
	overwrite bool
}

// Compile checks and compiles sets. Patterns are Java regular expressions
// run by Go's RE2 (see checkJava for what is refused); templates are
// parsed once, so a template MAD would throw on is an error here. env is
// the environment as read when the configuration loads: templates read
// only this snapshot.
func Compile(sets []Set, env map[string]string) (*Transformer, error) {
	if len(sets) == 0 {
		return nil, ErrNoSets
	}
	t := &Transformer{sets: make([]set, len(sets))}
	for i, s := range sets {
		cs := &t.sets[i]
		for _, r := range s.Metrics {
			jr, err := compileJava(r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("transformations[%d].transformMetrics: %w", i, err)
			}
			cr := rule{re: jr, stride: 2 * (jr.re.NumSubexp() + 1)}
			for k, src := range r.Templates {
				tp, err := parseTemplate(src, jr, env)
				if err != nil {
					return nil, fmt.Errorf("transformations[%d].transformMetrics[%q][%d]: %w %q: %v", i, r.Pattern, k, ErrTemplate, src, err)
				}
				cr.tmpls = append(cr.tmpls, tp)
			}
			cs.rules = append(cs.rules, cr)
		}
		for _, inj := range s.Inject {
			if inj.Value == "" {
				return nil, fmt.Errorf("transformations[%d].injectDimensions[%q]: %w", i, inj.Key, ErrEmptyValue)
			}
			cs.inject = append(cs.inject, injection{
				dim:       sample.Dim{Key: []byte(inj.Key), Value: []byte(inj.Value)},
				overwrite: inj.Overwrite,
			})
		}
		for _, k := range s.Remove {
			cs.remove = append(cs.remove, []byte(k))
		}
	}
	return t, nil
}

// Scratch is reusable per-goroutine working memory for Apply (Transformer
// and Dropper): once it has grown to a series' needs, Apply allocates
// nothing but what the regular expressions do. The zero value is ready.
type Scratch struct {
	buf  []byte       // expanded names and their tag tails
	m    []int        // the current rule's matches, Java's find() loop
	exps []expansion  // one per output before dimensions and dedup
	used []int        // indices of input dimensions the expansions used
	dims []sample.Dim // output dimensions, output after output
	outs []output
	excl []bool   // per input dimension: removed from the output at hand
	keys [][]byte // the tag keys of the tail at hand
}

// expansion is one output of one set, before its dimensions: the input
// name (name < 0) or an expanded template (buf[name:nameEnd], and the tag
// tail buf[tail:tailEnd] if it had a ';').
type expansion struct {
	set              int
	name, nameEnd    int
	tail, tailEnd    int
	usedOff, usedEnd int
}

// output is one distinct output: its name as in its expansion and
// dims[dimOff:dimEnd].
type output struct {
	name, nameEnd  int
	dimOff, dimEnd int
}

func (s *Scratch) reset() {
	s.buf = s.buf[:0]
	s.exps = s.exps[:0]
	s.used = s.used[:0]
	s.dims = s.dims[:0]
	s.outs = s.outs[:0]
}

// Apply calls out once per output series of the input series (name, dims),
// as TransformingSource would emit them. dims must be sorted by key with
// unique keys; out receives the output name and dimensions, the dimensions
// sorted by key and unique (ready for sample.AppendKey). Outputs that are
// identical (same name and dimensions) are given once, within a set and
// across sets. The slices passed to out are valid only during the call and
// must not be modified (they may be the Transformer's own).
//
// Each set is applied to the input: for the name, every rule whose pattern
// find()s applies, each of its templates expanded over all the matches
// (RegexAndMapReplacer.replaceAll); a matching rule with no templates gives
// nothing; a set none of whose patterns match keeps the name. An expansion
// with a ';' is the name before it and key=value tags after it. The output
// dimensions are the input's, less those templates used, less the set's
// Remove, then its Inject, then the tags.
//
// If a tag tail is malformed (ErrTagEntry, ErrTagDuplicate), where MAD
// throws and loses the record, Apply calls out for none of the outputs and
// returns that error. Otherwise it returns nil, having called out zero
// times (every set drops the series: its matching rules have no templates)
// or more.
func (t *Transformer) Apply(s *Scratch, name []byte, dims []sample.Dim, out func(name []byte, dims []sample.Dim)) error {
	s.reset()
	// Expand every set's templates first: buf only grows meanwhile, so
	// spans of it are recorded as offsets.
	for si := range t.sets {
		st := &t.sets[si]
		found := false
		for ri := range st.rules {
			r := &st.rules[ri]
			if !r.re.re.Match(name) {
				continue
			}
			found = true
			if len(r.tmpls) == 0 {
				continue // MAD: a pattern mapped to no templates drops the metric
			}
			s.m = r.re.matches(s.m[:0], name)
			for ti := range r.tmpls {
				s.expand(si, r, &r.tmpls[ti], name, dims)
			}
		}
		if !found {
			s.exps = append(s.exps, expansion{set: si, name: -1, tail: -1})
		}
	}
	// Then each expansion's dimensions, dropping repeated outputs.
	for ei := range s.exps {
		e := &s.exps[ei]
		off := len(s.dims)
		s.baseDims(&t.sets[e.set], dims, s.used[e.usedOff:e.usedEnd])
		if e.tail >= 0 {
			if err := s.addTags(off, s.buf[e.tail:e.tailEnd]); err != nil {
				return err
			}
		}
		o := output{name: e.name, nameEnd: e.nameEnd, dimOff: off, dimEnd: len(s.dims)}
		if s.seen(o, name) {
			s.dims = s.dims[:off]
			continue
		}
		s.outs = append(s.outs, o)
	}
	for _, o := range s.outs {
		out(s.nameOf(o, name), s.dims[o.dimOff:o.dimEnd])
	}
	return nil
}

// expand appends to buf the expansion of tp over the matches s.m of rule r
// in name, records the dimensions it used, and the expansion.
func (s *Scratch) expand(si int, r *rule, tp *template, name []byte, dims []sample.Dim) {
	e := expansion{set: si, name: len(s.buf), tail: -1, usedOff: len(s.used)}
	last := 0
	for i := 0; i+r.stride <= len(s.m); i += r.stride {
		m := s.m[i : i+r.stride]
		s.buf = append(s.buf, name[last:m[0]]...)
		last = m[1]
		for pi := range tp.pieces {
			p := &tp.pieces[pi]
			switch p.kind {
			case pLit:
				s.buf = append(s.buf, p.lit...)
			case pGroup:
				if a, b := m[2*p.group], m[2*p.group+1]; a >= 0 {
					s.buf = append(s.buf, name[a:b]...)
				}
			case pDim, pVar:
				if j := findDim(dims, p.key); j >= 0 {
					s.buf = append(s.buf, dims[j].Value...)
					s.used = append(s.used, j)
				} else {
					s.buf = append(s.buf, p.lit...)
				}
			}
		}
	}
	// The text after the last match (MAD drops it when it is exactly one
	// character: an off-by-one mad does not reproduce).
	s.buf = append(s.buf, name[last:]...)
	e.nameEnd = len(s.buf)
	if semi := bytes.IndexByte(s.buf[e.name:], ';'); semi >= 0 {
		e.tail, e.tailEnd = e.name+semi+1, e.nameEnd
		e.nameEnd = e.name + semi
	}
	e.usedEnd = len(s.used)
	s.exps = append(s.exps, e)
}

// baseDims appends to s.dims the input dimensions less used and less the
// set's Remove, then applies its Inject.
func (s *Scratch) baseDims(st *set, dims []sample.Dim, used []int) {
	off := len(s.dims)
	if len(used) == 0 && len(st.remove) == 0 {
		s.dims = append(s.dims, dims...)
	} else {
		s.excl = slices.Grow(s.excl[:0], len(dims))[:len(dims)]
		clear(s.excl)
		for _, j := range used {
			s.excl[j] = true
		}
		for _, k := range st.remove {
			if j := findDim(dims, k); j >= 0 {
				s.excl[j] = true
			}
		}
		for j := range dims {
			if !s.excl[j] {
				s.dims = append(s.dims, dims[j])
			}
		}
	}
	for _, inj := range st.inject {
		s.upsert(off, inj.dim, inj.overwrite)
	}
}

// upsert puts d into the sorted dimensions s.dims[off:]: added if its key
// is absent, its value replacing the present one if overwrite.
func (s *Scratch) upsert(off int, d sample.Dim, overwrite bool) {
	seg := s.dims[off:]
	j, found := slices.BinarySearchFunc(seg, d.Key, cmpKey)
	if found {
		if overwrite {
			seg[j].Value = d.Value
		}
		return
	}
	s.dims = slices.Insert(s.dims, off+j, d)
}

// seen reports whether an output with o's name and dimensions is already
// in s.outs.
func (s *Scratch) seen(o output, name []byte) bool {
	n, d := s.nameOf(o, name), s.dims[o.dimOff:o.dimEnd]
	for _, p := range s.outs {
		if bytes.Equal(s.nameOf(p, name), n) && slices.EqualFunc(s.dims[p.dimOff:p.dimEnd], d, dimEqual) {
			return true
		}
	}
	return false
}

func (s *Scratch) nameOf(o output, name []byte) []byte {
	if o.name < 0 {
		return name
	}
	return s.buf[o.name:o.nameEnd]
}

// findDim returns the index of the dimension keyed key in the sorted dims,
// or -1.
func findDim(dims []sample.Dim, key []byte) int {
	if j, ok := slices.BinarySearchFunc(dims, key, cmpKey); ok {
		return j
	}
	return -1
}

func cmpKey(d sample.Dim, key []byte) int { return bytes.Compare(d.Key, key) }

func dimEqual(a, b sample.Dim) bool {
	return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
}
