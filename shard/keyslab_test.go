package shard

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/hugepage"
	"github.com/gomad/mad/internal/testseed"
)

// randomKey returns n random bytes.
func randomKey(r *rand.Rand, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = byte(r.Uint32())
	}
	return k
}

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
		k := randomKey(r, n)
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
	// Each chunk counts the keys in it; a chunk given back holds none.
	used := make([]int32, len(s.chunks))
	for _, l := range keys {
		used[l.ref.chunk()]++
	}
	var inChunks int64
	for c, chunk := range s.chunks {
		inChunks += int64(len(chunk))
		if m := s.meta[c]; m.used != used[c] || chunk == nil && used[c] != 0 {
			t.Fatalf("chunk %d (given back: %v) counts %d keys in use; %d are", c, chunk == nil, m.used, used[c])
		}
	}
	if inChunks != total {
		t.Fatalf("chunks hold %d bytes; the slab counts %d", inChunks, total)
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

// TestKeySlabBurstLetsGo: the chunks a burst of keys filled are given back
// once its keys are freed, but for those holding a key that stayed; their
// numbers are reused, and the keys that stayed read the same.
func TestKeySlabBurstLetsGo(t *testing.T) {
	s := newKeySlab()
	key := func(i int) []byte { return fmt.Appendf(nil, "cluster=c0,host=host-%07d,service=checkout", i) }
	const steady, burst = 1000, 200_000
	refs := make([]keyRef, steady+burst)
	for i := range refs {
		ref, ok := s.alloc(key(i))
		if !ok {
			t.Fatal("an unbounded slab refused a key")
		}
		refs[i] = ref
	}
	_, _, peak := s.stats()
	chunks := len(s.chunks)
	// A key in the middle of the burst stays.
	stay := steady + burst/2
	for i := steady; i < len(refs); i++ {
		if i != stay {
			s.free(refs[i])
		}
	}
	live, slots, total := s.stats()
	var want int64
	for _, i := range append([]int{stay}, func() []int {
		l := make([]int, steady)
		for j := range l {
			l[j] = j
		}
		return l
	}()...) {
		want += int64(len(key(i)))
		if got := s.bytes(refs[i]); !bytes.Equal(got, key(i)) {
			t.Fatalf("key %d reads %q after the burst went", i, got)
		}
	}
	if live != want {
		t.Fatalf("%d live bytes; want %d", live, want)
	}
	// The steady keys' chunk (also being carved) and the one with the key
	// that stayed.
	if n := len(s.chunks) - len(s.spare); n > 3 || total > 3*int64(hugepage.Threshold) {
		t.Fatalf("%d chunks, %d bytes (%d slots) held after the burst went (%d chunks, %d bytes at its peak)", n, total, slots, chunks, peak)
	}
	var inChunks int64
	for _, c := range s.chunks {
		inChunks += int64(len(c))
	}
	if inChunks != total {
		t.Fatalf("chunks hold %d bytes; the slab counts %d", inChunks, total)
	}
	// New keys take the free slots of the lowest chunks first, then reuse
	// the numbers of chunks given back.
	again := make([]keyRef, burst)
	for i := range again {
		ref, ok := s.alloc(key(i))
		if !ok {
			t.Fatal("an unbounded slab refused a key")
		}
		again[i] = ref
	}
	if len(s.chunks) != chunks {
		t.Fatalf("%d chunk numbers after as many keys again; want the %d of the first time, reused", len(s.chunks), chunks)
	}
	for i, ref := range again {
		if got := s.bytes(ref); !bytes.Equal(got, key(i)) {
			t.Fatalf("key %d reads %q", i, got)
		}
	}
	if got := s.bytes(refs[stay]); !bytes.Equal(got, key(stay)) {
		t.Fatalf("the key that stayed reads %q", got)
	}
}

// TestKeySlabInvariants: random allocations and frees of keys of several
// classes; every 97 steps the slab's bookkeeping (each chunk's counts, its
// place in its class's heap, the chunks given back, the totals) is checked
// against the keys held.
func TestKeySlabInvariants(t *testing.T) {
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 3))
		s := newKeySlab()
		type held struct {
			ref keyRef
			key []byte
		}
		var keys []held
		for step := range 40_000 {
			if r.IntN(100) < 52 || len(keys) == 0 {
				k := randomKey(r, []int{10, 40, 200, 3000, 20000}[r.IntN(5)]+r.IntN(8))
				ref, ok := s.alloc(k)
				if !ok {
					t.Fatal("refused")
				}
				keys = append(keys, held{ref, k})
			} else {
				i := r.IntN(len(keys))
				s.free(keys[i].ref)
				keys[i] = keys[len(keys)-1]
				keys = keys[:len(keys)-1]
			}
			if step%97 != 0 {
				continue
			}
			used := make([]int32, len(s.chunks))
			var live int64
			for _, h := range keys {
				if !bytes.Equal(s.bytes(h.ref), h.key) {
					t.Fatalf("seed %d step %d: key reads wrong", seed, step)
				}
				used[h.ref.chunk()]++
				live += int64(len(h.key))
			}
			spare := map[int32]bool{}
			for _, c := range s.spare {
				spare[c] = true
			}
			var slots, total int64
			for c := range s.chunks {
				m := s.meta[c]
				if (s.chunks[c] == nil) != spare[int32(c)] {
					t.Fatalf("seed %d step %d: chunk %d nil %v, spare %v", seed, step, c, s.chunks[c] == nil, spare[int32(c)])
				}
				if m.used != used[c] {
					t.Fatalf("seed %d step %d: chunk %d counts %d used; %d are", seed, step, c, m.used, used[c])
				}
				if s.chunks[c] != nil && m.used == 0 && s.cur[m.class] != int32(c) {
					t.Fatalf("seed %d step %d: chunk %d empty, not carved, kept", seed, step, c)
				}
				inHeap := 0
				for _, x := range s.avail[m.class] {
					if x == int32(c) {
						inHeap++
					}
				}
				if s.chunks[c] != nil && (inHeap == 1) != (len(m.free) > 0) || inHeap > 1 {
					t.Fatalf("seed %d step %d: chunk %d in heap %d times, %d free slots", seed, step, c, inHeap, len(m.free))
				}
				if s.chunks[c] != nil {
					if int64(len(m.free))*int64(keyClasses[m.class])+int64(m.used)*int64(keyClasses[m.class]) != int64(m.carved) {
						t.Fatalf("seed %d step %d: chunk %d: free %d + used %d slots != carved %d bytes", seed, step, c, len(m.free), m.used, m.carved)
					}
					slots += int64(m.carved)
					total += int64(len(s.chunks[c]))
				}
			}
			for cl := range s.avail {
				h := s.avail[cl]
				for i := 1; i < len(h); i++ {
					if h[(i-1)/2] > h[i] {
						t.Fatalf("seed %d step %d: class %d heap order broken", seed, step, cl)
					}
				}
			}
			l, sl, tot := s.stats()
			if l != live || sl != slots || tot != total {
				t.Fatalf("seed %d step %d: stats %d %d %d; want %d %d %d", seed, step, l, sl, tot, live, slots, total)
			}
		}
	}
}
