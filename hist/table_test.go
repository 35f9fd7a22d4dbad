package hist

import (
	"math"
	"runtime"
	"testing"
	"unsafe"
)

const (
	unitNone   = 0
	unitSecond = 4 // any two distinct codes will do; hist treats units as opaque
	unitByte   = 10
)

func TestTableAccumulates(t *testing.T) {
	var tb Table
	all := SetOf(Min, Max, Mean, Median, TP99, Sum).Need()
	r := tb.AddRow(7, all)
	for _, v := range []float64{3, 1, 2, 1} {
		if !tb.AddValue(r, v, unitSecond, all) {
			t.Fatalf("AddValue(%v) refused", v)
		}
	}
	row := tb.Row(tb.Index(r), nil)
	for _, tc := range []struct {
		st   Stat
		want float64
		unit uint8
	}{
		{Count, 4, unitNone}, {Sum, 7, unitSecond}, {Min, 1, unitSecond}, {Max, 3, unitSecond},
		{Mean, 1.75, unitSecond}, {Median, 1, unitSecond}, {TP99, 3, unitSecond}, {Histogram, 1, unitNone}, // MAD: Quantity(1.0), no unit
	} {
		v, u, ok := row.Value(tc.st)
		if !ok || v != tc.want || u != tc.unit {
			t.Errorf("%v = %v %d %v; want %v %d true", tc.st, v, u, ok, tc.want, tc.unit)
		}
	}
	if row.Sid != 7 {
		t.Errorf("sid = %d; want 7", row.Sid)
	}
}

func TestTableFirstValueKeptAsIs(t *testing.T) {
	// MAD's sum starts absent and takes the first quantity: -0.0 stays -0.0.
	var tb Table
	r := tb.AddRow(0, NeedSum|NeedMin|NeedMax)
	negZero := math.Copysign(0, -1)
	tb.AddValue(r, negZero, unitNone, NeedSum|NeedMin|NeedMax)
	tb.AddValue(r, 0, unitNone, NeedSum|NeedMin|NeedMax)
	row := tb.Row(tb.Index(r), nil)
	// sum = -0.0 + 0.0 = 0.0; min and max keep -0.0 (strict comparisons).
	for _, tc := range []struct {
		st      Stat
		signbit bool
	}{{Sum, false}, {Min, true}, {Max, true}} {
		v, _, _ := row.Value(tc.st)
		if v != 0 || math.Signbit(v) != tc.signbit {
			t.Errorf("%v = %v (signbit %v); want signbit %v", tc.st, v, math.Signbit(v), tc.signbit)
		}
	}
}

func TestTableUnitClash(t *testing.T) {
	var tb Table
	need := SetOf(Mean).Need()
	r := tb.AddRow(0, need)
	if !tb.AddValue(r, 1, unitNone, need) {
		t.Fatal("first value refused")
	}
	if tb.AddValue(r, 2, unitSecond, need) {
		t.Fatal("value with a unit accepted into a row without one")
	}
	if !tb.AddValue(r, 3, unitNone, need) {
		t.Fatal("matching value refused")
	}
	row := tb.Row(tb.Index(r), nil)
	if v, _, _ := row.Value(Count); v != 2 {
		t.Errorf("count = %v; want 2 (the refused sample changes nothing)", v)
	}
	if v, _, _ := row.Value(Sum); v != 4 {
		t.Errorf("sum = %v; want 4", v)
	}
	// A count-only row has no unit-carrying calculator, so MAD never
	// compares units and neither do we.
	countOnly := SetOf(Count).Need()
	r2 := tb.AddRow(1, countOnly)
	if !tb.AddValue(r2, 1, unitSecond, countOnly) || !tb.AddValue(r2, 1, unitByte, countOnly) {
		t.Fatal("count-only row refused a unit")
	}
}

