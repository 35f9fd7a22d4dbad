package jsonstr

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\t\n\f\r", `"\b\t\n\f\r"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f\""},
		{"/ < > &", `"/ < > &"`},
		{"é\u2028€", "\"é\u2028€\""},
		{"a\xffb\xc3", "\"a\ufffdb\ufffd\""},
	} {
		if got := string(AppendString(nil, tc.in)); got != tc.want {
			t.Errorf("AppendString(%q) = %s; want %s", tc.in, got, tc.want)
		}
		if got := string(Append([]byte("x"), []byte(tc.in))); got != "x"+tc.want {
			t.Errorf("Append(%q) = %s; want x%s", tc.in, got, tc.want)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	dst := make([]byte, 0, 256)
	s := []byte("a \"quoted\"\tvalue é \xff")
	if n := testing.AllocsPerRun(100, func() { dst = Append(dst[:0], s) }); n != 0 {
		t.Fatalf("%v allocations per Append; want 0", n)
	}
}

// FuzzAppend: the output is JSON that decodes to the input with each
// invalid byte replaced by U+FFFD, and holds no control character.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\x1f", "é€\U0001F600", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q → %s: not JSON: %v", s, out, err)
		}
		var want strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r) // RuneError for an invalid byte
			i += size
		}
		if got != want.String() {
			t.Fatalf("%q → %s → %q; want %q", s, out, got, want.String())
		}
		for _, c := range out {
			if c < 0x20 {
				t.Fatalf("%q → %s: raw control byte %#x", s, out, c)
			}
		}
	})
}
