package hocon

import (
	"testing"
)

// featureCase is one HOCON document and the JSON it must resolve to, or a
// substring of the error it must produce.
type featureCase struct {
	name     string
	in       string
	want     string
	err      string
	env      map[string]string
	files    map[string]string
	fallback map[string]string
	ordered  bool // also compare key order
}

func runFeatureCases(t *testing.T, cases []featureCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := testOptions(c.env, c.files)
			opt.Fallback = c.fallback
			v, err := Parse(mainFile, []byte(c.in), opt)
			if c.err != "" {
				wantErr(t, err, c.err)
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if v.Kind != Object {
				t.Fatalf("root is %v", v.Kind)
			}
			assertJSON(t, v, c.want, c.ordered)
		})
	}
}

func TestSyntax(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "empty document", in: "", want: `{}`},
		{name: "only comments and blanks", in: "  \n# c\n// d\n\n", want: `{}`},
		{name: "comments", in: `# hash comment
a = 1 # trailing
// slash comment
b = 2 // trailing
c = "not # a comment"
d = "not // a comment"
e = x//y
f = a/b`, want: `{"a":1,"b":2,"c":"not # a comment","d":"not // a comment","e":"x","f":"a/b"}`},
		{name: "braced root", in: "{ a : 1, b : 2 }\n# trailing comment\n", want: `{"a":1,"b":2}`},
		{name: "JSON is HOCON", in: `{"a": {"b": [1, 2.5, -3e2, true, false, null, "s"]}, "c": {}}`,
			want: `{"a":{"b":[1,2.5,-3e2,true,false,null,"s"]},"c":{}}`},
		{name: "separators", in: "a = 1\nb : 2\nc { d = 3 }\ne: {f: 4}\ng = {}\nh {}",
			want: `{"a":1,"b":2,"c":{"d":3},"e":{"f":4},"g":{},"h":{}}`},
		{name: "value on the next line", in: "a =\n\n  1\nb :\n # comment\n [2]", want: `{"a":1,"b":[2]}`},
		{name: "commas newlines and trailing commas", in: "a = [1,2,3,]\nb = [1\n2\n3]\nc = {x=1,y=2,}\nd = 1,\ne = 2,\nf = [\n1,\n2\n,3\n]",
			want: `{"a":[1,2,3],"b":[1,2,3],"c":{"x":1,"y":2},"d":1,"e":2,"f":[1,2,3]}`},
		{name: "CRLF and tabs", in: "a =\t1\r\nb = x y\r\n", want: `{"a":1,"b":"x y"}`},
		{name: "BOM and unicode whitespace", in: "\uFEFFa\u00a0=\u2003\"x\"\u00a0\nb = p\u00a0q", want: `{"a":"x","b":"p\u00a0q"}`},
		{name: "empty array and object", in: "a = []\nb = {}\nc = [ ]\nd = [\n]", want: `{"a":[],"b":{},"c":[],"d":[]}`},
	})
}

