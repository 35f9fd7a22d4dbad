package statsd

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestMatches: the SWAR byte comparison of stage one is exact in every
// byte.
func TestMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab:,|@=\x00\xff\x80\x7f.")
	for n := 0; n < 20000; n++ {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		for i := 0; i+8 <= len(b); i++ {
			m := matches(binary.LittleEndian.Uint64(b[i:]), lsbs*':')
			for j := 0; j < 8; j++ {
				if got, want := m>>(8*j+7)&1 == 1, b[i+j] == ':'; got != want {
					t.Fatalf("matches(%q at %d) byte %d = %v; want %v", b, i, j, got, want)
				}
			}
		}
	}
}
