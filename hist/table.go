package hist

import (
	"math"
	"math/bits"
	"unsafe"

	"github.com/gomad/mad/internal/hugepage"
	"github.com/gomad/mad/internal/vmem"
)

// Table is one open bucket of one period in one shard: MAD's Bucket for
// every series of the shard that had data for (period, start). Rows are
// appended as series first touch the bucket. A table has one writer (its
// shard) while open, and is immutable once sealed, when it is handed to the
// control plane inside a Snapshot.
//
// Layout: a row is one record holding what every row needs (count, sum,
// series id, unit): 24 bytes, or 32 with its histogram handle for a row
// made to keep a histogram (timers, sets: AddRow's need). The two kinds
// live in two arrays, so that a counter's or a gauge's row does not carry
// a handle it never uses. The accumulators only some rows need, min and
// max (gauges, by default) and the minimum request time (V3 records), live
// in a 24-byte extension record that the row points to, allocated the
// first time the row needs it. Samples arrive in random series order, so
// an update costs one cache line per row, or two for a row with an
// extension or a 24-byte row that straddles two lines (two rows in eight),
// instead of one per accumulator column. Rows are read in order when the
// table is emitted: the rows without a histogram first, then the others,
// each kind in the order it was added.
//
// A row is named by a handle (AddRow): a row without a histogram by its
// index in its array, counting up from 0, a row with one by MaxRows-1
// minus its index, counting down. A table never holds more than MaxRows
// rows, so the two never meet, and a handle below the first array's
// length is a row of the first kind.
//
// Accumulation follows MAD's calculators exactly: count is a Java long;
// sum, min and max start absent (NaN here, which no accepted value can be)
// and take the first value as is, so -0.0 stays -0.0; min and max replace
// only on strict < and >; pre-aggregated counts are truncated with Java's
// (long) cast. Unlike MAD, a sample whose unit differs from the row's (after
// normalisation, SECOND vs no unit, say) is refused and counted by the
// caller instead of restarting the worker and losing the bucket.
type Table struct {
	// Period is the bucket length in milliseconds.
	Period int64
	// Start is the bucket start, milliseconds since the epoch.
	Start int64
	// Expires is the expiration in milliseconds since the epoch; the
	// bucket closes at the first check where now > Expires.
	Expires int64
	// Created is when the table was opened, by the shard's clock.
	Created int64
	// PeriodIndex is the index of Period in the shard's configuration.
	PeriodIndex int
	// Seq numbers the tables of a shard in creation order.
	Seq uint64
	// Cut is 0 for a table sealed at its expiration (or by a final flush).
	// A table that a reconfiguration sealed before its expiration (its
	// period was removed, or its rows lack an accumulator the new
	// statistics need) gets the number of that reconfiguration, so that an
	// emitter emits it without waiting for its expiration, apart from a
	// table of the same period, start and expiration opened afterwards.
	Cut uint64

	acc      []acc      // rows without a histogram
	accKeep  *vmem.Keep // acc's mapping; nil while acc is on the heap
	hacc     []hacc     // rows with one
	haccKeep *vmem.Keep
	ext      []ext
	// spill holds the histograms of rows made without one (AddRow's need
	// had none) that a later update fed one: by row handle, the index in
	// spillH. A shard cuts its tables when its statistics come to need
	// more (package shard, reconfigure), so this is for correctness, not
	// for speed.
	spill  map[uint32]int
	spillH []Hist
	arena  Arena
	next   *Table // FreeList link
}

// acc is the record of a row: 24 bytes.
//
// meta packs the extension, the unit and the set flag:
//
//	 31  30       24 23                 0
//	+---+-----------+--------------------+
//	|set|  unit (7) |  ext index + 1     |     ext 0: none
//	+---+-----------+--------------------+
//
// A table has at most 1<<24 - 1 rows (the shard's limit is lower), so every
// row can have an extension.
type acc struct {
	count int64
	sum   float64 // NaN: absent
	sid   uint32
	meta  uint32
}

// hacc is the record of a row made with a histogram: 32 bytes, half a
// cache line (a hugepage.Make array starts at a page, so none straddles
// two lines).
type hacc struct {
	acc
	hist Hist // 0: the histogram was never fed
}

