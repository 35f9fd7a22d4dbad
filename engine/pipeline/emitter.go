package pipeline

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// Emitter turns the sealed tables of a pipeline's shards into MAD
// PeriodicData for its sink tree.
//
// The series of one dimension set may live in several shards (samples are
// routed by series, not by dimensions), so a bucket is emitted only once every
// shard has sealed past its expiration: the emitter reads each shard's
// SealedThrough watermark, then drains its output, and emits the tables whose
// expiration is below the smallest watermark, grouped by (period, start,
// expiration), merging rows of the same dimensions into one PeriodicData.
// A table a reconfiguration cut (hist.Table.Cut) forms a group of its own
// with the other shards' tables of that cut, apart from a table of the same
// bucket opened after it (each series has at most one row per group), and
// is emitted as soon as every shard has pushed its cut tables (CutThrough),
// without waiting for its expiration.
// A PeriodicData and everything it references is reused after Record.
type Emitter struct {
	shards []*shard.Shard
	// mu is held by Run around each poll and by SetSink, so the sink tree
	// changes between two emission rounds.
	mu   sync.Mutex
	sink sinks.Sink

	pending map[groupKey][]*hist.Snapshot

	// Scratch, reused for every group.
	due     []groupKey
	dimIdx  dimIndex
	buckets []bucketRows
	refs    []rowRef
	stats   []sinks.Statistic
	hists   []hist.Bucket
	metrics []sinks.Metric
	dims    []sinks.Dimension
	scratch []hist.Bucket
	all     []hist.Stat
	pd      sinks.PeriodicData

	emitted, metricsOut, tables atomic.Uint64
}

type groupKey struct {
	period         int64 // ms
	start, expires int64
	cut            uint64
}

type rowRef struct {
	snap *hist.Snapshot
	row  int
	key  sample.ParsedKey // parsed once, when grouping
}

type bucketRows struct {
	dims []byte // encoded dimension section of the keys
	hash uint64 // of dims
	refs []int  // indexes into Emitter.refs
}

// dimIndex maps the encoded dimension sections of a group's rows to their
// bucket without copying them (they live in the snapshots until those are
// released): open addressing over the sections' hashes.
type dimIndex struct {
	slots []int32 // bucket index + 1; 0 is empty
}

// reset empties the index for a group of up to n dimension sets.
func (x *dimIndex) reset(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(x.slots) >= size {
		x.slots = x.slots[:size]
		clear(x.slots)
		return
	}
	x.slots = make([]int32, size)
}

// NewEmitter returns an emitter for shards, emitting to sink.
func NewEmitter(shards []*shard.Shard, sink sinks.Sink) *Emitter {
	return &Emitter{shards: shards, sink: sink, pending: map[groupKey][]*hist.Snapshot{}}
}

