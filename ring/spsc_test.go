package ring

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/gomad/mad/internal/testseed"
)

func TestSPSCBasic(t *testing.T) {
	r := NewSPSC[int](3)
	if r.Cap() != 4 {
		t.Fatalf("Cap = %d; want 4", r.Cap())
	}
	if _, ok := r.Pop(); ok {
		t.Fatal("Pop on empty ring succeeded")
	}
	for i := 0; i < 4; i++ {
		if !r.Push(i) {
			t.Fatalf("Push(%d) failed", i)
		}
	}
	if r.Push(4) {
		t.Fatal("Push on full ring succeeded")
	}
	if n := r.PushN([]int{9}); n != 0 {
		t.Fatalf("PushN on full ring = %d; want 0", n)
	}
	if v, ok := r.Pop(); !ok || v != 0 {
		t.Fatalf("Pop = %d, %v; want 0, true", v, ok)
	}
	if n := r.PushN([]int{4, 5, 6}); n != 1 {
		t.Fatalf("PushN with one free slot = %d; want 1", n)
	}
	dst := make([]int, 10)
	if n := r.PopN(dst); n != 4 || dst[0] != 1 || dst[3] != 4 {
		t.Fatalf("PopN = %d %v; want 4 [1 2 3 4]", n, dst[:n])
	}
	if r.Len() != 0 {
		t.Fatalf("Len = %d; want 0", r.Len())
	}
}

func TestSPSCReleasesReferences(t *testing.T) {
	r := NewSPSC[*int](4)
	x := 1
	r.Push(&x)
	r.PushN([]*int{&x, &x})
	r.Pop()
	r.PopN(make([]*int, 4))
	for i, p := range r.buf {
		if p != nil {
			t.Fatalf("slot %d still references an item after it was popped", i)
		}
	}
}

// TestSPSCStress runs a producer and a consumer concurrently with random
// batch sizes and checks that every item arrives exactly once and in order.
// Run it with -race.
func TestSPSCStress(t *testing.T) {
	seed := testseed.Seed(t)
	const n = 1_000_000
	for _, capacity := range []int{2, 16, 1024} {
		r := NewSPSC[uint64](capacity)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(seed, 1))
			buf := make([]uint64, 64)
			for next := uint64(0); next < n; {
				if rnd.IntN(2) == 0 {
					if r.Push(next) {
						next++
					} else {
						runtime.Gosched()
					}
					continue
				}
				k := min(uint64(1+rnd.IntN(len(buf))), n-next)
				for i := range k {
					buf[i] = next + i
				}
				pushed := r.PushN(buf[:k])
				next += uint64(pushed)
				if pushed == 0 {
					runtime.Gosched()
				}
			}
		}()
		rnd := rand.New(rand.NewPCG(seed, 2))
		dst := make([]uint64, 64)
		for want := uint64(0); want < n; {
			if rnd.IntN(2) == 0 {
				v, ok := r.Pop()
				if !ok {
					runtime.Gosched()
					continue
				}
				if v != want {
					t.Fatalf("cap %d: got %d; want %d", capacity, v, want)
				}
				want++
				continue
			}
			k := r.PopN(dst[:1+rnd.IntN(len(dst))])
			if k == 0 {
				runtime.Gosched()
			}
			for _, v := range dst[:k] {
				if v != want {
					t.Fatalf("cap %d: got %d; want %d", capacity, v, want)
				}
				want++
			}
		}
		wg.Wait()
		if _, ok := r.Pop(); ok {
			t.Fatalf("cap %d: extra item after all %d arrived", capacity, n)
		}
	}
}