var _ [24 - unsafe.Sizeof(acc{})]byte
var _ [unsafe.Sizeof(acc{}) - 24]byte
var _ [32 - unsafe.Sizeof(hacc{})]byte
var _ [unsafe.Sizeof(hacc{}) - 32]byte

// ext is a row's extension record.
type ext struct {
	min     float64 // NaN: absent
	max     float64 // NaN: absent
	reqTime int64   // minimum request time, 0: none
}

const (
	metaExt     = 1<<24 - 1
	metaUnitSh  = 24
	unitUnset   = 0x7F
	metaSet     = 1 << 31
	metaInitial = unitUnset << metaUnitSh

	// MaxRows is the most rows a table can hold.
	MaxRows = metaExt
)

func (a *acc) unit() uint8  { return uint8(a.meta>>metaUnitSh) & 0x7F }
func (a *acc) isSet() bool  { return a.meta&metaSet != 0 }
func (a *acc) extIdx() int  { return int(a.meta&metaExt) - 1 }
func (a *acc) hasExt() bool { return a.meta&metaExt != 0 }

var absent = math.NaN()

// extOf returns row a's extension, allocating it if it has none.
func (t *Table) extOf(a *acc) *ext {
	if a.hasExt() {
		return &t.ext[a.extIdx()]
	}
	t.ext = hugepage.Grow(t.ext, 1)
	n := len(t.ext)
	t.ext = t.ext[:n+1]
	e := &t.ext[n] // set in place, as AddRow's row
	e.min, e.max, e.reqTime = absent, absent, 0
	a.meta |= uint32(n + 1)
	return e
}

// Reset empties the table for reuse and keeps its capacity.
func (t *Table) Reset() {
	t.Period, t.Start, t.Expires, t.Created, t.PeriodIndex, t.Seq, t.Cut = 0, 0, 0, 0, 0, 0, 0
	t.next = nil
	t.acc = t.acc[:0]
	t.hacc = t.hacc[:0]
	t.ext = t.ext[:0]
	t.spill, t.spillH = nil, nil
	t.arena.Reset()
}

// Cap returns the number of rows the table holds without growing, of
// both kinds.
func (t *Table) Cap() int { return cap(t.acc) + cap(t.hacc) }

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.acc) + len(t.hacc) }

// Caps returns the rows of each kind (without a histogram, with one) the
// table holds without growing.
func (t *Table) Caps() (plain, hists int) { return cap(t.acc), cap(t.hacc) }

// CapBytes returns the bytes of the rows Caps counts.
func (t *Table) CapBytes() (plain, hists int64) {
	return int64(cap(t.acc)) * int64(unsafe.Sizeof(acc{})), int64(cap(t.hacc)) * int64(unsafe.Sizeof(hacc{}))
}

// Lens returns the number of rows made without a histogram and with one.
func (t *Table) Lens() (plain, hists int) { return len(t.acc), len(t.hacc) }

// Bytes estimates the memory the table holds: its capacity, not its length
// (an upper bound for rows in a mapping, whose unwritten pages cost nothing).
func (t *Table) Bytes() int64 {
	plain, hists := t.CapBytes()
	return plain + hists + int64(cap(t.ext))*int64(unsafe.Sizeof(ext{})) + t.arena.Bytes()
}

// LiveBytes returns the bytes an update of the table's rows may touch: the
// rows, their extensions and the histograms' current blocks, counted at 8
// bytes a slot whatever their entries' width. It is what a shard weighs
// prefetching by (package shard, pipelineFrom), and a sample touches one
// line of a histogram block, narrow or wide: so counted, narrow entries
// leave its decisions where they were with 64-bit entries only (a timer's
// block in 4 KiB instead of 8 took 10 000 timers of two periods, with few
// buckets each, below pipelineFrom and, unpipelined, to 1.3-1.9 times
// their cost a sample).
func (t *Table) LiveBytes() int64 {
	return int64(len(t.acc))*int64(unsafe.Sizeof(acc{})) + int64(len(t.hacc))*int64(unsafe.Sizeof(hacc{})) +
		int64(len(t.ext))*int64(unsafe.Sizeof(ext{})) + t.arena.LiveSlots()*8
}

