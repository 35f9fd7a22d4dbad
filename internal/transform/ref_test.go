package transform

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The reference: a slow TransformingSource written from MAD's Java code
// (mad-experimental's TransformingSource and RegexAndMapReplacer) with
// strings, maps and straightforward loops, sharing nothing with the
// package but its input types. It parses each template at every match, as
// MAD does; it finds matches with Java's find() loop, trying each start
// position in turn with a regexp anchored there; it keeps dimensions in a
// map. Where mad decides against MAD (doc.go), it follows mad: the text
// after the last match is always kept, a group that took no part is "",
// outputs are deduplicated across sets, and it is told the environment.

var errRefTemplate = errors.New("reference: template throws")

// refMatcher is Java's Matcher over one input: its current match.
type refMatcher struct {
	input  string
	groups []int // absolute, -1 when a group took no part
	names  []string
}

func (m *refMatcher) groupCount() int { return len(m.groups)/2 - 1 }

func (m *refMatcher) group(i int) string {
	if m.groups[2*i] < 0 {
		return "" // mad's choice; Java's StringBuilder would write "null"
	}
	return m.input[m.groups[2*i]:m.groups[2*i+1]]
}

// groupNamed is Matcher.group(String): ok false where Java throws
// IllegalArgumentException (no group of that name).
func (m *refMatcher) groupNamed(name string) (string, bool) {
	for i, n := range m.names {
		if i > 0 && n == name {
			return m.group(i), true
		}
	}
	return "", false
}

// refAnchored caches, per pattern and start, the pattern anchored to start
// after exactly that many characters: `\A(?s:.{n})(?:pattern)`.
var refAnchored = map[string]*regexp.Regexp{}

// refSearch is Matcher.search(from): the first start at or after from where
// the pattern matches, and that match.
func refSearch(pattern, s string, from int) []int {
	for q := from; q <= len(s); {
		n := utf8.RuneCountInString(s[:q])
		key := strconv.Itoa(n) + "\x00" + pattern
		re, ok := refAnchored[key]
		if !ok {
			if len(refAnchored) > 1<<16 { // bounded, for long fuzzing
				clear(refAnchored)
			}
			re = regexp.MustCompile(`\A(?s:.{` + strconv.Itoa(n) + `})(?:` + pattern + `)`)
			refAnchored[key] = re
		}
		if m := re.FindStringSubmatchIndex(s); m != nil {
			m[0] = q
			return m
		}
		if q == len(s) {
			break
		}
		_, w := utf8.DecodeRuneInString(s[q:])
		q += w
	}
	return nil
}

// refFind is the list of matches of Java's `while (matcher.find())`:
// find() searches from the end of the last match, or one character on if
// that match was empty.
func refFind(pattern, s string) [][]int {
	var all [][]int
	first, last := -1, 0
	for {
		from := last
		if from == first {
			if from >= len(s) {
				break
			}
			_, w := utf8.DecodeRuneInString(s[from:])
			from += w
		}
		m := refSearch(pattern, s, from)
		if m == nil {
			break
		}
		all = append(all, m)
		first, last = m[0], m[1]
	}
	return all
}

// refReplaceAll is RegexAndMapReplacer.replaceAll: the replacement and the
// variables used, by map name.
func refReplaceAll(pattern, input, replace string, names []string, vars []refVars) (string, map[string][]string, error) {
	used := map[string][]string{}
	ms := refFind(pattern, input)
	if len(ms) == 0 {
		return input, used, nil
	}
	var b strings.Builder
	last := 0
	for _, g := range ms {
		b.WriteString(input[last:g[0]])
		last = g[1]
		m := &refMatcher{input: input, groups: g, names: names}
		if err := refAppendReplacement(m, replace, &b, vars, used); err != nil {
			return "", nil, err
		}
	}
	b.WriteString(input[last:]) // MAD: only if last < len(input)-1
	return b.String(), used, nil
}

// refVars is one named variable map (LinkedHashMap order: dimension, env).
type refVars struct {
	name string
	vars map[string]string
}