func TestStrings(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "escapes", in: `a = "tab\there\nnl \"q\" \\ \/ \u00e9 \ud83d\ude00 \b\f\r"`,
			want: `{"a":"tab\there\nnl \"q\" \\ / é 😀 \b\f\r"}`},
		{name: "lone surrogate", in: `a = "\ud800x"`, want: `{"a":"\ufffdx"}`},
		{name: "lone surrogates before escapes", in: `a = "\ud800\u0041\udc00\ud800\ud800\udc00\ud83d\\"`, want: `{"a":"\ufffdA\ufffd\ufffd\ud800\udc00\ufffd\\"}`},
		{name: "triple quoted", in: "a = \"\"\"multi\nline \"quoted\" \\n\n\"\"\"\nb = \"\"\"x\"\"\"\"\nc = \"\"\"\"\"\"",
			want: `{"a":"multi\nline \"quoted\" \\n\n","b":"x\"","c":""}`},
		{name: "unquoted with inner whitespace", in: "a = foo bar   baz  \nb = foo.bar-baz/qux(1)\nc = \"x\" y \"z\"\nd = 1 2 3\ne = true false\nf = null x",
			want: `{"a":"foo bar   baz","b":"foo.bar-baz/qux(1)","c":"x y z","d":"1 2 3","e":"true false","f":"null x"}`},
		{name: "types only for whole values", in: "a = on\nb = yes\nc = 8125\nd = \"8125\"\ne = true\nf = \"true\"\ng = null\nh = false\ni = off\nj = \"null\"",
			want: `{"a":"on","b":"yes","c":8125,"d":"8125","e":true,"f":"true","g":null,"h":false,"i":"off","j":"null"}`},
		{name: "keywords at the start of unquoted text", in: "a = truefoo\nb = nullx\nc = falsey\nd = footrue",
			want: `{"a":"truefoo","b":"nullx","c":"falsey","d":"footrue"}`},
		{name: "numbers", in: "a = 0.5\nb = 1e3\nc = -1\nd = -0.5e-3\ne = 1.5.6\nf = 0123\ng = -foo\nh = 123456789012345678901234567890\ni = 10.0bar\nj = 1E+2\nk = -\nl = .5\nm = 1.\nn = 0\no = -0.0",
			want: `{"a":0.5,"b":1e3,"c":-1,"d":-0.5e-3,"e":"1.5.6","f":"0123","g":"-foo","h":123456789012345678901234567890,"i":"10.0bar","j":1E+2,"k":"-","l":".5","m":"1.","n":0,"o":-0.0}`},
		{name: "include is an ordinary value", in: "a = include\nb = [include]\nfoo include = 42\n\"include\" = 1",
			want: `{"a":"include","b":["include"],"foo include":42,"include":1}`},
	})
}

func TestNumberText(t *testing.T) {
	v := mustParse(t, "a = 1e3\nb = 7090\nc = -0.50", nil, nil)
	for k, want := range map[string]string{"a": "1e3", "b": "7090", "c": "-0.50"} {
		got, _ := v.Path(k)
		if got.Kind != Number || got.Str != want {
			t.Errorf("%s = %v %q, want number %q", k, got.Kind, got.Str, want)
		}
	}
	b, _ := mustParse(t, "t = true\nf = false", nil, nil).Path("t")
	if b.Kind != Bool || !b.Bool || b.Str != "true" {
		t.Errorf("true parsed as %+v", b)
	}
}

func TestKeys(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "path expressions", in: "a.b.c = 1\na.b.d = 2\n\"a.b\".c = 3\na.\"b.c\" = 4\n\"bootstrap.servers\" = x",
			want: `{"a":{"b":{"c":1,"d":2},"b.c":4},"a.b":{"c":3},"bootstrap.servers":"x"}`, ordered: true},
		{name: "whitespace in keys", in: "a b c = 1\n  x y {z = 2}", want: `{"a b c":1,"x y":{"z":2}}`},
		{name: "keyword and number keys", in: "true = 1\nnull = 2\n5 = 3\n3.14 = 4\n10.0foo = 5\n1.2.3 = 6",
			want: `{"true":1,"null":2,"5":3,"3":{"14":4},"10":{"0foo":5},"1":{"2":{"3":6}}}`},
		{name: "quoted concatenated key", in: "foo\"10.0\" = 1\n\"a\" \"b\" = 2", want: `{"foo10.0":1,"a b":2}`},
		{name: "empty keys must be quoted", in: "\"\" = 1\na.\"\".b = 2", want: `{"":1,"a":{"":{"b":2}}}`},
		{name: "doubled dot", in: "a..b = 1", err: "empty element"},
		{name: "leading dot", in: ".a = 1", err: "empty element"},
		{name: "trailing dot", in: "a. = 1", err: "empty element"},
		{name: "substitution in key", in: "a ${x} = 1", err: "substitutions are not allowed in keys"},
		{name: "substitution as key", in: "${x} = 1", err: "expected a field"},
		{name: "include must be followed by a file", in: "include = 1", err: "include must be followed by"},
		{name: "key without value", in: "a", err: "expected ':', '=' or '{' after the key"},
		{name: "key then newline", in: "a\n= 1", err: "got a newline"},
	})
}

