package shard

import (
	"math"
	"time"
	"unsafe"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/prefetch"
	"github.com/gomad/mad/internal/sample"
)

// Applying a sample walks a chain of dependent memory accesses: the series
// index entry, the series record, the key bytes (to confirm the match), and
// one row record per period (plus a histogram block for timers). At
// production cardinality each is a cache miss, and walked one sample at a
// time the misses are serial. Apply therefore pipelines the batch: while it
// accumulates sample i with plain sequential code, it issues prefetch hints
// for the index entry of sample i+aheadIndex, the series record of sample
// i+aheadRecord and the key parts and rows of sample i+aheadRows, each
// computed from lines the previous hint brought in. Hints cannot change results (they
// may be computed from stale data and are then merely useless), so the
// samples are applied exactly as one by one.
const (
	aheadIndex  = 16
	aheadRecord = 8
	aheadRows   = 4
	aheadHist   = 2
	aheadMask   = 15 // lookahead rings: sample index & aheadMask

	// pipelineFrom is the working set (bytes an update may touch; see
	// workingSet) from which prefetching may pay. Below it the shard's data
	// mostly stays in the core's own cache, where the hints cost more
	// instructions (~10 ns a sample) than they hide. The series count
	// alone does not tell: 10 000 timers with two periods touch ~3.4 MiB
	// (and pipelined run a third faster), 16 000 counters with one ~1.5.
	// Above it the working set does not tell either: it counts every
	// histogram block, while a sample touches one slot of one, so a few
	// thousand busy timers beside counters (S1) make it large while the
	// lines a sample reads stay cached. There, Apply tries both ways now
	// and then and keeps the faster (pipeChoice).
	pipelineFrom = 3 << 20

	// A trial applies trialBatches batches, alternately one by one and
	// pipelined, timing each; one starts every trialEvery ms of the
	// batches' clock.
	trialBatches = 32
	trialEvery   = 2000

	// poolHintFrom is the key pool index's size in entries (4 MiB)
	// from which a sample that opens a series hints the pool's index.
	poolHintFrom = 4 << 20 / 8
)

// Apply accumulates a batch at time now (ms since the epoch; read once per
// batch by the caller). The batch is not retained.
func (s *Shard) Apply(b *sample.Batch, now int64) {
	s.stats.Samples += uint64(b.Count())
	switch {
	case s.pipelineFrom <= 0: // tests: the prefetch pipeline always
		s.applyPipelined(b, now)
	case s.workingSet() < s.pipelineFrom:
		s.applyEach(b, now)
	default:
		s.pipe.apply(s, b, now)
	}
}

// pipeChoice decides whether Apply pipelines when the working set is past
// pipelineFrom, by trials: every trialEvery ms it applies trialBatches
// batches alternately one by one and pipelined, and keeps the way that
// took less time a sample until the next trial. The two ways give the
// same results (hints change nothing), so only time depends on it.
//
// A trial whose samples opened many series (a quarter of them or more)
// timed mostly the making of series. The working set usually crosses
// pipelineFrom that way, while a shard fills, and the first trial then
// chose the slower way for the settled load in about a third of the runs
// (BENCHMARKS.md, "The first trial"). Such a choice is made again as soon
// as a batch opens (almost) no series, not trialEvery later; a load that
// keeps opening series keeps its busy trials' choice, as it should. Only a
// scheduled trial is revisited: a load that opens series in bursts runs
// at most two trials every trialEvery, not one after another.
type pipeChoice struct {
	next    int64    // when the next trial starts (the batches' clock, ms)
	left    int      // batches left in the current trial; 0: none
	ns      [2]int64 // a trial's time applying: [0] one by one, [1] pipelined
	n       [2]int64 // and its samples
	created uint64   // Stats.SeriesCreated when the trial started
	busy    bool     // the last trial's samples opened many series: revisit it
	revisit bool     // the current or last trial is a revisit
	each    bool     // the choice between trials: one by one
}

