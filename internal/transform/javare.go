package transform

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// javaRegexp is a pattern written for java.util.regex, compiled with Go's
// RE2 engine after refusing the Java constructs RE2 lacks or reads
// differently.
type javaRegexp struct {
	re *regexp.Regexp
	// after is `\A(?s:.)(?:pattern)`, set when the pattern can match the
	// empty string: Java's find() loop accepts an empty match right after a
	// non-empty one, Go's FindAll skips it (see matches).
	after *regexp.Regexp
	// names[i] is the name of group i ("" if unnamed).
	names []string
}

// compileJava compiles pattern. The error names the pattern and, for a
// Java feature RE2 lacks, the feature.
func compileJava(pattern string) (*javaRegexp, error) {
	if err := checkJava(pattern); err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrPattern, pattern, err)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v (mad runs Java patterns with Go's RE2: no look-around, back-references, possessive quantifiers or atomic groups)", ErrPattern, pattern, err)
	}
	names := re.SubexpNames()
	for i, n := range names {
		for j := 1; j < i && n != ""; j++ {
			if names[j] == n {
				return nil, fmt.Errorf("%w %q: named group %q defined twice (Java refuses it)", ErrPattern, pattern, n)
			}
		}
	}
	jr := &javaRegexp{re: re, names: names}
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrPattern, pattern, err)
	}
	if minLen(parsed) == 0 {
		probe := `\A(?s:.)(?:` + closeQuote(pattern) + `)`
		if jr.after, err = regexp.Compile(probe); err != nil {
			return nil, fmt.Errorf("%w %q: cannot compile its empty-match probe %q: %v", ErrPattern, pattern, probe, err)
		}
	}
	return jr, nil
}

// closeQuote returns pattern with a \E appended if it ends inside \Q...,
// so that more pattern can follow it.
func closeQuote(pattern string) string {
	if quoteOpen(pattern) {
		return pattern + `\E`
	}
	return pattern
}

// quoteOpen reports whether pattern ends inside \Q... (checkJava has
// accepted it).
func quoteOpen(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '\\' || i+1 >= len(p) {
			continue
		}
		if p[i+1] != 'Q' {
			i++
			continue
		}
		end := strings.Index(p[i+2:], `\E`)
		if end < 0 {
			return true
		}
		i += 2 + end + 1
	}
	return false
}

// group returns the index of the group named name, or -1.
func (jr *javaRegexp) group(name string) int {
	for i, n := range jr.names {
		if i > 0 && n == name {
			return i
		}
	}
	return -1
}

// matches appends to dst the matches Java's Matcher.find() loop finds in b,
// 2·(groups+1) ints each (-1 for a group that did not take part), and
// returns dst. Java's loop differs from Go's FindAll in one way: after a
// non-empty match ending at p, Java accepts an empty match at p (both then
// resume one character further on). "baaac".replaceAll("a*", "X") is
// "XbXXcX" in Java and "XbXcX" in Go. Such a match is found with after on
// b[p-w:], w the width of the rune before p: the rune gives the context
// (\b, (?m)^) the match at p sees in b.
//
// FindAllSubmatchIndex allocates: one slice for the list and one per match.
func (jr *javaRegexp) matches(dst []int, b []byte) []int {
	all := jr.re.FindAllSubmatchIndex(b, -1)
	n := 2 * (jr.re.NumSubexp() + 1)
	for i, m := range all {
		dst = append(dst, m...)
		if jr.after == nil || m[0] == m[1] {
			continue
		}
		p := m[1]
		if i+1 < len(all) && all[i+1][0] == p {
			continue // a non-empty match at p: Java finds it too
		}
		_, w := utf8.DecodeLastRune(b[:p])
		if e := jr.after.FindIndex(b[p-w:]); e != nil && e[1] == w {
			// An empty match at p: every group that took part in it is
			// empty, and empty is what a group that did not gives.
			dst = append(dst, p, p)
			for range n - 2 {
				dst = append(dst, -1)
			}
		}
	}
	return dst
}

// minLen is a lower bound of the bytes a match of re spans: 0 when re may
// match the empty string somewhere. Only its zeroness matters.
func minLen(re *syntax.Regexp) int {
	const never = 1 << 30
	switch re.Op {
	case syntax.OpNoMatch:
		return never
	case syntax.OpLiteral:
		return len(re.Rune) // at least a byte a rune (folded runes vary in width)
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return 1
	case syntax.OpCapture:
		return minLen(re.Sub[0])
	case syntax.OpPlus:
		return minLen(re.Sub[0])
	case syntax.OpRepeat:
		return min(re.Min*minLen(re.Sub[0]), never)
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n = min(n+minLen(s), never)
		}
		return n
	case syntax.OpAlternate:
		n := never
		for _, s := range re.Sub {
			n = min(n, minLen(s))
		}
		return n
	default: // empty match, assertions, star, quest
		return 0
	}
}

