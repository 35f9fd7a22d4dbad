package ring

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func item(i uint64) Item { return Item{i, i * 3, ^i, i + 7} }

func consistent(it Item) bool { return it == item(it[0]) }

func TestTelemetryDropOldest(t *testing.T) {
	r := NewTelemetry(4)
	for i := uint64(0); i < 10; i++ {
		r.Put(item(i))
	}
	var got []uint64
	for {
		it, ok := r.Get()
		if !ok {
			break
		}
		got = append(got, it[0])
	}
	if len(got) != 4 || got[0] != 6 || got[3] != 9 {
		t.Fatalf("got %v; want the newest four [6 7 8 9]", got)
	}
	if r.Lost() != 6 {
		t.Fatalf("Lost = %d; want 6", r.Lost())
	}
	r.Put(item(10))
	if it, ok := r.Get(); !ok || it != item(10) {
		t.Fatalf("Get = %v, %v; want item 10", it, ok)
	}
}

// TestTelemetryStress: a writer that never waits and a reader that reads as
// fast as it can. Every item read must be whole (no torn words), items
// arrive in increasing order, and read + lost = written. Run it with -race.
func TestTelemetryStress(t *testing.T) {
	const n = 2_000_000
	for _, capacity := range []int{2, 64} {
		r := NewTelemetry(capacity)
		var done atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); i < n; i++ {
				r.Put(item(i))
				if i%1024 == 0 {
					runtime.Gosched()
				}
			}
			done.Store(true)
		}()
		var read, last uint64
		first := true
		for {
			finished := done.Load()
			it, ok := r.Get()
			if !ok {
				if finished {
					break
				}
				runtime.Gosched()
				continue
			}
			if !consistent(it) {
				t.Fatalf("cap %d: torn item %v", capacity, it)
			}
			if !first && it[0] <= last {
				t.Fatalf("cap %d: item %d after %d", capacity, it[0], last)
			}
			first, last = false, it[0]
			read++
		}
		wg.Wait()
		if read+r.Lost() != n || r.Written() != n {
			t.Fatalf("cap %d: read %d + lost %d != written %d (%d)", capacity, read, r.Lost(), uint64(n), r.Written())
		}
		t.Logf("cap %d: read %d, lost %d", capacity, read, r.Lost())
	}
}