func TestTableMergeAgg(t *testing.T) {
	var tb Table
	need := SetOf(Min, Max, Mean, TP90).Need()
	r := tb.AddRow(0, need)
	tb.AddValue(r, 3, unitNone, need)
	// V3's testSingleRecord "combined1": samples then two statistic sets.
	for _, a := range []struct {
		agg     Agg
		buckets map[float64]uint64
	}{
		{Agg{Min: 2, Max: 5, Sum: 14, Count: 4, Has: AggMin | AggMax | AggSum | AggCount | AggHist},
			map[float64]uint64{2: 1, 3: 1, 4: 1, 5: 1}},
		{Agg{Min: 3, Max: 3, Sum: 3, Count: 1, Has: AggMin | AggMax | AggSum | AggCount | AggHist},
			map[float64]uint64{3: 1}},
	} {
		if !tb.MergeAgg(r, &a.agg, unitNone, need) {
			t.Fatal("MergeAgg refused")
		}
		for v, n := range a.buckets {
			tb.RecordHist(r, Pack(v), n)
		}
	}
	row := tb.Row(tb.Index(r), nil)
	for _, tc := range []struct {
		st   Stat
		want float64
	}{{Count, 6}, {Min, 2}, {Max, 5}, {Sum, 20}, {Mean, 20.0 / 6}, {TP90, 5}} {
		if v, _, ok := row.Value(tc.st); !ok || v != tc.want {
			t.Errorf("%v = %v %v; want %v", tc.st, v, ok, tc.want)
		}
	}
}

func TestTableAggSubsets(t *testing.T) {
	var tb Table
	need := SetOf(Min, Max, Mean, Median).Need()
	r := tb.AddRow(0, need)
	// Only a count: min, max and sum got no data (MAD's Quantity(null));
	// mean would make MAD throw, we report no value.
	a := Agg{Count: 2.9, Has: AggCount}
	if !tb.MergeAgg(r, &a, unitSecond, need) {
		t.Fatal("MergeAgg refused")
	}
	row := tb.Row(tb.Index(r), nil)
	if v, _, ok := row.Value(Count); !ok || v != 2 {
		t.Errorf("count = %v; want 2 (Java (long) truncation of 2.9)", v)
	}
	for _, st := range []Stat{Sum, Min, Max, Mean} {
		if _, _, ok := row.Value(st); ok {
			t.Errorf("%v has a value; want none", st)
		}
	}
	if v, u, ok := row.Value(Median); !ok || v != 0 || u != unitNone {
		t.Errorf("median of empty histogram = %v %d %v; want 0, no unit", v, u, ok)
	}
	if row.HasUnit() {
		t.Error("a count-only merge adopted a unit")
	}
}

func TestTableRequestTime(t *testing.T) {
	var tb Table
	r0 := tb.AddRow(0, NeedSum)
	r1 := tb.AddRow(1, NeedHist)
	tb.NoteRequestTime(r1, 500)
	tb.NoteRequestTime(r1, 0)
	tb.NoteRequestTime(r1, 700)
	tb.NoteRequestTime(r1, 300)
	r2 := tb.AddRow(2, NeedSum)
	if got := tb.Row(tb.Index(r0), nil).RequestTime; got != 0 {
		t.Errorf("row 0 request time = %d; want 0", got)
	}
	if got := tb.Row(tb.Index(r1), nil).RequestTime; got != 300 {
		t.Errorf("row 1 request time = %d; want 300", got)
	}
	if got := tb.Row(tb.Index(r2), nil).RequestTime; got != 0 {
		t.Errorf("row 2 request time = %d; want 0", got)
	}
	tb.Reset()
	if tb.Len() != 0 {
		t.Fatalf("Len after Reset = %d", tb.Len())
	}
	r := tb.AddRow(9, NeedSum)
	if got := tb.Row(tb.Index(r), nil); got.RequestTime != 0 || got.Count != 0 || got.Sid != 9 {
		t.Fatalf("row after Reset = %+v; want empty", got)
	}
}