// Reserve makes room for plain rows without a histogram and hists with
// one, each kind in one allocation (rows are copied once if the table
// already has some), so that a table that will grow to the size of its
// predecessor does not get there by doubling and copying.
func (t *Table) Reserve(plain, hists int) {
	if cap(t.acc) < plain {
		t.acc, t.accKeep = growRows(t.acc, t.accKeep, plain, plain)
	}
	if cap(t.hacc) < hists {
		t.hacc, t.haccKeep = growRows(t.hacc, t.haccKeep, hists, hists)
	}
}

// AddRow appends an empty row for series sid and returns its handle: a
// row with a histogram if need has one (NeedHist or NeedDistinct), else
// one without. The caller keeps the table within MaxRows.
func (t *Table) AddRow(sid uint32, need Need) uint32 {
	// Set where it stays: an acc literal appended is built on the stack
	// and copied with 16-byte loads that wait for its field stores
	// (package internal/inplace says why).
	if need&(NeedHist|NeedDistinct) == 0 {
		row := uint32(len(t.acc))
		if len(t.acc) == cap(t.acc) {
			t.acc, t.accKeep = growRows(t.acc, t.accKeep, len(t.acc)+1, 0)
		}
		t.acc = t.acc[:row+1]
		a := &t.acc[row]
		a.count, a.sum, a.sid, a.meta = 0, absent, sid, metaInitial
		return row
	}
	j := len(t.hacc)
	if j == cap(t.hacc) {
		t.hacc, t.haccKeep = growRows(t.hacc, t.haccKeep, j+1, 0)
	}
	t.hacc = t.hacc[:j+1]
	h := &t.hacc[j]
	h.count, h.sum, h.sid, h.meta, h.hist = 0, absent, sid, metaInitial, 0
	return histHandle(j)
}

// histHandle returns the handle of the row of index j among those with a
// histogram.
func histHandle(j int) uint32 { return uint32(MaxRows - 1 - j) }

// at returns row's record and, for a row made with a histogram, the
// address of its histogram handle (nil for the other kind).
func (t *Table) at(row uint32) (*acc, *Hist) {
	if row < uint32(len(t.acc)) {
		return &t.acc[row], nil
	}
	h := &t.hacc[MaxRows-1-row]
	return &h.acc, &h.hist
}

// histOf returns the address of row's histogram handle: in its record, or
// spilled for a row made without one (hp nil, from at).
func (t *Table) histOf(row uint32, hp *Hist) *Hist {
	if hp != nil {
		return hp
	}
	k, ok := t.spill[row]
	if !ok {
		if t.spill == nil {
			t.spill = make(map[uint32]int)
		}
		k = len(t.spillH)
		t.spill[row] = k
		t.spillH = append(t.spillH, 0)
	}
	return &t.spillH[k]
}

// Index returns the index Row and ReadRow read row at, valid until the
// next AddRow.
func (t *Table) Index(row uint32) int {
	if row < uint32(len(t.acc)) {
		return int(row)
	}
	return len(t.acc) + int(MaxRows-1-row)
}

// accAt returns the record of the row of index i (Index).
func (t *Table) accAt(i int) *acc {
	if i < len(t.acc) {
		return &t.acc[i]
	}
	return &t.hacc[i-len(t.acc)].acc
}

// growRows gives rows a capacity of at least n: exactly c if c is not 0
// (Reserve), else as growth goes. Rows on the heap grow as hugepage.Grow
// grows them, copied at each step; from vmem.MinBytes they move to a
// mapping of their own, which doubles in place or moves its pages (mremap)
// and copies nothing: its spare capacity is address space that costs no
// memory until rows are written. Moving is safe because nothing but the
// shard reads an open table's rows (a sealed table never grows).
func growRows[T any](rows []T, keep *vmem.Keep, n, c int) ([]T, *vmem.Keep) {
	if c == 0 {
		c = max(n, 2*cap(rows))
	}
	var zero T
	size := uintptr(c) * unsafe.Sizeof(zero)
	if keep != nil {
		if g, ok := vmem.Grow(rows, keep, c); ok {
			return g, keep
		}
	} else if size >= vmem.MinBytes {
		if g, k, ok := vmem.Map[T](len(rows), c); ok {
			copy(g, rows)
			return g, k
		}
	}
	var g []T
	if c == n {
		g = hugepage.Make[T](len(rows), n)
		copy(g, rows)
	} else {
		g = hugepage.Grow(rows, n-len(rows))
	}
	return g, nil
}

