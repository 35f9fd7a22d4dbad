package hist

import "sync/atomic"

// SeriesKeys is what a snapshot reads about the series of its rows, by
// series id (Table.Sid, Row.Sid): the parts of its canonical key and the
// statistics specified for it. The shard that sealed the table implements
// it over its own series records and key pool, and keeps what it reads
// unchanged until the snapshot is released; the slices Key returns alias
// the shard's memory and are valid until then.
type SeriesKeys interface {
	// Key returns the parts of series sid's key: its kind byte, its name
	// as the canonical key holds it (length-prefixed) and its dimensions
	// (see sample.KeyFromParts).
	Key(sid uint32) (kind uint8, name, dims []byte)
	// Dims returns the dimensions of series sid's key, as Key does,
	// reading nothing else (no name). The series of one snapshot whose
	// dimensions are equal have them at the same address (the shard
	// interns them): an emitter groups the rows of one snapshot by it.
	// alone reports that no other row's series in the snapshot has
	// these dimensions (the shard counts the series that hold an
	// interned set), so that an emitter grouping the rows of this one
	// snapshot need not look for them (another shard's snapshot may
	// have them); false tells nothing.
	Dims(sid uint32) (dims []byte, alone bool)
	// Plain reports whether series sid's name, and every key and value of
	// its dimensions, are plain JSON text: valid UTF-8 without a quote, a
	// backslash or a C0 control, which a JSON writer may copy as it is.
	// false tells nothing (the text may need escaping, or not).
	Plain(sid uint32) (name, dims bool)
	// Specified returns the statistics specified for series sid.
	Specified(sid uint32) Set
	// Series reads at once what Key, Plain and Specified return for
	// series sid (an emitter's row reads them all, and each was a call
	// through the interface and a read of the key's strings of its own).
	Series(sid uint32, s *Series)
	// Hint tells the processor what reading series sid will touch, in two
	// steps a while apart (prefetch instructions, which wait for nothing):
	// its record (keys false), then, once the record has come in, the
	// strings of its key (keys true, which loads the record's key word).
	Hint(sid uint32, keys bool)
}

// Series is what SeriesKeys.Series reads about a series.
type Series struct {
	// Kind, Name and Dims are Key's.
	Kind       uint8
	Name, Dims []byte
	// NamePlain and DimsPlain are Plain's.
	NamePlain, DimsPlain bool
	// Specified is Specified's.
	Specified Set
}

// Snapshot is a sealed bucket table: immutable, owned by the control plane
// until Release returns it to its shard. Emitters turn each row into MAD
// AggregatedData (Table.Row, Row.Value) grouped by the dimensions of Key.
type Snapshot struct {
	Table *Table
	// Shard is the index of the shard that sealed the table.
	Shard    int
	series   SeriesKeys
	free     *FreeList
	released atomic.Bool
}

// NewSnapshot wraps a sealed table whose rows' series series describes;
// Release pushes the table onto free.
func NewSnapshot(t *Table, series SeriesKeys, shard int, free *FreeList) *Snapshot {
	return &Snapshot{Table: t, Shard: shard, series: series, free: free}
}

// Len returns the number of rows.
func (s *Snapshot) Len() int { return s.Table.Len() }

// Key returns the parts of row i's series key (see SeriesKeys.Key); the
// slices alias the shard's memory and are valid until Release.
func (s *Snapshot) Key(i int) (kind uint8, name, dims []byte) {
	return s.series.Key(s.Table.SidAt(i))
}

// Dims returns the dimensions of row i's series' key, as Key does, and
// whether no other row's series has them (SeriesKeys.Dims).
func (s *Snapshot) Dims(i int) (dims []byte, alone bool) {
	return s.series.Dims(s.Table.SidAt(i))
}

// Plain reports whether row i's series' name and dimensions are plain
// JSON text (see SeriesKeys.Plain).
func (s *Snapshot) Plain(i int) (name, dims bool) {
	return s.series.Plain(s.Table.SidAt(i))
}

// Specified returns the statistics specified for row i's series; MAD computes
// Specified().Closure() and marks the others isSpecified=false.
func (s *Snapshot) Specified(i int) Set {
	return s.series.Specified(s.Table.SidAt(i))
}

// Series reads row i's series' key, plain marks and specified statistics
// (SeriesKeys.Series); the slices are valid until Release.
func (s *Snapshot) Series(i int, out *Series) {
	s.series.Series(s.Table.SidAt(i), out)
}

// Hint hints what reading row i's series will touch (SeriesKeys.Hint).
func (s *Snapshot) Hint(i int, keys bool) {
	s.series.Hint(s.Table.SidAt(i), keys)
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
