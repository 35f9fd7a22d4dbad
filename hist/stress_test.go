package hist

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	"github.com/gomad/mad/internal/testseed"
)

// Stress tests of the arena and the table against a map-based reference
// (written by a review of the narrow histograms; MAD_HIST_STRESS_ITERS and
// MAD_HIST_STRESS_ROUNDS lengthen them, MAD_TEST_SEED replays one).

func stressIters(def int) int { return stressParam("MAD_HIST_STRESS_ITERS", def) }

func stressParam(env string, def int) int {
	if s := os.Getenv(env); s != "" {
		n, err := strconv.Atoi(s)
		if err == nil {
			return n
		}
	}
	return def
}

// refHist is the reference of one histogram (or set).
type refHist struct {
	counts  map[Key]uint64 // total mod 2^64
	low     map[Key]uint64 // total mod 2^43 (what the low entry holds)
	high    map[Key]bool   // a high entry exists
	hi      map[Key]uint64 // the high entry's count (mod 2^43)
	wide    bool           // the arena must have widened it
	set     bool
	members map[uint64]bool // for sets: the 64-bit entries
	merged  bool            // merged into from another arena
}

func newRefHist() *refHist {
	return &refHist{counts: map[Key]uint64{}, low: map[Key]uint64{}, high: map[Key]bool{}, hi: map[Key]uint64{}}
}

func (r *refHist) record(k Key, c uint64) {
	k &= keyMask
	old, present := r.counts[k]
	if !r.wide && (c > uint64(narrowCountMask) || old+c > uint64(narrowCountMask)) {
		r.wide = true
	}
	_ = present
	r.counts[k] = old + c
	lo := r.low[k] + c&countMask
	if carry := lo>>countBits + c>>countBits; carry != 0 {
		r.high[k] = true
		r.hi[k] = (r.hi[k] + carry) & countMask
	}
	r.low[k] = lo & countMask
}

func (r *refHist) used() uint32 {
	if r.set {
		return uint32(len(r.members))
	}
	return uint32(len(r.counts) + len(r.high))
}

var stressCounts = []uint64{
	0, 1, 2, 3, 7, 100, 2047, 2048, 4094, 4095, 4096, 4097, 8191,
	1<<43 - 2, 1<<43 - 1, 1 << 43, 1<<43 + 1, 1<<44 - 1, 1 << 44,
	1<<62 - 1, 1 << 62, 1<<63 - 1, 1 << 63, 1<<63 + 1, 1<<64 - 2, 1<<64 - 1,
}

func stressCount(r *rand.Rand) uint64 {
	switch r.IntN(10) {
	case 0, 1:
		return stressCounts[r.IntN(len(stressCounts))]
	case 2:
		return r.Uint64()
	case 3:
		return uint64(r.IntN(4096))
	case 4:
		return 1<<43 + uint64(r.IntN(64)) - 32
	default:
		return uint64(r.IntN(3))
	}
}