func TestMerging(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "objects merge", in: "foo { a = 42 }\nfoo { b = 43 }", want: `{"foo":{"a":42,"b":43}}`},
		{name: "null prevents merge", in: "foo { a = 42 }\nfoo = null\nfoo { b = 43 }", want: `{"foo":{"b":43}}`},
		{name: "null replaces", in: "foo { a = 42 }\nfoo = null", want: `{"foo":null}`},
		{name: "later non-object wins", in: "a { x = 1 }\na = 5\nb = 5\nb { x = 1 }\nc = [1]\nc = [2]\nd = x\nd = [1]",
			want: `{"a":5,"b":{"x":1},"c":[2],"d":[1]}`},
		{name: "deep merge through paths", in: "a.b.c = 1\na { b { d = 2 } }\na.e = 3\na.b.c = 4",
			want: `{"a":{"b":{"c":4,"d":2},"e":3}}`},
		{name: "keys keep first definition order", in: "b = 1\na = 2\nb = 3\nc { z = 1, y = 2 }\nc { x = 3, z = 4 }",
			want: `{"b":3,"a":2,"c":{"z":4,"y":2,"x":3}}`, ordered: true},
	})
}

func TestConcatenation(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "url from pieces", in: "host = example.com\nport = 80\nurl = \"http://\"${host}\":\"${port}\"/x\"",
			want: `{"host":"example.com","port":80,"url":"http://example.com:80/x"}`},
		{name: "whitespace between substitutions kept", in: "a = 1\nb = 2\nc = ${a} ${b}\nd = ${a}  and  ${b}",
			want: `{"a":1,"b":2,"c":"1 2","d":"1  and  2"}`},
		{name: "non-strings become their text", in: "a = true\nb = ${a}x\nc = 1.50 ${a}\nn = null\nd = ${n}x",
			want: `{"a":true,"b":"truex","c":"1.50 true","n":null,"d":"nullx"}`},
		{name: "single substitution keeps its type", in: "a = 5\nb = ${a}\nc = {x = [1]}\nd = ${c}",
			want: `{"a":5,"b":5,"c":{"x":[1]},"d":{"x":[1]}}`},
		{name: "arrays", in: "a = [1] [2, 3]\nb = [x] ${a}\nc = ${a} ${a}", want: `{"a":[1,2,3],"b":["x",1,2,3],"c":[1,2,3,1,2,3]}`},
		{name: "objects", in: "a = {x = 1} {y = 2}\nb = ${a} {x = 3}\nc = {p = {q = 1}} {p = {r = 2}}",
			want: `{"a":{"x":1,"y":2},"b":{"x":3,"y":2},"c":{"p":{"q":1,"r":2}}}`},
		{name: "inheritance", in: "data-center-generic = { cluster-size = 6 }\ndata-center-east = ${data-center-generic} { name = \"east\" }",
			want: `{"data-center-generic":{"cluster-size":6},"data-center-east":{"cluster-size":6,"name":"east"}}`},
		{name: "whitespace between objects ignored", in: "a = {x=1}\nb = {y=2}\nc = ${a} ${b}", want: `{"a":{"x":1},"b":{"y":2},"c":{"x":1,"y":2}}`},
		{name: "array elements are concatenations", in: "name = me\nworld = earth\nx = [ This is ${name}, Hello ${world} ]\ny = [ 1 2 3 4 ]\nz = [ [ 1, 2 ] [ 3, 4 ] ]\nw = [ [ 1, 2 ]\n [ 3, 4 ] ]",
			want: `{"name":"me","world":"earth","x":["This is me","Hello earth"],"y":["1 2 3 4"],"z":[[1,2,3,4]],"w":[[1,2],[3,4]]}`},
		{name: "array and object", in: "a = [1] {b = 1}", err: "cannot concatenate an object and an array"},
		{name: "string and array", in: "a = foo [1]", err: "cannot concatenate"},
		{name: "string and object", in: "a = {b = 1} foo", err: "cannot concatenate"},
		{name: "substituted object and string", in: "x = {a=1}\nb = ${x} foo", err: "cannot concatenate"},
		{name: "substituted array and string", in: "x = [1]\nb = ${x}\"s\"", err: "cannot concatenate"},
		{name: "quoted whitespace between objects", in: "a = {x=1}\nb = {y=2}\nc = ${a} \" \" ${b}", err: "cannot concatenate"},
		{name: "object then array by substitution", in: "a = {x=1}\nb = [1]\nc = ${a} ${b}", err: "cannot concatenate an object and an array"},
	})
}