func (c *pipeChoice) apply(s *Shard, b *sample.Batch, now int64) {
	if c.left == 0 && now >= c.next {
		c.left, c.ns, c.n = trialBatches, [2]int64{}, [2]int64{}
		c.created = s.stats.SeriesCreated
	}
	if c.left == 0 {
		created := s.stats.SeriesCreated
		if c.each {
			s.applyEach(b, now)
		} else {
			s.applyPipelined(b, now)
		}
		if c.busy && (s.stats.SeriesCreated-created)*64 <= uint64(b.Count()) {
			c.busy, c.revisit, c.next = false, true, now // a trial at the next batch
		}
		return
	}
	way := c.left & 1
	t0 := time.Now()
	if way == 0 {
		s.applyEach(b, now)
	} else {
		s.applyPipelined(b, now)
	}
	c.ns[way] += int64(time.Since(t0))
	c.n[way] += int64(b.Count()) // values, a run counting each of its own
	if c.left--; c.left == 0 {
		// One by one wins only when measured faster a sample (cross
		// products: no division).
		c.each = c.n[0] > 0 && c.n[1] > 0 && c.ns[0]*c.n[1] < c.ns[1]*c.n[0]
		c.busy = !c.revisit && (s.stats.SeriesCreated-c.created)*4 >= uint64(c.n[0]+c.n[1])
		c.revisit = false
		c.next = now + trialEvery
		if c.each {
			s.stats.ApplyTrials[0]++
		} else {
			s.stats.ApplyTrials[1]++
		}
	}
}

// applyEach applies the batch's samples one after another.
func (s *Shard) applyEach(b *sample.Batch, now int64) {
	smp := b.Samples
	for i := range smp {
		s.apply(b, &smp[i], now, -1)
	}
}

// applyPipelined applies the batch's samples with the prefetch pipeline.
func (s *Shard) applyPipelined(b *sample.Batch, now int64) {
	smp := b.Samples
	n := len(smp)
	for i := 0; i < min(n, aheadIndex); i++ {
		s.prefetchIndex(&smp[i])
	}
	for i := 0; i < min(n, aheadRecord); i++ {
		s.prefetchRecord(b, &smp[i], i)
	}
	for i := 0; i < min(n, aheadRows); i++ {
		s.prefetchRows(&smp[i], i)
	}
	for i := 0; i < min(n, aheadHist); i++ {
		s.prefetchHist(&smp[i], i)
	}
	for i := range smp {
		if j := i + aheadIndex; j < n {
			s.prefetchIndex(&smp[j])
		}
		if j := i + aheadRecord; j < n {
			s.prefetchRecord(b, &smp[j], j)
		}
		if j := i + aheadRows; j < n {
			s.prefetchRows(&smp[j], j)
		}
		if j := i + aheadHist; j < n {
			s.prefetchHist(&smp[j], j)
		}
		s.apply(b, &smp[i], now, i&aheadMask)
	}
	// The rows found ahead point at their tables: not kept past the batch
	// (a table sealed and dropped from the pool stays alive while pointed
	// at).
	clear(s.aheadRows)
}

// workingSet estimates the bytes an update may touch: the series records
// and index, the key parts, and the rows and histograms of the open tables.
func (s *Shard) workingSet() int64 {
	_, keys := s.keys.stats()
	ws := int64(s.nRecs*s.stride+len(s.index.entries))*8 + keys
	for _, idx := range s.openList {
		ws += s.desc[idx].t.LiveBytes()
	}
	return ws
}

func addr[T any](p *T) uintptr { return uintptr(unsafe.Pointer(p)) }

func (s *Shard) prefetchIndex(smp *sample.Sample) {
	if smp.Flags&sample.FlagHandle != 0 {
		return // no index to read: prefetchRecord hints the record
	}
	prefetch.Line(addr(&s.index.entries[s.index.home(tagOf(smp.Hash))]))
}

// prefetchRecord finds the series the index names for smp (the index line
// is in cache by now), remembers it for prefetchRows and hints its record;
// if there is none, it hints the key pool's index slots of smp's key parts.
func (s *Shard) prefetchRecord(b *sample.Batch, smp *sample.Sample, i int) {
	if smp.Flags&sample.FlagHandle != 0 {
		s.ahead[i&aheadMask] = noOwner
		if sid := uint32(smp.Hash); int(sid) < s.nRecs {
			s.ahead[i&aheadMask] = sid // apply takes it if the handle is of a live series
			prefetch.Line(addr(&s.recs[int(sid)*s.stride]))
		}
		return
	}
	tag := tagOf(smp.Hash)
	idx := s.index.home(tag)
	e := s.index.entries[idx]
	for e != 0 && e.tag() != tag {
		idx++
		e = s.index.entries[idx]
	}
	if e == 0 {
		s.ahead[i&aheadMask] = noOwner
		// No series has the key's tag: the sample opens a series, which
		// looks its name and its dimensions up in the key pool's index,
		// a slot far from the cache for a dimension set never seen once
		// the index outgrows a core's own cache (smaller, the two hashes
		// cost more than the hints save).
		if end := uint64(smp.KeyOff) + uint64(smp.KeyLen); end <= uint64(len(b.Keys)) && len(s.keys.index.entries) >= s.poolHintFrom {
			if name, dims, ok := sample.SplitKey(b.Keys[smp.KeyOff:end]); ok {
				s.keys.prefetch(name)
				s.keys.prefetch(dims)
			}
		}
		return
	}
	sid := e.value()
	s.ahead[i&aheadMask] = sid
	prefetch.Line(addr(&s.recs[int(sid)*s.stride]))
}

