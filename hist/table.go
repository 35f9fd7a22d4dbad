package hist

// Row flags.
const (
	flagUnit uint8 = 1 << iota // unit[row] is set
	flagSum                    // sum[row] holds a value
	flagMin
	flagMax
	flagHist // the histogram was fed (possibly with zero buckets)
)

// Table is one open bucket of one period in one shard: MAD's Bucket for
// every series of the shard that had data for (period, start). Rows are
// appended as series first touch the bucket; each statistic accumulator is a
// column. A table has one writer (its shard) while open, and is immutable
// once sealed, when it is handed to the control plane inside a Snapshot.
//
// Accumulation follows MAD's calculators exactly: count is a Java long;
// sum, min and max start absent and take the first value as is (so -0.0
// stays -0.0); min and max replace only on strict < and >; pre-aggregated
// counts are truncated with Java's (long) cast. Unlike MAD, a sample whose
// unit differs from the row's (after normalisation, SECOND vs no unit, say)
// is refused and counted by the caller instead of restarting the worker and
// losing the bucket.
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

	sid     []uint32
	count   []int64
	sum     []float64
	min     []float64
	max     []float64
	hist    []Hist
	unit    []uint8
	flags   []uint8
	reqTime []int64 // nil until a row gets a request time
	arena   Arena
	next    *Table // FreeList link
}

// Reset empties the table for reuse and keeps its capacity.
func (t *Table) Reset() {
	t.Period, t.Start, t.Expires, t.Created, t.PeriodIndex, t.Seq = 0, 0, 0, 0, 0, 0
	t.next = nil
	t.sid = t.sid[:0]
	t.count = t.count[:0]
	t.sum = t.sum[:0]
	t.min = t.min[:0]
	t.max = t.max[:0]
	t.hist = t.hist[:0]
	t.unit = t.unit[:0]
	t.flags = t.flags[:0]
	t.reqTime = t.reqTime[:0]
	t.arena.Reset()
}

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.sid) }

// Bytes estimates the memory the table holds (capacity, not length).
func (t *Table) Bytes() int64 {
	return int64(cap(t.sid))*4 + int64(cap(t.count)+cap(t.sum)+cap(t.min)+cap(t.max)+cap(t.hist)+cap(t.reqTime))*8 +
		int64(cap(t.unit)+cap(t.flags)) + t.arena.Bytes()
}

// AddRow appends an empty row for series sid and returns its index.
func (t *Table) AddRow(sid uint32) uint32 {
	row := uint32(len(t.sid))
	t.sid = append(t.sid, sid)
	t.count = append(t.count, 0)
	t.sum = append(t.sum, 0)
	t.min = append(t.min, 0)
	t.max = append(t.max, 0)
	t.hist = append(t.hist, 0)
	t.unit = append(t.unit, 0)
	t.flags = append(t.flags, 0)
	if t.reqTime != nil {
		t.reqTime = append(t.reqTime, 0)
	}
	return row
}

// Sid returns the series of row; rows beyond Len return ^0.
func (t *Table) Sid(row uint32) uint32 {
	if row >= uint32(len(t.sid)) {
		return ^uint32(0)
	}
	return t.sid[row]
}

// unitOK reports whether a sample with unit may feed the accumulators in
// feeds, and adopts the unit if the row has none yet.
func (t *Table) unitOK(row uint32, unit uint8, feeds Need) bool {
	if feeds&needUnit == 0 {
		return true
	}
	if t.flags[row]&flagUnit == 0 {
		t.unit[row] = unit
		t.flags[row] |= flagUnit
		return true
	}
	return t.unit[row] == unit
}

