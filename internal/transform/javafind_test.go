package transform

import (
	"bufio"
	"encoding/hex"
	"os"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// javaCase is one line of testdata/javafind/golden.txt: Java 17's
// java.util.regex answers, written by testdata/javafind/JavaFind.java.
type javaCase struct {
	pattern, input string
	matches        bool    // Matcher.matches()
	find           [][]int // Matcher.find()'s loop: start, end, then each group's
}

func readJavaCases(t *testing.T) []javaCase {
	t.Helper()
	f, err := os.Open("testdata/javafind/golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []javaCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), " ")
		if len(fields) != 4 {
			t.Fatalf("golden.txt: bad line %q", sc.Text())
		}
		p, err1 := hex.DecodeString(fields[0])
		in, err2 := hex.DecodeString(fields[1])
		full, err3 := strconv.ParseBool(fields[2])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("golden.txt: bad line %q", sc.Text())
		}
		c := javaCase{pattern: string(p), input: string(in), matches: full}
		if fields[3] != "-" {
			for _, m := range strings.Split(fields[3], ";") {
				var ints []int
				for _, s := range strings.Split(m, ",") {
					n, err := strconv.Atoi(s)
					if err != nil {
						t.Fatalf("golden.txt: bad line %q", sc.Text())
					}
					ints = append(ints, n)
				}
				c.find = append(c.find, ints)
			}
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 1000 {
		t.Fatalf("golden.txt: %d cases", len(cases))
	}
	return cases
}

// sameMatch reports whether Go's match g (2·(groups+1) ints) is Java's j:
// the same span, and every group the same text (a group that took no part
// reads "", as Apply expands it).
func sameMatch(input string, g, j []int) bool {
	if len(g) != len(j) || g[0] != j[0] || g[1] != j[1] {
		return false
	}
	text := func(m []int, i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return input[m[2*i]:m[2*i+1]]
	}
	for i := 1; i < len(g)/2; i++ {
		if text(g, i) != text(j, i) {
			return false
		}
	}
	return true
}

// TestJavaFindGolden: javaRegexp's matches (and the reference's, and
// Dropper's full match) are Java's, for the fixed cases of JavaFind.java
// (the Java quirks) and its random patterns.
func TestJavaFindGolden(t *testing.T) {
	cases := readJavaCases(t)
	skipped, groupsDiffer := 0, 0
	for _, c := range cases {
		if javaDiffers(c.pattern, c.input) {
			skipped++
			continue
		}
		jr, err := compileJava(c.pattern)
		if err != nil {
			t.Fatalf("compileJava(%q): %v; Java accepts it", c.pattern, err)
		}
		stride := 2 * (jr.re.NumSubexp() + 1)
		got := jr.matches(nil, []byte(c.input))
		ref := refFind(c.pattern, c.input)
		if len(got) != stride*len(c.find) || len(ref) != len(c.find) {
			t.Fatalf("%q in %q: got %d matches (reference %d); Java finds %v", c.pattern, c.input, len(got)/stride, len(ref), c.find)
		}
		loose := emptyRepeatedCapture(c.pattern)
		for i, j := range c.find {
			g := got[i*stride : (i+1)*stride]
			if loose && g[0] == j[0] && g[1] == j[1] && !sameMatch(c.input, g, j) {
				groupsDiffer++ // doc.go: captures of empty-able repeats
				continue
			}
			if !sameMatch(c.input, g, j) {
				t.Fatalf("%q in %q: match %d is %v; Java's is %v", c.pattern, c.input, i, got[i*stride:(i+1)*stride], j)
			}
			if !sameMatch(c.input, ref[i], j) && !loose {
				t.Fatalf("%q in %q: the reference's match %d is %v; Java's is %v", c.pattern, c.input, i, ref[i], j)
			}
		}
		if c.pattern == "" {
			continue
		}
		d, err := CompileDrops([]DropSet{{MetricPattern: c.pattern, RemoveDimensions: []string{"k"}}})
		if err != nil {
			t.Fatal(err)
		}
		removed := false
		d.Apply(&Scratch{}, []byte(c.input), dims("k", "v"), func(_ []byte, ds []sample.Dim) { removed = len(ds) == 0 })
		if removed != c.matches {
			t.Fatalf("%q matches all of %q: got %v; Java says %v", c.pattern, c.input, removed, c.matches)
		}
	}
	if skipped > len(cases)/5 {
		t.Fatalf("%d of %d cases skipped", skipped, len(cases))
	}
	if groupsDiffer > len(cases)/50 {
		t.Fatalf("%d matches with other captures", groupsDiffer)
	}
	t.Logf("%d cases, %d skipped for the differences doc.go lists, %d matches with other captures of a repeated group that can match empty", len(cases), skipped, groupsDiffer)
}

// emptyRepeatedCapture reports whether pattern repeats (*, +, ?, {n,m}) a
// part that can match empty and holds a group: Java and RE2 treat empty
// iterations differently, so that group's capture may differ (never the
// match).
func emptyRepeatedCapture(pattern string) bool {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	var walk func(re *syntax.Regexp, inRepeat bool) bool
	walk = func(re *syntax.Regexp, inRepeat bool) bool {
		if re.Op == syntax.OpCapture && inRepeat {
			return true
		}
		switch re.Op {
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
			inRepeat = inRepeat || minLen(re.Sub[0]) == 0
		}
		for _, sub := range re.Sub {
			if walk(sub, inRepeat) {
				return true
			}
		}
		return false
	}
	return walk(re, false)
}

// javaDiffers reports the cases where Java and RE2 differ as doc.go says:
// Java 17's \b and \B see Unicode letters, its $ matches before a final
// line terminator, and its (?m)^ never at the end of the input.
func javaDiffers(pattern, input string) bool {
	if strings.ContainsAny(pattern, `\`) && (strings.Contains(pattern, `\b`) || strings.Contains(pattern, `\B`)) {
		for _, r := range input {
			if r >= 0x80 {
				return true
			}
		}
	}
	if strings.Contains(pattern, "(?m:^)") && (input == "" || strings.HasSuffix(input, "\n")) {
		return true
	}
	return strings.Contains(strings.ReplaceAll(pattern, "(?m:$)", ""), "$") && strings.HasSuffix(input, "\n")
}
