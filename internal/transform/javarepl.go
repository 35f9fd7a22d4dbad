package transform

import (
	"fmt"
	"strconv"
)

// Regexp is a java.util.regex pattern run on RE2 (the Java constructs RE2
// lacks or reads otherwise refused, Java's find() loop kept), for MAD's
// MappingSource, whose rules are Matcher.replaceAll with Java replacement
// strings.
type Regexp struct{ jr *javaRegexp }

// CompileJava compiles a Java pattern (errors as TransformingSource's).
func CompileJava(pattern string) (*Regexp, error) {
	jr, err := compileJava(pattern)
	if err != nil {
		return nil, err
	}
	return &Regexp{jr}, nil
}

// Match reports whether b holds a match.
func (r *Regexp) Match(b []byte) bool { return r.jr.re.Match(b) }

// Replacement is a Java replacement string (Matcher.appendReplacement):
// literal text, and groups by number ($1) or name (${name}).
type Replacement struct {
	pieces []replPiece
}

type replPiece struct {
	text  string
	group int // >= 0: a group's text; -1: text
}

// Replacement parses a replacement string as Java's appendReplacement reads
// it for this pattern: "\x" is x; "$" then digits is a group, the first
// digit always, each next one while the number still names a group; "${n}"
// is the group named n. What Java throws on (a "$" followed by neither, a
// trailing "\", a group the pattern does not have) is an error: MAD loses
// every record the rule matches, mad refuses the rule.
func (r *Regexp) Replacement(s string) (*Replacement, error) {
	groups := r.jr.re.NumSubexp()
	var out Replacement
	var text []byte
	flush := func() {
		if len(text) > 0 {
			out.pieces = append(out.pieces, replPiece{text: string(text), group: -1})
			text = nil
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("replacement %q: character to be escaped is missing", s)
			}
			i++
			text = append(text, s[i])
		case '$':
			if i+1 == len(s) {
				return nil, fmt.Errorf("replacement %q: illegal group reference: group index is missing", s)
			}
			var g int
			if s[i+1] == '{' {
				end := i + 2
				for end < len(s) && s[end] != '}' {
					end++
				}
				if end == len(s) {
					return nil, fmt.Errorf("replacement %q: named capturing group is missing trailing '}'", s)
				}
				name := s[i+2 : end]
				if name == "" || !javaGroupName(name) {
					return nil, fmt.Errorf("replacement %q: named capturing group %q: a name is a letter then letters or digits", s, name)
				}
				if g = r.jr.group(name); g < 0 {
					return nil, fmt.Errorf("replacement %q: no group with name {%s}", s, name)
				}
				i = end
			} else {
				if s[i+1] < '0' || s[i+1] > '9' {
					return nil, fmt.Errorf("replacement %q: illegal group reference", s)
				}
				g = int(s[i+1] - '0')
				if g > groups {
					return nil, fmt.Errorf("replacement %q: no group %d (the pattern has %d)", s, g, groups)
				}
				i++
				for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
					next := g*10 + int(s[i+1]-'0')
					if next > groups {
						break
					}
					g = next
					i++
				}
			}
			flush()
			out.pieces = append(out.pieces, replPiece{group: g})
		default:
			text = append(text, c)
		}
	}
	flush()
	return &out, nil
}

// String is the replacement as parsed: text, and $n for groups.
func (p *Replacement) String() string {
	var b []byte
	for _, pc := range p.pieces {
		if pc.group < 0 {
			b = append(b, pc.text...)
		} else {
			b = append(append(b, '$'), strconv.Itoa(pc.group)...)
		}
	}
	return string(b)
}

// ReplaceAll appends to dst what Java's matcher.replaceAll(repl) gives for
// src: every match of Java's find() loop replaced, a group that took no
// part giving nothing. scratch is reused for the match indices; it is
// returned grown.
func (r *Regexp) ReplaceAll(dst, src []byte, repl *Replacement, scratch []int) ([]byte, []int) {
	scratch = r.jr.matches(scratch[:0], src)
	n := 2 * (r.jr.re.NumSubexp() + 1)
	last := 0
	for m := 0; m+n <= len(scratch); m += n {
		loc := scratch[m : m+n]
		dst = append(dst, src[last:loc[0]]...)
		for _, pc := range repl.pieces {
			if pc.group < 0 {
				dst = append(dst, pc.text...)
			} else if s, e := loc[2*pc.group], loc[2*pc.group+1]; s >= 0 {
				dst = append(dst, src[s:e]...)
			}
		}
		last = loc[1]
	}
	return append(dst, src[last:]...), scratch
}