// Sid returns the series of row (a handle); rows beyond the table's return
// ^0.
func (t *Table) Sid(row uint32) uint32 {
	if a, _ := t.lookup(row); a != nil {
		return a.sid
	}
	return ^uint32(0)
}

// SidAt returns the series of the row of index i (Index).
func (t *Table) SidAt(i int) uint32 { return t.accAt(i).sid }

// unitOK reports whether a sample with unit may feed the accumulators in
// feeds, and adopts the unit if the row has none yet.
func (a *acc) unitOK(unit uint8, feeds Need) bool {
	if feeds&needUnit == 0 || a.unit() == unit {
		return true
	}
	if a.unit() == unitUnset {
		a.meta = a.meta&^(0x7F<<metaUnitSh) | uint32(unit)<<metaUnitSh
		return true
	}
	return false
}

// AddValue accumulates one quantity into row. need says which accumulators
// the row keeps. It reports false, changing nothing, when the unit clashes.
// v must be finite.
func (t *Table) AddValue(row uint32, v float64, unit uint8, need Need) bool {
	a, hp := t.at(row)
	if !a.unitOK(unit, need) {
		return false
	}
	a.count++
	if need&NeedSum != 0 {
		if a.sum != a.sum {
			a.sum = v
		} else {
			a.sum += v
		}
	}
	// With an absent (NaN) bound every comparison is false, so the first
	// value is taken; afterwards these are MAD's strict v < min, v > max.
	if need&(NeedMin|NeedMax) != 0 {
		e := t.extOf(a)
		if need&NeedMin != 0 && !(v >= e.min) {
			e.min = v
		}
		if need&NeedMax != 0 && !(v <= e.max) {
			e.max = v
		}
	}
	if need&NeedHist != 0 {
		t.arena.Record(t.histOf(row, hp), Pack(v), 1)
	}
	return true
}

// HistRoom reports whether one histogram of t can take n more updates (an
// AddValue, AddMember or RecordHist each, a MergeAgg's feeding one) within
// the chunks a table's histograms may have (what a handle addresses, 32
// GiB of them). Each allocation adds at most one chunk; a histogram
// allocates when it is made, when it doubles and when it is widened (once),
// and n updates add at most 2n entries (a count's high part is an entry of
// its own), so n updates take at most 3 + bits.Len(2n) allocations. A
// caller that gets false refuses the sample for this table, changing
// nothing.
func (t *Table) HistRoom(n int) bool { return t.arena.room(3 + bits.Len(uint(2*n))) }

// LimitHistChunks lowers the chunks t's histograms may take (0: what a
// handle addresses), for tests. Reset keeps it.
func (t *Table) LimitHistChunks(n int) { t.arena.limit = n }

// RowLines returns the addresses of the cache lines row's record is on, for
// prefetch hints: the second is 0 unless the record straddles two lines.
// Both are 0 if the row does not exist.
//
// It repeats lookup's bounds rather than calling it: so written, it is
// inlined into the shard's lookahead (through lookup it is not).
func (t *Table) RowLines(row uint32) (first, second uintptr) {
	if row < uint32(len(t.acc)) {
		p := uintptr(unsafe.Pointer(&t.acc[row]))
		if end := p + unsafe.Sizeof(acc{}) - 1; end&^63 != p&^63 {
			return p, end
		}
		return p, 0
	}
	if j := int(MaxRows - 1 - int64(row)); j >= 0 && j < len(t.hacc) {
		return uintptr(unsafe.Pointer(&t.hacc[j])), 0
	}
	return 0, 0
}

// lookup returns row's record and histogram handle's address as at does,
// or nil if the row does not exist (prefetch hints take any handle).
func (t *Table) lookup(row uint32) (*acc, *Hist) {
	if row < uint32(len(t.acc)) {
		return &t.acc[row], nil
	}
	if j := int(MaxRows - 1 - int64(row)); j >= 0 && j < len(t.hacc) {
		return &t.hacc[j].acc, &t.hacc[j].hist
	}
	return nil, nil
}