// Poll collects sealed tables and emits every complete group. It reports
// whether it emitted or collected anything.
func (e *Emitter) Poll() bool {
	watermark, cuts := int64(math.MaxInt64), uint64(math.MaxUint64)
	for _, s := range e.shards {
		watermark = min(watermark, s.SealedThrough())
		cuts = min(cuts, s.CutThrough())
	}
	worked := false
	for _, s := range e.shards {
		for snap, ok := s.Output().Pop(); ok; snap, ok = s.Output().Pop() {
			t := snap.Table
			k := groupKey{t.Period, t.Start, t.Expires, t.Cut}
			e.pending[k] = append(e.pending[k], snap)
			e.tables.Add(1)
			worked = true
		}
	}
	e.due = e.due[:0]
	for k := range e.pending {
		if k.expires < watermark || k.cut != 0 && k.cut <= cuts {
			e.due = append(e.due, k)
		}
	}
	slices.SortFunc(e.due, func(a, b groupKey) int {
		switch {
		case a.expires != b.expires:
			return cmp64(a.expires, b.expires)
		case a.period != b.period:
			return cmp64(a.period, b.period)
		case a.start != b.start:
			return cmp64(a.start, b.start)
		}
		// A cut part before the part opened after it (cut 0).
		return cmp.Compare(a.cut-1, b.cut-1)
	})
	for _, k := range e.due {
		e.emit(k, e.pending[k])
		delete(e.pending, k)
		worked = true
	}
	if len(e.due) > 0 {
		// The end of an emission round: batching sinks hand on.
		sinks.Flush(e.sink)
	}
	return worked
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// emit groups the rows of one (period, start, expiration) by dimensions and
// records one PeriodicData per dimension set.
func (e *Emitter) emit(k groupKey, snaps []*hist.Snapshot) {
	rows := 0
	for _, snap := range snaps {
		rows += snap.Len()
	}
	e.dimIdx.reset(rows)
	mask := uint64(len(e.dimIdx.slots) - 1)
	e.buckets = e.buckets[:0]
	e.refs = e.refs[:0]
	for _, snap := range snaps {
		for i := 0; i < snap.Len(); i++ {
			pk, err := sample.KeyFromParts(snap.Key(i))
			if err != nil {
				panic("BUG: engine: a shard emitted a malformed key")
			}
			h := sample.Hash(pk.Dims)
			b := -1
			for slot := h & mask; ; slot = (slot + 1) & mask {
				j := e.dimIdx.slots[slot] - 1
				if j < 0 {
					b = len(e.buckets)
					e.dimIdx.slots[slot] = int32(b + 1)
					break
				}
				if c := &e.buckets[j]; c.hash == h && bytes.Equal(c.dims, pk.Dims) {
					b = int(j)
					break
				}
			}
			if b == len(e.buckets) {
				if b < cap(e.buckets) {
					e.buckets = e.buckets[:b+1]
					e.buckets[b].refs = e.buckets[b].refs[:0]
				} else {
					e.buckets = append(e.buckets, bucketRows{})
				}
				e.buckets[b].dims, e.buckets[b].hash = pk.Dims, h
			}
			e.buckets[b].refs = append(e.buckets[b].refs, len(e.refs))
			e.refs = append(e.refs, rowRef{snap, i, pk})
		}
	}
	for i := range e.buckets {
		e.record(k, &e.buckets[i])
	}
	for _, snap := range snaps {
		snap.Release()
	}
}

func (e *Emitter) record(k groupKey, b *bucketRows) {
	// Reused: a PeriodicData handed to the sink interface escapes.
	pd := &e.pd
	*pd = sinks.PeriodicData{
		Period: time.Duration(k.period) * time.Millisecond,
		Start:  time.UnixMilli(k.start).UTC(),
	}
	e.dims = e.dims[:0]
	it := sample.ParsedKey{Dims: b.dims}.DimIter()
	for d, ok := it.Next(); ok; d, ok = it.Next() {
		e.dims = append(e.dims, sinks.Dimension{Key: d.Key, Value: d.Value})
	}
	pd.Dimensions = e.dims
	e.metrics, e.stats, e.hists = e.metrics[:0], e.stats[:0], e.hists[:0]
	var minReq int64
	for _, ri := range b.refs {
		ref := e.refs[ri]
		row := ref.snap.Table.Row(ref.row, e.scratch)
		e.scratch = row.Buckets
		if rt := row.RequestTime; rt != 0 && (minReq == 0 || rt < minReq) {
			minReq = rt
		}
		pk := ref.key
		if pk.Kind == sample.KindNone {
			continue // the record made the bucket; it has no metric
		}
		m := sinks.Metric{Name: pk.Name, Type: metricType(pk.Kind), PopulationSize: row.Count}
		if row.HasUnit() {
			m.Unit = sample.Unit(row.Unit).String()
		}
		specified := ref.snap.Specified(ref.row)
		first := len(e.stats)
		e.all = specified.Closure().AppendAll(e.all[:0])
		for _, st := range e.all {
			v, u, ok := row.Value(st)
			e.stats = append(e.stats, sinks.Statistic{Stat: st, Value: v, HasValue: ok, Unit: sample.Unit(u).String(), Specified: specified.Has(st)})
			if st == hist.Histogram {
				h := len(e.hists)
				e.hists = append(e.hists, row.Buckets...)
				m.Histogram = e.hists[h:len(e.hists):len(e.hists)]
			}
		}
		m.Statistics = e.stats[first:len(e.stats):len(e.stats)]
		e.metrics = append(e.metrics, m)
	}
	// (Slices taken from the arenas before they grew keep pointing at the
	// old arrays, which still hold their values.)
	pd.Metrics = e.metrics
	if minReq != 0 {
		pd.MinRequestTime = time.UnixMilli(minReq).UTC()
	}
	e.sink.Record(pd)
	e.emitted.Add(1)
	e.metricsOut.Add(uint64(len(pd.Metrics)))
}

func metricType(k sample.Kind) string {
	switch k {
	case sample.KindCounter:
		return "counter"
	case sample.KindGauge:
		return "gauge"
	case sample.KindTimer:
		return "timer"
	case sample.KindSet:
		return "set"
	}
	return "" // KindExplicit: a statistics override, aggregated by name
}

// Pending returns the number of tables waiting for every shard's watermark.
func (e *Emitter) Pending() int {
	n := 0
	for _, s := range e.pending {
		n += len(s)
	}
	return n
}

// EmitterStats are an emitter's counters.
type EmitterStats struct {
	Tables, Buckets, Metrics uint64
}

// Stats returns the counters. Safe from any goroutine.
func (e *Emitter) Stats() EmitterStats {
	return EmitterStats{Tables: e.tables.Load(), Buckets: e.emitted.Load(), Metrics: e.metricsOut.Load()}
}

// Run polls until stop is closed and every shard has sealed everything
// (SealedThrough at its maximum, as after Shard.Run returns), then emits
// what is left. It does not close the sink.
func (e *Emitter) Run(stop <-chan struct{}) {
	idle := 0
	poll := func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.Poll()
	}
	for {
		if poll() {
			idle = 0
			continue
		}
		select {
		case <-stop:
			if e.allSealed() {
				poll()
				return
			}
		default:
		}
		idle++
		time.Sleep(min(time.Duration(idle)*100*time.Microsecond, 5*time.Millisecond))
	}
}

func (e *Emitter) allSealed() bool {
	for _, s := range e.shards {
		if s.SealedThrough() != math.MaxInt64 || s.Output().Len() > 0 {
			return false
		}
	}
	return true
}

// Sink returns the sink tree buckets are emitted to.
func (e *Emitter) Sink() sinks.Sink {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sink
}

// SetSink makes s the sink tree from the next emission round on, after the
// current one has finished and the old tree has been flushed. It returns
// the old tree, which the caller closes.
func (e *Emitter) SetSink(s sinks.Sink) sinks.Sink {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.sink
	sinks.Flush(old)
	e.sink = s
	return old
}
