package hist

import "sync/atomic"

// SeriesView is what a snapshot needs to know about the series of its rows,
// captured from the shard when the table was sealed: each series' key and
// statistics specification, indexed by series id. The shard only appends to
// these columns and does not reuse a series id while a snapshot that may
// reference it is outstanding, so the captured prefix stays valid.
type SeriesView struct {
	Keys    KeyView
	KeyRefs []KeyRef
	// Specs[sid] indexes Sets: the statistics specified for the series.
	Specs []uint16
	Sets  []Set
}

// Snapshot is a sealed bucket table: immutable, owned by the control plane
// until Release returns it to its shard. Emitters turn each row into MAD
// AggregatedData (Row, Row.Value) grouped by the dimensions of Key.
type Snapshot struct {
	Table  *Table
	Series SeriesView
	// Shard is the index of the shard that sealed the table.
	Shard int
	// Seq numbers the snapshots of a shard in sealing order.
	Seq      uint64
	release  func(*Snapshot)
	released atomic.Bool
}

// NewSnapshot wraps a sealed table. release is called once by Release.
func NewSnapshot(t *Table, series SeriesView, shard int, seq uint64, release func(*Snapshot)) *Snapshot {
	return &Snapshot{Table: t, Series: series, Shard: shard, Seq: seq, release: release}
}

// Len returns the number of rows.
func (s *Snapshot) Len() int { return s.Table.Len() }

// Key returns the canonical series key of row i; the slice aliases the shard's
// key slab and is valid until Release.
func (s *Snapshot) Key(i int) []byte {
	return s.Series.Keys.Bytes(s.Series.KeyRefs[s.Table.sid[i]])
}

// Specified returns the statistics specified for row i's series; MAD computes
// Specified().Closure() and marks the others isSpecified=false.
func (s *Snapshot) Specified(i int) Set {
	return s.Series.Sets[s.Series.Specs[s.Table.sid[i]]]
}

// Release hands the table back to its shard for reuse. The snapshot and every
// slice read from it must not be used afterwards. Calling it twice panics.
func (s *Snapshot) Release() {
	if s.released.Swap(true) {
		panic("BUG: hist.Snapshot released twice")
	}
	if s.release != nil {
		s.release(s)
	}
}
