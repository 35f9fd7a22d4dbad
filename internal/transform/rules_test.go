package transform

import (
	"errors"
	"slices"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// TestRules: each rule of MAD-SPEC §13.2, and the decisions doc.go lists,
// one case at a time.
func TestRules(t *testing.T) {
	env := map[string]string{"HOME": "/home/mad", "E": "env-e", "both": "from-env", "5": "env-five"}
	cases := []struct {
		name    string
		sets    []Set
		input   string
		dims    []string
		want    []string
		wantErr error
	}{
		// Escapes, outside and inside tokens.
		{name: "escapes", sets: one("x", `\\\$\{\}`), input: "x", want: []string{`\${}{}`}},
		{name: "escaped token", sets: one("x", `\${1}`), input: "x", want: []string{`${1}{}`}},
		{name: "escape in token name", sets: one("x", `${a\}b}`), input: "x", dims: []string{"a}b", "v"}, want: []string{"v{}"}},
		{name: "braces are literal outside tokens", sets: one("x", "{a}"), input: "x", want: []string{"{a}{}"}},
		{name: "${0} then '}'", sets: one("x", "${0}}"), input: "x", want: []string{"x}{}"}},

		// Token forms.
		{name: "group number", sets: one("a(b)(c)", "${2}${1}"), input: "abc", want: []string{"cb{}"}},
		{name: "group 0", sets: one("b+", "<${0}>"), input: "abbc", want: []string{"a<bb>c{}"}},
		{name: "leading zeros", sets: one("a(b)", "${001}"), input: "ab", want: []string{"b{}"}},
		{name: "unicode digit (Java's Character.isDigit)", sets: one("a(b)", "${١}"), input: "ab", want: []string{"b{}"}},
		{name: "group number past the groups reads the dimension", sets: one("a(b)", "${5}"), input: "ab", dims: []string{"5", "five", "k", "v"},
			want: []string{"five{k=v}"}},
		{name: "group number past the groups reads env", sets: one("a(b)", "${5}"), input: "ab", want: []string{"env-five{}"}},
		{name: "named group", sets: one("a(?<mid>b)c", "${mid}"), input: "abc", want: []string{"b{}"}},
		{name: "named group is a number too", sets: one("a(?<mid>b)c", "${1}"), input: "abc", want: []string{"b{}"}},
		{name: "named group wins over dimension", sets: one("(?<k>b)", "${k}"), input: "b", dims: []string{"k", "dim"},
			want: []string{"b{k=dim}"}},
		{name: "name: dimension wins over env", sets: one("x", "${both}"), input: "x", dims: []string{"both", "from-dim"},
			want: []string{"from-dim{}"}},
		{name: "name: env when no dimension", sets: one("x", "${both}"), input: "x", dims: []string{"k", "v"},
			want: []string{"from-env{k=v}"}},
		{name: "name: nothing", sets: one("x", "<${nothing}>"), input: "x", want: []string{"<>{}"}},
		{name: "empty prefix is no prefix", sets: one("x", "${:both}"), input: "x", want: []string{"from-env{}"}},
		{name: "capture number", sets: one("a(b)", "${capture:1}"), input: "ab", want: []string{"b{}"}},
		{name: "capture name", sets: one("a(?<g>b)", "${capture:g}"), input: "ab", want: []string{"b{}"}},
		{name: "capture out of range", sets: one("a(b)", "<${capture:2}>"), input: "ab", dims: []string{"2", "v"}, want: []string{"<>{2=v}"}},
		{name: "capture unknown name", sets: one("a(b)", "<${capture:zz}>"), input: "ab", dims: []string{"zz", "v"}, want: []string{"<>{zz=v}"}},
		{name: "dimension prefix", sets: one("x", "${dimension:k}"), input: "x", dims: []string{"k", "v", "l", "w"}, want: []string{"v{l=w}"}},
		{name: "dimension prefix, absent", sets: one("x", "<${dimension:k}>"), input: "x", dims: []string{"l", "w"}, want: []string{"<>{l=w}"}},
		{name: "dimension prefix, name with ':'", sets: one("x", "${dimension:a:b}"), input: "x", dims: []string{"a:b", "v"}, want: []string{"v{}"}},
		{name: "dimension prefix skips groups", sets: one("(?<k>x)", "${dimension:k}"), input: "x", dims: []string{"k", "v"}, want: []string{"v{}"}},
		{name: "env prefix", sets: one("x", "${env:HOME}"), input: "x", want: []string{"/home/mad{}"}},
		{name: "env prefix, absent", sets: one("x", "<${env:NOPE}>"), input: "x", want: []string{"<>{}"}},
		{name: "env prefix ignores dimensions", sets: one("x", "${env:E}"), input: "x", dims: []string{"E", "dim"}, want: []string{"env-e{E=dim}"}},
		{name: "group that took no part is empty", sets: one("a(b)?c", "<${1}>"), input: "ac", want: []string{"<>{}"}},

		// All matches; the text around them.
		{name: "every match", sets: one("o", "0"), input: "foo.bor", want: []string{"f00.b0r{}"}},
		{name: "groups per match", sets: one("(\\d)", "<${1}>"), input: "a1b2", want: []string{"a<1>b<2>{}"}},
		{name: "dimension read at every match", sets: one("o", "${dimension:k}"), input: "oo", dims: []string{"k", "v"}, want: []string{"vv{}"}},
		{name: "one character after the last match is kept", sets: one("cat/([^/]*)/dog", "cat/dog"), input: "cat/x/dogs", want: []string{"cat/dogs{}"}},
		{name: "unanchored", sets: one("b", "X"), input: "abc", want: []string{"aXc{}"}},
		{name: "anchored", sets: one("^b", "X"), input: "abc", want: []string{"abc{}"}},
		{name: "multi-byte", sets: one("é(.)", "<${1}>"), input: "aébé€", want: []string{"a<b><€>{}"}},

		// Java's find(): an empty match right after a non-empty one counts.
		{name: "java a*", sets: one("a*", "X"), input: "baaac", want: []string{"XbXXcX{}"}},
		{name: "java optional suffix", sets: one("(_total)?$", "_count"), input: "foo_total", want: []string{"foo_count_count{}"}},
		{name: "java empty after match, \\b context", sets: one(`a|\b`, "X"), input: "a b", want: []string{"XX XbX{}"}},
		{name: "java empty after match, \\B context", sets: one(`a|\B`, "X"), input: "ab", want: []string{"XXb{}"}},
		{name: "java empty after match, (?m)^ context", sets: one("\n|(?m)^", "X"), input: "a\nb", want: []string{"XaXXb{}"}},
		{name: "java empty after multi-byte match", sets: one("é*", "X"), input: "éé€", want: []string{"XX€X{}"}},
		{name: "java (.*) matches twice", sets: one("(.*)", "<${1}>"), input: "abc", want: []string{"<abc><>{}"}},
		{name: "empty pattern", sets: one("", "-"), input: "ab", want: []string{"-a-b-{}"}},

		// Used dimensions are removed from that output only.
		{name: "used dimension removed", sets: one("x", "${k}"), input: "x", dims: []string{"k", "v", "l", "w"}, want: []string{"v{l=w}"}},
		{name: "used per template", sets: one("x", "${k}", "plain"), input: "x", dims: []string{"k", "v"}, want: []string{"v{}", "plain{k=v}"}},
		{name: "env-resolved name is not removed", sets: one("x", "${E}"), input: "x", dims: []string{"l", "w"}, want: []string{"env-e{l=w}"}},

		// Tag tails.
		{name: "tags", sets: one("x", "n;a=1;b=2"), input: "x", want: []string{"n{a=1,b=2}"}},
		{name: "tags trimmed, empty skipped", sets: one("x", "n; a=1 ;;\t;b=2; "), input: "x", want: []string{"n{a=1,b=2}"}},
		{name: "tags trimmed of Unicode whitespace", sets: one("x", "n;\u3000a=1\u2003"), input: "x", want: []string{"n{a=1}"}},
		{name: "key and value untrimmed", sets: one("x", "n;a = 1"), input: "x", want: []string{"n{a = 1}"}},
		{name: "empty value", sets: one("x", "n;k="), input: "x", want: []string{"n{k=}"}},
		{name: "empty key", sets: one("x", "n;=v"), input: "x", want: []string{"n{=v}"}},
		{name: "empty tail", sets: one("x", "n;"), input: "x", dims: []string{"a", "1"}, want: []string{"n{a=1}"}},
		{name: "first ';' splits", sets: one("x", "n;a=1;"), input: "x", want: []string{"n{a=1}"}},
		{name: "';' from the name", sets: one("x", "y"), input: "x;k=v", want: []string{"y{k=v}"}},
		{name: "';' from a capture", sets: one("^(.*)", "m;${1}"), input: "k=v", want: []string{"m{k=v}"}},
		{name: "no match keeps a ';' name", sets: one("zzz", "y"), input: "x;k", want: []string{"x;k{}"}},
		{name: "tag overwrites input", sets: one("x", "n;a=new"), input: "x", dims: []string{"a", "old"}, want: []string{"n{a=new}"}},
		{name: "tag without '='", sets: one("x", "n;k"), input: "x", wantErr: ErrTagEntry},
		{name: "tag with two '='", sets: one("x", "n;k=v=w"), input: "x", wantErr: ErrTagEntry},
		{name: "tag key twice", sets: one("x", "n;k=1;k=2"), input: "x", wantErr: ErrTagDuplicate},
		{name: "duplicate before missing '=' (Guava's order)", sets: one("x", "n;k=1;k"), input: "x", wantErr: ErrTagDuplicate},
		{name: "bad tail from data", sets: one("^(.*)", "m;${1}"), input: "k=v=w", wantErr: ErrTagEntry},
		{name: "a bad tail loses every output", sets: []Set{{Metrics: []Rule{{Pattern: "x", Templates: []string{"ok", "n;bad"}}}}, {}},
			input: "x", wantErr: ErrTagEntry},

		// Injection and removal, in MAD's order.
		{name: "inject overwrite", sets: []Set{{Inject: []Injection{{Key: "a", Value: "new", Overwrite: true}}}}, input: "m", dims: []string{"a", "old"},
			want: []string{"m{a=new}"}},
		{name: "inject no overwrite, present", sets: []Set{{Inject: []Injection{{Key: "a", Value: "new"}}}}, input: "m", dims: []string{"a", "old"},
			want: []string{"m{a=old}"}},
		{name: "inject no overwrite, absent", sets: []Set{{Inject: []Injection{{Key: "a", Value: "new"}}}}, input: "m", dims: []string{"b", "1"},
			want: []string{"m{a=new,b=1}"}},
		{name: "remove", sets: []Set{{Remove: []string{"a", "zz"}}}, input: "m", dims: []string{"a", "1", "b", "2"}, want: []string{"m{b=2}"}},
		{name: "inject after remove", sets: []Set{{Remove: []string{"a"}, Inject: []Injection{{Key: "a", Value: "new"}}}}, input: "m", dims: []string{"a", "old"},
			want: []string{"m{a=new}"}},
		{name: "inject after used", sets: []Set{{Metrics: []Rule{{Pattern: "m", Templates: []string{"${a}"}}}, Inject: []Injection{{Key: "a", Value: "new"}}}},
			input: "m", dims: []string{"a", "old"}, want: []string{"old{a=new}"}},
		{name: "tags after inject", sets: []Set{{Metrics: []Rule{{Pattern: "m", Templates: []string{"n;a=tag"}}}, Inject: []Injection{{Key: "a", Value: "inj", Overwrite: true}}}},
			input: "m", want: []string{"n{a=tag}"}},
		{name: "tags after remove", sets: []Set{{Metrics: []Rule{{Pattern: "m", Templates: []string{"n;a=tag"}}}, Remove: []string{"a"}}},
			input: "m", dims: []string{"a", "old"}, want: []string{"n{a=tag}"}},
		{name: "no match still injects and removes", sets: []Set{{Metrics: []Rule{{Pattern: "zzz", Templates: []string{"y"}}}, Remove: []string{"b"},
			Inject: []Injection{{Key: "c", Value: "3"}}}}, input: "m", dims: []string{"a", "1", "b", "2"}, want: []string{"m{a=1,c=3}"}},

		// Rules, templates, sets.
		{name: "every matching rule", sets: []Set{{Metrics: []Rule{{Pattern: "a", Templates: []string{"A"}}, {Pattern: "b", Templates: []string{"B"}}, {Pattern: "z", Templates: []string{"Z"}}}}},
			input: "ab", want: []string{"Ab{}", "aB{}"}},
		{name: "no templates drops", sets: one("a"), input: "ab", want: nil},
		{name: "no templates drops only its rule", sets: []Set{{Metrics: []Rule{{Pattern: "a"}, {Pattern: "b", Templates: []string{"B"}}}}},
			input: "ab", want: []string{"aB{}"}},
		{name: "sets apply to the input, not to each other's output", sets: []Set{one("a", "b")[0], one("b", "c")[0]},
			input: "a", want: []string{"b{}", "a{}"}},
		{name: "several sets, each output once", sets: []Set{
			{Metrics: []Rule{{Pattern: "m", Templates: []string{"m1", "m2"}}}},
			{Inject: []Injection{{Key: "k", Value: "v"}}},
		}, input: "m", want: []string{"m1{}", "m2{}", "m{k=v}"}},
		{name: "identical templates once", sets: one("m", "n", "n"), input: "m", want: []string{"n{}"}},
		{name: "identical outputs across rules once", sets: []Set{{Metrics: []Rule{{Pattern: "^m", Templates: []string{"n"}}, {Pattern: "m$", Templates: []string{"n"}}}}},
			input: "m", want: []string{"n{}"}},
		{name: "identical outputs across sets once", sets: []Set{{}, {}, {Remove: []string{"zz"}}}, input: "m", dims: []string{"a", "1"},
			want: []string{"m{a=1}"}},
		{name: "same name, other dims are distinct", sets: []Set{{}, {Remove: []string{"a"}}}, input: "m", dims: []string{"a", "1"},
			want: []string{"m{a=1}", "m{}"}},
		{name: "same dims, other names are distinct", sets: one("m", "n", "o"), input: "m", want: []string{"n{}", "o{}"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := mustCompile(t, c.sets, env)
			got, err := collect(t, tr, &Scratch{}, c.input, dims(c.dims...))
			if !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) {
				t.Fatalf("Apply: got error %v; want %v", err, c.wantErr)
			}
			if err != nil && got != nil {
				t.Fatalf("Apply failed with %v but gave %q", err, got)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %q; want %q", got, c.want)
			}
		})
	}
}

