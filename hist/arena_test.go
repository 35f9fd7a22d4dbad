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
			// Small counts, and for a fifth of the histograms large
			// ones, which widen them (a count past 4095) at some point
			// of their filling; now and then one past 43 bits.
			n := uint64(r.IntN(3))
			switch {
			case j%5 == 1 && r.IntN(2000) == 0:
				n = 1<<43 + uint64(r.IntN(9))
			case j%5 == 1:
				n = uint64(r.IntN(700))
			}
			a.Record(&hs[j], k, n)
			want[j][k] += n
		}
		narrow, wide := 0, 0
		for j, h := range hs {
			if h.narrow() {
				narrow++
			} else {
				wide++
			}
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
		if narrow < len(hs)/2 || wide < len(hs)/40 { // about 170 and 30; at least 169 and 18 over 300 seeds
			t.Fatalf("%d narrow histograms and %d wide: the trial does not cover both", narrow, wide)
		}
		// LiveBytes counts the current blocks, not those growth left behind.
		// LiveSlots counts their slots.
		var live, slots int64
		for _, h := range hs {
			if h != 0 {
				live += int64(len(a.block(h))) * 8
				slots += 1 << h.logCap()
			}
		}
		if a.LiveBytes() != live || live > a.Bytes() || a.LiveSlots() != slots {
			t.Fatalf("LiveBytes %d, LiveSlots %d; want %d, %d (arena holds %d)", a.LiveBytes(), a.LiveSlots(), live, slots, a.Bytes())
		}
		a.Reset()
		if a.LiveBytes() != 0 || a.LiveSlots() != 0 {
			t.Fatalf("LiveBytes %d, LiveSlots %d after Reset", a.LiveBytes(), a.LiveSlots())
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

// TestArenaWidens: a narrow histogram's count stops at 4095; the update
// that would pass it widens the histogram, once, with every bucket (those
// with count 0 too) and its count kept, and the update itself applied.
func TestArenaWidens(t *testing.T) {
	for _, c := range []struct {
		name  string
		first uint64 // what the wide bucket has before the update that widens
		add   uint64
	}{
		{"at the bound", 4095, 1},
		{"one update past it", 0, 4096},
		{"below it, then far past", 10, 1 << 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a Arena
			var h Hist
			k := Pack(1500)
			want := map[Key]uint64{}
			for i := range 300 { // grown to 512 narrow slots
				kk := Pack(float64(i))
				a.Record(&h, kk, uint64(i%3))
				want[kk] += uint64(i % 3)
			}
			a.Record(&h, k, c.first)
			want[k] += c.first
			if !h.narrow() {
				t.Fatalf("widened at a count of %d", c.first)
			}
			logCap, used, live := h.logCap(), h.used(), a.LiveBytes()
			a.Record(&h, k, c.add)
			want[k] += c.add
			if h.narrow() {
				t.Fatalf("still narrow at a count of %d", want[k])
			}
			if h.logCap() != logCap || live != a.LiveBytes()-int64(h.words())*8+int64(h.words())*4 {
				t.Fatalf("widened to 2^%d slots (from 2^%d), live %d → %d", h.logCap(), logCap, live, a.LiveBytes())
			}
			extra := uint32(0)
			if want[k] > uint64(countMask) {
				extra = 1 // the count's high part
			}
			if h.used() != used+extra {
				t.Fatalf("%d entries; want %d", h.used(), used+extra)
			}
			got := SortBuckets(a.AppendBuckets(nil, h))
			if len(got) != len(want) {
				t.Fatalf("%d buckets; want %d", len(got), len(want))
			}
			for _, b := range got {
				if want[b.Key] != b.Count {
					t.Fatalf("key %d: %d; want %d", b.Key, b.Count, want[b.Key])
				}
			}
			a.Record(&h, k, 1) // and it stays wide
			if h.narrow() || SortBuckets(a.AppendBuckets(nil, h))[len(got)-1].Count != want[k]+1 {
				t.Fatal("the wide histogram lost an update")
			}
		})
	}
}

// TestSetOfAFedHistogram: a set's members are 64-bit entries; a histogram
// fed as a set (a row whose series changed kind) is widened first and its
// entries read as members, as wide histograms always were, instead of
// members being written into 32-bit slots.
func TestSetOfAFedHistogram(t *testing.T) {
	var a Arena
	var h Hist
	a.Record(&h, Pack(3), 2)
	if !h.narrow() {
		t.Fatal("a histogram is made narrow")
	}
	if added, ok := a.AddMember(&h, 77); !added || !ok || h.narrow() || h.used() != 2 {
		t.Fatalf("added %v, ok %v, narrow %v, %d entries", added, ok, h.narrow(), h.used())
	}
	var s Hist
	if a.AddMember(&s, 5); s.narrow() {
		t.Fatal("a set is made narrow")
	}
	if want := int64(1<<h.logCap() + 1<<s.logCap()); a.LiveSlots() != want {
		t.Fatalf("LiveSlots %d; want %d", a.LiveSlots(), want)
	}
}
