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
		if plain := string(out) == `"`+s+`"`; Plain([]byte(s)) != plain {
			t.Fatalf("Plain(%q) = %v; Append writes %s", s, !plain, out)
		}
		for _, c := range out {
			if c < 0x20 {
				t.Fatalf("%q → %s: raw control byte %#x", s, out, c)
			}
		}
	})
}

// TestPlain checks Plain against what Append writes, on the table of
// TestAppend and on every byte value at every position of plain text, and
// AppendPlain against Append where Plain holds.
func TestPlain(t *testing.T) {
	check := func(s []byte) {
		t.Helper()
		quoted := `"` + string(s) + `"`
		want := string(Append(nil, s)) == quoted
		if got := Plain(s); got != want {
			t.Fatalf("Plain(%q) = %v; Append writes %s", s, got, Append(nil, s))
		}
		if want {
			if got := string(AppendPlain([]byte("x"), s)); got != "x"+quoted {
				t.Fatalf("AppendPlain(%q) = %s; want x%s", s, got, quoted)
			}
		}
	}
	for _, s := range []string{"", "plain", `a"b\c`, "\b\t", "\x00\x7f", "é\u2028€", "a\xffb", "\xef\xbf\xbd",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "abcdefgh\xc3", "abcdefgh\xc3\xa9"} {
		check([]byte(s))
	}
	for n := range 20 {
		for pos := range n {
			for v := range 256 {
				s := []byte(strings.Repeat("ab~ 09/Z", 3)[:n])
				s[pos] = byte(v)
				check(s)
				if pos+1 < n { // a two-byte sequence starting here
					s[pos+1] = 0xA9
					check(s)
				}
			}
		}
	}
}

// TestPlainPrefix puts every byte value at every position of 24 plain
// bytes and checks plainPrefix against a byte-at-a-time reading: it stops
// at the 8-byte word holding the first byte that needs escaping or is not
// ASCII, and not before.
func TestPlainPrefix(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' }
	for n := range 25 {
		for pos := range n + 1 {
			for v := range 256 {
				s := []byte(strings.Repeat("ab~ 09/Z", 3)[:n])
				if pos < n {
					s[pos] = byte(v)
				}
				want := 0
				for want < len(s) && plain(s[want]) {
					want++
				}
				want -= want % 8
				if got := plainPrefix(s); got != want {
					t.Fatalf("plainPrefix(%q) = %d; want %d", s, got, want)
				}
			}
		}
	}
}

// BenchmarkAppend appends strings shaped like what the sinks write: metric
// names, dimension keys and values.
func BenchmarkAppend(b *testing.B) {
	in := [][]byte{[]byte("s2.service_03.requests"), []byte("host"), []byte("host-042"),
		[]byte("endpoint"), []byte("/api/v1/endpoint/042"), []byte("region"), []byte("us-east-1"),
		[]byte("service.endpoint_123.latency")}
	n := 0
	for _, s := range in {
		n += len(s)
	}
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(n))
	for range b.N {
		dst = dst[:0]
		for _, s := range in {
			dst = Append(dst, s)
		}
	}
}
