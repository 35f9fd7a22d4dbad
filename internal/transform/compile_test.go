package transform

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestCompilePatterns: Java patterns RE2 can run are accepted, the rest
// refused with an error naming the pattern (and, for the Java features RE2
// lacks, the feature).
func TestCompilePatterns(t *testing.T) {
	accept := []string{
		"", "cat/([^/]*)/dog", "named/(?<animal>[^/]*)", "(?<a1>x)(?<B>y)", "[]a]", "[^]a]", `\Qa(b\E(c)`, `\Qa(`,
		"a{2,3}?", "a{2}", "a{2,}", "x{,3}", "(?i)x", "(?i:x)", "(?s).", "(?m)^a$", `\[x\]`, `\p{L}\P{Lu}\pN`, `\x{41}\x41`,
		"a&&b", `[a&b]`, `[\[]`, `\d\w\s\b\B\A\z`, `a\*+`, "(?:a|b)+?", `\{`, "a+?",
	}
	for _, p := range accept {
		if _, err := Compile(one(p, "x"), nil); err != nil {
			t.Errorf("Compile(%q): %v; want it accepted", p, err)
		}
		if p == "" {
			continue // a dropSet's pattern must not be empty
		}
		if _, err := CompileDrops([]DropSet{{MetricPattern: p}}); err != nil {
			t.Errorf("CompileDrops(%q): %v; want it accepted", p, err)
		}
	}
	refuse := []struct{ pattern, why string }{
		{`(a)\1`, "back-reference"},
		{`(?<n>a)\k<n>`, "back-reference"},
		{"(?=a)", "look-ahead"},
		{"(?!a)", "look-ahead"},
		{"(?<=a)b", "look-behind"},
		{"(?<!a)b", "look-behind"},
		{"(?>a)", "atomic"},
		{"a*+", "possessive"},
		{"a++", "possessive"},
		{"a?+", "possessive"},
		{"a{2}+", "possessive"},
		{"a{2,3}+", "possessive"},
		{`\0101`, "octal"},
		{`\12`, "back-reference"},
		{`\v`, `\v`},
		{`[\v]`, `\v`},
		{`\b{g}`, "boundaries"},
		{"[a-z&&[aeiou]]", "intersection"},
		{"[a-z&&b]", "intersection"},
		{"[[:alpha:]]", "inside a character class"},
		{"[a[b]]", "inside a character class"},
		{`[\Qa\E]`, `\Q`},
		{"(?U)a*", "flag U"},
		{"(?x)a b", "flag x"},
		{"(?u)a", "flag u"},
		{"(?d)a", "flag d"},
		{"(?P<n>a)", "(?P<name>"},
		{"(?<a_b>x)", "group name"},
		{"(?<1a>x)", "group name"},
		{"(?<é>x)", "group name"},
		{"(?<a>x)(?<a>y)", "twice"},
		{"(", "missing closing )"},
		{`\p{Lower}`, "invalid character class"},
		{`\G`, "invalid escape"},
		{`\Z`, "invalid escape"},
		{`\h`, "invalid escape"},
		{`\R`, "invalid escape"},
		{`\u00e9`, "invalid escape"},
		{"a**", "nested repetition"},
		{`x\`, "trailing backslash"},
	}
	for _, c := range refuse {
		_, err := Compile(one(c.pattern, "x"), nil)
		if !errors.Is(err, ErrPattern) {
			t.Errorf("Compile(%q): got %v; want ErrPattern", c.pattern, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.why) || !strings.Contains(msg, strconv.Quote(c.pattern)) {
			t.Errorf("Compile(%q): %q; want it to name the pattern and say %q", c.pattern, msg, c.why)
		}
		if _, err := CompileDrops([]DropSet{{MetricPattern: c.pattern}}); !errors.Is(err, ErrPattern) {
			t.Errorf("CompileDrops(%q): got %v; want ErrPattern", c.pattern, err)
		}
	}
}

// TestCompileTemplates: every template MAD's RegexAndMapReplacer throws on
// (once a metric matches) is a configuration error.
func TestCompileTemplates(t *testing.T) {
	const pattern = "a(?<g>b)(c)"
	accept := []string{
		"", "plain", "${0}", "${1}", "${2}", "${3}", "${g}", "${capture:1}", "${capture:g}", "${capture:9}", "${capture:zz}",
		"${dimension:k}", "${env:HOME}", "${:k}", "${k}", "${99}", "${2147483647}", `\\\$\{\}`, `${\}}`, "${{}", "${$}",
		"}", "{", "0}", "${١٢}",
	}
	for _, tp := range accept {
		if _, err := Compile(one(pattern, tp), nil); err != nil {
			t.Errorf("template %q: %v; want it accepted", tp, err)
		}
	}
	refuse := []struct{ template, why string }{
		{"$1", "surrounded by { }"},
		{"$0", "surrounded by { }"},
		{"$variable", "surrounded by { }"},
		{"$", "surrounded by { }"},
		{"a$", "surrounded by { }"},
		{"${", "expected '}'"},
		{"${0", "expected '}'"},
		{`${a\}`, "expected '}'"},
		{"${}", "no variable name"},
		{"${:}", "no variable name"},
		{"${capture:}", "no variable name"},
		{"${prefix:}", "no variable name"},
		{"${notfound:var}_value", "unknown prefix"},
		{"${a:b:c}", "unknown prefix"},
		{"${Dimension:k}", "unknown prefix"},
		{`\a`, "improperly escaped"},
		{`${\avariable}`, "improperly escaped"},
		{`x\`, "trailing"},
		{`${0}\`, "trailing"},
		{`\é`, "improperly escaped"},
		{"${2147483648}", "out of range"},
		{"${capture:99999999999}", "out of range"},
	}
	for _, c := range refuse {
		_, err := Compile(one(pattern, c.template), nil)
		if !errors.Is(err, ErrTemplate) {
			t.Errorf("template %q: got %v; want ErrTemplate", c.template, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.why) || !strings.Contains(msg, strconv.Quote(pattern)) || !strings.Contains(msg, strconv.Quote(c.template)) {
			t.Errorf("template %q: %q; want it to name the pattern and say %q", c.template, msg, c.why)
		}
	}
	// A group number beyond 2³¹−1 with a non-digit in it is a name, as in
	// Java (isNumeric fails before parseInt).
	if _, err := Compile(one(pattern, "${99999999999x}"), nil); err != nil {
		t.Errorf("${99999999999x}: %v; want a name", err)
	}
}

// TestCompileErrors: the configuration errors and where they point.
func TestCompileErrors(t *testing.T) {
	cases := []struct {
		sets []Set
		want error
		in   string
	}{
		{nil, ErrNoSets, ""},
		{[]Set{}, ErrNoSets, ""},
		{[]Set{{}, {Inject: []Injection{{Key: "k", Value: "v"}, {Key: "j", Value: ""}}}}, ErrEmptyValue, `transformations[1].injectDimensions["j"]`},
		{[]Set{{Metrics: []Rule{{Pattern: "ok"}, {Pattern: "(?=x)"}}}}, ErrPattern, "transformations[0].transformMetrics"},
		{[]Set{{}, {Metrics: []Rule{{Pattern: "p", Templates: []string{"ok", "$1"}}}}}, ErrTemplate, `transformations[1].transformMetrics["p"][1]`},
	}
	for _, c := range cases {
		_, err := Compile(c.sets, nil)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.in) {
			t.Errorf("Compile(%+v): got %v; want %v in %s", c.sets, err, c.want, c.in)
		}
	}
	drops := []struct {
		sets []DropSet
		want error
		in   string
	}{
		{nil, ErrNoDropSets, ""},
		{[]DropSet{{MetricPattern: "a"}, {MetricPattern: ""}}, ErrEmptyPattern, "dropSets[1].metricPattern"},
		{[]DropSet{{MetricPattern: "a++"}}, ErrPattern, "dropSets[0].metricPattern"},
	}
	for _, c := range drops {
		_, err := CompileDrops(c.sets)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.in) {
			t.Errorf("CompileDrops(%+v): got %v; want %v in %s", c.sets, err, c.want, c.in)
		}
	}
}

// TestJavaDigitRuns: javaDigit's premise, that the 16-bit ranges of
// unicode.Nd are whole runs of ten digits, zero first, and that it agrees
// with unicode.IsDigit over the Basic Multilingual Plane.
func TestJavaDigitRuns(t *testing.T) {
	for _, rg := range unicode.Nd.R16 {
		if rg.Stride != 1 || (rg.Hi-rg.Lo+1)%10 != 0 {
			t.Fatalf("unicode.Nd range %#x-%#x stride %d is not whole runs of ten", rg.Lo, rg.Hi, rg.Stride)
		}
	}
	for r := rune(0); r <= 0xFFFF; r++ {
		d, ok := javaDigit(r)
		if ok != unicode.IsDigit(r) {
			t.Fatalf("javaDigit(%U) = %v; unicode.IsDigit says %v", r, ok, unicode.IsDigit(r))
		}
		if ok && d != int(r-'0') && r <= '9' {
			t.Fatalf("javaDigit(%q) = %d", r, d)
		}
	}
	for r, want := range map[rune]int{'٣': 3, '९': 9, '０': 0, '٠': 0, '𝟎': -1} {
		d, ok := javaDigit(r)
		if want < 0 && ok || want >= 0 && (!ok || d != want) {
			t.Errorf("javaDigit(%q) = %d, %v; want %d", r, d, ok, want)
		}
	}
}
