package shard

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/testseed"
)

func TestKeySlab(t *testing.T) {
	seed := testseed.Seed(t)
	r := rand.New(rand.NewPCG(seed, 1))
	s := newKeySlab()
	type live struct {
		id  int
		ref keyRef
		key []byte
	}
	var keys []live
	view := s.view()
	var early []live
	for i := 0; i < 20000; i++ {
		if len(keys) > 0 && r.IntN(3) == 0 {
			j := r.IntN(len(keys))
			s.free(keys[j].ref)
			keys[j] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			continue
		}
		n := r.IntN(200)
		if r.IntN(500) == 0 {
			n = 65535
		}
		k := make([]byte, n)
		for j := range k {
			k[j] = byte(r.Uint32())
		}
		ref, ok := s.alloc(k)
		if !ok {
			t.Fatal("an unbounded slab refused a key")
		}
		keys = append(keys, live{i, ref, k})
		if i == 100 {
			view = s.view()
			early = append(early[:0], keys...)
		}
	}
	for _, l := range keys {
		if got := s.bytes(l.ref); !bytes.Equal(got, l.key) {
			t.Fatalf("key at %x = %q; want %q", uint64(l.ref), got, l.key)
		}
	}
	// A view taken earlier still reads the keys that were live then and
	// are still live (nothing moved).
	stillLive := map[int]bool{}
	for _, l := range keys {
		stillLive[l.id] = true
	}
	for _, l := range early {
		if stillLive[l.id] && !bytes.Equal(view.bytes(l.ref), l.key) {
			t.Fatalf("early view lost key %x", uint64(l.ref))
		}
	}
	liveBytes, slots, total := s.stats()
	var want int64
	for _, l := range keys {
		want += int64(len(l.key))
	}
	if liveBytes != want || slots < liveBytes || total < slots {
		t.Fatalf("Stats = %d, %d, %d; want live %d <= slots <= total", liveBytes, slots, total, want)
	}
}

func TestKeyClasses(t *testing.T) {
	if keyClasses[numKeyClasses-1] != 65536 {
		t.Fatalf("largest class = %d; want 65536", keyClasses[numKeyClasses-1])
	}
	for i := 1; i < numKeyClasses; i++ {
		if keyClasses[i] <= keyClasses[i-1] {
			t.Fatalf("classes not increasing at %d: %v", i, keyClasses)
		}
		// Waste is bounded: a key just above the previous class fits with
		// at most 7 bytes of slack up to 128 bytes and less than 34 % above.
		if prev := keyClasses[i-1]; keyClasses[i]%keyAlign != 0 ||
			prev < 128 && keyClasses[i]-prev > keyAlign ||
			prev >= 128 && float64(keyClasses[i])/float64(prev+1) > 1.34 {
			t.Fatalf("class %d jumps from %d to %d", i, prev, keyClasses[i])
		}
	}
	// keyClass is the smallest class that holds n bytes.
	for n := 0; n <= 65536; n++ {
		c := keyClass(n)
		if int(keyClasses[c]) < n || c > 0 && int(keyClasses[c-1]) >= n {
			t.Fatalf("keyClass(%d) = %d (%d bytes)", n, c, keyClasses[c])
		}
	}
}