// prefetchRows hints the key parts and the rows of the series found by
// prefetchRecord (its record is in cache by now), and remembers the rows
// and the series' accumulators for prefetchHist.
func (s *Shard) prefetchRows(smp *sample.Sample, i int) {
	np := len(s.periods)
	rows := s.aheadRows[(i&aheadMask)*np : (i&aheadMask+1)*np]
	clear(rows)
	s.aheadNeed[i&aheadMask] = 0
	sid := s.ahead[i&aheadMask]
	if sid == noOwner || int(sid) >= s.nRecs {
		return
	}
	r := s.rec(sid)
	k, o := keyWord(r[recKey]), ownerWord(r[recOwner])
	if smp.Flags&sample.FlagHandle == 0 { // a handle's key is not compared
		prefetch.Lines2(s.keys.addr(k.name()), s.keys.addr(k.dims()))
	}
	s.aheadNeed[i&aheadMask] = s.needs[o.spec()]
	if o.owner() != sid {
		// An override alias: its rows are its owner's, one more miss
		// away; not worth chasing for this rare case.
		return
	}
	// The lines of up to two rows: a row without a histogram straddles
	// two lines one time in four.
	var lines [4]uintptr
	n := 0
	for p := range s.periods {
		start, ok := s.cachedStart(p, smp.Time)
		if !ok {
			continue
		}
		for _, v := range r[recSlots+2*p : recSlots+2*p+2] {
			sl := rowSlot(v)
			d := &s.desc[sl.idx()]
			if sl.gen() == d.gen && d.t != nil && d.start == start {
				rows[p] = aheadRow{t: d.t, row: sl.row()}
				if n <= len(lines)-2 {
					first, second := d.t.RowLines(sl.row())
					lines[n] = first
					n++
					if second != 0 {
						lines[n] = second
						n++
					}
				}
			}
		}
	}
	prefetch.Lines2(lines[0], lines[1])
	if n > 2 {
		prefetch.Lines2(lines[2], lines[3])
	}
}

type aheadRow struct {
	t   *hist.Table
	row uint32
}

// prefetchHist hints the histogram slots the sample's value will update in
// the rows prefetchRows found, and the rows' extension records. A row's
// histogram handle and extension index are in the row record itself,
// hinted only aheadRows-aheadHist samples ago: reading it for a series that
// keeps neither (counters, by default) would only wait for that line.
func (s *Shard) prefetchHist(smp *sample.Sample, i int) {
	need := s.aheadNeed[i&aheadMask]
	if smp.Flags&(sample.FlagAgg|sample.FlagSetMember|sample.FlagRun) != 0 ||
		need&(hist.NeedHist|hist.NeedMin|hist.NeedMax) == 0 && smp.ReqTime == 0 {
		return
	}
	np := len(s.periods)
	for _, ar := range s.aheadRows[(i&aheadMask)*np : (i&aheadMask+1)*np] {
		if ar.t != nil {
			prefetch.Lines2(ar.t.HistAddr(ar.row, smp.Value), ar.t.ExtAddr(ar.row))
		}
	}
}