func TestSubstitutions(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "forward reference", in: "a = ${b}\nb = 5", want: `{"a":5,"b":5}`},
		{name: "nested and quoted paths", in: "a = ${x.y.z}\nx.y.z = deep\nb = ${\"q.r\"}\n\"q.r\" = 1\nc = ${x.\"s.t\"}\nx { \"s.t\" = 2 }\nd = ${ x.y.z }",
			want: `{"a":"deep","x":{"y":{"z":"deep"},"s.t":2},"b":1,"q.r":1,"c":2,"d":"deep"}`},
		{name: "substitution in array and object", in: "v = 1\na = [${v}, {w = ${v}}]", want: `{"v":1,"a":[1,{"w":1}]}`},
		{name: "object refers into itself", in: "bar : { foo : 42, baz : ${bar.foo} }", want: `{"bar":{"foo":42,"baz":42}}`},
		{name: "look forward to the final value", in: "bar : { foo : 42, baz : ${bar.foo} }\nbar : { foo : 43 }", want: `{"bar":{"foo":43,"baz":43}}`},
		{name: "mutually referring objects", in: "bar : { a : ${foo.d}, b : 1 }\nbar.b = 3\nfoo : { c : ${bar.b}, d : 2 }\nfoo.d = 4",
			want: `{"bar":{"a":4,"b":3},"foo":{"c":3,"d":4}}`},
		{name: "hidden substitution is never evaluated", in: "foo : ${does-not-exist}\nfoo : 42", want: `{"foo":42}`},
		{name: "chain", in: "a = ${b}\nb = ${c}\nc = ${d}\nd = end", want: `{"a":"end","b":"end","c":"end","d":"end"}`},
		{name: "undefined", in: "a = 1\nb = ${nope.x}", err: "/cfg/main.conf:2:5: undefined substitution ${nope.x}"},
		{name: "through a non-object", in: "a = 1\nb = ${a.x}", err: "undefined substitution ${a.x}"},
		{name: "substitution of null", in: "a = null\nb = ${a}", want: `{"a":null,"b":null}`},
	})
}

func TestOptionalSubstitutions(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "field not created", in: "a = ${?nope}", want: `{}`},
		{name: "earlier value stays", in: "a = 1\na = ${?nope}\nb { x = 1 }\nb = ${?nope}", want: `{"a":1,"b":{"x":1}}`},
		{name: "later value still applies", in: "a = 1\na = ${?nope}\na = 2", want: `{"a":2}`},
		{name: "array element dropped", in: "a = [${?nope}, 1, ${?nope}]", want: `{"a":[1]}`},
		{name: "empty in string concatenation", in: "a = x${?nope}y\nb = \"http://\"${?nope}\":80\"", want: `{"a":"xy","b":"http://:80"}`},
		{name: "all parts undefined", in: "a = ${?nope}${?nope2}\nb = ${?nope} ${?nope2}", want: `{}`},
		{name: "empty array or object in concatenation", in: "a = ${?nope} [1]\nb = ${?nope} {x = 1}", want: `{"a":[1],"b":{"x":1}}`},
		{name: "defined optional", in: "x = 5\na = ${?x}", want: `{"x":5,"a":5}`},
	})
}

