package transform

import (
	"errors"
	"slices"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// MAD's own test cases, from ArpNetworking/mad-experimental:
//   - src/test/java/com/arpnetworking/metrics/mad/experimental/sources/TransformingSourceTest.java
//   - src/test/java/com/arpnetworking/metrics/mad/experimental/sources/TagDroppingSourceTest.java
//   - src/test/java/com/arpnetworking/metrics/mad/experimental/utility/RegexAndMapReplacerTest.java
// Record-level checks (attach/start/stop, merging metric types and
// statistics) belong to the ingest mapper and are not here.

// madSet is TransformingSourceTest's transformation set (setUp), which also
// carries MAD-SPEC §13.2's template cases.
func madSet() Set {
	return Set{Metrics: []Rule{
		{Pattern: "foo/([^/]*)/bar", Templates: []string{"foo/bar"}},
		{Pattern: "cat/([^/]*)/dog", Templates: []string{"cat/dog", "cat/dog/${1}"}},
		{Pattern: "tagged/([^/]*)/dog", Templates: []string{"tagged/dog;animal=${1}"}},
		{Pattern: "named/(?<animal>[^/]*)", Templates: []string{"named/extracted_animal;extracted=${animal}"}},
		{Pattern: "tagged/([^/]*)/animal", Templates: []string{"tagged/${animal}/animal"}},
	}}
}

// hsc are TestBeanFactory's record dimensions the tests build on.
var hsc = []string{"host", "MyHost", "service", "MyService", "cluster", "MyCluster"}

func with(kv ...string) []string { return append(slices.Clone(hsc), kv...) }

func TestMADTransformingSource(t *testing.T) {
	cases := []struct {
		test   string // TransformingSourceTest method
		edit   func(*Set)
		name   string
		dims   []string
		want   []string
		wantEr error
	}{
		{test: "testMergeNotMatch", name: "does_not_match", dims: hsc,
			want: []string{"does_not_match{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testMergeTwoGauges (foo/1/bar)", name: "foo/1/bar", dims: hsc,
			want: []string{"foo/bar{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testMergeTwoGauges (foo/2/bar)", name: "foo/2/bar", dims: hsc,
			want: []string{"foo/bar{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testReplaceWithCapture", name: "cat/sheep/dog", dims: hsc,
			want: []string{"cat/dog{cluster=MyCluster,host=MyHost,service=MyService}", "cat/dog/sheep{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testMultipleMatches (cat/bear/dog)", name: "cat/bear/dog", dims: hsc,
			want: []string{"cat/dog{cluster=MyCluster,host=MyHost,service=MyService}", "cat/dog/bear{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testInjectsDimension", name: "doesnt_match", dims: hsc,
			want: []string{"doesnt_match{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testExtractTagWithCapture", name: "tagged/sheep/dog", dims: hsc,
			want: []string{"tagged/dog{animal=sheep,cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testInjectTagWithCapture", name: "tagged/foo/animal", dims: with("animal", "frog"),
			want: []string{"tagged/frog/animal{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testMatchOverridesTagInCapture", name: "named/frog", dims: with("animal", "cat"),
			want: []string{"named/extracted_animal{animal=cat,cluster=MyCluster,extracted=frog,host=MyHost,service=MyService}"}},
		{test: "testStaticDimensionInjection", name: "doesnt_match", dims: hsc,
			edit: func(s *Set) { s.Inject = []Injection{{Key: "injected", Value: "value", Overwrite: false}} },
			want: []string{"doesnt_match{cluster=MyCluster,host=MyHost,injected=value,service=MyService}"}},
		{test: "testStaticDimensionInjectionOverwrite", name: "doesnt_match", dims: with("injected", "old_value", "injected_no_over", "old_value"),
			edit: func(s *Set) {
				s.Inject = []Injection{{Key: "injected", Value: "new_value", Overwrite: true}, {Key: "injected_no_over", Value: "new_value", Overwrite: false}}
			},
			want: []string{"doesnt_match{cluster=MyCluster,host=MyHost,injected=new_value,injected_no_over=old_value,service=MyService}"}},
		{test: "testRemoveDimension", name: "doesnt_match", dims: with("remove", "_value"),
			edit: func(s *Set) { s.Remove = []string{"remove"} },
			want: []string{"doesnt_match{cluster=MyCluster,host=MyHost,service=MyService}"}},
		{test: "testExtractOverridesExisting", name: "named/frog", dims: with("extracted", "none"),
			want: []string{"named/extracted_animal{cluster=MyCluster,extracted=frog,host=MyHost,service=MyService}"}},
	}
	for _, c := range cases {
		t.Run(c.test, func(t *testing.T) {
			set := madSet()
			if c.edit != nil {
				c.edit(&set)
			}
			tr := mustCompile(t, []Set{set}, nil)
			got, err := collect(t, tr, &Scratch{}, c.name, dims(c.dims...))
			if !errors.Is(err, c.wantEr) {
				t.Fatalf("Apply: got error %v; want %v", err, c.wantEr)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %q; want %q", got, c.want)
			}
		})
	}
}

// TestMADTransformingSourceBuilder: the builder's @NotEmpty transformations
// and DimensionInjection's @NotEmpty value.
func TestMADTransformingSourceBuilder(t *testing.T) {
	if _, err := Compile(nil, nil); !errors.Is(err, ErrNoSets) {
		t.Fatalf("no sets: got %v; want ErrNoSets", err)
	}
	set := madSet()
	set.Inject = []Injection{{Key: "k", Value: ""}}
	if _, err := Compile([]Set{set}, nil); !errors.Is(err, ErrEmptyValue) {
		t.Fatalf("empty value: got %v; want ErrEmptyValue", err)
	}
	// An empty set is valid (transformMetrics, injectDimensions and
	// removeDimensions all default to empty): it passes series through.
	tr := mustCompile(t, []Set{{}}, nil)
	got, _ := collect(t, tr, &Scratch{}, "m", dims("a", "1"))
	if want := []string{"m{a=1}"}; !slices.Equal(got, want) {
		t.Fatalf("empty set: got %q; want %q", got, want)
	}
}

func TestMADTagDroppingSource(t *testing.T) {
	all := func(remove ...string) DropSet { return DropSet{MetricPattern: ".*", RemoveDimensions: remove} }
	cases := []struct {
		test string // TagDroppingSourceTest method
		sets []DropSet
		name string
		dims []string
		want string
	}{
		{"testMergeNotMatch", []DropSet{all()}, "does_not_match", hsc,
			"does_not_match{cluster=MyCluster,host=MyHost,service=MyService}"},
		{"testModificationPreservesStatistics", []DropSet{all("remove1", "remove2")}, "doesnt_match", with("remove1", "old_value", "remove2", "old_value"),
			"doesnt_match{cluster=MyCluster,host=MyHost,service=MyService}"},
		{"testRemoveDimension", []DropSet{all("remove")}, "doesnt_match", with("remove", "_value"),
			"doesnt_match{cluster=MyCluster,host=MyHost,service=MyService}"},
		{"testRemoveMultipleMatching", []DropSet{all("remove"), all("remove2")}, "doesnt_match", with("remove", "_value", "remove2", "value"),
			"doesnt_match{cluster=MyCluster,host=MyHost,service=MyService}"},
	}
	for _, c := range cases {
		t.Run(c.test, func(t *testing.T) {
			d, err := CompileDrops(c.sets)
			if err != nil {
				t.Fatalf("CompileDrops: %v", err)
			}
			var got []string
			d.Apply(&Scratch{}, []byte(c.name), dims(c.dims...), func(n []byte, ds []sample.Dim) {
				checkSorted(t, ds)
				got = append(got, render(n, ds))
			})
			if len(got) != 1 || got[0] != c.want {
				t.Fatalf("got %q; want [%q]", got, c.want)
			}
		})
	}
	if _, err := CompileDrops(nil); !errors.Is(err, ErrNoDropSets) {
		t.Fatalf("no drop sets: got %v; want ErrNoDropSets", err)
	}
}

// TestMADRegexAndMapReplacer: RegexAndMapReplacerTest, through a single
// rule. MAD's test passes one variable map ("myvars") or two ("prefix1",
// "prefix2"); TransformingSource has "dimension" then "env", so the first
// map is the series' dimensions and the second the environment, and
// ${prefix1:x} is written ${dimension:x}, ${prefix2:x} ${env:x}. The
// variables MAD reports as matched from the first map are the dimensions
// the output loses.
func TestMADRegexAndMapReplacer(t *testing.T) {
	cases := []struct {
		test             string
		pattern, input   string
		replace          string
		dims             []string
		env              map[string]string
		want             string // the output name; dims less used
		wantDims         []string
		wantCompileError bool
	}{
		// MAD's testNoMatch uses "$0", which the experimental replacer refuses
		// once a metric matches; mad refuses it at Compile (below).
		{test: "testNoMatch", pattern: "test", input: "wont match", replace: "${0}", want: "wont match"},
		{test: "testInvalidEscape", pattern: "test", replace: `${\avariable}`, wantCompileError: true},
		{test: "testMissingClosingCurly", pattern: "test", replace: "${0", wantCompileError: true},
		{test: "testInvalidEscapeAtEnd", pattern: "test", replace: `${0}\`, wantCompileError: true},
		{test: "testInvalidNoVariableName", pattern: "test", replace: "${prefix:}", wantCompileError: true},
		{test: "testInvalidReplacementTokenMissingOpen", pattern: "test", replace: "$variable", wantCompileError: true},
		{test: "testInvalidReplacementTokenNumeric", pattern: "test", replace: "$0", wantCompileError: true},
		{test: "testGroup0Replace", pattern: "test", input: "test", replace: "${0}", want: "test"},
		{test: "testSingleMatchFullStaticReplace", pattern: "test", input: "test", replace: "replace", want: "replace"},
		{test: "testSingleMatchPartialStaticReplace", pattern: "test", input: "test string", replace: "replace", want: "replace string"},
		{test: "testSingleMatchPartialStaticReplacePrefix", pattern: "test", input: "some test string", replace: "replace", want: "some replace string"},
		{test: "testSingleMatchPartialMultipleGroupNumberReplace", pattern: "(test)/pattern/(foo)", input: "test/pattern/foo",
			replace: "this is a ${1} pattern called ${2}", want: "this is a test pattern called foo"},
		{test: "testSingleMatchPartialMultipleGroupNameReplace", pattern: "(?<g1>test)/pattern/(?<g2>foo)", input: "test/pattern/foo",
			replace: "this is a ${g1} pattern called ${g2}", want: "this is a test pattern called foo"},
		{test: "testSingleVariableReplaceAsNumber", pattern: "test/pattern/foo", input: "test/pattern/foo",
			replace: "this is a ${1} pattern", dims: []string{"1", "test"}, want: "this is a test pattern"},
		{test: "testSingleVariableReplaceAsNumberPrefixed", pattern: "test/pattern/foo", input: "test/pattern/foo",
			replace: "this is a ${dimension:1} pattern", dims: []string{"1", "test"}, want: "this is a test pattern"},
		{test: "testSingleMatchPartialMultipleVariableReplace", pattern: "test/pattern/foo", input: "test/pattern/foo",
			replace: "this is a ${g1} pattern called ${g2}", dims: []string{"g1", "test", "g2", "foo"}, want: "this is a test pattern called foo"},
		{test: "testSingleMatchPartialMultipleVariableWithEscapeReplace", pattern: "test/pattern/foo", input: "test/pattern/foo",
			replace: `this is a ${g1} pattern \\called\\ ${g2}`, dims: []string{"g1", "test", "g2", "foo"}, want: `this is a test pattern \called\ foo`},
		{test: "testSingleMatchPartialMultipleVariableWithEscapeTokenReplace", pattern: "test/pattern/foo", input: "test/pattern/foo",
			replace: `this is a ${\\g1} pattern called ${g2}`, dims: []string{`\g1`, "test", "g2", "foo"}, want: "this is a test pattern called foo"},
		{test: "testSingleMatchPartialMultipleGroupNameOverridesVariablesReplace", pattern: "(?<g1>test)/pattern/(?<g2>foo)", input: "test/pattern/foo",
			replace: "this is a ${g1} pattern called ${g2}", dims: []string{"g1", "bad", "g2", "value"},
			want: "this is a test pattern called foo", wantDims: []string{"g1", "bad", "g2", "value"}},
		{test: "testMatchPrefix", pattern: "input_string_(?<var>.*)_(.*)", input: "input_string_ending_ending2",
			replace: "${dimension:var}_${env:var}_${capture:var}_${capture:2}",
			dims:    []string{"var", "var1"}, env: map[string]string{"var": "var2"}, want: "var1_var2_ending_ending2"},
		{test: "testMatchPrecedence", pattern: "input_string_(?<var>.*)", input: "input_string_ending",
			replace: "${var}_${var2}_${var3}",
			dims:    []string{"var", "1-var", "var2", "1-var2"}, env: map[string]string{"var": "2-var", "var2": "2-var2", "var3": "2-var3"},
			want: "ending_1-var2_2-var3", wantDims: []string{"var", "1-var"}},
		{test: "testMatchMissingVars", pattern: "input_string", input: "input_string_ending",
			replace: "${dimension:missing}1${capture:missing}2${missing}", dims: []string{"var", "var1"},
			want: "12_ending", wantDims: []string{"var", "var1"}},
		{test: "testMatchInvalidPrefix", pattern: "input_string_(?<var>.*)", replace: "${notfound:var}_value", wantCompileError: true},
		{test: "testMultipleMatchFullStaticReplace", pattern: "test", input: "testtest", replace: "replace", want: "replacereplace"},
		{test: "testMultipleMatchPartialStaticReplace", pattern: "test", input: "test string test", replace: "replace", want: "replace string replace"},
	}
	for _, c := range cases {
		t.Run(c.test, func(t *testing.T) {
			tr, err := Compile(one(c.pattern, c.replace), c.env)
			if c.wantCompileError {
				if !errors.Is(err, ErrTemplate) {
					t.Fatalf("Compile: got %v; want ErrTemplate", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := collect(t, tr, &Scratch{}, c.input, dims(c.dims...))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			want := []string{render([]byte(c.want), dims(c.wantDims...))}
			if !slices.Equal(got, want) {
				t.Fatalf("got %q; want %q", got, want)
			}
		})
	}
}