func TestRowRecordSizes(t *testing.T) {
	if n := unsafe.Sizeof(acc{}); n != 24 {
		t.Fatalf("row record is %d bytes; want 24", n)
	}
	if n := unsafe.Sizeof(hacc{}); n != 32 {
		t.Fatalf("row record with a histogram is %d bytes; want 32 (half a cache line)", n)
	}
}

// Rows that need min, max or a request time get an extension record, the
// others none; each row reads back its own, also after a Reset.
func TestRowExtensions(t *testing.T) {
	var tb Table
	for round := 0; round < 2; round++ {
		const n = 3000
		for i := 0; i < n; i++ {
			r := tb.AddRow(uint32(i), NeedSum)
			switch i % 3 {
			case 0: // a counter: no extension
				tb.AddValue(r, float64(i), 0, NeedSum)
			case 1: // a gauge
				tb.AddValue(r, float64(i), 0, NeedSum|NeedMin|NeedMax)
				tb.AddValue(r, float64(-i), 0, NeedSum|NeedMin|NeedMax)
			case 2: // a counter with a request time
				tb.AddValue(r, float64(i), 0, NeedSum)
				tb.NoteRequestTime(r, int64(i+round))
			}
		}
		if got := len(tb.ext); got != 2*n/3 {
			t.Fatalf("round %d: %d extensions; want %d", round, got, 2*n/3)
		}
		for i := 0; i < n; i++ {
			row := tb.Row(i, nil)
			wantMin, wantMax, wantReq := math.NaN(), math.NaN(), int64(0)
			switch i % 3 {
			case 1:
				wantMin, wantMax = float64(-i), float64(i)
			case 2:
				wantReq = int64(i + round)
			}
			if !sameFloat(row.Min, wantMin) || !sameFloat(row.Max, wantMax) || row.RequestTime != wantReq || row.Sid != uint32(i) {
				t.Fatalf("round %d row %d = %+v; want min %v max %v request time %d", round, i, row, wantMin, wantMax, wantReq)
			}
		}
		tb.Reset()
	}
}

func sameFloat(a, b float64) bool { return a == b || (a != a && b != b) }

func TestTableSetCountsDistinctMembers(t *testing.T) {
	var tb Table
	r := tb.AddRow(3, NeedDistinct)
	for i := 0; i < 5000; i++ {
		tb.AddMember(r, uint64(i%1000)*0x9E3779B97F4A7C15) // 0 included; never full
	}
	row := tb.Row(tb.Index(r), nil)
	if v, _, ok := row.Value(Count); !ok || v != 1000 {
		t.Fatalf("distinct count = %v; want 1000", v)
	}
	if len(row.Buckets) != 0 {
		t.Fatalf("a set row reads back %d histogram buckets", len(row.Buckets))
	}
	if _, _, ok := row.Value(Histogram); !ok {
		t.Fatal("histogram statistic missing")
	}
}

