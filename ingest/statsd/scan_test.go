package statsd

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestScanAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab:,|@=\x00\xff\x80\x7f.")
	for n := 0; n < 20000; n++ {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		naive := func(set string) int {
			if i := bytes.IndexAny(b, set); i >= 0 {
				return i
			}
			return len(b)
		}
		if got, want := index1(b, '|'), naive("|"); got != want {
			t.Fatalf("index1(%q) = %d; want %d", b, got, want)
		}
		if got, want := index2(b, ',', ':'), naive(",:"); got != want {
			t.Fatalf("index2(%q) = %d; want %d", b, got, want)
		}
		if got, want := indexName(b), naive(":,|@"); got != want {
			t.Fatalf("indexName(%q) = %d; want %d", b, got, want)
		}
		for i := 0; i+8 <= len(b); i++ {
			m := matches(load8(b, i), lsbs*':')
			for j := 0; j < 8; j++ {
				if got, want := m>>(8*j+7)&1 == 1, b[i+j] == ':'; got != want {
					t.Fatalf("matches(%q at %d) byte %d = %v; want %v", b, i, j, got, want)
				}
			}
		}
	}
}
