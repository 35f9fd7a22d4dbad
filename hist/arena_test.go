package hist

import (
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/testseed"
)

// TestArenaAgainstMap records random keys and counts into many histograms of
// one arena and compares each with a map.
func TestArenaAgainstMap(t *testing.T) {
	seed := testseed.Seed(t)
	r := rand.New(rand.NewPCG(seed, 7))
	for round := 0; round < 3; round++ {
		var a Arena
		hs := make([]Hist, 200)
		want := make([]map[Key]uint64, len(hs))
		for i := range want {
			want[i] = map[Key]uint64{}
		}
		for i := 0; i < 50000; i++ {
			j := r.IntN(len(hs))
			// Narrow key ranges for some histograms, wide for others.
			var k Key
			if j%3 == 0 {
				k = Key(r.IntN(NumKeys))
			} else {
				k = Key(131000 + r.IntN(40))
			}
			n := uint64(r.IntN(3))
			a.Record(&hs[j], k, n)
			want[j][k] += n
		}
		for j, h := range hs {
			got := SortBuckets(a.AppendBuckets(nil, h))
			if len(got) != len(want[j]) {
				t.Fatalf("hist %d: %d buckets; want %d", j, len(got), len(want[j]))
			}
			for _, b := range got {
				if want[j][b.Key] != b.Count {
					t.Fatalf("hist %d key %d: count %d; want %d", j, b.Key, b.Count, want[j][b.Key])
				}
			}
		}
		// LiveBytes counts the current blocks, not those growth left behind.
		var live int64
		for _, h := range hs {
			if h != 0 {
				live += int64(len(a.block(h))) * 8
			}
		}
		if a.LiveBytes() != live || live > a.Bytes() {
			t.Fatalf("LiveBytes %d; want %d (arena holds %d)", a.LiveBytes(), live, a.Bytes())
		}
		a.Reset()
		if a.LiveBytes() != 0 {
			t.Fatalf("LiveBytes %d after Reset", a.LiveBytes())
		}
	}
}

// TestArenaHugeCounts: counts beyond 43 bits carry into a second entry and
// are summed back exactly, modulo 2^64 like MAD's Java longs, in O(1).
func TestArenaHugeCounts(t *testing.T) {
	var a Arena
	var h Hist
	k := Pack(3)
	big := uint64(1)<<60 + 12345
	a.Record(&h, k, big)
	a.Record(&h, k, countMask)
	a.Record(&h, Pack(4), 1)
	a.Record(&h, k, 5)
	got := SortBuckets(a.AppendBuckets(nil, h))
	if len(got) != 2 {
		t.Fatalf("got %d buckets; want 2: %+v", len(got), got)
	}
	if want := big + countMask + 5; got[0].Key != k || got[0].Count != want {
		t.Fatalf("bucket 0 = %+v; want key %d count %d", got[0], k, want)
	}
	if got[1].Key != Pack(4) || got[1].Count != 1 {
		t.Fatalf("bucket 1 = %+v; want key %d count 1", got[1], Pack(4))
	}
	if h.Len() != 3 {
		t.Fatalf("Len = %d; want 3 (two keys, one carried count)", h.Len())
	}
	// Wrap-around: 2^63 + 2^63 = 0 in Java long arithmetic.
	var w Hist
	a.Record(&w, k, 1<<63)
	a.Record(&w, k, 1<<63)
	a.Record(&w, k, ^uint64(0))
	a.Record(&w, k, 2)
	if got := SortBuckets(a.AppendBuckets(nil, w)); len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("wrapped count = %+v; want 1", got)
	}
}

// TestArenaBigHistogram fills one histogram with every key, which needs a
// block larger than a regular chunk.
func TestArenaBigHistogram(t *testing.T) {
	var a Arena
	var h, small Hist
	a.Record(&small, 7, 1)
	for k := Key(0); k < NumKeys; k++ {
		a.Record(&h, k, uint64(k%5))
	}
	a.Record(&small, 8, 2)
	got := SortBuckets(a.AppendBuckets(nil, h))
	if len(got) != NumKeys {
		t.Fatalf("got %d buckets; want %d", len(got), NumKeys)
	}
	for _, b := range got {
		if b.Count != uint64(b.Key%5) {
			t.Fatalf("key %d count %d; want %d", b.Key, b.Count, b.Key%5)
		}
	}
	if s := SortBuckets(a.AppendBuckets(nil, small)); len(s) != 2 || s[0].Count+s[1].Count != 3 {
		t.Fatalf("small histogram corrupted: %+v", s)
	}
	before := a.Bytes()
	a.Reset()
	if a.Bytes() >= before {
		t.Fatalf("Reset kept %d bytes of %d; dedicated chunks must be dropped", a.Bytes(), before)
	}
}

func TestArenaZeroCountIsPresent(t *testing.T) {
	var a Arena
	var h Hist
	a.Record(&h, Pack(1), 0)
	got := a.AppendBuckets(nil, h)
	if len(got) != 1 || got[0].Count != 0 || got[0].Key != Pack(1) {
		t.Fatalf("got %+v; want one zero-count bucket", got)
	}
}

// A set holds at most MaxSetMembers (what a handle counts): a new member
// past it is refused, the set unchanged; members it has still read as
// known. (Without the bound the count carried into the handle's location
// and the next member crashed.)
func TestSetMembersBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("16.7 M members, 0.5 GB")
	}
	var a Arena
	var h Hist
	mix := uint64(0x9E3779B97F4A7C15)
	for i := uint64(1); i <= MaxSetMembers; i++ {
		if added, ok := a.AddMember(&h, i*mix); !added || !ok {
			t.Fatalf("member %d: added %v, ok %v", i, added, ok)
		}
	}
	before := h
	if added, ok := a.AddMember(&h, 0xDEADBEEF); added || ok || h != before {
		t.Fatalf("a member past the bound: added %v, ok %v, handle %x → %x", added, ok, before, h)
	}
	if added, ok := a.AddMember(&h, 5*mix); added || !ok {
		t.Fatalf("a known member: added %v, ok %v", added, ok)
	}
	if h.used() != MaxSetMembers {
		t.Fatalf("used %d", h.used())
	}
}