// TestTableRowsGrowOffHeap grows a table's rows of both kinds past
// vmem.MinBytes, by AddRow (from the heap into a mapping, then by mremap)
// and by Reserve, and checks that no row lost or mixed up its
// accumulators on the way, and that a reset table keeps its rows' capacity.
func TestTableRowsGrowOffHeap(t *testing.T) {
	const n = 300_000 // 3.6 MB of rows without a histogram, 4.8 MB with
	plain, hists := SetOf(Sum).Need(), SetOf(Sum, Median).Need()
	needOf := func(i int) Need {
		if i%2 == 0 {
			return plain
		}
		return hists
	}
	check := func(tb *Table, handles []uint32) {
		t.Helper()
		if tb.Len() != len(handles) {
			t.Fatalf("%d rows; want %d", tb.Len(), len(handles))
		}
		for i, h := range handles {
			row := tb.Row(tb.Index(h), nil)
			if sum, _, _ := row.Value(Sum); row.Sid != uint32(i) || row.Count != 2 || sum != float64(3*i) {
				t.Fatalf("row %d: sid %d count %d sum %v", i, row.Sid, row.Count, sum)
			}
			if want := 2 * (i % 2); EntriesCount(row.Buckets) != int64(want) {
				t.Fatalf("row %d: %d histogram entries; want %d", i, EntriesCount(row.Buckets), want)
			}
		}
	}
	var tb Table
	handles := make([]uint32, n)
	for i := range n {
		handles[i] = tb.AddRow(uint32(i), needOf(i))
		tb.AddValue(handles[i], float64(i), unitNone, needOf(i))
		if i%1000 == 999 { // rows written before later growth
			for j := i - 999; j <= i; j++ {
				tb.AddValue(handles[j], float64(2*j), unitNone, needOf(j))
			}
		}
	}
	check(&tb, handles)
	if runtime.GOOS == "linux" && (tb.accKeep == nil || tb.haccKeep == nil) {
		t.Error("rows of 3.6 and 4.8 MB still on the heap")
	}
	if tb.spill != nil {
		t.Error("rows made with a histogram spilled one")
	}
	c := tb.Cap()
	tb.Reset()
	if tb.Len() != 0 || tb.Cap() != c {
		t.Fatalf("reset: len %d cap %d; want 0 %d", tb.Len(), tb.Cap(), c)
	}

	var rs Table
	rs.Reserve(n/2, n/2)
	if p, h := cap(rs.acc), cap(rs.hacc); p < n/2 || h < n/2 {
		t.Fatalf("Reserve(%d, %d): caps %d %d", n/2, n/2, p, h)
	}
	for i := range n {
		handles[i] = rs.AddRow(uint32(i), needOf(i))
		rs.AddValue(handles[i], float64(i), unitNone, needOf(i))
		rs.AddValue(handles[i], float64(2*i), unitNone, needOf(i))
	}
	rs.Reserve(n, n) // moves the written rows
	check(&rs, handles)
}

// TestRowHandles: rows of both kinds, interleaved, keep their handles as
// rows are added; rows are read back without a histogram first, then
// with, each kind in the order added; a handle outside the table reads as
// no row.
func TestRowHandles(t *testing.T) {
	var tb Table
	var plain, hists []uint32
	for i := range 10 {
		need := NeedSum
		if i%3 == 0 {
			need |= NeedHist
		}
		h := tb.AddRow(uint32(i), need)
		if need&NeedHist != 0 {
			hists = append(hists, h)
		} else {
			plain = append(plain, h)
		}
		tb.AddValue(h, float64(i), unitNone, need)
	}
	if p, h := tb.Lens(); p != len(plain) || h != len(hists) {
		t.Fatalf("Lens = %d, %d; want %d, %d", p, h, len(plain), len(hists))
	}
	for i, h := range append(plain, hists...) {
		if got := tb.Index(h); got != i {
			t.Errorf("Index(%d) = %d; want %d", h, got, i)
		}
		row := tb.Row(i, nil)
		if sid := tb.Sid(h); sid != row.Sid || tb.SidAt(i) != row.Sid {
			t.Errorf("row %d: Sid %d, SidAt %d, Row's %d", i, sid, tb.SidAt(i), row.Sid)
		}
		if sum, _, _ := row.Value(Sum); sum != float64(row.Sid) || row.Count != 1 {
			t.Errorf("row %d (series %d): sum %v count %d", i, row.Sid, sum, row.Count)
		}
		if fed := len(row.Buckets) > 0; fed != (row.Sid%3 == 0) {
			t.Errorf("row %d (series %d): %d buckets", i, row.Sid, len(row.Buckets))
		}
	}
	for _, h := range []uint32{uint32(len(plain)), histHandle(len(hists)), MaxRows, ^uint32(0)} {
		if sid := tb.Sid(h); sid != ^uint32(0) {
			t.Errorf("Sid(%d) = %d; want none", h, sid)
		}
		if a, b := tb.RowLines(h); a != 0 || b != 0 {
			t.Errorf("RowLines(%d) = %#x, %#x; want none", h, a, b)
		}
		if tb.ExtAddr(h) != 0 || tb.HistAddr(h, 1) != 0 {
			t.Errorf("ExtAddr or HistAddr(%d) not 0", h)
		}
	}
}