// apply accumulates one sample into its row in every period. ahead is the
// sample's slot in the lookahead rings, or -1: the series and rows the
// lookahead found are used once the series is confirmed by its key.
func (s *Shard) apply(b *sample.Batch, smp *sample.Sample, now int64, ahead int) {
	var agg *sample.Agg
	var run []float64
	if !s.validate(b, smp, &agg, &run) {
		return
	}
	var sid uint32
	var rows []aheadRow
	if smp.Flags&sample.FlagHandle != 0 {
		var live, ok bool
		if sid, live, ok = s.resolve(smp.Hash, now); !ok {
			return
		}
		if live && ahead >= 0 && s.ahead[ahead] == sid {
			rows = s.aheadRows[ahead*len(s.periods) : (ahead+1)*len(s.periods)]
		}
	} else {
		key := b.Key(smp)
		if ahead >= 0 {
			if c := s.ahead[ahead]; c != noOwner && int(c) < s.nRecs && s.hasKey(c, key) {
				sid = c
				rows = s.aheadRows[ahead*len(s.periods) : (ahead+1)*len(s.periods)]
			} else {
				ahead = -1
			}
		}
		if ahead < 0 {
			var ok bool
			if sid, ok = s.lookup(smp.Hash, key); !ok {
				if sid, ok = s.createSeries(smp.Hash, key, now); !ok {
					return
				}
			}
		}
		if smp.Flags&sample.FlagAsk != 0 {
			s.answer(b, smp, sid)
		}
	}
	r := s.rec(sid)
	o := ownerWord(r[recOwner])
	owner, spec := o.owner(), o.spec()
	need := s.needs[spec]
	unit := uint8(smp.Unit)
	value := smp.Value
	switch kind := sample.Kind(o.kind()); {
	case smp.Flags&sample.FlagSetMember != 0 != (kind == sample.KindSet),
		smp.Flags&sample.FlagDelta != 0 && kind != sample.KindGauge:
		s.stats.Refused[RefusedBadFlags] += uint64(max(1, len(run)))
		return
	case run != nil:
		// Each value a sample of its own: validate left at least one
		// finite; a gauge remembers the last.
		finiteVals := 0
		for _, v := range run {
			if sample.Finite(v) {
				finiteVals++
				if kind == sample.KindGauge {
					r[recGauge] = math.Float64bits(v)
				}
			}
		}
		s.stats.Refused[RefusedNonFinite] += uint64(len(run) - finiteVals)
	case kind == sample.KindGauge && agg == nil:
		// Gauges remember their last value, for deltas ("+N").
		if smp.Flags&sample.FlagDelta != 0 {
			if last := math.Float64frombits(r[recGauge]); last == last {
				value += last
			}
			if !sample.Finite(value) {
				s.stats.Refused[RefusedNonFinite]++
				return
			}
		}
		r[recGauge] = math.Float64bits(value)
	}
	// The histogram updates the sample makes in each period: an update
	// may grow a histogram into a new chunk, so the sample is refused for
	// a table whose histograms have no room left (hist.Table.HistRoom),
	// before its row is made or changed.
	histN := 0
	if need&(hist.NeedHist|hist.NeedDistinct) != 0 && spec != specNone {
		histN = 1 + len(run)
		if agg != nil {
			histN += len(b.HistOf(agg))
		}
	}
	for p := range s.periods {
		var t *hist.Table
		var row uint32
		if rows != nil && rows[p].t != nil {
			t, row = rows[p].t, rows[p].row
		} else {
			var ok bool
			if t, row, ok = s.row(owner, p, s.bucketStart(p, smp.Time), now, histN); !ok {
				if t != nil { // no histogram room in the table: no row made
					s.stats.Refused[RefusedHistogramSpace] += uint64(max(1, len(run)))
				}
				continue
			}
		}
		if histN > 0 && !t.HistRoom(histN) {
			s.stats.Refused[RefusedHistogramSpace] += uint64(max(1, len(run)))
			continue
		}
		switch {
		case spec == specNone:
			// A record without metrics: the bucket exists, nothing accumulates.
		case need&hist.NeedDistinct != 0:
			if !t.AddMember(row, math.Float64bits(value)) { // a set of MaxSetMembers
				s.stats.Refused[RefusedHistogramSpace]++
				continue
			}
		case run != nil:
			if !s.addRun(t, row, run, unit, need) {
				continue
			}
		case agg == nil:
			if !t.AddValue(row, value, unit, need) {
				s.stats.Refused[RefusedUnitMismatch]++
				continue
			}
		default:
			ha := hist.Agg{Min: agg.Min, Max: agg.Max, Sum: agg.Sum, Count: agg.Count, Has: hist.AggHas(agg.Has)}
			if !t.MergeAgg(row, &ha, unit, need) {
				s.stats.Refused[RefusedUnitMismatch]++
				continue
			}
			if agg.Has&sample.HasHist != 0 && need&hist.NeedHist != 0 {
				for _, e := range b.HistOf(agg) {
					t.RecordHist(row, hist.Pack(e.Value), e.Count)
				}
			}
		}
		if smp.ReqTime != 0 {
			t.NoteRequestTime(row, smp.ReqTime)
		}
	}
}

