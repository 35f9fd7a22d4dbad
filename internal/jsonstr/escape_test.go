package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

func TestReadEscape(t *testing.T) {
	for _, tc := range []struct {
		in   string
		r    rune
		n    int
		lone bool
	}{
		{`\"`, '"', 2, false},
		{`\\`, '\\', 2, false},
		{`\/`, '/', 2, false},
		{`\b`, '\b', 2, false},
		{`\f`, '\f', 2, false},
		{`\n`, '\n', 2, false},
		{`\r`, '\r', 2, false},
		{`\t`, '\t', 2, false},
		{`\u0041rest`, 'A', 6, false},
		{`\u00e9`, 'é', 6, false},
		{`\uFFFF`, 0xFFFF, 6, false},
		{`\ud83d\ude00`, 0x1F600, 12, false},
		{`\uD83D\uDE00x`, 0x1F600, 12, false},
		{`\udbff\udfff`, 0x10FFFF, 12, false},
		{`\ud800`, utf8.RuneError, 6, true},
		{`\ud800x`, utf8.RuneError, 6, true},
		{`\ud800\u0041`, utf8.RuneError, 6, true},
		{`\ud800\ud800\udc00`, utf8.RuneError, 6, true},
		{`\ud800\udc0`, utf8.RuneError, 6, true},
		{`\ud800\\udc00`, utf8.RuneError, 6, true},
		{`\udc00\ud800`, utf8.RuneError, 6, true},
		{`\udFe9`, utf8.RuneError, 6, true},
		{`\u12`, 0, 0, false},
		{`\u12g4`, 0, 0, false},
		{`\u+123`, 0, 0, false},
		{`\x`, 0, 0, false},
		{`\'`, 0, 0, false},
		{`\`, 0, 0, false},
		{``, 0, 0, false},
		{`a`, 0, 0, false},
	} {
		r, n, lone := ReadEscape([]byte(tc.in))
		if r != tc.r || n != tc.n || lone != tc.lone {
			t.Errorf("ReadEscape(%q) = %U, %d, %v; want %U, %d, %v", tc.in, r, n, lone, tc.r, tc.n, tc.lone)
		}
	}
}

func TestReplaceLoneSurrogates(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`"plain"`, `"plain"`},
		{`"\u00e9\n\ud83d\ude00"`, `"\u00e9\n\ud83d\ude00"`},
		{`"\ud800"`, `"\ufffd"`},
		{`"a\udc00b\uD800\u0041"`, `"a\ufffdb\ufffd\u0041"`},
		{`"\\ud800"`, `"\\ud800"`},   // an escaped backslash, then text
		{`"\\\ud800"`, `"\\\ufffd"`}, // an escaped backslash, then an escape
		{`"\ud800\ud800\udc00"`, `"\ufffd\ud800\udc00"`},
		{`"\x\ud800"`, `"\x\ufffd"`}, // an invalid escape stepped over
		{`"\u\ud800"`, `"\u\ufffd"`}, // \u without digits stepped over as two characters
		{`"\ud800`, `"\ufffd`},       // not JSON: rewritten all the same
		{`\`, `\`},
	} {
		dst := []byte("old contents")
		got, changed := ReplaceLoneSurrogates(dst, []byte(tc.in))
		if string(got) != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("ReplaceLoneSurrogates(%q) = %q, %v; want %q", tc.in, got, changed, tc.want)
		}
	}
}

func TestReplaceLoneSurrogatesAllocs(t *testing.T) {
	with := []byte(`{"a":"x\ud800y","b":"\udc00"}`)
	without := []byte(`{"a":"x\ud83d\ude00y","b":"\\ud800"}`)
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		ReplaceLoneSurrogates(dst, with)
		ReplaceLoneSurrogates(dst, without)
	}); n != 0 {
		t.Fatalf("%v allocations a call", n)
	}
	if _, changed := ReplaceLoneSurrogates(dst, without); changed {
		t.Fatal("a text without lone surrogates was copied")
	}
}

// unquoteRef reads a JSON string's contents by ReadEscape, the way mad's
// decoders use it.
func unquoteRef(s []byte) (string, bool) {
	var b []byte
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b = append(b, s[i])
			i++
			continue
		}
		r, n, _ := ReadEscape(s[i:])
		if n == 0 {
			return "", false
		}
		b = utf8.AppendRune(b, r)
		i += n
	}
	return string(b), true
}

// FuzzReadEscape holds ReadEscape, alone and behind fastjson after
// ReplaceLoneSurrogates, to encoding/json's reading of a JSON string.
func FuzzReadEscape(f *testing.F) {
	for _, s := range []string{`a`, `\u00e9`, `\ud800`, `\ud800\u0041`, `\ud83d\ude00`, `\\ud800`, `\udc00\ud800\udc00`, `\"\\\/\b\f\n\r\t`, `\uDBFF\uDFFF`} {
		f.Add([]byte(s))
	}
	var p fastjson.Parser
	var dst []byte
	f.Fuzz(func(t *testing.T, s []byte) {
		quoted := append(append([]byte{'"'}, s...), '"')
		if !utf8.Valid(s) || !json.Valid(quoted) {
			return
		}
		var want string
		if err := json.Unmarshal(quoted, &want); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		got, ok := unquoteRef(s)
		if !ok || got != want {
			t.Fatalf("ReadEscape reads %q as %q (%v); encoding/json as %q", s, got, ok, want)
		}
		fixed, changed := ReplaceLoneSurrogates(dst[:0], quoted)
		if changed {
			dst = fixed
			if len(fixed) != len(quoted) {
				t.Fatalf("length changed: %q to %q", quoted, fixed)
			}
		} else if !bytes.Equal(fixed, quoted) {
			t.Fatalf("unchanged but different: %q", fixed)
		}
		v, err := p.ParseBytes(fixed)
		if err != nil {
			t.Fatalf("fastjson refuses %q: %v", fixed, err)
		}
		fj, _ := v.StringBytes()
		if string(fj) != want {
			t.Fatalf("fastjson reads %q, rewritten %q, as %q; encoding/json as %q", s, fixed, fj, want)
		}
		if changed != strings.Contains(want, "\ufffd") && !strings.Contains(string(s), "\ufffd") && !strings.Contains(strings.ToLower(string(s)), `\ufffd`) {
			t.Fatalf("changed = %v for %q (read %q)", changed, s, want)
		}
	})
}

// FuzzReplaceLoneSurrogates holds whole JSON texts (keys, several strings,
// anything around them) read by fastjson after ReplaceLoneSurrogates to
// encoding/json's reading, token by token, and checks that the rewrite
// changes only what fastjson accepts nothing of: it accepts the text
// rewritten exactly when it accepts it as sent.
func FuzzReplaceLoneSurrogates(f *testing.F) {
	for _, s := range []string{
		`{"a\ud800":"\udc00\u0041","b":["\ud83d\ude00",1,"\\ud800",{"\ud800\ud800\udc00":null}]}`,
		`["\ud800"] trailing \ud800`,
		`{"a":"x"}`,
		`"\udfff\u0041"`,
		`[1,"\u12\ud800"]`,
	} {
		f.Add([]byte(s))
	}
	var p, q fastjson.Parser
	var dst []byte
	f.Fuzz(func(t *testing.T, text []byte) {
		fixed, changed := ReplaceLoneSurrogates(dst[:0], text)
		if changed {
			dst = fixed
		}
		_, errSent := p.ParseBytes(text)
		v, errFixed := q.ParseBytes(fixed)
		if (errSent == nil) != (errFixed == nil) {
			t.Fatalf("fastjson: %v as sent, %v rewritten (%q)", errSent, errFixed, fixed)
		}
		if errFixed != nil || !utf8.Valid(text) || !json.Valid(text) {
			return
		}
		want, err := jsonTokens(text)
		if err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		got := fastjsonTokens(nil, v)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("%q rewritten %q:\nfastjson      %q\nencoding/json %q", text, fixed, got, want)
		}
	})
}