func stressCheck(t *testing.T, a *Arena, hs []Hist, refs []*refHist, tag string) {
	t.Helper()
	var live, slots int64
	for j, h := range hs {
		ref := refs[j]
		if h == 0 {
			if ref != nil {
				t.Fatalf("%s hist %d: handle 0 but fed", tag, j)
			}
			continue
		}
		live += int64(len(a.block(h))) * 8
		slots += 1 << h.logCap()
		if h.used()*loadDen > (1<<h.logCap())*loadNum {
			t.Fatalf("%s hist %d: used %d over load of 2^%d slots", tag, j, h.used(), h.logCap())
		}
		if h.used() != ref.used() {
			t.Fatalf("%s hist %d (set %v, narrow %v): used %d; want %d", tag, j, ref.set, h.narrow(), h.used(), ref.used())
		}
		if h.narrow() == (ref.wide || ref.set) && !ref.merged {
			t.Fatalf("%s hist %d: narrow %v; reference wide %v set %v", tag, j, h.narrow(), ref.wide, ref.set)
		}
		if ref.set {
			blk := a.block(h)
			n := 0
			for _, e := range blk {
				if e != 0 {
					n++
					if !ref.members[e] {
						t.Fatalf("%s set %d: stray entry %#x", tag, j, e)
					}
				}
			}
			if n != len(ref.members) {
				t.Fatalf("%s set %d: %d entries; want %d", tag, j, n, len(ref.members))
			}
			continue
		}
		prefix := []Bucket{{Key: 1, Count: 99}, {Key: 2, Count: 98}}
		got := a.AppendBuckets(append([]Bucket(nil), prefix...), h)
		if got[0] != prefix[0] || got[1] != prefix[1] {
			t.Fatalf("%s hist %d: prefix clobbered", tag, j)
		}
		got = got[2:]
		if len(got) != int(h.used()) {
			t.Fatalf("%s hist %d: %d raw buckets; used %d", tag, j, len(got), h.used())
		}
		sum := map[Key]uint64{}
		for _, b := range got {
			sum[b.Key] += b.Count
		}
		if len(sum) != len(ref.counts) {
			t.Fatalf("%s hist %d: %d keys; want %d", tag, j, len(sum), len(ref.counts))
		}
		for k, c := range ref.counts {
			g, ok := sum[k]
			if !ok || g != c {
				t.Fatalf("%s hist %d key %d: %d (present %v); want %d", tag, j, k, g, ok, c)
			}
		}
		sorted := SortBuckets(got)
		if len(sorted) != len(ref.counts) {
			t.Fatalf("%s hist %d: SortBuckets gave %d; want %d", tag, j, len(sorted), len(ref.counts))
		}
		for _, b := range sorted {
			if ref.counts[b.Key] != b.Count {
				t.Fatalf("%s hist %d key %d: sorted %d; want %d", tag, j, b.Key, b.Count, ref.counts[b.Key])
			}
		}
		// prefetch hint points into the block.
		k := Key(0)
		for kk := range ref.counts {
			k = kk
			break
		}
		blk := a.block(h)
		base := uintptr(unsafe.Pointer(&blk[0]))
		if p := a.slotAddr(h, k); p < base || p >= base+uintptr(len(blk))*8 {
			t.Fatalf("%s hist %d: slotAddr outside block", tag, j)
		}
	}
	nar, wid, sets, highs, ded := 0, 0, 0, 0, 0
	for j, h := range hs {
		if h == 0 {
			continue
		}
		switch {
		case refs[j].set:
			sets++
		case h.narrow():
			nar++
		default:
			wid++
		}
		if refs[j] != nil {
			highs += len(refs[j].high)
		}
	}
	for _, c := range a.chunks {
		if len(c) > maxChunk {
			ded++
		}
	}
	t.Logf("%s: %d narrow, %d wide, %d sets, %d high entries, %d chunks (%d dedicated)", tag, nar, wid, sets, highs, len(a.chunks), ded)
	if a.LiveBytes() != live || a.LiveSlots() != slots || live > a.Bytes() {
		t.Fatalf("%s: LiveBytes %d LiveSlots %d Bytes %d; want live %d slots %d", tag, a.LiveBytes(), a.LiveSlots(), a.Bytes(), live, slots)
	}
	var held int64
	for _, c := range a.chunks {
		held += int64(len(c)) * 8
	}
	if held != a.Bytes() {
		t.Fatalf("%s: Bytes %d; chunks hold %d", tag, a.Bytes(), held)
	}
}

// wideEntries returns the 64-bit entries a widened histogram holds.
func (r *refHist) wideEntries() map[uint64]bool {
	m := map[uint64]bool{}
	for k := range r.counts {
		m[wideTag(k)|r.low[k]] = true
	}
	for k := range r.high {
		m[wideTag(k)|entryHigh|r.hi[k]] = true
	}
	return m
}