// TestEnvSnapshot: templates read the environment given to Compile, not
// the map's later contents.
func TestEnvSnapshot(t *testing.T) {
	env := map[string]string{"X": "before"}
	tr := mustCompile(t, one("m", "${env:X}-${X}"), env)
	env["X"] = "after"
	got, _ := collect(t, tr, &Scratch{}, "m", nil)
	if want := []string{"before-before{}"}; !slices.Equal(got, want) {
		t.Fatalf("got %q; want %q", got, want)
	}
}

// TestScratchReuse: a Scratch carries nothing from one Apply to the next,
// whatever the previous series, and serves Transformer and Dropper alike.
func TestScratchReuse(t *testing.T) {
	tr := mustCompile(t, []Set{
		{Metrics: []Rule{{Pattern: "(a+)", Templates: []string{"${1};t=${k}", "x"}}}, Remove: []string{"r"}},
		{Inject: []Injection{{Key: "i", Value: "1"}}},
	}, nil)
	d, err := CompileDrops([]DropSet{{MetricPattern: "a.*", RemoveDimensions: []string{"k"}}})
	if err != nil {
		t.Fatal(err)
	}
	inputs := []struct {
		name string
		dims []string
	}{
		{"aaa", []string{"k", "v", "r", "1", "z", "2"}},
		{"b", nil},
		{"aXa", []string{"k", "w"}},
		{"b", []string{"a", "1", "b", "2", "c", "3", "d", "4"}},
	}
	var s Scratch
	for round := range 2 {
		for _, in := range inputs {
			want, _ := collect(t, tr, &Scratch{}, in.name, dims(in.dims...))
			got, _ := collect(t, tr, &s, in.name, dims(in.dims...))
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, %s: reused scratch gave %q; fresh %q", round, in.name, got, want)
			}
			var dg, dw []string
			rec := func(dst *[]string) func([]byte, []sample.Dim) {
				return func(n []byte, ds []sample.Dim) { *dst = append(*dst, render(n, ds)) }
			}
			d.Apply(&Scratch{}, []byte(in.name), dims(in.dims...), rec(&dw))
			d.Apply(&s, []byte(in.name), dims(in.dims...), rec(&dg))
			if !slices.Equal(dg, dw) {
				t.Fatalf("round %d, %s: dropper with reused scratch gave %q; fresh %q", round, in.name, dg, dw)
			}
		}
	}
}

