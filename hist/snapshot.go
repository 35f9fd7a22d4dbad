package hist

import "sync/atomic"

// A shard keeps one record per series in a flat []uint64, Stride words per
// series id (sid). The first two words are what snapshots read and are
// written once, when the series is created:
//
//	word 0: name id (bits 0-31) | dimensions id (bits 32-63), in the
//	        shard's StringPool
//	word 1: owner (bits 0-31) | statistics specification (bits 32-47) |
//	        kind (bits 48-55)
//
// The series key is kind | name | dimensions (the canonical key of package
// sample, cut into its parts). The owner is the series whose rows
// accumulate this series' samples: the series itself, or, for a metric
// matched by a pipeline `statistics` override, the type-less series that MAD
// aggregates such metrics in. The other words belong to the shard.
const (
	SeriesKeyWord  = 0
	SeriesSpecWord = 1
)

// PackKey builds word 0 of a series record.
func PackKey(name, dims uint32) uint64 { return uint64(name) | uint64(dims)<<32 }

// PackOwnerSpec builds word 1 of a series record.
func PackOwnerSpec(owner uint32, spec uint16, kind uint8) uint64 {
	return uint64(owner) | uint64(spec)<<32 | uint64(kind)<<48
}

// SeriesView is what a snapshot needs to know about the series of its rows,
// captured from the shard when the table was sealed. The shard only appends
// records, never rewrites words 0 and 1 of a live series, and does not reuse
// a series id or release its key parts while a snapshot that may reference
// it is outstanding, so the captured prefix stays valid until Release.
type SeriesView struct {
	Pool   PoolView
	Recs   []uint64
	Stride int
	// Sets[spec] is the set of statistics specified for a series.
	Sets []Set
}

// Key returns the parts of series sid's key: its kind byte, its name as
// the canonical key holds it (length-prefixed) and its dimensions. The
// slices alias the shard's pool.
func (v *SeriesView) Key(sid uint32) (kind uint8, name, dims []byte) {
	w := v.Recs[int(sid)*v.Stride:]
	return uint8(w[SeriesSpecWord] >> 48), v.Pool.Bytes(uint32(w[SeriesKeyWord])), v.Pool.Bytes(uint32(w[SeriesKeyWord] >> 32))
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

// Key returns the parts of row i's series key (see SeriesView.Key); the
// slices alias the shard's pool and are valid until Release.
func (s *Snapshot) Key(i int) (kind uint8, name, dims []byte) {
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