func refAppendReplacement(m *refMatcher, r string, out *strings.Builder, vars []refVars, used map[string][]string) error {
	x := -1
	for x < len(r)-1 {
		x++
		c := r[x]
		if c == '\\' {
			x++
			e, err := refEscaped(r, x)
			if err != nil {
				return err
			}
			out.WriteByte(e)
		} else if c == '$' {
			n, err := refWriteToken(r, x, out, m, vars, used)
			if err != nil {
				return err
			}
			x += n
		} else {
			out.WriteByte(c)
		}
	}
	return nil
}

func refEscaped(r string, x int) (byte, error) {
	if x >= len(r) {
		return 0, fmt.Errorf("%w: trailing backslash", errRefTemplate)
	}
	switch r[x] {
	case '\\', '$', '{', '}':
		return r[x], nil
	}
	return 0, fmt.Errorf("%w: bad escape", errRefTemplate)
}

// refWriteToken is writeReplacementToken: it returns how far past offset
// the token went, less one.
func refWriteToken(r string, offset int, out *strings.Builder, m *refMatcher, vars []refVars, used map[string][]string) (int, error) {
	x := offset + 1
	if x >= len(r) { // charAt throws
		return 0, fmt.Errorf("%w: '$' at end", errRefTemplate)
	}
	c := r[x]
	if c != '{' {
		return 0, fmt.Errorf("%w: no '{'", errRefTemplate)
	}
	x++
	if x >= len(r) {
		return 0, fmt.Errorf("%w: '${' at end", errRefTemplate)
	}
	c = r[x]
	var tok strings.Builder
	for x < len(r)-1 && c != '}' {
		if c == '\\' {
			x++
			e, err := refEscaped(r, x)
			if err != nil {
				return 0, err
			}
			tok.WriteByte(e)
		} else {
			tok.WriteByte(c)
		}
		x++
		if x >= len(r) {
			return 0, fmt.Errorf("%w: unterminated", errRefTemplate)
		}
		c = r[x]
	}
	if c != '}' {
		return 0, fmt.Errorf("%w: expected '}'", errRefTemplate)
	}
	x++
	v, err := refGetReplacement(m, tok.String(), vars, used)
	if err != nil {
		return 0, err
	}
	out.WriteString(v)
	return x - offset - 1, nil
}

func refGetReplacement(m *refMatcher, tok string, vars []refVars, used map[string][]string) (string, error) {
	i := strings.Index(tok, ":")
	if i == len(tok)-1 {
		return "", fmt.Errorf("%w: prefix without name", errRefTemplate)
	}
	prefix, name := "", tok
	if i != -1 {
		prefix, name = tok[:i], tok[i+1:]
	}
	if prefix == "" {
		if refIsNumeric(name) {
			g, err := refParseInt(name)
			if err != nil {
				return "", err
			}
			if g >= 0 && g <= m.groupCount() {
				return m.group(g), nil
			}
		}
		if v, ok := m.groupNamed(name); ok {
			return v, nil
		}
		for _, vs := range vars {
			if v, ok := vs.vars[name]; ok {
				used[vs.name] = append(used[vs.name], name)
				return v, nil
			}
		}
		return "", nil
	}
	if prefix == "capture" {
		if refIsNumeric(name) {
			g, err := refParseInt(name)
			if err != nil {
				return "", err
			}
			if g >= 0 && g <= m.groupCount() {
				return m.group(g), nil
			}
		}
		v, _ := m.groupNamed(name)
		return v, nil
	}
	used[prefix] = append(used[prefix], name)
	for _, vs := range vars {
		if vs.name == prefix {
			return vs.vars[name], nil
		}
	}
	return "", fmt.Errorf("%w: no map for prefix %q", errRefTemplate, prefix)
}

// refIsNumeric is Java's loop of Character.isDigit over the chars; the
// digits of the Basic Multilingual Plane are listed by name of their zero.
func refIsNumeric(s string) bool {
	for _, r := range s {
		if refDigit(r) < 0 {
			return false
		}
	}
	return true
}

// refZeros are the zeros of the decimal digit runs the tests use.
var refZeros = []rune{'0', '٠', '۰', '०', '০', '０'}

func refDigit(r rune) int {
	for _, z := range refZeros {
		if r >= z && r <= z+9 {
			return int(r - z)
		}
	}
	return -1
}