func TestEnvironment(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "env fallback", env: map[string]string{"X": "from-env"},
			in:   "a = ${X}\nb = ${?X}\nc = \"x\"\nc = ${?X}\nd = \"d\"\nd = ${?UNSET}",
			want: `{"a":"from-env","b":"from-env","c":"from-env","d":"d"}`},
		{name: "empty env is unset", env: map[string]string{"E": ""}, in: "a = keep\na = ${?E}", want: `{"a":"keep"}`},
		{name: "empty env required", env: map[string]string{"E": ""}, in: "a = ${E}", err: "undefined substitution ${E}"},
		{name: "config null blocks env", env: map[string]string{"HOME": "/h"}, in: "HOME = null\na = ${HOME}", want: `{"HOME":null,"a":null}`},
		{name: "config wins over env", env: map[string]string{"X": "env"}, in: "X = cfg\na = ${X}", want: `{"X":"cfg","a":"cfg"}`},
		{name: "env values are strings", env: map[string]string{"PORT": "8080"}, in: "p = ${PORT}", want: `{"p":"8080"}`},
		{name: "dotted path in env", env: map[string]string{"a.b": "v"}, in: "x = ${a.b}", want: `{"x":"v"}`},
		{name: "env list", env: map[string]string{"L_0": "a", "L_1": "b", "L_3": "d"}, in: "a = ${L[]}\nb = ${?M[]}", want: `{"a":["a","b"]}`},
		{name: "env list missing", in: "a = ${M[]}", err: "undefined substitution ${M[]}"},
		{name: "fallback merged under the root", fallback: map[string]string{"user.dir": "/w", "a": "fb", "z": "last"},
			in: "a = file\nb = ${user.dir}", want: `{"a":"file","b":"/w","user":{"dir":"/w"},"z":"last"}`, ordered: true},
		{name: "fallback object wins over string", fallback: map[string]string{"x": "s", "x.y": "t"}, in: "", want: `{"x":{"y":"t"}}`},
		{name: "fallback map when the tree shadows it", fallback: map[string]string{"user.dir": "/w"}, env: map[string]string{"user.dir": "env"},
			in: "user = 5\na = ${user.dir}", want: `{"user":5,"a":"/w"}`},
		{name: "fallback merges with objects", fallback: map[string]string{"o.b": "fb", "o.c": "fb"}, in: "o { a = 1, b = 2 }",
			want: `{"o":{"a":1,"b":2,"c":"fb"}}`, ordered: true},
	})
}

func TestSelfReference(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "string append", in: "path = \"a\"\npath = ${path}\":b\"\npath = ${path}\":c\"", want: `{"path":"a:b:c"}`},
		{name: "array append", in: "a = [1]\na = ${a} [2]\na = ${a} [3]", want: `{"a":[1,2,3]}`},
		{name: "optional self reference first mention", in: "a = ${?a} [x]\nb = [w]\nb = ${?b} [x]", want: `{"a":["x"],"b":["w","x"]}`},
		{name: "optional self reference in string", in: "a = ${?a}foo", want: `{"a":"foo"}`},
		{name: "object extends itself", in: "a = {x = 1}\na = ${a} {y = 2}\nb { x = 1 }\nb = ${b}", want: `{"a":{"x":1,"y":2},"b":{"x":1}}`},
		{name: "alone", in: "foo = ${foo}", err: "refers to the field being defined"},
		{name: "alone optional", in: "foo = ${?foo}", want: `{}`},
		{name: "before its value", in: "foo : ${foo}\nfoo : { a : 1 }", err: "refers to the field being defined"},
		{name: "below even in a path", in: "foo : { a : { c : 1 } }\nfoo : ${foo.a}\nfoo : { a : 2 }", want: `{"foo":{"a":2,"c":1}}`},
		{name: "nested field", in: "x { p = a }\nx { p = ${x.p}b }\nx.p = ${x.p}c", want: `{"x":{"p":"abc"}}`},
		{name: "cycle broken by looking back", in: "a = 1\nb = ${a}\na = ${b}", want: `{"a":1,"b":1}`},
		{name: "optional cycle", in: "a : ${?b}\nb : ${?a}", want: `{}`},
		{name: "two-step cycle", in: "bar : ${foo}\nfoo : ${bar}", err: "cycle"},
		{name: "three-step cycle", in: "a : ${b}\nb : ${c}\nc : ${a}", err: "cycle"},
		{name: "object containing itself", in: "a : { b : ${a} }", err: "cycle"},
		{name: "array containing itself", in: "a : [${a}]", err: "cycle"},
		{name: "cycle inside objects", in: "a = { x = ${a.y}, y = ${a.x} }", err: "cycle"},
	})
}

func TestSelfReferenceUndefinedOrder(t *testing.T) {
	// The spec allows either value but both must be the same.
	v := mustParse(t, "a : 1\nb : 2\na : ${b}\nb : ${a}", nil, nil)
	a, _ := v.Path("a")
	b, _ := v.Path("b")
	if a.Str != b.Str || (a.Str != "1" && a.Str != "2") {
		t.Fatalf("a = %s, b = %s", a.JSON(), b.JSON())
	}
}

