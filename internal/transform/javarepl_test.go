package transform

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// refJavaAppend is java.util.regex.Matcher.appendExpandedReplacement, read
// character by character as Java reads it, once a match (m): it appends to
// out what replacement r gives for the match, or returns the error Java
// throws. Java parses the replacement at every match, so it throws only when
// something matches; the errors depend on r and the pattern's groups, never
// on the match.
func refJavaAppend(m *refMatcher, r string, out *strings.Builder) error {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isAlnum := func(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for cursor := 0; cursor < len(r); {
		c := r[cursor]
		switch c {
		case '\\':
			cursor++
			if cursor == len(r) {
				return errors.New("character to be escaped is missing")
			}
			out.WriteByte(r[cursor])
			cursor++
		case '$':
			cursor++
			if cursor == len(r) {
				return errors.New("Illegal group reference: group index is missing")
			}
			var ref int
			if r[cursor] == '{' {
				cursor++
				start := cursor
				for cursor < len(r) && isAlnum(r[cursor]) {
					cursor++
				}
				name := r[start:cursor]
				switch {
				case name == "":
					return errors.New("named capturing group has 0 length name")
				case cursor == len(r) || r[cursor] != '}':
					return errors.New("named capturing group is missing trailing '}'")
				case isDigit(name[0]):
					return errors.New("capturing group name starts with digit character")
				}
				ref = -1
				for i, n := range m.names {
					if i > 0 && n == name {
						ref = i
					}
				}
				if ref < 0 {
					return errors.New("No group with name {" + name + "}")
				}
				cursor++
			} else {
				if !isDigit(r[cursor]) {
					return errors.New("Illegal group reference")
				}
				ref = int(r[cursor] - '0')
				cursor++
				for cursor < len(r) && isDigit(r[cursor]) {
					next := ref*10 + int(r[cursor]-'0')
					if m.groupCount() < next {
						break
					}
					ref = next
					cursor++
				}
			}
			if ref > m.groupCount() {
				return errors.New("No group") // Matcher.start(int) throws IndexOutOfBoundsException
			}
			if m.groups[2*ref] >= 0 {
				out.WriteString(m.input[m.groups[2*ref]:m.groups[2*ref+1]])
			}
		default:
			out.WriteByte(c)
			cursor++
		}
	}
	return nil
}

// refJavaReplaceAll is Matcher.replaceAll(r): the input unchanged if nothing
// matches, else every match of the find() loop replaced.
func refJavaReplaceAll(pattern, input, r string, names []string) (string, error) {
	ms := refFind(pattern, input)
	if len(ms) == 0 {
		return input, nil
	}
	var b strings.Builder
	last := 0
	for _, g := range ms {
		b.WriteString(input[last:g[0]])
		if err := refJavaAppend(&refMatcher{input: input, groups: g, names: names}, r, &b); err != nil {
			return "", err
		}
		last = g[1]
	}
	b.WriteString(input[last:])
	return b.String(), nil
}

// FuzzJavaReplaceAll: MappingSource's replacement (Regexp.Replacement, then
// ReplaceAll) against the reference above on a fuzzed pattern, replacement
// string and input. A replacement Java throws on is refused at load (Java
// throws on the first record a rule matches), and refused only then.
func FuzzJavaReplaceAll(f *testing.F) {
	for _, s := range [][3]string{
		{`(.*)`, `p.$1`, "abc"},
		{`.*$`, `X`, "abc"},
		{`^(?<animal>[^/]*)/x`, `${animal}.y`, "cat/x"},
		{`^a(\d)`, `n$10`, "a7"},
		{`^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)$`, `$11-$1`, "abcdefghijk"},
		{`b`, `\\x\$`, "abc"},
		{`^(a)?b`, `[$1]`, "b"},
		{`a`, `$x`, "a"},
		{`a`, `b\`, "a"},
		{`(a)`, `$2`, "a"},
		{`(?<n1>a)`, `${n1}${1n}`, "aa"},
		{`a|\b`, `<$0>`, "a b"},
		{`x*`, `-`, "héllo"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, pattern, replacement, input string) {
		if len(pattern) > 48 || len(replacement) > 48 || len(input) > 64 || strings.Contains(pattern, `\Q`) {
			return
		}
		re, err := CompileJava(pattern)
		if err != nil {
			return
		}
		// The reference matches with Go's regexp: patterns Java and RE2
		// read alike.
		goRE, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		names := goRE.SubexpNames()
		repl, perr := re.Replacement(replacement)
		// Java's errors do not depend on the match: try the reference on
		// a match where no group took part.
		none := &refMatcher{groups: make([]int, 2*(goRE.NumSubexp()+1)), names: names}
		for i := range none.groups {
			none.groups[i] = -1
		}
		rerr := refJavaAppend(none, replacement, &strings.Builder{})
		if (perr == nil) != (rerr == nil) {
			t.Fatalf("pattern %q, replacement %q: Replacement gives %v; Java %v", pattern, replacement, perr, rerr)
		}
		if perr != nil {
			return
		}
		want, err := refJavaReplaceAll(pattern, input, replacement, names)
		if err != nil {
			t.Fatalf("pattern %q, replacement %q on %q: Java throws %v where the parse did not", pattern, replacement, input, err)
		}
		got, _ := re.ReplaceAll(nil, []byte(input), repl, nil)
		if string(got) != want {
			t.Fatalf("pattern %q, replacement %q on %q: %q; Java %q", pattern, replacement, input, got, want)
		}
		// Appending: dst kept, scratch reused.
		got2, _ := re.ReplaceAll([]byte("pre"), []byte(input), repl, make([]int, 3))
		if string(got2) != "pre"+want {
			t.Fatalf("pattern %q, replacement %q on %q after %q: %q", pattern, replacement, input, "pre", got2)
		}
	})
}