// ExtAddr returns the address of row's extension record, for prefetch
// hints; 0 if the row has none.
func (t *Table) ExtAddr(row uint32) uintptr {
	a, _ := t.lookup(row)
	if a == nil || !a.hasExt() {
		return 0
	}
	return uintptr(unsafe.Pointer(&t.ext[a.extIdx()]))
}

// HistAddr returns the address of the histogram slot that recording v into
// row starts probing at, for prefetch hints; 0 if the row has no histogram
// in its record.
func (t *Table) HistAddr(row uint32, v float64) uintptr {
	_, hp := t.lookup(row)
	if hp == nil || *hp == 0 {
		return 0
	}
	return t.arena.slotAddr(*hp, Pack(v))
}

// Agg is a set of pre-aggregated statistics to merge into a row (MAD's
// CalculatedValues of one metric in one record). Statistics not in Has are
// not merged. Histogram buckets are recorded separately with RecordHist
// after MergeAgg accepted the sample.
type Agg struct {
	Min, Max, Sum, Count float64
	Has                  AggHas
}

// AggHas says which statistics an Agg carries.
type AggHas uint8

// Pre-aggregated statistics.
const (
	AggMin AggHas = 1 << iota
	AggMax
	AggSum
	AggCount
	AggHist
)

// feeds returns the unit-carrying accumulators that a carries and row keeps.
func (a *Agg) feeds(need Need) Need {
	var f Need
	if a.Has&AggSum != 0 {
		f |= NeedSum
	}
	if a.Has&AggMin != 0 {
		f |= NeedMin
	}
	if a.Has&AggMax != 0 {
		f |= NeedMax
	}
	if a.Has&AggHist != 0 {
		f |= NeedHist
	}
	return f & need
}

// MergeAgg merges pre-aggregated statistics into row, each into the
// accumulator of the same statistic if the row keeps it (MAD ignores the
// others). It reports false, changing nothing, when the unit clashes. If it
// returns true and a carries a histogram the row keeps, the caller then
// records each bucket with RecordHist. Values must be finite.
func (t *Table) MergeAgg(row uint32, a *Agg, unit uint8, need Need) bool {
	r, hp := t.at(row)
	feeds := a.feeds(need)
	if !r.unitOK(unit, feeds) {
		return false
	}
	if a.Has&AggCount != 0 {
		r.count += JavaLong(a.Count)
	}
	if feeds&NeedSum != 0 {
		if r.sum != r.sum {
			r.sum = a.Sum
		} else {
			r.sum += a.Sum
		}
	}
	if feeds&(NeedMin|NeedMax) != 0 {
		e := t.extOf(r)
		if feeds&NeedMin != 0 && !(a.Min >= e.min) {
			e.min = a.Min
		}
		if feeds&NeedMax != 0 && !(a.Max <= e.max) {
			e.max = a.Max
		}
	}
	if feeds&NeedHist != 0 {
		// Fed, even if with no buckets: MAD's histogram then has a unit.
		t.arena.Touch(t.histOf(row, hp))
	}
	return true
}

// AddMember adds a set member's hash to row, counting it if it is new.
//
// It reports false, changing nothing, for a new member of a set that holds
// MaxSetMembers already.
func (t *Table) AddMember(row uint32, member uint64) bool {
	a, hp := t.at(row)
	added, ok := t.arena.AddMember(t.histOf(row, hp), member)
	if !ok {
		return false
	}
	a.meta |= metaSet
	if added {
		a.count++
	}
	return true
}

// RecordHist adds count entries of bucket k to row's histogram.
func (t *Table) RecordHist(row uint32, k Key, count uint64) {
	_, hp := t.at(row)
	t.arena.Record(t.histOf(row, hp), k, count)
}

// NoteRequestTime lowers row's minimum request time (ms since the epoch) to
// rt; rt == 0 means the record had none.
func (t *Table) NoteRequestTime(row uint32, rt int64) {
	if rt == 0 {
		return
	}
	a, _ := t.at(row)
	if e := t.extOf(a); e.reqTime == 0 || rt < e.reqTime {
		e.reqTime = rt
	}
}