func TestPlusEquals(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "first mention", in: "a += 1", want: `{"a":[1]}`},
		{name: "appends", in: "a = [0]\na += 1\na += 2", want: `{"a":[0,1,2]}`},
		{name: "nested", in: "x { a += 1 }\nx { a += 2 }\nx.b += y\nx.b += {c = 3}", want: `{"x":{"a":[1,2],"b":["y",{"c":3}]}}`},
		{name: "substitution element", in: "v = 5\na += ${v}\na += ${v}x", want: `{"v":5,"a":[5,"5x"]}`},
		{name: "inside an array", in: "arr = [{ b = [0], b += 1 }]", want: `{"arr":[{"b":[0,1]}]}`},
		{name: "after an optional", in: "a = [0]\na = ${?nope}\na += 1", want: `{"a":[0,1]}`},
		{name: "not an array", in: "a = 5\na += 1", err: "cannot concatenate"},
		{name: "extensions of one array do not clobber each other", in: "b0 = [1, 2, 3]\nbase = ${b0} [4]\nx = ${base} [5]\ny = ${base} [6]\nz = ${base} []\nz += 7",
			want: `{"b0":[1,2,3],"base":[1,2,3,4],"x":[1,2,3,4,5],"y":[1,2,3,4,6],"z":[1,2,3,4,7]}`},
	})
}