// checkJava refuses the constructs of java.util.regex that Go's RE2 lacks
// and that Go would otherwise accept with another meaning (or refuse with a
// message that does not say why): back-references, look-around, atomic
// groups, possessive quantifiers, octal escapes, \v, \b{g}, character class
// union and intersection, Go's own (?P<name>), Java's U flag (Go's ungreedy),
// and group names Java refuses.
func checkJava(p string) error {
	inClass := false
	classFirst := 0 // index of a class's first member: a ']' there is literal
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return nil // Go reports the trailing backslash
			}
			e := p[i+1]
			switch {
			case e == 'Q':
				if inClass {
					return fmt.Errorf(`\Q...\E inside a character class is not supported`)
				}
				end := strings.Index(p[i+2:], `\E`)
				if end < 0 {
					return nil // quoted to the end
				}
				i += 2 + end + 1
				continue
			case e >= '1' && e <= '9':
				return fmt.Errorf(`back-reference \%c is not supported (RE2)`, e)
			case e == '0':
				return fmt.Errorf(`octal escape \0 is not supported (Go reads octal differently); write \x{..}`)
			case e == 'k':
				return fmt.Errorf(`named back-reference \k is not supported (RE2)`)
			case e == 'v':
				return fmt.Errorf(`\v is not supported (vertical whitespace in Java, a vertical tab in Go)`)
			case e == 'b' && i+2 < len(p) && p[i+2] == '{':
				return fmt.Errorf(`\b{...} boundaries are not supported (RE2)`)
			case (e == 'p' || e == 'P' || e == 'x' || e == 'N') && i+2 < len(p) && p[i+2] == '{':
				if end := strings.IndexByte(p[i+2:], '}'); end >= 0 {
					i += 2 + end
					continue
				}
			}
			i++
		case inClass:
			switch {
			case c == '[':
				return fmt.Errorf("'[' inside a character class (Java's class union, or a POSIX class Java lacks) is not supported; escape it")
			case c == '&' && i+1 < len(p) && p[i+1] == '&':
				return fmt.Errorf("character class intersection && is not supported (RE2)")
			case c == ']' && i > classFirst:
				inClass = false
			}
		case c == '[':
			inClass = true
			classFirst = i + 1
			if classFirst < len(p) && p[classFirst] == '^' {
				classFirst++
			}
		case c == '(' && i+1 < len(p) && p[i+1] == '?':
			if err := checkGroup(p[i+2:]); err != nil {
				return err
			}
			i++ // past '?', which is no quantifier here
		case c == '*' || c == '+' || c == '?':
			if i+1 < len(p) && p[i+1] == '+' {
				return fmt.Errorf("possessive quantifier %c+ is not supported (RE2)", c)
			}
		case c == '{':
			if end := quantifierEnd(p[i:]); end > 0 {
				i += end
				if i+1 < len(p) && p[i+1] == '+' {
					return fmt.Errorf("possessive quantifier }+ is not supported (RE2)")
				}
			}
		}
	}
	return nil
}

// checkGroup checks what follows "(?".
func checkGroup(s string) error {
	switch {
	case strings.HasPrefix(s, "<=") || strings.HasPrefix(s, "<!"):
		return fmt.Errorf("look-behind (?%s is not supported (RE2)", s[:2])
	case strings.HasPrefix(s, "="), strings.HasPrefix(s, "!"):
		return fmt.Errorf("look-ahead (?%s is not supported (RE2)", s[:1])
	case strings.HasPrefix(s, ">"):
		return fmt.Errorf("atomic group (?> is not supported (RE2)")
	case strings.HasPrefix(s, "P"):
		return fmt.Errorf("(?P<name>...) is Go syntax Java refuses; write (?<name>...)")
	case strings.HasPrefix(s, "<"):
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return nil // Go reports it
		}
		if name := s[1:end]; !javaGroupName(name) {
			return fmt.Errorf("group name %q: Java group names are an ASCII letter then ASCII letters or digits", name)
		}
	default:
		for i := 0; i < len(s) && s[i] != ')' && s[i] != ':'; i++ {
			switch s[i] {
			case 'U':
				return fmt.Errorf("flag U is not supported (UNICODE_CHARACTER_CLASS in Java, ungreedy in Go)")
			case 'd', 'u', 'x':
				return fmt.Errorf("flag %c is not supported (RE2)", s[i])
			}
		}
	}
	return nil
}

// javaGroupName reports whether name is a group name Java accepts.
func javaGroupName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// quantifierEnd returns the index of the '}' closing a counted quantifier
// {n}, {n,} or {n,m} at the start of s, or 0 if s does not start with one.
func quantifierEnd(s string) int {
	i := 1
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if digits() == 0 {
		return 0
	}
	if i < len(s) && s[i] == ',' {
		i++
		digits()
	}
	if i < len(s) && s[i] == '}' {
		return i
	}
	return 0
}
