package bounded

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadAll: every length around the limit, with readers that return a
// byte at a time and that fail, against the rule: up to limit bytes read
// whole; past it ErrTooLarge after limit+1 bytes, even if an error follows.
func TestReadAll(t *testing.T) {
	boom := errors.New("boom")
	for _, limit := range []int{0, 1, 7, 100, 5000} {
		for _, n := range []int{0, 1, limit - 1, limit, limit + 1, 2*limit + 3} {
			if n < 0 {
				continue
			}
			data := bytes.Repeat([]byte{'x'}, n)
			for name, r := range map[string]io.Reader{
				"whole":          bytes.NewReader(data),
				"a byte at once": iotest.OneByteReader(bytes.NewReader(data)),
				"then an error":  io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)),
			} {
				got, err := ReadAll(r, make([]byte, 3, 4), limit, 16)
				switch {
				case n > limit:
					if !errors.Is(err, ErrTooLarge) || len(got) != limit+1 {
						t.Errorf("limit %d, %d bytes, %s: %d bytes, %v; want limit+1 and ErrTooLarge", limit, n, name, len(got), err)
					}
				case name == "then an error":
					if !errors.Is(err, boom) {
						t.Errorf("limit %d, %d bytes, %s: %v; want the reader's error", limit, n, name, err)
					}
				default:
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("limit %d, %d bytes, %s: %d bytes, %v", limit, n, name, len(got), err)
					}
				}
				if cap(got) > max(limit+1, 4) {
					t.Errorf("limit %d, %d bytes, %s: a buffer of %d bytes, past limit+1", limit, n, name, cap(got))
				}
			}
		}
	}
}
