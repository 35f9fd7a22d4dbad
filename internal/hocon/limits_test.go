package hocon

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func parseErr(in string) error {
	_, err := Parse(mainFile, []byte(in), testOptions(nil, nil))
	return err
}

func TestDepthLimits(t *testing.T) {
	arrays := func(n int) string { return "a = " + strings.Repeat("[", n) + strings.Repeat("]", n) }
	objects := func(n int) string { return strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n) }
	path := func(n int) string { return strings.Repeat("a.", n-1) + "a = 1" }
	for _, c := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"arrays at the limit", arrays(maxDepth - 1), true},
		{"arrays over the limit", arrays(maxDepth), false},
		{"braces at the limit", objects(maxDepth), true},
		{"braces over the limit", objects(maxDepth + 1), false},
		{"dotted key at the limit", path(maxDepth), true},
		{"dotted key over the limit", path(maxDepth + 1), false},
		{"a million brackets", arrays(1_000_000), false},
		{"a million braces", objects(1_000_000), false},
		{"a million dots", path(1_000_000), false},
		{"unclosed million", "a = " + strings.Repeat("[{a = ", 1_000_000), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := parseErr(c.in)
			if c.ok && err != nil {
				t.Fatal(err)
			}
			if !c.ok {
				wantErr(t, err, "nest too deeply")
			}
		})
	}
}

func TestResolvedDepthLimit(t *testing.T) {
	// Substitution can nest an object deeper than any file does.
	deep := "x = " + strings.Repeat("{a = ", maxDepth-2) + "1" + strings.Repeat("}", maxDepth-2)
	if err := parseErr(deep + "\ny = ${x}"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, parseErr(deep+"\ny = {z = {w = ${x}}}"), "resolved configuration nests too deeply")
}

func TestSubstitutionChains(t *testing.T) {
	chain := func(n int, forward bool) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if forward {
				fmt.Fprintf(&b, "k%d = ${k%d}\n", i, i+1)
			} else {
				fmt.Fprintf(&b, "k%d = ${k%d}\n", i+1, i)
			}
		}
		fmt.Fprintf(&b, "k%d = end\n", map[bool]int{true: n, false: 0}[forward])
		return b.String()
	}
	// References to earlier fields are resolved one by one.
	if err := parseErr(chain(100_000, false)); err != nil {
		t.Fatal(err)
	}
	// References to later fields recurse, up to a bound.
	if err := parseErr(chain(2000, true)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, parseErr(chain(100_000, true)), "nest too deeply")
}

func TestExponentialSubstitution(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0 = [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d = [", i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, "${a%d},", i-1)
		}
		b.WriteString("]\n")
	}
	start := time.Now()
	wantErr(t, parseErr(b.String()), "too large")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	// Doubling a string by self-reference stays fast (memoized).
	var s strings.Builder
	s.WriteString("a = x\n")
	for i := 0; i < 60; i++ {
		s.WriteString("a = ${a}${a}\n")
	}
	err := parseErr(s.String())
	if err != nil && !strings.Contains(err.Error(), "too") {
		t.Fatal(err)
	}
}

func TestLongInputs(t *testing.T) {
	const n = 50_000
	var fields, arr, concat strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&fields, "f%d.g%d = \"v%d\"\n", i%100, i, i)
	}
	arr.WriteString("a = [")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&arr, "%d,", i)
	}
	arr.WriteString("]\n")
	concat.WriteString("x = 1\ns = ")
	for i := 0; i < n; i++ {
		concat.WriteString("${x} ")
	}
	for _, c := range []struct{ name, in string }{
		{"fields", fields.String()},
		{"array", arr.String()},
		{"concatenation", concat.String()},
		{"long string", "s = \"" + strings.Repeat("x", 4<<20) + "\""},
		{"long unquoted", "s = " + strings.Repeat("x ", 100_000)},
		{"long comment", "# " + strings.Repeat("x", 4<<20) + "\na = 1"},
		{"many lines", strings.Repeat("\n", 1<<20) + "a = 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			if err := parseErr(c.in); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestLongSelfReferenceChains(t *testing.T) {
	const n = 5000
	for _, c := range []struct{ name, first, line, want string }{
		{"+=", "a = [0]\n", "a += %d\n", ""},
		{"array self-reference", "a = [0]\n", "a = ${a} [%d]\n", ""},
		{"object inheritance", "a = {k = 0}\n", "b%d = ${a} {k = 1}\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString(c.first)
			for i := 1; i <= n; i++ {
				fmt.Fprintf(&b, c.line, i)
			}
			start := time.Now()
			v, err := Parse(mainFile, []byte(b.String()), testOptions(nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
			if a, _ := v.Path("a"); a.Kind == Array && (len(a.Arr) != n+1 || a.Arr[n].Str != fmt.Sprint(n)) {
				t.Errorf("a has %d elements", len(a.Arr))
			}
		})
	}
}

func TestLongStackStaysLazy(t *testing.T) {
	// A stack long enough to be warmed up bottom-up still never reports
	// the error of a hidden element.
	in := "x = 5\nfoo = ${does-not-exist}\n" + strings.Repeat("foo = ${?nope}\n", 2*warmStack) + "foo = ${x}"
	assertJSON(t, mustParse(t, in, nil, nil), `{"x":5,"foo":5}`, true)
	in = "foo = ${does-not-exist}\n" + strings.Repeat("foo = ${?nope}\n", 2*warmStack)
	wantErr(t, parseErr(in), "undefined substitution ${does-not-exist}")
}

func TestIncludeLimits(t *testing.T) {
	// Every file includes the next one twice: 2^30 inclusions if unbounded.
	files := map[string]string{}
	for i := 0; i < 30; i++ {
		files[fmt.Sprintf("/cfg/f%d.conf", i)] = fmt.Sprintf("include \"f%d.conf\"\ninclude \"f%d.conf\"\nv%d = 1", i+1, i+1, i)
	}
	_, err := Parse(mainFile, []byte(`include "f0.conf"`), testOptions(nil, files))
	wantErr(t, err, "too many includes")
}
