package shard

import "sync/atomic"

// Refusal reasons: every sample the shard does not accumulate is counted
// under one of them.
const (
	// RefusedBadKey: the key is empty, out of the batch, malformed, or of
	// a kind ingest may not produce.
	RefusedBadKey = iota
	// RefusedBadUnit: the unit is not one of MAD's.
	RefusedBadUnit
	// RefusedNonFinite: NaN or an infinity in a value, a pre-aggregated
	// statistic or a histogram bucket (never let into a histogram).
	RefusedNonFinite
	// RefusedBadAgg: pre-aggregated data referenced out of the batch.
	RefusedBadAgg
	// RefusedUnitMismatch: the sample's unit differs from the unit its
	// bucket row already has (counted once per period it was refused in).
	// MAD throws here and loses the whole bucket.
	RefusedUnitMismatch
	// RefusedSeriesLimit: a new series beyond Config.MaxSeries.
	RefusedSeriesLimit
	// RefusedTableLimit: a new bucket beyond the 65536 open tables a shard
	// can address (records spread over that many distinct buckets).
	RefusedTableLimit
	// RefusedBadFlags: a set member for a series that is not a set (or the
	// reverse), or a gauge delta for a series that is not a gauge.
	RefusedBadFlags
	// RefusedKeySpace: a new series whose name or dimension set is new
	// and no longer fits the shard's key pool (about 32 GiB of distinct
	// key parts).
	RefusedKeySpace
	// RefusedHistogramSpace: a sample for a bucket whose histograms fill
	// what one table's can address (32 GiB), or a new member of a set
	// that holds hist.MaxSetMembers; counted once per period it was
	// refused in, like RefusedUnitMismatch.
	RefusedHistogramSpace
	// RefusedBadHandle: a sample named its series by a handle (FlagHandle)
	// the shard never gave, or gave for a sid freed since: a producer
	// broke the handles' protocol (handle.go). Never expected.
	RefusedBadHandle

	NumRefusals
)

// RefusalNames are the label values of the refusal reasons.
var RefusalNames = [NumRefusals]string{
	"bad_key", "bad_unit", "non_finite", "bad_aggregate", "unit_mismatch", "series_limit", "table_limit", "bad_flags",
	"key_space", "histogram_space", "bad_handle",
}

// Stats are a shard's counters. Totals are monotonic; Series, OpenTables and
// Pending are current values.
type Stats struct {
	Samples          uint64 // samples received (accepted or refused)
	Refused          [NumRefusals]uint64
	SeriesCreated    uint64
	SeriesReaped     uint64
	LateRows         uint64 // rows opened after their bucket's period ended
	TablesSealed     uint64
	TablesCut        uint64 // of those, sealed before their expiration by a reconfiguration
	RowsSealed       uint64
	SnapshotsDropped uint64 // sealed tables dropped because the emitter fell behind
	RowsDropped      uint64 // rows of those tables
	Series           uint64
	OpenTables       uint64
	Pending          uint64
	KeyBytes         uint64 // bytes of interned key parts (names, dimension sets)
	Steps            uint64 // rounds run by producers (Step: run to completion)
	// ApplyTrials counts the trials of the prefetch pipeline (pipeChoice) by
	// what they chose: [0] applying one by one, [1] pipelined.
	ApplyTrials [2]uint64
}

// publishedStats mirrors Stats in typed atomics so that the control plane can
// read them while the shard runs; the shard counts in plain fields on the hot
// path and publishes on every Tick.
type publishedStats struct {
	samples, seriesCreated, seriesReaped, lateRows atomic.Uint64
	tablesSealed, tablesCut, rowsSealed            atomic.Uint64
	dropped, rowsDropped                           atomic.Uint64
	series, openTables, pending, keyBytes          atomic.Uint64
	steps                                          atomic.Uint64
	applyTrials                                    [2]atomic.Uint64
	refused                                        [NumRefusals]atomic.Uint64
}

func (s *Shard) publish() {
	st := &s.stats
	st.Series = uint64(s.nSeries)
	st.OpenTables = uint64(len(s.openList))
	st.Pending = uint64(len(s.pending))
	_, live := s.keys.stats()
	st.KeyBytes = uint64(live)
	p := &s.pub
	p.samples.Store(st.Samples)
	p.seriesCreated.Store(st.SeriesCreated)
	p.seriesReaped.Store(st.SeriesReaped)
	p.lateRows.Store(st.LateRows)
	p.tablesSealed.Store(st.TablesSealed)
	p.tablesCut.Store(st.TablesCut)
	p.rowsSealed.Store(st.RowsSealed)
	p.dropped.Store(st.SnapshotsDropped)
	p.rowsDropped.Store(st.RowsDropped)
	p.series.Store(st.Series)
	p.openTables.Store(st.OpenTables)
	p.pending.Store(st.Pending)
	p.keyBytes.Store(st.KeyBytes)
	p.steps.Store(st.Steps)
	for i := range st.ApplyTrials {
		p.applyTrials[i].Store(st.ApplyTrials[i])
	}
	for i := range st.Refused {
		p.refused[i].Store(st.Refused[i])
	}
}

// Stats returns the counters as of the shard's last Tick. Safe from any
// goroutine.
func (s *Shard) Stats() Stats {
	p := &s.pub
	st := Stats{
		Samples:          p.samples.Load(),
		SeriesCreated:    p.seriesCreated.Load(),
		SeriesReaped:     p.seriesReaped.Load(),
		LateRows:         p.lateRows.Load(),
		TablesSealed:     p.tablesSealed.Load(),
		TablesCut:        p.tablesCut.Load(),
		RowsSealed:       p.rowsSealed.Load(),
		SnapshotsDropped: p.dropped.Load(),
		RowsDropped:      p.rowsDropped.Load(),
		Series:           p.series.Load(),
		OpenTables:       p.openTables.Load(),
		Pending:          p.pending.Load(),
		KeyBytes:         p.keyBytes.Load(),
		Steps:            p.steps.Load(),
	}
	for i := range st.ApplyTrials {
		st.ApplyTrials[i] = p.applyTrials[i].Load()
	}
	for i := range st.Refused {
		st.Refused[i] = p.refused[i].Load()
	}
	return st
}

type atomicInt64 = atomic.Int64