func TestIncludes(t *testing.T) {
	inc := map[string]string{"/cfg/inc.conf": "x = 1"}
	runFeatureCases(t, []featureCase{
		{name: "heuristic", in: "include \"inc.conf\"", files: inc, want: `{"x":1}`},
		{name: "file", in: "include file(\"inc.conf\")", files: inc, want: `{"x":1}`},
		// file("...") relative: the working directory first (Typesafe's,
		// so MAD's: its image runs in /opt/mad with file("config/...")),
		// then beside the including file; a plain include: beside it.
		{name: "file, working directory first", in: "include file(\"sub/inc.conf\")",
			files: map[string]string{"sub/inc.conf": "x = 2", "/cfg/sub/inc.conf": "x = 3"}, want: `{"x":2}`},
		{name: "plain include, beside the file", in: "include \"sub/inc.conf\"",
			files: map[string]string{"sub/inc.conf": "x = 2", "/cfg/sub/inc.conf": "x = 3"}, want: `{"x":3}`},
		{name: "file, missing required: both places named", in: "include required(file(\"sub/none.conf\"))",
			err: "file sub/none.conf nor /cfg/sub/none.conf not found"},
		{name: "required file", in: "include required(file(\"/cfg/inc.conf\"))", files: inc, want: `{"x":1}`},
		{name: "required", in: "include required(\"inc.conf\")", files: inc, want: `{"x":1}`},
		{name: "whitespace and newlines", in: "include\n  required( file( \"inc.conf\" ) )\ny = 2", files: inc, want: `{"x":1,"y":2}`},
		{name: "file URL", in: "include \"file:///cfg/inc.conf\"", files: inc, want: `{"x":1}`},
		{name: "missing is ignored", in: "include \"missing.conf\"\na = 1", want: `{"a":1}`},
		{name: "missing required", in: "a = 1\ninclude required(\"missing.conf\")", err: "/cfg/main.conf:2:1: include required(\"missing.conf\"): file /cfg/missing.conf not found"},
		{name: "url", in: "include url(\"http://example.com/x.conf\")", err: "URL includes are not supported"},
		{name: "URL heuristic", in: "include \"https://example.com/x.conf\"", err: "URL includes are not supported"},
		{name: "classpath is missing", in: "include classpath(\"x.conf\")\na = 1", want: `{"a":1}`},
		{name: "required classpath", in: "include required(classpath(\"x.conf\"))", err: "classpath"},
		{name: "merges in place", files: map[string]string{"/cfg/inc.conf": "x = 10\ny = 20\nz = 30\no { b = 2 }"},
			in: "x = 1\no { a = 1 }\ninclude \"inc.conf\"\ny = 2", want: `{"x":10,"o":{"a":1,"b":2},"y":2,"z":30}`, ordered: true},
		{name: "substitutions are relative to the include point", files: map[string]string{"/cfg/foo.conf": "x = 10\ny = ${x}"},
			in: "a { include \"foo.conf\" }", want: `{"a":{"x":10,"y":10}}`},
		{name: "fixed-up substitution sees later definitions", files: map[string]string{"/cfg/foo.conf": "x = 10\ny = ${x}"},
			in: "a { include \"foo.conf\" }\na { x = 42 }", want: `{"a":{"x":42,"y":42}}`},
		{name: "unprefixed path as second choice", files: map[string]string{"/cfg/foo.conf": "z = ${top}\nw = ${?nope}"},
			in: "top = 7\na { include \"foo.conf\" }", want: `{"top":7,"a":{"z":7}}`},
		{name: "nested include under a path key", files: map[string]string{"/cfg/foo.conf": "x = 1\ny = ${x}"},
			in: "a.b { include \"foo.conf\" }", want: `{"a":{"b":{"x":1,"y":1}}}`},
		{name: "includes in included files are relative to them", files: map[string]string{
			"/cfg/sub/a.conf": "include \"b.conf\"\na = 1", "/cfg/sub/b.conf": "b = 2"},
			in: "include \"sub/a.conf\"", want: `{"b":2,"a":1}`},
		{name: "prefixes accumulate", files: map[string]string{
			"/cfg/a.conf": "p { include \"b.conf\" }", "/cfg/b.conf": "v = 1\nw = ${v}"},
			in: "o { include \"a.conf\" }", want: `{"o":{"p":{"v":1,"w":1}}}`},
		{name: "in an array", in: "arr = [{ include \"inc.conf\" }]", files: inc, want: `{"arr":[{"x":1}]}`},
		{name: "json", files: map[string]string{"/cfg/data.json": `{"j": [1, 2], "k": {"l": "m"}}`}, in: "include \"data.json\"",
			want: `{"j":[1,2],"k":{"l":"m"}}`},
		{name: "json must be strict", files: map[string]string{"/cfg/data.json": `{"j": 1,}`}, in: "include \"data.json\"", err: "/cfg/data.json:1:9: trailing comma"},
		{name: "basename loads json then conf", files: map[string]string{"/cfg/both.json": `{"a": 1, "b": 1}`, "/cfg/both.conf": "b = 2"},
			in: "include \"both\"", want: `{"a":1,"b":2}`},
		{name: "basename without extension file", files: map[string]string{"/cfg/plain": "p = 1"}, in: "include \"plain\"", want: `{"p":1}`},
		{name: "array root", files: map[string]string{"/cfg/arr.conf": "[1, 2]"}, in: "include \"arr.conf\"", err: "must be an object"},
		{name: "properties", files: map[string]string{"/cfg/x.properties": "a=1"}, in: "include \"x.properties\"", err: "properties files are not supported"},
		{name: "cycle", files: map[string]string{"/cfg/a.conf": "include \"b.conf\"", "/cfg/b.conf": "include \"a.conf\""},
			in: "include \"a.conf\"", err: "include cycle: /cfg/a.conf -> /cfg/b.conf -> /cfg/a.conf"},
		{name: "self include", in: "include \"main.conf\"", files: map[string]string{mainFile: "include \"main.conf\""}, err: "include cycle"},
		{name: "error in included file", files: map[string]string{"/cfg/bad.conf": "a = [1,"}, in: "include \"bad.conf\"", err: "/cfg/bad.conf:1:8: expected ']'"},
		{name: "unquoted name", in: "include foo", err: "include must be followed by"},
		{name: "unknown wrapper", in: "include resource(\"x\")", err: "include must be followed by"},
		{name: "unclosed", in: "include file(\"x\"\na = 1", err: "expected ')'"},
		{name: "two names", in: "include \"a\" \"b\"", files: inc, err: "expected ',' or a newline"},
		{name: "nested required", in: "include required(required(\"x\"))", err: "invalid include"},
		{name: "empty name", in: "include \"\"", err: "empty string"},
		{name: "plus equals in include", files: map[string]string{"/cfg/l.conf": "l += 2"}, in: "o { l = [1] }\no { include \"l.conf\" }", want: `{"o":{"l":[1,2]}}`},
	})
}