func TestArenaStress(t *testing.T) {
	iters := stressIters(20000)
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1515))
	var a, other Arena
	for round := 0; round < stressParam("MAD_HIST_STRESS_ROUNDS", 6); round++ {
		nh := 1 + r.IntN(400)
		hs := make([]Hist, nh)
		refs := make([]*refHist, nh)
		// source histograms in another arena, to Merge from
		srcs := make([]Hist, 8)
		orefs := make([]*refHist, 8)
		for i := range srcs {
			orefs[i] = newRefHist()
			for n := r.IntN(300); n > 0; n-- {
				k := Key(r.IntN(NumKeys))
				c := stressCount(r)
				other.Record(&srcs[i], k, c)
				orefs[i].record(k, c)
			}
		}
		bigKeys := round%3 == 2 // some histograms take most keys: dedicated chunks
		for it := 0; it < iters; it++ {
			j := r.IntN(nh)
			ref := refs[j]
			switch op := r.IntN(100); {
			case op < 2 && hs[j] == 0: // a fresh set
				refs[j] = &refHist{set: true, members: map[uint64]bool{}}
				for n := 1 + r.IntN(60); n > 0; n-- {
					x := r.Uint64() >> uint(r.IntN(64))
					added, ok := a.AddMember(&hs[j], x)
					if x == 0 {
						x = 1
					}
					if !ok || added == refs[j].members[x] {
						t.Fatalf("AddMember %#x: added %v ok %v", x, added, ok)
					}
					refs[j].members[x] = true
				}
			case op < 3 && ref != nil && ref.set:
				x := r.Uint64()
				added, ok := a.AddMember(&hs[j], x)
				if x == 0 {
					x = 1
				}
				if !ok || added == ref.members[x] {
					t.Fatalf("AddMember %#x: added %v ok %v", x, added, ok)
				}
				ref.members[x] = true
			case op < 4 && ref != nil && !ref.set && r.IntN(500) == 0:
				// a histogram fed as a set: widened, its entries read as members
				m := ref.wideEntries()
				x := r.Uint64()
				added, ok := a.AddMember(&hs[j], x)
				if !ok || added == m[x] {
					t.Fatalf("AddMember on histogram: added %v ok %v", added, ok)
				}
				m[x] = true
				refs[j] = &refHist{set: true, members: m}
			case op < 5 && (ref == nil || !ref.set) && r.IntN(15) == 0:
				// Merge from the other arena (or from this one)
				if ref == nil {
					ref = newRefHist()
					refs[j] = ref
				}
				if r.IntN(2) == 0 {
					i := r.IntN(len(srcs))
					a.Merge(&hs[j], &other, srcs[i])
					for k, c := range orefs[i].counts {
						ref.record(k, c)
					}
				} else {
					i := r.IntN(nh)
					if refs[i] == nil || refs[i].set {
						continue
					}
					src := refs[i]
					cp := make(map[Key]uint64, len(src.counts))
					for k, c := range src.counts {
						cp[k] = c
					}
					a.Merge(&hs[j], &a, hs[i])
					for k, c := range cp {
						ref.record(k, c)
					}
				}
				ref.merged = true // merging sums split counts: wideness not predicted exactly
				if hs[j] == 0 {
					refs[j] = nil // merged an empty source into nothing
				}
			case op < 6 && hs[j] == 0:
				a.Touch(&hs[j])
				refs[j] = newRefHist()
			default:
				if ref != nil && ref.set {
					continue
				}
				if ref == nil {
					ref = newRefHist()
					refs[j] = ref
				}
				var k Key
				switch {
				case bigKeys && j == 0:
					k = Key(r.IntN(NumKeys))
				case j%4 == 0:
					k = Key(r.IntN(NumKeys))
				default:
					k = Key(1000 + r.IntN(50))
				}
				var c uint64
				switch j % 5 {
				case 0, 1: // narrow, some until late
					c = uint64(r.IntN(3))
					if r.IntN(3000) == 0 {
						c = stressCounts[r.IntN(len(stressCounts))]
					}
				case 2: // about the narrow bound
					c = []uint64{0, 1, 1, 2, 4094, 4095, 4096, 2047, 2048, 3000}[r.IntN(10)]
					if r.IntN(4) != 0 {
						c = uint64(r.IntN(2))
					}
				default:
					c = stressCount(r)
				}
				a.Record(&hs[j], k, c)
				ref.record(k, c)
			}
		}
		if bigKeys {
			// one histogram of many keys
			ref := newRefHist()
			var h Hist
			for i := 0; i < 200000; i++ {
				k := Key(r.IntN(NumKeys))
				a.Record(&h, k, 1)
				ref.record(k, 1)
			}
			hs = append(hs, h)
			refs = append(refs, ref)
		}
		stressCheck(t, &a, hs, refs, "round "+strconv.Itoa(round))
		a.Reset()
		if a.LiveBytes() != 0 || a.LiveSlots() != 0 {
			t.Fatal("live after Reset")
		}
		for _, c := range a.chunks {
			if len(c) > maxChunk {
				t.Fatal("dedicated chunk kept by Reset")
			}
		}
		other.Reset()
	}
}