// addRun accumulates the finite values of a run into row of t, counting
// each refused for its unit, and reports whether any was taken.
func (s *Shard) addRun(t *hist.Table, row uint32, run []float64, unit uint8, need hist.Need) bool {
	taken := false
	for _, v := range run {
		switch {
		case !sample.Finite(v):
		case t.AddValue(row, v, unit, need):
			taken = true
		default:
			s.stats.Refused[RefusedUnitMismatch]++
		}
	}
	return taken
}

// bucketStart is BucketStart for period p, remembering the last bucket so
// that samples of the current bucket (nearly all of them) need no division.
func (s *Shard) bucketStart(p int, t int64) int64 {
	if start, ok := s.cachedStart(p, t); ok {
		return start
	}
	per := &s.periods[p]
	per.lastStart = BucketStart(t, per.ms)
	per.lastValid = true
	return per.lastStart
}

func (s *Shard) cachedStart(p int, t int64) (int64, bool) {
	per := &s.periods[p]
	// t in [lastStart, lastStart+ms): the same bucket, when lastStart >= 0.
	// Java's remainder (BucketStart) starts a bucket at or before its times
	// only for t >= 0. Below 0 a bucket S holds (S-ms, S]: the times just
	// after a negative start belong to the next bucket, so a negative
	// start is never reused (times before 1970 always go to BucketStart).
	if per.lastValid && per.lastStart >= 0 && t >= per.lastStart && t-per.lastStart < per.ms {
		return per.lastStart, true
	}
	return 0, false
}

// validate checks what can be checked of a sample without its series, and
// counts the refusal if it fails. It sets *agg to the sample's
// pre-aggregated data, if any, and *run to its run of values, if any.
func (s *Shard) validate(b *sample.Batch, smp *sample.Sample, agg **sample.Agg, run *[]float64) bool {
	switch {
	case smp.Flags&(sample.FlagHandle|sample.FlagAsk) != 0:
		// A handle or an ask goes with a plain sample only, and a handle
		// with no key.
		switch {
		case smp.Flags&(sample.FlagAgg|sample.FlagRun) != 0 || smp.Flags&sample.FlagHandle != 0 && smp.Flags&sample.FlagAsk != 0:
			s.stats.Refused[RefusedBadFlags]++
			return false
		case smp.Flags&sample.FlagHandle == 0 && (uint64(smp.KeyOff)+uint64(smp.KeyLen) > uint64(len(b.Keys)) || smp.KeyLen == 0):
			s.stats.Refused[RefusedBadKey]++
			return false
		case !smp.Unit.Valid():
			s.stats.Refused[RefusedBadUnit]++
			return false
		case !sample.Finite(smp.Value) && smp.Flags&sample.FlagSetMember == 0:
			s.stats.Refused[RefusedNonFinite]++
			return false
		}
		return true
	case smp.Flags&sample.FlagRun != 0:
		*run = b.ValsOf(smp)
		switch {
		case *run == nil || smp.Flags&^sample.FlagRun != 0:
			s.stats.Refused[RefusedBadFlags]++
			*run = nil
			return false
		case uint64(smp.KeyOff)+uint64(smp.KeyLen) > uint64(len(b.Keys)) || smp.KeyLen == 0:
			s.stats.Refused[RefusedBadKey] += uint64(len(*run))
			return false
		case !smp.Unit.Valid():
			s.stats.Refused[RefusedBadUnit] += uint64(len(*run))
			return false
		}
		for _, v := range *run {
			if sample.Finite(v) {
				return true
			}
		}
		// No value to accumulate: refused, as each would be alone, before
		// its series is looked up (or made).
		s.stats.Refused[RefusedNonFinite] += uint64(len(*run))
		return false
	case uint64(smp.KeyOff)+uint64(smp.KeyLen) > uint64(len(b.Keys)) || smp.KeyLen == 0:
		s.stats.Refused[RefusedBadKey]++
		return false
	case !smp.Unit.Valid():
		s.stats.Refused[RefusedBadUnit]++
		return false
	case smp.Flags&sample.FlagAgg != 0:
		*agg = s.validAgg(b, smp)
		return *agg != nil
	case !sample.Finite(smp.Value) && smp.Flags&sample.FlagSetMember == 0:
		s.stats.Refused[RefusedNonFinite]++
		return false
	}
	return true
}
