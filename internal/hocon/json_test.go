package hocon

import (
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		ordered        bool
	}{
		{"object", `{"a": 1, "b": [true, false, null], "c": {"d": "e"}}`, `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, false},
		{"whitespace", " \t\r\n{ \"a\" :\n1 }\n ", `{"a":1}`, false},
		{"empty", `{}`, `{}`, false},
		{"bom", "\uFEFF{\"a\":1}", `{"a":1}`, false},
		{"numbers kept as written", `{"a": 0, "b": -0.5, "c": 1E+10, "d": 12345678901234567890123, "e": 1e-3}`,
			`{"a":0,"b":-0.5,"c":1E+10,"d":12345678901234567890123,"e":1e-3}`, true},
		{"escapes", `{"a": "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, `{"a":"\"\\/\b\f\n\r\té😀"}`, false},
		{"duplicate keys: last wins in first position", `{"a": {"x": 1}, "b": 2, "a": {"y": 3}}`, `{"a":{"y":3},"b":2}`, true},
		{"order", `{"z": 1, "a": 2, "m": 3}`, `{"z":1,"a":2,"m":3}`, true},
		{"not HOCON", `{"a": "${x}", "b": "x # y"}`, `{"a":"${x}","b":"x # y"}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := ParseJSON("t.json", []byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			assertJSON(t, v, c.want, c.ordered)
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	for _, c := range []struct{ name, in, err string }{
		{"empty", ``, "t.json:1:1: empty document"},
		{"array root", `[1]`, "t.json:1:1: the root of a JSON configuration must be an object"},
		{"scalar root", `"x"`, "t.json:1:1: expected '{'"},
		{"hash comment", "{\n  # c\n  \"a\": 1}", "t.json:2:3: comments are not allowed in JSON"},
		{"slash comment", "{\"a\": 1 // c\n}", "t.json:1:9: comments are not allowed"},
		{"block comment", "{/* c */ \"a\": 1}", "t.json:1:2: comments are not allowed"},
		{"trailing comma in object", `{"a": 1,}`, "t.json:1:9: trailing comma before '}'"},
		{"trailing comma in array", `{"a": [1,]}`, "t.json:1:10: trailing comma before ']'"},
		{"unquoted key", `{a: 1}`, "t.json:1:2: object keys must be quoted strings"},
		{"unquoted value", `{"a": foo}`, "t.json:1:7: invalid literal"},
		{"single quotes", `{"a": 'x'}`, "double quotes"},
		{"missing colon", `{"a" 1}`, "t.json:1:6: unexpected '1': expected ':' after the key \"a\""},
		{"missing comma", `{"a": 1 "b": 2}`, "t.json:1:9: unexpected '\"': expected ',' or '}'"},
		{"missing comma in array", `{"a": [1 2]}`, "expected ',' or ']'"},
		{"leading zero", `{"a": 01}`, "t.json:1:7: invalid number"},
		{"bare minus", `{"a": -}`, "invalid number"},
		{"trailing dot", `{"a": 1.}`, "invalid number"},
		{"leading dot", `{"a": .5}`, "unexpected '.'"},
		{"bad exponent", `{"a": 1e}`, "invalid number"},
		{"plus", `{"a": +1}`, "unexpected '+'"},
		{"NaN", `{"a": NaN}`, "unexpected 'N'"},
		{"bad literal", `{"a": tru}`, "invalid literal"},
		{"literal prefix", `{"a": truex}`, "invalid literal"},
		{"unterminated string", `{"a": "x}`, "t.json:1:7: unterminated string"},
		{"newline in string", "{\"a\": \"x\ny\"}", "t.json:1:9: control character U+000A"},
		{"bad escape", `{"a": "\x"}`, `t.json:1:8: invalid escape sequence \x`},
		{"garbage after", `{"a": 1} x`, "t.json:1:10: unexpected 'x' after the end"},
		{"second object", `{}{}`, "after the end"},
		{"unclosed", `{"a": [1`, "unexpected end of input"},
		{"invalid UTF-8", "{\"a\": \"\xc3\x28\"}", "t.json:1:8: invalid UTF-8"},
		{"HOCON", "a = 1", "expected '{'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseJSON("t.json", []byte(c.in))
			wantErr(t, err, c.err)
		})
	}
}

func TestParseJSONDepth(t *testing.T) {
	nest := func(n int) string {
		return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}"
	}
	if _, err := ParseJSON("t.json", []byte(nest(maxDepth))); err != nil {
		t.Fatalf("depth %d: %v", maxDepth, err)
	}
	_, err := ParseJSON("t.json", []byte(nest(maxDepth+1)))
	wantErr(t, err, "nest too deeply")
	_, err = ParseJSON("t.json", []byte(nest(1_000_000)))
	wantErr(t, err, "nest too deeply")
}

func TestParseFile(t *testing.T) {
	files := map[string]string{
		"/c/a.conf":   "a = 1\nb = ${a}",
		"/c/A.CONF":   "a = 2",
		"/c/a.json":   `{"a": 3}`,
		"/c/bad.json": "a = 1",
	}
	opt := testOptions(nil, files)
	for path, want := range map[string]string{"/c/a.conf": `{"a":1,"b":1}`, "/c/A.CONF": `{"a":2}`, "/c/a.json": `{"a":3}`} {
		v, err := ParseFile(path, opt)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		assertJSON(t, v, want, true)
	}
	_, err := ParseFile("/c/bad.json", opt)
	wantErr(t, err, "/c/bad.json:1:1: expected '{'")
	_, err = ParseFile("/c/missing.conf", opt)
	wantErr(t, err, "/c/missing.conf: cannot read")
}