// TestTableStress: Table-level rows of both kinds (spill), sets,
// MergeAgg's Touch, ReadRow from two goroutines, LiveBytes, HistRoom with a
// low chunk limit, Reset between rounds.
func TestTableStress(t *testing.T) {
	iters := stressIters(20000)
	r := rand.New(rand.NewPCG(testseed.Seed(t), 99))
	var big Table
	for round := 0; round < stressParam("MAD_HIST_STRESS_ROUNDS", 8); round++ {
		tb := &big
		limit := 0
		if round%2 == 1 {
			tb = new(Table) // a fresh table, to reach a low limit
			limit = 5 + r.IntN(12)
		}
		tb.LimitHistChunks(limit)
		type rowRef struct {
			row  uint32
			need Need
			h    *refHist
			set  bool
		}
		var rows []rowRef
		for i := 0; i < 300; i++ {
			need := Need(0)
			switch i % 3 {
			case 0:
				need = NeedHist
			case 1:
				need = NeedDistinct
			}
			rows = append(rows, rowRef{row: tb.AddRow(uint32(i), need), need: need})
		}
		refused := 0
		for it := 0; it < iters; it++ {
			rr := &rows[r.IntN(len(rows))]
			n := 1
			if !tb.HistRoom(n) {
				refused++
				continue
			}
			before := len(tb.arena.chunks)
			switch {
			case rr.need == NeedDistinct:
				if rr.h == nil {
					rr.h = &refHist{set: true, members: map[uint64]bool{}}
					rr.set = true
				}
				x := r.Uint64()
				if !tb.AddMember(rr.row, x) {
					t.Fatal("AddMember refused")
				}
				if x == 0 {
					x = 1
				}
				rr.h.members[x] = true
			case r.IntN(30) == 0:
				if rr.h == nil {
					rr.h = newRefHist()
				}
				tb.MergeAgg(rr.row, &Agg{Has: AggHist | AggCount, Count: 1}, 0, NeedHist)
			default:
				if rr.h == nil {
					rr.h = newRefHist()
				}
				k := Key(r.IntN(NumKeys))
				if r.IntN(3) != 0 {
					k = Key(5000 + r.IntN(20))
				}
				c := stressCount(r)
				tb.RecordHist(rr.row, k, c)
				rr.h.record(k, c)
			}
			if len(tb.arena.chunks) > before+3+1 {
				t.Fatalf("one update added %d chunks", len(tb.arena.chunks)-before)
			}
			if limit > 0 && len(tb.arena.chunks) > limit {
				t.Fatalf("round %d: %d chunks past the limit %d", round, len(tb.arena.chunks), limit)
			}
		}
		// LiveBytes
		var slots int64
		for _, rr := range rows {
			_, hp := tb.at(rr.row)
			var h Hist
			if hp != nil {
				h = *hp
			} else if k, ok := tb.spill[rr.row]; ok {
				h = tb.spillH[k]
			}
			if h != 0 {
				slots += 1 << h.logCap()
			}
		}
		pl, hi := tb.Lens()
		wantLive := int64(pl)*24 + int64(hi)*32 + int64(len(tb.ext))*24 + slots*8
		if tb.LiveBytes() != wantLive {
			t.Fatalf("LiveBytes %d; want %d", tb.LiveBytes(), wantLive)
		}
		fed, spilled := 0, len(tb.spillH)
		for _, rr := range rows {
			if rr.h != nil {
				fed++
			}
		}
		t.Logf("table round %d: limit %d, %d rows fed, %d spilled, %d chunks, %d refused", round, limit, fed, spilled, len(tb.arena.chunks), refused)
		var wg sync.WaitGroup
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var row Row
				for _, rr := range rows {
					tb.ReadRow(tb.Index(rr.row), &row)
					if rr.set || rr.h == nil {
						if len(row.Buckets) != 0 {
							t.Errorf("set/unfed row with buckets")
						}
						continue
					}
					if len(row.Buckets) != len(rr.h.counts) {
						t.Errorf("row %d: %d buckets; want %d", rr.row, len(row.Buckets), len(rr.h.counts))
						return
					}
					for _, b := range row.Buckets {
						if rr.h.counts[b.Key] != b.Count {
							t.Errorf("row %d key %d: %d; want %d", rr.row, b.Key, b.Count, rr.h.counts[b.Key])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		tb.Reset()
	}
}

// TestHistRoomBound: n updates to one histogram (fresh or not)
// never add more chunks than HistRoom(n) promised, for any mix of counts.
func TestHistRoomBound(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	for trial := 0; trial < min(stressIters(20000)/20, 5000); trial++ {
		var a Arena
		// some prior state
		var h Hist
		for n := r.IntN(200); n > 0; n-- {
			var x Hist
			a.Record(&x, Key(r.IntN(NumKeys)), uint64(r.IntN(3)))
		}
		for n := r.IntN(300); n > 0; n-- {
			a.Record(&h, Key(r.IntN(NumKeys)), uint64(r.IntN(3)))
		}
		n := 1 + r.IntN(3000)
		before := len(a.chunks)
		bound := 3 + bitsLen(2*n)
		set := r.IntN(10) == 0
		for i := 0; i < n; i++ {
			if set {
				a.AddMember(&h, r.Uint64())
			} else {
				a.Record(&h, Key(r.IntN(NumKeys)), stressCount(r))
			}
		}
		if got := len(a.chunks) - before; got > bound {
			t.Fatalf("%d updates added %d chunks; HistRoom allows %d", n, got, bound)
		}
	}
}

func bitsLen(x int) int {
	n := 0
	for ; x != 0; x >>= 1 {
		n++
	}
	return n
}

// TestArenaBigWiden: a narrow histogram in a dedicated chunk widens into
// another, then takes members; Reset drops both and the arena is reused.
func TestArenaBigWiden(t *testing.T) {
	var a Arena
	for round := 0; round < 3; round++ {
		ref := newRefHist()
		var small, h Hist
		a.Record(&small, 7, 4095)
		ref2 := newRefHist()
		ref2.record(7, 4095)
		for k := Key(0); k < 300000; k++ {
			a.Record(&h, k*7%NumKeys, uint64(k%3))
			ref.record(k*7%NumKeys, uint64(k%3))
		}
		if !h.narrow() || h.words() <= maxChunk {
			t.Fatalf("narrow %v, %d words", h.narrow(), h.words())
		}
		a.Record(&h, 5, 1<<64-1)
		ref.record(5, 1<<64-1)
		a.Record(&small, 7, 1)
		ref2.record(7, 1)
		stressCheck(t, &a, []Hist{small, h}, []*refHist{ref2, ref}, "big")
		m := ref.wideEntries()
		added, ok := a.AddMember(&h, 12345)
		if !added || !ok || m[12345] {
			t.Fatal("member")
		}
		m[12345] = true
		stressCheck(t, &a, []Hist{small, h}, []*refHist{ref2, {set: true, members: m}}, "big set")
		a.Reset()
	}
}
