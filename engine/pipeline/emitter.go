package pipeline

import (
	"bytes"
	"cmp"
	"iter"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/inplace"
	"github.com/gomad/mad/internal/prefetch"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/ring"
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
// A bucket of many metrics reaches the sinks in parts (chunkMetrics), so
// that emission memory does not grow with the size of a dimension set.
// A PeriodicData and everything it references is reused after Record.
type Emitter struct {
	shards []*shard.Shard
	// bell wakes Run when it sleeps idle: the shards' outputs ring it.
	bell *ring.Bell
	// mu is held by Run around each poll and by SetSink, so the sink tree
	// changes between two emission rounds.
	mu   sync.Mutex
	sink sinks.Sink

	pending map[groupKey][]*hist.Snapshot
	// emittedThrough: see EmittedThrough.
	emittedThrough atomic.Int64

	// Scratch, reused for every group.
	due     []groupKey
	dimIdx  dimIndex
	buckets bucketList
	snaps   []*hist.Snapshot // the group's
	offs    []int            // offs[j]: the group row number of snaps[j]'s row 0; then the group's rows
	ids     []uint32         // per group row, its bucket (groups of several buckets)
	order   []uint32         // group rows by bucket (groups of several buckets)
	stats   []sinks.Statistic
	hists   []hist.Bucket
	metrics []sinks.Metric
	dims    []sinks.Dimension
	row     hist.Row    // each row is read into it; its Buckets are scratch
	series  hist.Series // and its series (hist.Snapshot.Series)
	// block is the rows emit reads ahead: their dimension sets, the
	// hashes of those unlike the previous row's (fresh, a bit a row), the
	// rows whose set no other row has (alone, a bit a row: they are not
	// looked for), and their series (as judge's rows too: apart).
	block struct {
		dims         [64][]byte
		hash         [64]uint64
		sids         [64]uint32
		fresh, alone uint64
	}
	lists statLists
	pd    sinks.PeriodicData
	// interned tells whether the group's equal dimension sets are the
	// same bytes (emit).
	interned bool
	// The hints of the rows record reads: the runs of positions (in
	// bucket order) whose rows read records apart, the run at or after
	// the row being read, the position up to which rows were judged
	// (judge), and rowAt's cursors (hinted records, hinted keys, judged).
	runs   []hintRun
	run    int
	judged int
	cursor [3]int
	// hinted counts the rows hinted, grouping and recording (for tests).
	hinted [2]int

	// Parts: chunkMetrics and chunkBuckets (a test emits whole buckets).
	chunkMetrics, chunkBuckets int
	// bigAt is when a group last needed scratch beyond keepRows or
	// keepDimSets (trimScratch); now is the clock (tests set it).
	bigAt time.Time
	now   func() time.Time

	emitted, metricsOut, tables atomic.Uint64
	// groupMetrics counts the metrics a group has sent so far; they are
	// added to metricsOut, and its buckets to emitted, once the group has
	// been emitted: two atomic additions a bucket were 4 % of a bucket
	// of one metric (the locked instruction waits for the sink's stores).
	groupMetrics uint64
}

type groupKey struct {
	period         int64 // ms
	start, expires int64
	cut            uint64
}

type bucketRows struct {
	dims   []byte // encoded dimension section of the keys
	hash   uint64 // of dims (setHash); 0 for a row alone, never looked for
	minReq int64  // the rows' minimum request time, 0: none
	// The bucket's rows: group rows order[start:start+n], or, when each
	// bucket's rows are consecutive in the group (order empty: one
	// bucket, or a bucket a series), rows start to start+n (a group has
	// fewer than 2^32 rows).
	start, n uint32
}

// bucketList holds a group's buckets in chunks of bucketChunk, so that it
// grows without moving them. One slice appended to would grow by a
// quarter once large: writing five times its final size in new memory and
// copying four, which for a bucket per series (S2's million sets, 48 MB of
// buckets) was up to a tenth of the daemon's CPU on a machine where new memory
// is dear (BENCHMARKS.md, "The emitter's buckets in chunks").
type bucketList struct {
	chunks [][]bucketRows // each bucketChunk long
	n      int
}

const (
	bucketChunkBits = 10
	bucketChunk     = 1 << bucketChunkBits // 48 KiB
)

// at returns bucket i (i < n).
func (l *bucketList) at(i int) *bucketRows {
	return &l.chunks[i>>bucketChunkBits][i&(bucketChunk-1)]
}

// add appends the bucket of dims, whose hash is h, without rows, its first
// row to be group row g, and returns its index and where it is. The fields
// are set where the bucket stays (a bucketRows literal copied in is built
// aside first: package inplace).
func (l *bucketList) add(dims []byte, h uint64, g int) (int, *bucketRows) {
	i := l.n
	if i>>bucketChunkBits == len(l.chunks) {
		l.chunks = append(l.chunks, make([]bucketRows, bucketChunk))
	}
	p := &l.chunks[i>>bucketChunkBits][i&(bucketChunk-1)]
	p.dims, p.hash, p.minReq, p.start, p.n = dims, h, 0, uint32(g), 0
	l.n++
	return i, p
}

// all returns the buckets, a chunk at a time.
func (l *bucketList) all() iter.Seq[[]bucketRows] {
	return func(yield func([]bucketRows) bool) {
		for c := 0; c*bucketChunk < l.n; c++ {
			if !yield(l.chunks[c][:min(bucketChunk, l.n-c*bucketChunk)]) {
				return
			}
		}
	}
}

// reset empties the list, keeping its chunks; what the buckets referenced
// (the snapshots' keys) is let go of.
func (l *bucketList) reset() {
	for chunk := range l.all() {
		clear(chunk)
	}
	l.n = 0
}

// capacity is how many buckets the list holds without a new chunk.
func (l *bucketList) capacity() int { return len(l.chunks) * bucketChunk }

// release lets go of every chunk.
func (l *bucketList) release() { *l = bucketList{} }

// dimIndex maps the encoded dimension sections of a group's rows to their
// bucket without copying them (they live in the snapshots until those are
// released): open addressing over the sections' hashes, at most half full.
// A slot holds the hash's high 32 bits beside the bucket, so a probe
// confirms a candidate against the bucket's bytes only when those match:
// a new dimension set costs the one slot's cache line, not also a
// bucket's and its bytes'. A set the shard says no other row has (a set
// per series: S2's) is not in the index at all.
type dimIndex struct {
	slots []uint64 // hash>>32 << 32 | bucket index + 1; 0 is empty
	n     int      // slots in use
}

// home is the first slot probed for a hash's high bits tag (the slot count
// is a power of two).
func (x *dimIndex) home(tag uint64) uint64 { return tag * uint64(len(x.slots)) >> 32 }

// reset empties the index (Emitter.trimScratch lets go of a large one).
func (x *dimIndex) reset() {
	x.n = 0
	if x.slots == nil {
		x.slots = make([]uint64, 16)
		return
	}
	clear(x.slots)
}

// grow doubles the index, moving its slots.
func (x *dimIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	mask := uint64(len(x.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		slot := x.home(v >> 32)
		for x.slots[slot] != 0 {
			slot = (slot + 1) & mask
		}
		x.slots[slot] = v
	}
}

// NewEmitter returns an emitter for shards, emitting to sink.
func NewEmitter(shards []*shard.Shard, sink sinks.Sink) *Emitter {
	e := &Emitter{shards: shards, sink: sink, pending: map[groupKey][]*hist.Snapshot{}, chunkMetrics: chunkMetrics, chunkBuckets: chunkBuckets,
		bell: ring.NewBell(), now: time.Now}
	for _, s := range shards {
		s.Output().SetBell(e.bell)
	}
	return e
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
	if watermark > e.emittedThrough.Load() {
		e.emittedThrough.Store(watermark)
	}
	e.trimScratch()
	return worked
}

// EmittedThrough returns a time W (ms since the epoch) such that every
// bucket that expired before W has been handed to the sink; the maximum
// int64 once Run has emitted everything. Safe from any goroutine.
func (e *Emitter) EmittedThrough() int64 { return e.emittedThrough.Load() }

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Emission memory does not grow with the size of a dimension set: a bucket
// reaches the sinks in parts (PeriodicData of the same dimensions, period,
// start and minimum request time, each metric in exactly one part) of at
// most chunkMetrics metrics, a part ending early once its histograms hold
// chunkBuckets buckets. MAD emits one PeriodicData per bucket; every sink
// handles each metric on its own (a JSON line, a Cluster Aggregator
// record, telemetry reports), so the parts write what the whole would.
const (
	chunkMetrics = 4096
	chunkBuckets = 1 << 16
	// keepRows: the per-row scratch of a group of more rows than this is
	// not kept for the next group (it is 8 bytes a row; a burst of series
	// must not leave it held).
	keepRows = 1 << 20
	// keepDimSets: likewise for the scratch per dimension set.
	keepDimSets = 1 << 16
	// scratchHold is how long scratch grown past keepRows or keepDimSets
	// is kept after the last group that needed it: a steady load of that
	// many rows or sets reuses it every period instead of growing it
	// again each time (17 % of an emission of 100 000 sets:
	// BenchmarkEmit/tagged/series=100000), and a burst's scratch goes a
	// little after the burst.
	scratchHold = 10 * time.Second
)

// trimScratch lets go of the scratch grown past keepRows or keepDimSets
// once no group has needed it for scratchHold.
func (e *Emitter) trimScratch() {
	if cap(e.ids) <= keepRows && cap(e.order) <= keepRows && e.buckets.capacity() <= keepDimSets && len(e.dimIdx.slots) <= 2*keepDimSets &&
		cap(e.runs) <= keepRuns {
		return
	}
	if e.now().Sub(e.bigAt) < scratchHold {
		return
	}
	if cap(e.ids) > keepRows || cap(e.order) > keepRows {
		e.ids, e.order = nil, nil
	}
	if e.buckets.capacity() > keepDimSets {
		e.buckets.release()
	}
	if len(e.dimIdx.slots) > 2*keepDimSets {
		e.dimIdx.slots = nil
	}
	if cap(e.runs) > keepRuns {
		e.runs = nil
	}
}

// keepRuns: the runs of rows to hint a group of keepRows rows may have
// (one a block of 64 at most, hinted blocks and others alternating).
const keepRuns = keepRows / 64

// emit groups the rows of one (period, start, expiration) by dimensions and
// records each dimension set's PeriodicData, in parts (chunkMetrics).
//
// Rows are numbered across the group's snapshots (offs); a first pass
// finds each row's dimension set (bucket), counting its rows and its
// minimum request time. While every bucket's rows are consecutive (one
// bucket; or a bucket a series, S2's case; or sets whose series a shard
// created together) a bucket is its first row and its count. Once a row
// comes back to a bucket after another's, a counting sort orders the rows
// by bucket, stably, so each bucket lists its rows in snapshot and row
// order. Memory: the buckets, and 8 bytes a row only when the group's rows
// of a set are not consecutive.
func (e *Emitter) emit(k groupKey, snaps []*hist.Snapshot) {
	rows := 0
	e.offs = e.offs[:0]
	for _, snap := range snaps {
		e.offs = append(e.offs, rows)
		rows += snap.Len()
	}
	e.offs = append(e.offs, rows)
	if rows >= math.MaxUint32 {
		panic("BUG: engine: a group of more rows than the pipeline's series limit allows")
	}
	e.snaps = snaps
	e.dimIdx.reset()
	e.buckets.reset()
	e.runs = e.runs[:0]
	scattered := false // a bucket's rows are not consecutive: e.ids holds every row's bucket
	var last []byte
	b := 0
	var bk *bucketRows // bucket b
	g := 0
	// Rows go in blocks: the first pass over a block reads each row's
	// dimension set and, for a set unlike the previous row's (a shard
	// interns them: the same bytes are the same set), hashes it and hints
	// the index slot it will probe; the second finds the rows' buckets. A
	// group of many sets (a set per series) probes an index far larger
	// than the caches: a slot a row, each a miss, which the hints overlap.
	// A block whose rows read their series' records apart (apart) also
	// has each row's record and key hinted ahead (hintAhead), and is a run
	// for record to hint again. A row whose set no other row has (the
	// shard says so: alone) is a bucket of its own, neither hashed nor
	// looked for.
	blk := &e.block
	// The rows of a group of one snapshot come from one shard, whose key
	// pool interns dimension sets: a set is the same bytes, at the same
	// address, in every row that has it (hist.SeriesKeys.Dims). Those rows
	// are grouped by the set's address, hashed as a number and confirmed
	// by equality; sets from several shards are hashed and compared byte
	// for byte. A row alone in its set is alone in its snapshot only:
	// another shard's may have the set, so only such a group takes it
	// for a bucket of its own.
	e.interned = len(snaps) == 1
	for _, snap := range snaps {
		n := snap.Len()
		for lo := 0; lo < n; lo += len(blk.dims) {
			hi := min(lo+len(blk.dims), n)
			blk.fresh, blk.alone = 0, 0
			for i := lo; i < hi; i++ {
				blk.sids[i-lo] = snap.Table.SidAt(i)
			}
			hints := apart(blk.sids[:hi-lo])
			if hints {
				e.hinted[0] += hi - lo
				e.addRun(g, g+hi-lo)
			}
			for i := lo; i < hi; i++ {
				if hints {
					if a := i + 2*hintAhead; a < n {
						snap.Hint(a, false)
					}
					if a := i + hintAhead; a < n {
						snap.Hint(a, true)
					}
				}
				dims, alone := snap.Dims(i)
				blk.dims[i-lo] = dims
				if alone && e.interned {
					blk.alone |= 1 << (i - lo)
				} else if g+i-lo == 0 || len(dims) != len(last) || len(dims) > 0 && &dims[0] != &last[0] {
					h := e.setHash(dims)
					blk.hash[i-lo] = h
					blk.fresh |= 1 << (i - lo)
					prefetch.Line(addr(&e.dimIdx.slots[e.dimIdx.home(h>>32)]))
				}
				last = dims
			}
			for i := lo; i < hi; i++ {
				if blk.alone&(1<<(i-lo)) != 0 {
					b, bk = e.buckets.add(blk.dims[i-lo], 0, g)
				} else if blk.fresh&(1<<(i-lo)) != 0 {
					b, bk = e.bucketOf(blk.dims[i-lo], blk.hash[i-lo], g)
				}
				e.addRow(snap, i, b, bk, g, rows, &scattered)
				g++
			}
		}
	}
	clear(blk.dims[:]) // do not keep the snapshots' keys referenced
	e.order = e.order[:0]
	if scattered {
		e.order = sized(e.order, rows)
		at := uint32(0)
		for chunk := range e.buckets.all() {
			for i := range chunk {
				bk := &chunk[i]
				bk.start, at, bk.n = at, at+bk.n, 0
			}
		}
		for g, b := range e.ids[:rows] {
			bk := e.buckets.at(int(b))
			e.order[bk.start+bk.n] = uint32(g)
			bk.n++
		}
	}
	start := time.UnixMilli(k.start).UTC()
	// Rows in group order, their runs to hint are grouping's; rows in
	// an order of their own are judged as they are read.
	e.run, e.judged, e.cursor = 0, rows, [3]int{}
	if len(e.order) > 0 {
		e.runs, e.judged = e.runs[:0], 0
	}
	for chunk := range e.buckets.all() {
		for i := range chunk {
			e.record(k, start, &chunk[i])
		}
	}
	e.emitted.Add(uint64(e.buckets.n))
	e.metricsOut.Add(e.groupMetrics)
	e.groupMetrics = 0
	for _, snap := range snaps {
		snap.Release()
	}
	clear(e.snaps)
	e.snaps = nil
	if rows > keepRows || e.buckets.n > keepDimSets {
		e.bigAt = e.now() // trimScratch keeps what this group needed a while
	}
	e.buckets.reset() // do not keep the snapshots' keys referenced
	e.series = hist.Series{}
}

// sized returns s with length n, reusing its array when it is large enough.
func sized[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// addRow adds row i of snap, group row g of rows, to bucket b (bk);
// *scattered tells whether a bucket's rows have stopped being consecutive,
// and so whether e.ids holds each row's bucket.
func (e *Emitter) addRow(snap *hist.Snapshot, i, b int, bk *bucketRows, g, rows int, scattered *bool) {
	if !*scattered && bk.n != 0 && int(bk.start+bk.n) != g {
		// Back to a bucket after another's rows: from here on the rows
		// are sorted by bucket. Until now each bucket's rows were
		// start to start+n.
		*scattered = true
		e.ids = sized(e.ids, rows)
		j := 0
		for chunk := range e.buckets.all() {
			for k := range chunk {
				c := &chunk[k]
				for r := c.start; r < c.start+c.n; r++ {
					e.ids[r] = uint32(j)
				}
				j++
			}
		}
	}
	bk.n++
	if rt := snap.Table.RequestTime(i); rt != 0 && (bk.minReq == 0 || rt < bk.minReq) {
		bk.minReq = rt
	}
	if *scattered {
		e.ids[g] = uint32(b)
	}
}

func addr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

// setHash is the hash of a dimension set of the group (e.interned: see
// emit): of its address where the group's sets are interned, of its bytes
// otherwise. (A shard's set is never empty: an empty section is its count
// byte.)
func (e *Emitter) setHash(dims []byte) uint64 {
	if e.interned {
		return uint64(addr(unsafe.SliceData(dims))) * 0x9E3779B97F4A7C15
	}
	return bytesHash(dims)
}

// bytesHash is sample.Hash, not inlined into setHash (which then is, on
// the interned path).
//
//go:noinline
func bytesHash(dims []byte) uint64 { return sample.Hash(dims) }

// sameSet reports whether two dimension sets of the group are the same,
// as setHash hashes them: the same bytes, or, interned, the same address.
func (e *Emitter) sameSet(a, b []byte) bool {
	if !e.interned {
		return bytes.Equal(a, b)
	}
	return unsafe.SliceData(a) == unsafe.SliceData(b) && len(a) == len(b)
}

// bucketOf returns the index in e.buckets of the bucket of dims, whose
// hash is h, and the bucket itself (chunks never move), adding it if new,
// with group row g its first.
func (e *Emitter) bucketOf(dims []byte, h uint64, g int) (int, *bucketRows) {
	x := &e.dimIdx
	mask := uint64(len(x.slots) - 1)
	tag := h >> 32
	for slot := x.home(tag); ; slot = (slot + 1) & mask {
		v := x.slots[slot]
		if v == 0 {
			b, bk := e.buckets.add(dims, h, g)
			x.slots[slot] = tag<<32 | uint64(b+1)
			if x.n++; 2*x.n > len(x.slots) {
				x.grow()
			}
			return b, bk
		}
		if v>>32 != tag {
			continue
		}
		j := int(uint32(v)) - 1
		if c := e.buckets.at(j); c.hash == h && e.sameSet(c.dims, dims) {
			return j, c
		}
	}
}

// record records bucket b of group k, whose start is start: one
// PeriodicData, or several parts of one.
func (e *Emitter) record(k groupKey, start time.Time, b *bucketRows) {
	// Reused: a PeriodicData handed to the sink interface escapes.
	pd := &e.pd
	*pd = sinks.PeriodicData{
		Period: time.Duration(k.period) * time.Millisecond,
		Start:  start,
	}
	if b.minReq != 0 {
		pd.MinRequestTime = time.UnixMilli(b.minReq).UTC()
	}
	var ok bool
	if e.dims, ok = sample.AppendDims(e.dims[:0], b.dims); !ok {
		panic("BUG: engine: a shard emitted a malformed dimension set")
	}
	pd.Dimensions = e.dims
	e.metrics, e.stats, e.hists = e.metrics[:0], e.stats[:0], e.hists[:0]
	sent := false
	j := 0 // the snapshot of row g: rows come in increasing g
	for x := range int(b.n) {
		// Position p in bucket order (buckets list their rows one after
		// the other).
		p := int(b.start) + x
		if p >= e.judged || e.run < len(e.runs) {
			e.hintAt(p)
		}
		g := p
		if len(e.order) > 0 {
			g = int(e.order[g])
		}
		for g >= e.offs[j+1] {
			j++
		}
		snap, i := e.snaps[j], g-e.offs[j]
		ser := &e.series
		snap.Series(i, ser)
		kind := sample.Kind(ser.Kind)
		name, ok := sample.ShortNameFromPart(ser.Name)
		if !ok {
			name, ok = sample.NameFromPart(ser.Name)
		}
		if !ok || !kind.Valid() {
			panic("BUG: engine: a shard emitted a malformed key")
		}
		// Every row of the bucket has its dimensions: any row's word on
		// them is the bucket's.
		pd.PlainDimensions = ser.DimsPlain
		if kind == sample.KindNone {
			continue // the record made the bucket; it has no metric
		}
		row := &e.row
		snap.Table.ReadRow(i, row)
		// The metric and its statistics are written in place, every
		// field (package inplace: a copy of a struct built on the stack
		// was 8 % of an emission).
		var m *sinks.Metric
		e.metrics, m = inplace.Next(e.metrics)
		m.Name, m.PlainName, m.Type, m.Unit, m.PopulationSize = name, ser.NamePlain, metricType(kind), "", row.Count
		m.Statistics, m.Histogram = nil, nil
		if row.HasUnit() {
			m.Unit = sample.Unit(row.Unit).String()
		}
		all := e.lists.of(ser.Specified)
		// Every statistic is written in place, every field (inplace).
		first := len(e.stats)
		e.stats = slices.Grow(e.stats, int(all.n))[:first+int(all.n)]
		stats := e.stats[first:len(e.stats):len(e.stats)]
		for k, st := range all.stats[:all.n] {
			s := &stats[k]
			v, u, ok := row.Value(st.stat)
			s.Stat, s.Specified, s.Value, s.HasValue, s.Unit = st.stat, st.specified, v, ok, ""
			if u != 0 {
				s.Unit = sample.Unit(u).String()
			}
		}
		if all.hist {
			h := len(e.hists)
			e.hists = append(e.hists, row.Buckets...)
			m.Histogram = e.hists[h:len(e.hists):len(e.hists)]
		}
		m.Statistics = stats
		if len(e.metrics) >= e.chunkMetrics || len(e.hists) >= e.chunkBuckets {
			e.send(pd)
			sent = true
		}
	}
	if len(e.metrics) > 0 || !sent {
		e.send(pd) // the last part, or a bucket without metrics
	}
}

// statLists holds the statistics rows emit for the last few sets of
// specified statistics, a set a slot (direct-mapped): a pipeline has a few
// sets (a type's, an override's), which rows of different types alternate
// between, and working out a set's list for every row was 3 % of an
// emission.
type statLists struct {
	slots [8]statList
}

// statList is the statistics a row whose specified statistics are of emits:
// their closure, in order, each with whether it is specified, and whether
// the histogram is one of them.
type statList struct {
	of   hist.Set
	hist bool
	// n is the number of stats, 0 for a slot not filled yet (a closure
	// holds count).
	n     uint8
	stats [hist.NumStats]emitStat
}

// emitStat is a statistic a row emits, and whether it is specified.
type emitStat struct {
	stat      hist.Stat
	specified bool
}

// of returns the list of the rows whose specified statistics are specified.
func (c *statLists) of(specified hist.Set) *statList {
	l := &c.slots[uint64(specified)*0x9E3779B97F4A7C15>>61]
	if l.n != 0 && l.of == specified {
		return l
	}
	closure := specified.Closure()
	l.of, l.hist, l.n = specified, closure.Has(hist.Histogram), 0
	var all [hist.NumStats]hist.Stat
	for _, st := range closure.AppendAll(all[:0]) {
		l.stats[l.n] = emitStat{st, specified.Has(st)}
		l.n++
	}
	return l
}

// hintAhead is how many rows ahead of the one read the emitter hints the
// series' keys, and twice that their records (Snapshot.Hint), where the
// rows read records that lie apart (a steady load's buckets list their
// rows in the order of their first sample, unrelated to the order the
// series were made in): a row's emission takes about as long as a miss to
// memory. Rows whose records come in order (a burst of new series, whose
// rows and records are made together) are a stream the processor fetches
// ahead on its own; hinting them too cost 11-16 % of their emission.
const hintAhead = 8

// hintNear: a record within this many of the row's before is in order.
const hintNear = 4

// apart reports whether rows read in the order of their series sids
// read the series' records at random: a quarter of the steps or more
// jump past hintNear records (as a uint32 difference: back or forth).
func apart(sids []uint32) bool {
	far := 0
	for i := 1; i < len(sids); i++ {
		if sids[i]-sids[i-1]+hintNear > 2*hintNear {
			far++
		}
	}
	return 4*far >= len(sids)
}

// hintRun is a run of positions, from and up to to, whose rows are hinted.
type hintRun struct{ from, to int }

// addRun adds positions from to to to the runs to hint.
func (e *Emitter) addRun(from, to int) {
	if n := len(e.runs); n > 0 && e.runs[n-1].to == from {
		e.runs[n-1].to = to
		return
	}
	e.runs = append(e.runs, hintRun{from, to})
}

// hintAt is what record does for the row at position p of the group's rows
// in bucket order: it judges the next 64 rows when they are not in group
// order (judge), and, in a run of rows to hint, hints the rows hintAhead
// and twice that ahead.
func (e *Emitter) hintAt(p int) {
	if p >= e.judged {
		e.judge(p)
	}
	for e.run < len(e.runs) && p >= e.runs[e.run].to {
		e.run++
	}
	if e.run == len(e.runs) || p < e.runs[e.run].from {
		return
	}
	e.hinted[1]++
	rows := e.offs[len(e.offs)-1]
	if q := p + 2*hintAhead; q < rows {
		snap, i := e.rowAt(q, &e.cursor[0])
		snap.Hint(i, false)
	}
	if q := p + hintAhead; q < rows {
		snap, i := e.rowAt(q, &e.cursor[1])
		snap.Hint(i, true)
	}
}

// judge adds the 64 rows from position p (in bucket order, as a group of
// scattered rows reads them) to the runs to hint if they read records
// apart.
func (e *Emitter) judge(p int) {
	sids := &e.block.sids
	e.judged = min(p+len(sids), e.offs[len(e.offs)-1])
	for q := p; q < e.judged; q++ {
		snap, i := e.rowAt(q, &e.cursor[2])
		sids[q-p] = snap.Table.SidAt(i)
	}
	if apart(sids[:e.judged-p]) {
		e.addRun(p, e.judged)
	}
}

// rowAt returns the snapshot and row of the group's row at position p in
// bucket order. c is a cursor (a snapshot's index) rowAt moves forward:
// positions asked in increasing order find their rows in amortized
// constant time while their group rows increase, which they do but where
// a bucket of scattered rows follows another (there the cursor starts
// again from the first snapshot).
func (e *Emitter) rowAt(p int, c *int) (*hist.Snapshot, int) {
	g := p
	if len(e.order) > 0 {
		g = int(e.order[p])
	}
	if g < e.offs[*c] {
		*c = 0
	}
	for g >= e.offs[*c+1] {
		*c++
	}
	return e.snaps[*c], g - e.offs[*c]
}

// send records pd with the metrics collected so far and starts the next
// part.
func (e *Emitter) send(pd *sinks.PeriodicData) {
	// (Slices taken from the arenas before they grew keep pointing at the
	// old arrays, which still hold their values.)
	pd.Metrics = e.metrics
	e.sink.Record(pd)
	pd.Part++
	e.groupMetrics += uint64(len(pd.Metrics))
	e.metrics, e.stats, e.hists = e.metrics[:0], e.stats[:0], e.hists[:0]
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
		if idle <= emitterParkAfter {
			time.Sleep(min(time.Duration(idle)*100*time.Microsecond, 5*time.Millisecond))
			continue
		}
		// Idle for a while (about 1 s): sleep until a shard outputs a
		// table, stop is closed, or emitterMaxPark passes (a watermark
		// that moved without a table).
		e.bell.Sleep(emitterMaxPark, stop, e.outputWaits)
	}
}

const (
	// emitterParkAfter is how many idle polls Run makes (sleeping 0.1 to
	// 5 ms between them) before it sleeps on its bell, for at most
	// emitterMaxPark: an idle emitter wakes 50 times a second, not 200.
	emitterParkAfter = 250
	emitterMaxPark   = 20 * time.Millisecond
)

// outputWaits reports whether a shard's output holds a table.
func (e *Emitter) outputWaits() bool {
	for _, s := range e.shards {
		if s.Output().Len() > 0 {
			return true
		}
	}
	return false
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