// refParseInt is Integer.parseInt over digits.
func refParseInt(s string) (int, error) {
	var n int64
	for _, r := range s {
		n = n*10 + int64(refDigit(r))
		if n > 2147483647 {
			return 0, fmt.Errorf("%w: NumberFormatException", errRefTemplate)
		}
	}
	return int(n), nil
}

// refGuavaWhitespace is Guava's CharMatcher.whitespace() table.
const refGuavaWhitespace = "\u2002\u3000\r\u0085\u200A\u2005\u2000\u3000\u2029\u000B\u3000\u2008\u2003\u205F\u3000\u1680\u0009\u0020\u2006\u2001\u202F\u00A0\u000C\u2009\u3000\u2004\u3000\u3000\u2028\n\u2007\u3000"

var (
	errRefEntry     = errors.New("reference: Chunk is not a valid entry")
	errRefDuplicate = errors.New("reference: Duplicate key")
)

// refSplitTags is TAG_SPLITTER.split: Guava's MapSplitter.
func refSplitTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimFunc(entry, func(r rune) bool { return strings.ContainsRune(refGuavaWhitespace, r) })
		if entry == "" {
			continue
		}
		fields := strings.Split(entry, "=")
		if _, dup := tags[fields[0]]; dup {
			return nil, errRefDuplicate
		}
		if len(fields) != 2 {
			return nil, errRefEntry
		}
		tags[fields[0]] = fields[1]
	}
	return tags, nil
}

// refApply is TransformingObserver.notify for one metric, with mad's fixes:
// the outputs, rendered name{k=v,...}, each once, in order.
func refApply(sets []Set, env map[string]string, name string, dims map[string]string) ([]string, error) {
	vars := []refVars{{"dimension", dims}, {"env", env}}
	var outs []string
	emit := func(n string, d map[string]string) {
		o := refRender(n, d)
		if !slices.Contains(outs, o) {
			outs = append(outs, o)
		}
	}
	for _, set := range sets {
		modified := func(add map[string]string, remove []string) map[string]string {
			final := map[string]string{}
			for k, v := range dims {
				final[k] = v
			}
			for _, k := range remove {
				delete(final, k)
			}
			for _, k := range set.Remove {
				delete(final, k)
			}
			for _, inj := range set.Inject {
				if _, ok := final[inj.Key]; inj.Overwrite || !ok {
					final[inj.Key] = inj.Value
				}
			}
			for k, v := range add {
				final[k] = v
			}
			return final
		}
		found := false
		for _, rule := range set.Metrics {
			if len(refFind(rule.Pattern, name)) == 0 {
				continue
			}
			names := regexp.MustCompile(rule.Pattern).SubexpNames()
			for _, tp := range rule.Templates {
				rep, used, err := refReplaceAll(rule.Pattern, name, tp, names, vars)
				if err != nil {
					return nil, err
				}
				semi := strings.Index(rep, ";")
				if semi < 0 {
					emit(rep, modified(nil, used["dimension"]))
					continue
				}
				tags, err := refSplitTags(rep[semi+1:])
				if err != nil {
					return nil, err
				}
				emit(rep[:semi], modified(tags, used["dimension"]))
			}
			found = true
		}
		if !found {
			emit(name, modified(nil, nil))
		}
	}
	return outs, nil
}

// refValidate reports whether MAD would throw on template when a metric
// matches pattern (the grammar errors do not depend on the match).
func refValidate(pattern, template string, env map[string]string) error {
	re := regexp.MustCompile(pattern)
	m := &refMatcher{input: "", groups: make([]int, 2*(re.NumSubexp()+1)), names: re.SubexpNames()}
	var b strings.Builder
	return refAppendReplacement(m, template, &b, []refVars{{"dimension", nil}, {"env", env}}, map[string][]string{})
}

func refRender(name string, dims map[string]string) string {
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + dims[k])
	}
	b.WriteByte('}')
	return b.String()
}

// refDrop is TagDroppingSource for one metric.
func refDrop(sets []DropSet, name string, dims map[string]string) string {
	final := map[string]string{}
	for k, v := range dims {
		final[k] = v
	}
	for _, d := range sets {
		if regexp.MustCompile(`^(?:` + d.MetricPattern + `)$`).MatchString(name) {
			for _, k := range d.RemoveDimensions {
				delete(final, k)
			}
		}
	}
	return refRender(name, final)
}