// TestRowWithoutHistogramSpills: a row made without a histogram that is
// later fed one (a value, a merged histogram, a set member) keeps it aside
// and reads it back, apart from every other row's; a Reset forgets it.
func TestRowWithoutHistogramSpills(t *testing.T) {
	var tb Table
	for round := range 2 {
		a := tb.AddRow(1, NeedSum)
		b := tb.AddRow(2, NeedSum)
		c := tb.AddRow(3, NeedSum|NeedHist)
		d := tb.AddRow(4, NeedSum)
		tb.AddValue(a, 5, unitNone, NeedSum|NeedHist)
		tb.AddValue(b, 7, unitNone, NeedSum)
		tb.AddValue(c, 9, unitNone, NeedSum|NeedHist)
		agg := Agg{Sum: 3, Count: 1, Has: AggSum | AggCount | AggHist}
		if !tb.MergeAgg(a, &agg, unitNone, NeedSum|NeedHist) {
			t.Fatal("MergeAgg refused")
		}
		tb.RecordHist(a, Pack(3), 1)
		if !tb.AddMember(d, 42) || !tb.AddMember(d, 43) || !tb.AddMember(d, 42) {
			t.Fatal("AddMember refused")
		}
		want := map[uint32][]float64{1: {3, 5}, 2: nil, 3: {9}, 4: nil}
		for i := range tb.Len() {
			row := tb.Row(i, nil)
			var got []float64
			for _, bk := range row.Buckets {
				got = append(got, bk.Key.Value())
			}
			if !slicesEqual(got, want[row.Sid]) {
				t.Errorf("round %d: series %d's buckets %v; want %v", round, row.Sid, got, want[row.Sid])
			}
			if row.Sid == 4 && row.Count != 2 {
				t.Errorf("round %d: the set counts %d members; want 2", round, row.Count)
			}
		}
		tb.Reset()
		if tb.spill != nil || tb.spillH != nil {
			t.Fatal("Reset kept the spilled histograms")
		}
	}
}

func slicesEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHistAddr: the hint's address is the slot recording a value starts
// probing at, in narrow and in wide histograms: probing from it finds the
// value's entry before an empty slot.
func TestHistAddr(t *testing.T) {
	var tb Table
	need := SetOf(Median).Need()
	for _, count := range []uint64{1, 5000} { // 5000: widened
		r := tb.AddRow(uint32(count), need)
		if tb.HistAddr(r, 42) != 0 {
			t.Fatal("HistAddr of a row without a histogram")
		}
		for v := range 100 {
			tb.RecordHist(r, Pack(float64(v)), count)
		}
		_, hp := tb.lookup(r)
		if hp.narrow() != (count < 4096) {
			t.Fatalf("count %d: narrow %v", count, hp.narrow())
		}
		b := tb.arena.block(*hp)
		base, width := uintptr(unsafe.Pointer(&b[0])), uintptr(8)
		keyAt := func(i int) (Key, bool) { return entryKey(b[i]), b[i] != 0 }
		if hp.narrow() {
			nb := entries[uint32](b)
			width = 4
			keyAt = func(i int) (Key, bool) { return narrowKey(nb[i]), nb[i] != 0 }
		}
		slots := len(b) * 8 / int(width)
		for v := range 100 {
			p := tb.HistAddr(r, float64(v))
			if p < base || (p-base)%width != 0 || int((p-base)/width) >= slots {
				t.Fatalf("count %d, value %d: HistAddr %#x is not a slot of the block at %#x", count, v, p, base)
			}
			for i := int((p - base) / width); ; i = (i + 1) % slots {
				k, used := keyAt(i)
				if !used {
					t.Fatalf("count %d, value %d: not found probing from HistAddr", count, v)
				}
				if k == Pack(float64(v)) {
					break
				}
			}
		}
	}
}
