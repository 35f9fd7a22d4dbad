package decimal

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func check(t *testing.T, v int64) {
	t.Helper()
	if got, want := string(AppendInt([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
		t.Fatalf("AppendInt(%d) = %q, want %q", v, got, want)
	}
}

// TestAppendInt holds AppendInt to strconv at every power of ten and its
// neighbours (each digit count's first and last number), at the ends of
// int64, over the first 100 000 numbers of each sign and over random
// numbers of every magnitude.
func TestAppendInt(t *testing.T) {
	for _, v := range []int64{0, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1} {
		check(t, v)
	}
	for p := int64(1); ; p *= 10 {
		for _, v := range []int64{p - 1, p, p + 1, 2*p - 1, 10*p - 1} {
			check(t, v)
			check(t, -v)
		}
		if p > math.MaxInt64/10 {
			break
		}
	}
	for v := range int64(100_000) {
		check(t, v)
		check(t, -v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		v := r.Int64() >> r.IntN(64)
		if r.IntN(2) == 0 {
			v = -v
		}
		check(t, v)
	}
}

// TestAppendIntGrows: into a full slice and into one with room, the
// digits land after what was there.
func TestAppendIntGrows(t *testing.T) {
	for _, room := range []int{0, 1, 5, 32} {
		dst := make([]byte, 3, 3+room)
		copy(dst, "abc")
		if got := string(AppendInt(dst, -1234567890123)); got != "abc-1234567890123" {
			t.Fatalf("room %d: %q", room, got)
		}
	}
}

func TestAppendIntAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendInt(buf[:0], math.MinInt64) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// BenchmarkAppendInt: the numbers of a JSON line (counts, population
// sizes, whole values), against strconv.
//
//	go test ./internal/decimal -run '^$' -bench AppendInt -count 6
func BenchmarkAppendInt(b *testing.B) {
	vals := []int64{1, 7, 42, 100, 999, 1234, 86400, 1000000, 1733312345678}
	buf := make([]byte, 0, 64)
	b.Run("decimal", func(b *testing.B) {
		for i := range b.N {
			buf = AppendInt(buf[:0], vals[i%len(vals)])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := range b.N {
			buf = strconv.AppendInt(buf[:0], vals[i%len(vals)], 10)
		}
	})
}