// jsonTokens lists a JSON text's tokens as encoding/json reads them.
func jsonTokens(text []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var out []string
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return out, nil
			}
			return nil, err
		}
		out = append(out, token(tok))
	}
}

func token(tok any) string {
	switch x := tok.(type) {
	case json.Delim:
		return string(x)
	case string:
		return "s:" + x
	case json.Number:
		return "n:" + string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	}
	panic("unknown token")
}

// fastjsonTokens lists v's tokens as fastjson reads them, in the order of
// the text (keys are strings, as encoding/json's Token gives them).
func fastjsonTokens(out []string, v *fastjson.Value) []string {
	switch v.Type() {
	case fastjson.TypeObject:
		out = append(out, "{")
		o, _ := v.Object()
		o.Visit(func(k []byte, x *fastjson.Value) {
			out = append(out, "s:"+string(k))
			out = fastjsonTokens(out, x)
		})
		return append(out, "}")
	case fastjson.TypeArray:
		out = append(out, "[")
		a, _ := v.Array()
		for _, x := range a {
			out = fastjsonTokens(out, x)
		}
		return append(out, "]")
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return append(out, "s:"+string(s))
	case fastjson.TypeNumber:
		return append(out, "n:"+string(v.MarshalTo(nil)))
	case fastjson.TypeTrue:
		return append(out, "true")
	case fastjson.TypeFalse:
		return append(out, "false")
	}
	return append(out, "null")
}
