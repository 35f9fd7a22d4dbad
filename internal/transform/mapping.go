package transform

import (
	"fmt"

	"github.com/gomad/mad/internal/sample"
)

// MappingRule is one findAndReplace entry of MAD's MappingSource: a Java
// pattern and its replacements (Java replacement strings: $1 for a group).
type MappingRule struct {
	Pattern      string
	Replacements []string
}

// Mapping is MAD's MappingSource (MAD-SPEC §3.5): immutable after
// CompileMapping, safe for concurrent use.
type Mapping struct {
	rules []mappingRule
}

type mappingRule struct {
	re    *Regexp
	repls []*Replacement
}

// CompileMapping compiles findAndReplace, in order: each pattern as Java
// reads it (what RE2 cannot run as Java would is refused), each
// replacement as Java's appendReplacement reads it (what Java throws on,
// for every record the rule matches, is refused).
func CompileMapping(rules []MappingRule) (*Mapping, error) {
	m := &Mapping{rules: make([]mappingRule, len(rules))}
	for i, fr := range rules {
		re, err := CompileJava(fr.Pattern)
		if err != nil {
			return nil, err
		}
		m.rules[i].re = re
		for _, r := range fr.Replacements {
			p, err := re.Replacement(r)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", fr.Pattern, err)
			}
			m.rules[i].repls = append(m.rules[i].repls, p)
		}
	}
	return m, nil
}

// Apply calls out once per metric MAD's MappingSource makes of the series
// (name, dims), with dims unchanged. The name is tried against every
// pattern (Java's find(): unanchored unless the pattern anchors itself);
// each pattern that matches gives, for each of its replacements, the name
// with every match replaced (Java's replaceAll, $n groups; a group that
// took no part gives nothing), and the original name is not given; a
// pattern with no replacements gives nothing. A name no pattern matches is
// given unchanged. A name two replacements give is given twice: MAD merges
// the second metric's samples into the first, so they count twice. The name
// passed to out is valid only during the call. It allocates nothing once s
// has grown but what the regular expressions do.
func (m *Mapping) Apply(s *Scratch, name []byte, dims []sample.Dim, out func(name []byte, dims []sample.Dim)) {
	matched := false
	for i := range m.rules {
		r := &m.rules[i]
		if !r.re.Match(name) {
			continue
		}
		matched = true
		for _, p := range r.repls {
			s.buf, s.m = r.re.ReplaceAll(s.buf[:0], name, p, s.m)
			out(s.buf, dims)
		}
	}
	if !matched {
		out(name, dims)
	}
}