// AddValue accumulates one quantity into row. need says which accumulators
// the row keeps. It reports false, changing nothing, when the unit clashes.
// v must be finite.
func (t *Table) AddValue(row uint32, v float64, unit uint8, need Need) bool {
	if !t.unitOK(row, unit, need) {
		return false
	}
	t.count[row]++
	f := t.flags[row]
	if need&NeedSum != 0 {
		if f&flagSum != 0 {
			t.sum[row] += v
		} else {
			t.sum[row] = v
			f |= flagSum
		}
	}
	if need&NeedMin != 0 && (f&flagMin == 0 || v < t.min[row]) {
		t.min[row] = v
		f |= flagMin
	}
	if need&NeedMax != 0 && (f&flagMax == 0 || v > t.max[row]) {
		t.max[row] = v
		f |= flagMax
	}
	if need&NeedHist != 0 {
		t.arena.Record(&t.hist[row], Pack(v), 1)
		f |= flagHist
	}
	t.flags[row] = f
	return true
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
func (t *Table) MergeAgg(row uint32, a *Agg, unit uint8, need Need) (recordHist bool) {
	feeds := a.feeds(need)
	if !t.unitOK(row, unit, feeds) {
		return false
	}
	if a.Has&AggCount != 0 {
		t.count[row] += JavaLong(a.Count)
	}
	f := t.flags[row]
	if feeds&NeedSum != 0 {
		if f&flagSum != 0 {
			t.sum[row] += a.Sum
		} else {
			t.sum[row] = a.Sum
			f |= flagSum
		}
	}
	if feeds&NeedMin != 0 && (f&flagMin == 0 || a.Min < t.min[row]) {
		t.min[row] = a.Min
		f |= flagMin
	}
	if feeds&NeedMax != 0 && (f&flagMax == 0 || a.Max > t.max[row]) {
		t.max[row] = a.Max
		f |= flagMax
	}
	if feeds&NeedHist != 0 {
		f |= flagHist
	}
	t.flags[row] = f
	return true
}

// RecordHist adds count entries of bucket k to row's histogram.
func (t *Table) RecordHist(row uint32, k Key, count uint64) {
	t.arena.Record(&t.hist[row], k, count)
}

// NoteRequestTime lowers row's minimum request time (ms since the epoch) to
// rt; rt == 0 means the record had none.
func (t *Table) NoteRequestTime(row uint32, rt int64) {
	if rt == 0 {
		return
	}
	if t.reqTime == nil {
		t.reqTime = make([]int64, len(t.sid), cap(t.sid))
	}
	if cur := t.reqTime[row]; cur == 0 || rt < cur {
		t.reqTime[row] = rt
	}
}

// Row is the accumulated state of one row, read from a sealed table.
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
	Unit        uint8
	flags       uint8
}

// Row reads row i. Its Buckets are appended to scratch[:0], which the caller
// may reuse for the next row.
func (t *Table) Row(i int, scratch []Bucket) Row {
	r := Row{
		Sid:   t.sid[i],
		Count: t.count[i],
		Sum:   t.sum[i],
		Min:   t.min[i],
		Max:   t.max[i],
		Unit:  t.unit[i],
		flags: t.flags[i],
	}
	if t.reqTime != nil {
		r.RequestTime = t.reqTime[i]
	}
	r.Buckets = SortBuckets(t.arena.AppendBuckets(scratch[:0], t.hist[i]))
	return r
}

// Value returns statistic st of the row as MAD computes it when the bucket
// closes: its value, its unit (0 for none) and whether it has one. A
// statistic whose accumulator got no data has none (MAD's Quantity(null));
// so does mean without a sum, where MAD throws a NullPointerException and
// loses the bucket. Percentiles of an empty histogram are 0, as in MAD; the
// histogram statistic's value is always 1.
func (r *Row) Value(st Stat) (v float64, unit uint8, ok bool) {
	unitIf := func(flag uint8) uint8 {
		if r.flags&flag != 0 && r.flags&flagUnit != 0 {
			return r.Unit
		}
		return 0
	}
	switch st {
	case Count:
		return float64(r.Count), 0, true
	case Sum:
		return r.Sum, unitIf(flagSum), r.flags&flagSum != 0
	case Min:
		return r.Min, unitIf(flagMin), r.flags&flagMin != 0
	case Max:
		return r.Max, unitIf(flagMax), r.flags&flagMax != 0
	case Mean:
		if r.flags&flagSum == 0 {
			return 0, 0, false
		}
		return r.Sum / float64(r.Count), unitIf(flagSum), true
	case Histogram:
		return 1, unitIf(flagHist), true
	}
	if st.IsPercentile() {
		return Percentile(r.Buckets, st.Percentile()), unitIf(flagHist), true
	}
	return 0, 0, false
}

// HasUnit reports whether the row adopted a unit (Unit is then meaningful).
func (r *Row) HasUnit() bool { return r.flags&flagUnit != 0 }