func TestErrors(t *testing.T) {
	runFeatureCases(t, []featureCase{
		{name: "unterminated string", in: "a = \"abc", err: "/cfg/main.conf:1:5: unterminated string"},
		{name: "newline in string", in: "a = \"x\ny\"", err: "/cfg/main.conf:1:7: unterminated string: a quoted string cannot span lines"},
		{name: "control character", in: "a = \"x\x01\"", err: "control character U+0001"},
		{name: "unterminated triple", in: "a = \"\"\"abc", err: "1:5: unterminated triple-quoted string"},
		{name: "invalid escape", in: `a = "\q"`, err: `1:6: invalid escape sequence \q`},
		{name: "short unicode escape", in: `a = "\u12"`, err: `four hex digits`},
		{name: "unclosed object", in: "a {\n  b = 1", err: "/cfg/main.conf:2:8: expected '}' or a field, got end of input (the '{' at /cfg/main.conf:1:3 is never closed)"},
		{name: "stray closing brace", in: "a = 1\n}", err: "2:1: unexpected '}' with no matching '{'"},
		{name: "content after root", in: "{ a = 1 } x", err: "1:11: unexpected \"x\" after the closing '}'"},
		{name: "unclosed array", in: "a = [1, 2", err: "1:10: expected ']' or a value, got end of input"},
		{name: "double comma in array", in: "a = [1,,2]", err: "1:8: unexpected ','"},
		{name: "leading comma in array", in: "a = [,1]", err: "unexpected ','"},
		{name: "double trailing comma", in: "a = [1,2,,]", err: "unexpected ','"},
		{name: "double comma in object", in: "{a=1,,b=2}", err: "1:6: unexpected ','"},
		{name: "leading comma in object", in: "{,a=1}", err: "unexpected ','"},
		{name: "missing separator", in: "a = 1 b = 2", err: "1:9: expected ',' or a newline after a field, got '='"},
		{name: "missing separator braced", in: "{a = 1 b = 2}", err: "expected ',', a newline or '}' after a field"},
		{name: "array elements need separators", in: "a = [[1] \n [2] [3] x]", err: "cannot concatenate"},
		{name: "bad character in object", in: "{ ] }", err: "1:3: expected '}' or a field, got ']'"},
		{name: "reserved character", in: "a = ^", err: "1:5: reserved character '^'"},
		{name: "lone dollar", in: "a = $x", err: "reserved character '$'"},
		{name: "lone plus", in: "a + = 1", err: "reserved character '+'"},
		{name: "unterminated substitution", in: "a = ${x", err: "1:5: unterminated substitution"},
		{name: "empty substitution", in: "a = ${ }", err: "empty substitution"},
		{name: "nested substitution", in: "a = ${${x}}", err: "cannot be nested"},
		{name: "bracket in substitution", in: "a = ${x[0]}", err: "unexpected '['"},
		{name: "missing value", in: "a =", err: "1:4: expected a value, got end of input"},
		{name: "missing value before brace", in: "a = }", err: "expected a value, got '}'"},
		{name: "array root", in: "[1, 2]", err: "1:1: the root of a configuration must be an object, not an array"},
		{name: "invalid UTF-8", in: "a = 1\nb = \"\xff\"", err: "/cfg/main.conf:2:6: invalid UTF-8"},
		{name: "undefined position", in: "a = 1\n  b = ${nope}", err: "/cfg/main.conf:2:7: undefined substitution ${nope}"},
	})
}

func TestPositions(t *testing.T) {
	v := mustParse(t, "a = 1\nb {\n  c = \"x\"\n}\nd = 2\nd = 3\nx = 5\ny = ${x}\nz = ${E}\ne = é\"x\"", map[string]string{"E": "env"}, nil)
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"a"}, mainFile + ":1:5"},
		{[]string{"b"}, mainFile + ":2:3"},
		{[]string{"b", "c"}, mainFile + ":3:7"},
		{[]string{"d"}, mainFile + ":6:5"},
		{[]string{"y"}, mainFile + ":7:5"}, // the value substituted
		{[]string{"z"}, mainFile + ":9:5"}, // the substitution, for env values
		{[]string{"e"}, mainFile + ":10:5"},
	} {
		got, ok := v.Path(c.path...)
		if !ok {
			t.Fatalf("%v missing", c.path)
		}
		if got.Pos.String() != c.want {
			t.Errorf("%v at %s, want %s", c.path, got.Pos, c.want)
		}
	}
	if v.Pos.String() != mainFile+":1:1" {
		t.Errorf("root at %s", v.Pos)
	}
	// Columns count characters, not bytes.
	_, err := Parse("x.conf", []byte("é = \"\x01\""), testOptions(nil, nil))
	wantErr(t, err, "x.conf:1:6:")
}
