package hist

import "sync/atomic"

// A shard keeps one record per series in a flat []uint64, Stride words per
// series id (sid). The first two words are what snapshots read and are
// written once, when the series is created:
//
//	word 0: KeyRef of the canonical series key (see package sample)
//	word 1: owner (bits 0-31) | statistics specification (bits 32-47)
//
// The owner is the series whose rows accumulate this series' samples: the
// series itself, or, for a metric matched by a pipeline `statistics`
// override, the type-less series that MAD aggregates such metrics in. The
// other words belong to the shard.
const (
	SeriesKeyWord  = 0
	SeriesSpecWord = 1
)

// PackOwnerSpec builds word 1 of a series record.
func PackOwnerSpec(owner uint32, spec uint16) uint64 { return uint64(owner) | uint64(spec)<<32 }

// SeriesView is what a snapshot needs to know about the series of its rows,
// captured from the shard when the table was sealed. The shard only appends
// records, never rewrites words 0 and 1 of a live series, and does not reuse
// a series id or free its key while a snapshot that may reference it is
// outstanding, so the captured prefix stays valid until Release.
type SeriesView struct {
	Keys   KeyView
	Recs   []uint64
	Stride int
	// Sets[spec] is the set of statistics specified for a series.
	Sets []Set
}

// Key returns the key of series sid.
func (v *SeriesView) Key(sid uint32) []byte {
	return v.Keys.Bytes(KeyRef(v.Recs[int(sid)*v.Stride+SeriesKeyWord]))
}

// Spec returns the statistics specification of series sid.
func (v *SeriesView) Spec(sid uint32) uint16 {
	return uint16(v.Recs[int(sid)*v.Stride+SeriesSpecWord] >> 32)
}

// Snapshot is a sealed bucket table: immutable, owned by the control plane
// until Release returns it to its shard. Emitters turn each row into MAD
// AggregatedData (Table.Row, Row.Value) grouped by the dimensions of Key.
type Snapshot struct {
	Table  *Table
	Series SeriesView
	// Shard is the index of the shard that sealed the table.
	Shard    int
	free     *FreeList
	released atomic.Bool
}

// NewSnapshot wraps a sealed table; Release pushes it onto free.
func NewSnapshot(t *Table, series SeriesView, shard int, free *FreeList) *Snapshot {
	return &Snapshot{Table: t, Series: series, Shard: shard, free: free}
}

// Len returns the number of rows.
func (s *Snapshot) Len() int { return s.Table.Len() }

// Key returns the canonical series key of row i; the slice aliases the shard's
// key slab and is valid until Release.
func (s *Snapshot) Key(i int) []byte {
	return s.Series.Key(s.Table.acc[i].sid)
}

// Specified returns the statistics specified for row i's series; MAD computes
// Specified().Closure() and marks the others isSpecified=false.
func (s *Snapshot) Specified(i int) Set {
	return s.Series.Sets[s.Series.Spec(s.Table.acc[i].sid)]
}

// Release hands the table back to its shard for reuse. Any goroutine may call
// it, once; the snapshot and every slice read from it must not be used
// afterwards.
func (s *Snapshot) Release() {
	if s.released.Swap(true) {
		panic("BUG: hist.Snapshot released twice")
	}
	if s.free != nil {
		s.free.Push(s.Table)
	}
}

// FreeList is a lock-free stack of released tables (Treiber, "Systems
// Programming: Coping with Parallelism", IBM RJ 5118, 1986): any goroutine
// pushes, one owner takes the whole stack at once, so there is no ABA.
type FreeList struct {
	top atomic.Pointer[Table]
	n   atomic.Int64
}

// Push adds t. Safe from any goroutine.
func (f *FreeList) Push(t *Table) {
	for {
		top := f.top.Load()
		t.next = top
		if f.top.CompareAndSwap(top, t) {
			f.n.Add(1)
			return
		}
	}
}

// TakeAll removes every table and returns them as a list linked by Next.
func (f *FreeList) TakeAll() *Table {
	t := f.top.Swap(nil)
	for x := t; x != nil; x = x.next {
		f.n.Add(-1)
	}
	return t
}

// Len returns the number of tables on the list (approximate while pushes race).
func (f *FreeList) Len() int { return int(f.n.Load()) }

// Next returns the table after t on a list returned by TakeAll.
func (t *Table) Next() *Table { return t.next }