// TestDropper: full matches only, the union of the matching sets' removals.
func TestDropper(t *testing.T) {
	d, err := CompileDrops([]DropSet{
		{MetricPattern: "a|ab", RemoveDimensions: []string{"x"}},
		{MetricPattern: "a.*", RemoveDimensions: []string{"y", "absent"}},
		{MetricPattern: "b"},
		{MetricPattern: `\Qc.d`, RemoveDimensions: []string{"z"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, want string }{
		{"ab", "ab{z=3}"},       // both: a|ab matches the whole of "ab" (Java's matches())
		{"a", "a{z=3}"},         // both
		{"abc", "abc{x=1,z=3}"}, // a.* only
		{"xab", "xab{x=1,y=2,z=3}"},
		{"b", "b{x=1,y=2,z=3}"},
		{"c.d", "c.d{x=1,y=2}"},
		{"cxd", "cxd{x=1,y=2,z=3}"},
	}
	var s Scratch
	for _, c := range cases {
		var got []string
		in := dims("x", "1", "y", "2", "z", "3")
		d.Apply(&s, []byte(c.name), in, func(n []byte, ds []sample.Dim) { got = append(got, render(n, ds)) })
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: got %q; want [%q]", c.name, got, c.want)
		}
		if render(nil, in) != "{x=1,y=2,z=3}" {
			t.Fatalf("%s: the input dimensions changed: %s", c.name, render(nil, in))
		}
	}
}

// TestConcurrentApply: one Transformer and one Dropper, several goroutines,
// each with its own Scratch, give what one goroutine gives (run with -race).
func TestConcurrentApply(t *testing.T) {
	sets := append([]Set{madSet()}, Set{Inject: []Injection{{Key: "cluster", Value: "c", Overwrite: true}}, Remove: []string{"host"}})
	tr := mustCompile(t, sets, map[string]string{"E": "e"})
	d, err := CompileDrops([]DropSet{{MetricPattern: ".*/dog", RemoveDimensions: []string{"host"}}})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"cat/sheep/dog", "tagged/sheep/dog", "named/frog", "tagged/foo/animal", "other"}
	in := dims(with("animal", "frog")...)
	run := func(s *Scratch) []string {
		var got []string
		rec := func(n []byte, ds []sample.Dim) { got = append(got, render(n, ds)) }
		for _, n := range names {
			if err := tr.Apply(s, []byte(n), in, rec); err != nil {
				t.Error(err)
			}
			d.Apply(s, []byte(n), in, rec)
		}
		return got
	}
	want := run(&Scratch{})
	results := make([][]string, 4)
	done := make(chan int)
	for g := range results {
		go func() {
			var s Scratch
			for range 50 {
				results[g] = run(&s)
			}
			done <- g
		}()
	}
	for range results {
		<-done
	}
	for g, got := range results {
		if !slices.Equal(got, want) {
			t.Fatalf("goroutine %d: got %q; want %q", g, got, want)
		}
	}
}
