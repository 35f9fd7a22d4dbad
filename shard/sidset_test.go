package shard

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// freeRef is the tests' reference of a sidSet: a plain set of sids.
type freeRef map[uint32]bool

// take removes and returns the lowest sid; ok is false if there is none.
func (r freeRef) take() (sid uint32, ok bool) {
	for x := range r {
		if !ok || x < sid {
			sid, ok = x, true
		}
	}
	delete(r, sid)
	return sid, ok
}

// trim removes the run of sids at the top of [0, n) and returns where it
// starts.
func (r freeRef) trim(n int) int {
	for n > 0 && r[uint32(n-1)] {
		n--
		delete(r, uint32(n))
	}
	return n
}

// allFree reports whether every sid from lo up to hi is in the set.
func (r freeRef) allFree(lo, hi int) bool {
	for sid := lo; sid < hi; sid++ {
		if !r[uint32(sid)] {
			return false
		}
	}
	return true
}

// TestSidSetModel runs random frees, takes and trims against a plain
// reference: a set of sids below n, the lowest taken first, and trim
// taking the top run of free sids off.
func TestSidSetModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var f sidSet
		ref := freeRef{}
		// sids below n exist (in use or free); several summary words
		// (4 096 sids each), so that the lowest free sid moves among them.
		n := r.IntN(20_000)
		span := n + 1 + r.IntN(100)
		for step := range 10_000 {
			switch op := r.IntN(10); {
			case op < 4: // a new series: the lowest free sid, or n
				want, ok := ref.take()
				got, gok := f.take()
				if gok != ok || got != want {
					t.Fatalf("seed %d step %d: take %d, %v; want %d, %v", seed, step, got, gok, want, ok)
				}
				if !ok && n < span {
					n++
				}
			case op < 8: // free a sid in use
				if n == 0 || len(ref) == n {
					continue
				}
				sid := uint32(r.IntN(n))
				for ref[sid] {
					sid = (sid + 1) % uint32(n)
				}
				f.add(sid)
				ref[sid] = true
			case op < 9:
				for lo := 0; lo < n; lo += 1 + r.IntN(100) {
					hi := min(n, lo+r.IntN(200))
					if got, want := f.allFree(lo, hi), ref.allFree(lo, hi); got != want {
						t.Fatalf("seed %d step %d: allFree(%d, %d) = %v; want %v", seed, step, lo, hi, got, want)
					}
				}
			default:
				want := ref.trim(n)
				if got := f.trim(n); got != want {
					t.Fatalf("seed %d step %d: trim(%d) = %d; want %d", seed, step, n, got, want)
				}
				n = want
			}
			if f.len() != len(ref) {
				t.Fatalf("seed %d step %d: %d free; want %d", seed, step, f.len(), len(ref))
			}
			for range 64 {
				sid := uint32(r.IntN(n + 70))
				if f.has(sid) != ref[sid] {
					t.Fatalf("seed %d step %d: has(%d) = %v; want %v", seed, step, sid, f.has(sid), ref[sid])
				}
			}
		}
	}
}

// TestSidSetTrimLetsGo: a bitmap grown by a burst of free sids shrinks
// with them.
func TestSidSetTrimLetsGo(t *testing.T) {
	var f sidSet
	const burst = 1 << 20
	for sid := range uint32(burst) {
		if sid != 100 {
			f.add(sid)
		}
	}
	if n := f.trim(burst); n != 101 {
		t.Fatalf("trim = %d; want 101", n)
	}
	if cap(f.words) > 4 || f.len() != 100 {
		t.Fatalf("%d words held for 101 sids, %d free; want at most 4, 100", cap(f.words), f.len())
	}
	var got []uint32
	for sid, ok := f.take(); ok; sid, ok = f.take() {
		got = append(got, sid)
	}
	if !slices.Equal(got, func() []uint32 {
		s := make([]uint32, 100)
		for i := range s {
			s[i] = uint32(i)
		}
		return s
	}()) {
		t.Fatalf("took %v; want 0 to 99 in order", got)
	}
}

// TestSidSetBursts: bursts of frees over 100 000 sids and more (which the
// bitmap's shrinking copy lets go of), trims and takes, against a
// reference.
func TestSidSetBursts(t *testing.T) {
	seeds := uint64(3)
	if testing.Short() {
		seeds = 1
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(seed, 11))
		var f sidSet
		ref := freeRef{}
		n := 0
		for step := range 300 {
			switch op := r.IntN(6); {
			case op < 2: // a burst of new series
				k := r.IntN(150_000)
				for range k {
					got, ok := f.take()
					want, wok := ref.take()
					if ok != wok || got != want {
						t.Fatalf("seed %d step %d: take %d %v; want %d %v", seed, step, got, ok, want, wok)
					}
					if !ok {
						n++
					}
					if len(ref) > 2000 { // keep the reference's min search cheap
						break
					}
				}
			case op < 4: // free a range, keeping some
				if n == 0 {
					continue
				}
				lo := r.IntN(n)
				hi := min(n, lo+r.IntN(200_000))
				keep := r.IntN(50) + 1
				for sid := lo; sid < hi; sid++ {
					if !ref[uint32(sid)] && r.IntN(1000) >= keep {
						f.add(uint32(sid))
						ref[uint32(sid)] = true
					}
				}
			default:
				want := ref.trim(n)
				if got := f.trim(n); got != want {
					t.Fatalf("seed %d step %d: trim %d; want %d", seed, step, got, want)
				}
				n = want
				if len(f.words) != (n+63)>>6 && len(f.words) > (n+63)>>6 {
					t.Fatalf("seed %d step %d: %d words for %d sids", seed, step, len(f.words), n)
				}
			}
			if f.len() != len(ref) {
				t.Fatalf("seed %d step %d: len %d; want %d", seed, step, f.len(), len(ref))
			}
			for range 200 {
				sid := uint32(r.IntN(n + 200))
				if f.has(sid) != ref[sid] {
					t.Fatalf("seed %d step %d: has(%d) %v", seed, step, sid, f.has(sid))
				}
			}
			for range 20 {
				lo := r.IntN(n + 1)
				hi := min(n, lo+r.IntN(3000))
				if want := ref.allFree(lo, hi); f.allFree(lo, hi) != want {
					t.Fatalf("seed %d step %d: allFree(%d, %d) != %v", seed, step, lo, hi, want)
				}
			}
		}
	}
}