// RequestTime returns the minimum request time (ms since the epoch) of the
// row of index i (Index), 0 if none: what Row reads, without reading the
// rest of the row.
func (t *Table) RequestTime(i int) int64 {
	if a := t.accAt(i); a.hasExt() {
		return t.ext[a.extIdx()].reqTime
	}
	return 0
}

// Row is the accumulated state of one row, read from a sealed table. Use
// Value to read statistics: Sum, Min and Max are NaN when absent.
type Row struct {
	Sid   uint32
	Count int64
	Sum   float64
	Min   float64
	Max   float64
	// Buckets is the histogram, sorted and merged (SortBuckets).
	Buckets []Bucket
	// RequestTime is the minimum request time (ms), 0 if none.
	RequestTime int64
	// Unit is the unit the row adopted (see HasUnit), 0 for none.
	Unit    uint8
	hasUnit bool
	histFed bool
	entries int64 // EntriesCount(Buckets)
}

// Row reads the row of index i (Index). Its Buckets are appended to scratch[:0], which the caller
// may reuse for the next row.
func (t *Table) Row(i int, scratch []Bucket) Row {
	r := Row{Buckets: scratch}
	t.ReadRow(i, &r)
	return r
}

// ReadRow reads the row of index i (Index) into *r, appending its Buckets to r.Buckets[:0]. A
// caller reading many rows reuses one Row: filled in place, it is not
// copied (a Row is 80 bytes, and a copy right after the stores that built
// it waits for them).
func (t *Table) ReadRow(i int, r *Row) {
	var a *acc
	var h Hist
	if i < len(t.acc) {
		a = &t.acc[i]
		if t.spill != nil {
			if k, ok := t.spill[uint32(i)]; ok {
				h = t.spillH[k]
			}
		}
	} else {
		ha := &t.hacc[i-len(t.acc)]
		a, h = &ha.acc, ha.hist
	}
	r.Sid, r.Count, r.Sum = a.sid, a.count, a.sum
	r.Min, r.Max, r.RequestTime = absent, absent, 0
	r.Unit, r.hasUnit, r.histFed = 0, a.unit() != unitUnset, h != 0 && !a.isSet()
	if r.hasUnit {
		r.Unit = a.unit()
	}
	if a.hasExt() {
		e := &t.ext[a.extIdx()]
		r.Min, r.Max, r.RequestTime = e.min, e.max, e.reqTime
	}
	r.Buckets, r.entries = r.Buckets[:0], 0
	if !a.isSet() {
		r.Buckets = SortBuckets(t.arena.AppendBuckets(r.Buckets, h))
		r.entries = EntriesCount(r.Buckets)
	}
}

// Value returns statistic st of the row as MAD computes it when the bucket
// closes: its value, its unit (0 for none) and whether it has one. A
// statistic whose accumulator got no data has none (MAD's Quantity(null));
// so does mean without a sum, where MAD throws a NullPointerException and
// loses the bucket. Percentiles of an empty histogram are 0, as in MAD; the
// histogram statistic's value is always 1.
func (r *Row) Value(st Stat) (v float64, unit uint8, ok bool) {
	switch st {
	case Count:
		return float64(r.Count), 0, true
	case Sum:
		return r.Sum, r.Unit, r.Sum == r.Sum
	case Min:
		return r.Min, r.Unit, r.Min == r.Min
	case Max:
		return r.Max, r.Unit, r.Max == r.Max
	case Mean:
		if r.Sum != r.Sum {
			return 0, 0, false
		}
		return r.Sum / float64(r.Count), r.Unit, true
	}
	var histUnit uint8
	if r.histFed {
		histUnit = r.Unit
	}
	if st == Histogram {
		// MAD's value is Quantity(1.0) without a unit; the histogram's
		// unit is in its supporting data (the metric's unit).
		return 1, 0, true
	}
	if st.IsPercentile() {
		return percentileOf(r.Buckets, r.entries, st.Percentile()), histUnit, true
	}
	return 0, 0, false
}

// HasUnit reports whether the row adopted a unit (Unit is then meaningful).
func (r *Row) HasUnit() bool { return r.hasUnit }
