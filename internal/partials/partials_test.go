package partials

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/testseed"
)

// TestSeriesLen: SeriesLen is what Series adds to a message, for series of
// every shape (a sink splits its messages by it before adding a series).
func TestSeriesLen(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 0))
	var m Message
	m.Reset(60_000, 1_700_000_000_000)
	m.Set([]byte("\x04host\x02h1"), 0)
	for i := range 2000 {
		s := &Series{Name: fmt.Appendf(nil, "m%d%s", i, bytes.Repeat([]byte("x"), rng.IntN(300))), Kind: uint32(rng.IntN(6)),
			Count: rng.Uint64() >> rng.IntN(64), HasSum: rng.IntN(2) == 0, HasMin: rng.IntN(2) == 0, HasMax: rng.IntN(2) == 0, Hist: rng.IntN(2) == 0}
		if rng.IntN(3) == 0 {
			s.Unit = "MILLISECOND"
		}
		for range rng.IntN(3) * rng.IntN(400) {
			s.Keys = append(s.Keys, rng.Uint32()>>rng.IntN(32))
			s.Counts = append(s.Counts, rng.Uint64()>>rng.IntN(64))
		}
		before := m.Len()
		want := m.SeriesLen(s)
		m.Series(s)
		if got := m.Len() - before; got != want {
			t.Fatalf("series %d: Series added %d bytes, SeriesLen said %d", i, got, want)
		}
	}
}

// TestDropEmptySet: a message that ends before the open set's first series
// does not carry the set (it would read as an empty bucket); a set with
// series stays.
func TestDropEmptySet(t *testing.T) {
	s := &Series{Name: []byte("m"), Kind: 1, Count: 1}
	var a, b Message
	a.Reset(1000, 5000)
	a.Set([]byte("\x01a\x011"), 0)
	a.Series(s)
	a.Set([]byte("\x01b\x012"), 0)
	a.DropEmptySet()
	b.Reset(1000, 5000)
	b.Set([]byte("\x01a\x011"), 0)
	b.Series(s)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the empty set was kept")
	}
	a.Reset(1000, 5000)
	a.Set([]byte("\x01a\x011"), 0)
	a.Series(s)
	a.DropEmptySet()
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("a set with a series was dropped")
	}
}
