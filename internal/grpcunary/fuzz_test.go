package grpcunary

import (
	"bytes"
	"net/url"
	"testing"
)

func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"1H", "99999999H", "2562048H", "0n", "5s", "123456789S", "12x", "", "1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseTimeout(s)
		want, wok := refParseTimeout(s)
		if got != want || ok != wok {
			t.Fatalf("ParseTimeout(%q): got %v, %v; want %v, %v", s, got, ok, want, wok)
		}
	})
}

// FuzzEncodeMessage: what encodeMessage writes is printable ASCII, and
// percent-decoding it (net/url, an independent decoder) gives the message
// with each invalid UTF-8 byte replaced by U+FFFD.
func FuzzEncodeMessage(f *testing.F) {
	for _, s := range []string{"", "abc", "100%", "é\n", "\xff\xfe", "%%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := encodeMessage(s)
		for i := 0; i < len(e); i++ {
			if e[i] < ' ' || e[i] > '~' {
				t.Fatalf("encodeMessage(%q) = %q: byte %#x is not printable ASCII", s, e, e[i])
			}
		}
		got, err := url.PathUnescape(e)
		if err != nil {
			t.Fatalf("encodeMessage(%q) = %q: %v", s, e, err)
		}
		// Converting to runes replaces each invalid byte with U+FFFD, as
		// grpc-go does.
		if want := string([]rune(s)); got != want {
			t.Fatalf("decoding encodeMessage(%q) = %q: got %q; want %q", s, e, got, want)
		}
	})
}

func FuzzReadMessage(f *testing.F) {
	msg := []byte("message")
	for _, b := range [][]byte{
		nil, frame(0, 7, msg), frame(1, 7, msg), frame(0, 3, msg), frame(2, 0, nil),
		cat(frame(0, 1, []byte("a")), frame(0, 1, []byte("b"))), frame(0, 7, msg)[:9],
		frame(1, uint32(len(gz(f, msg))), gz(f, msg)), frame(1, uint32(len(gz(f, make([]byte, 5000)))), gz(f, make([]byte, 5000))),
	} {
		f.Add(b, true, uint16(0))
		f.Add(b, false, uint16(1000))
	}
	var rd Reader
	f.Fuzz(func(t *testing.T, body []byte, gzip bool, limit uint16) {
		enc := Identity
		if gzip {
			enc = Gzip
		}
		rd.MaxMessage = int(limit)
		got, err := rd.ReadMessage(bytes.NewReader(body), enc)
		compareRef(t, body, enc, int(limit), got, err)
	})
}
