package shard

import (
	"math"
	"slices"

	"github.com/gomad/mad/hist"
)

// Open bucket tables are addressed by a small index (idx, 16 bits) into
// Shard.desc. Each series keeps, per period, two slots (rowSlot) that
// remember the rows it has in open tables:
//
//	 63       40 39       16 15       0
//	+-----------+-----------+----------+
//	|  row (24) |  gen (24) | idx (16) |
//	+-----------+-----------+----------+
//
// A slot is valid while desc[idx] still holds the same table instance, which
// the generation tells: it is bumped whenever a table at idx is sealed and
// never takes the value 0 (so the zero slot is always invalid). idx values
// are reused first-in first-out from a pool of at least minTableIdx, so a
// generation comes back at an idx only after minTableIdx·2^24 ≈ 7·10^10
// table openings, far beyond the life of any stale slot (a series without
// new rows is forgotten after IdleTimeout, and its slots are cleared when
// its sid is reused). A series with rows in more than two open tables of
// one period (records spread over several buckets) keeps the extra rows in
// the table's overflow map.

const (
	maxTables   = 1 << 16
	minTableIdx = 1 << 12
	genMask     = 1<<24 - 1
)

type tableDesc struct {
	t     *hist.Table // nil when the idx is free
	start int64
	gen   uint32
}

type tableKey struct {
	period  int
	start   int64
	expires int64
}

type startKey struct {
	period int
	start  int64
}

// rowSlot is a row slot: for period p, words recSlots+2p and recSlots+2p+1
// of a series record (record.go).
type rowSlot uint64

func makeSlot(idx uint16, gen uint32, row uint32) rowSlot {
	return rowSlot(uint64(row)<<40 | uint64(gen)<<16 | uint64(idx))
}

func (sl rowSlot) idx() uint16 { return uint16(sl) }
func (sl rowSlot) gen() uint32 { return uint32(sl>>16) & genMask }
func (sl rowSlot) row() uint32 { return uint32(sl >> 40) }

// row returns the row of series owner in the open table of period p that
// holds bucket start, creating it (and the table) if there is none. A new
// row is not made for a sample of histN histogram updates when the table's
// histograms have no room for them: row then reports false with the table.
func (s *Shard) row(owner uint32, p int, start, now int64, histN int) (*hist.Table, uint32, bool) {
	base := int(owner)*s.stride + recSlots + 2*p
	sl := s.recs[base : base+2 : base+2]
	free := -1
	for k, v := range sl {
		slot := rowSlot(v)
		d := &s.desc[slot.idx()]
		if slot.gen() == d.gen && d.t != nil {
			if d.start == start {
				return d.t, slot.row(), true
			}
			continue
		}
		if free < 0 {
			free = k
		}
	}
	if s.overflowTables > 0 {
		for _, idx := range s.byStart[startKey{p, start}] {
			if row, ok := s.overflow[idx][owner]; ok {
				if free >= 0 {
					sl[free] = uint64(makeSlot(idx, s.desc[idx].gen, row))
				}
				return s.desc[idx].t, row, true
			}
		}
	}
	return s.newRow(owner, p, start, now, sl, free, histN)
}

func (s *Shard) newRow(owner uint32, p int, start, now int64, sl []uint64, free, histN int) (*hist.Table, uint32, bool) {
	per := &s.periods[p]
	expires := s.expiration(per, start, now)
	idx, ok := s.tableFor(p, start, expires, now)
	if !ok {
		return nil, 0, false
	}
	d := &s.desc[idx]
	if histN > 0 && !d.t.HistRoom(histN) {
		return d.t, 0, false
	}
	// A sample that updates a histogram (histN) makes a row that keeps
	// one; the owner's statistics are the same for every sample until a
	// reconfiguration, which cuts the tables if they come to need more.
	var kind hist.Need
	if histN > 0 {
		kind = hist.NeedHist
	}
	row := d.t.AddRow(owner, kind)
	if free >= 0 {
		sl[free] = uint64(makeSlot(idx, d.gen, row))
	} else {
		if s.overflow[idx] == nil {
			s.overflow[idx] = make(map[uint32]uint32)
			s.overflowTables++
		}
		s.overflow[idx][owner] = row
	}
	s.setLastRow(owner, now, d.t.Created)
	if now > satAdd(start, per.ms) {
		s.stats.LateRows++
	}
	return d.t, row, true
}

// expiration is MAD's bucket expiration, max(now + timeout, start + period +
// timeout), rounded up to the granularity.
func (s *Shard) expiration(per *period, start, now int64) int64 {
	return expiration(per.ms, per.timeout, s.gran, start, now)
}

// expiration is MAD's bucket expiration, rounded up to the shard's tick
// granularity: max(now + timeout, start + period + timeout), at most
// maxExpiration.
func expiration(periodMs, timeout, gran, start, now int64) int64 {
	e := max(satAdd(now, timeout), satAdd(satAdd(start, periodMs), timeout))
	if r := e % gran; r != 0 {
		if e > 0 {
			e = satAdd(e, gran-r)
		} else {
			e -= r
		}
	}
	return min(e, maxExpiration)
}

// maxExpiration bounds a bucket's expiration below math.MaxInt64, which is
// what a shard reports as sealed through once it has flushed everything
// (at a stop, or a reload that rebuilds the aggregator): the emitter emits
// a bucket whose expiration is below that mark, so a bucket of a time near
// the end of int64 (a Graphite time of 9223372036854775 s), whose
// expiration saturated to math.MaxInt64, was sealed and then never
// emitted, and nothing counted it.
const maxExpiration = math.MaxInt64 - 1

// Expiry bounds the expiration of every bucket (of every period of c) that
// a shard configured with c puts a sample of time t in when it applies it
// at or before applied (ms): the sample goes to its start's open bucket,
// created no later than it was applied, or opens one (late data too), and
// an expiration only grows with the time of creation.
func (c Config) Expiry(applied, t int64) int64 {
	c.EnsureDefaults()
	e := int64(math.MinInt64)
	for _, p := range c.Periods {
		ms := p.Milliseconds()
		e = max(e, expiration(ms, Timeout(p), c.Granularity.Milliseconds(), BucketStart(t, ms), applied))
	}
	return e
}

func satAdd(a, b int64) int64 {
	if c := a + b; (c > a) == (b > 0) {
		return c
	}
	if b > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

// tableFor returns the open table of (period p, start, expires), opening one
// if needed.
func (s *Shard) tableFor(p int, start, expires, now int64) (uint16, bool) {
	k := tableKey{p, start, expires}
	if c := &s.cur[p]; c.key == k && s.desc[c.idx].gen == c.gen && s.desc[c.idx].t != nil {
		return c.idx, true
	}
	idx, ok := s.byKey[k]
	if !ok {
		if idx, ok = s.allocIdx(); !ok {
			s.stats.Refused[RefusedTableLimit]++
			return 0, false
		}
		t := s.newTable()
		t.Period, t.Start, t.Expires, t.Created, t.PeriodIndex = s.periods[p].ms, start, expires, now, p
		// Sized like the period's recent tables (steady workloads fill
		// each period's table with about as many rows as the last one).
		if h := s.rowHint[p]; h.plain > 0 || h.hists > 0 {
			t.Reserve(h.plain+h.plain/8, h.hists+h.hists/8)
		}
		t.Seq = s.tableSeq
		s.tableSeq++
		d := &s.desc[idx]
		d.t, d.start = t, start
		s.byKey[k] = idx
		sk := startKey{p, start}
		s.byStart[sk] = append(s.byStart[sk], idx)
		s.openList = append(s.openList, idx)
	}
	s.cur[p] = curTable{key: k, idx: idx, gen: s.desc[idx].gen}
	return idx, true
}

// allocIdx takes a new table index while there are fewer than minTableIdx
// (a shard with few tables keeps a small pool), then the least recently
// freed one, growing the pool while none is free. A new index starts at
// generation 1: the zero slot (idx 0, generation 0) names no table.
func (s *Shard) allocIdx() (uint16, bool) {
	n := len(s.desc)
	if n < minTableIdx || s.freeIdx.len() == 0 {
		if n >= maxTables {
			return 0, false
		}
		s.desc = append(s.desc, tableDesc{gen: 1})
		s.overflow = append(s.overflow, nil)
		return uint16(n), true
	}
	return s.freeIdx.pop(), true
}

// idxQueue is a FIFO of free table indexes.
type idxQueue struct {
	buf        []uint16
	head, tail int // tail - head items, buf used as a ring
}

func (q *idxQueue) len() int { return q.tail - q.head }

func (q *idxQueue) push(v uint16) {
	if q.len() == len(q.buf) {
		nb := make([]uint16, max(2*len(q.buf), 64))
		for i := q.head; i < q.tail; i++ {
			nb[i-q.head] = q.buf[i%len(q.buf)]
		}
		q.buf, q.head, q.tail = nb, 0, q.len()
	}
	q.buf[q.tail%len(q.buf)] = v
	q.tail++
}

func (q *idxQueue) pop() uint16 {
	v := q.buf[q.head%len(q.buf)]
	q.head++
	return v
}

type curTable struct {
	key tableKey
	idx uint16
	gen uint32
}

func (s *Shard) newTable() *hist.Table {
	s.recycle()
	var t *hist.Table
	if n := len(s.pool); n > 0 {
		t = s.pool[n-1].t
		s.pool[n-1] = pooledTable{}
		s.pool = s.pool[:n-1]
	} else {
		t = new(hist.Table)
	}
	t.LimitHistChunks(s.cfg.HistChunks)
	return t
}

// recycle takes back the tables the control plane released.
func (s *Shard) recycle() {
	for t := s.free.TakeAll(); t != nil; {
		next := t.Next()
		if i := slices.Index(s.outstanding, t.Seq); i >= 0 {
			s.outstanding[i] = s.outstanding[len(s.outstanding)-1]
			s.outstanding = s.outstanding[:len(s.outstanding)-1]
		} else {
			panic("BUG: shard: released a table that was not outstanding")
		}
		oversized := s.oversized(t)
		period := t.Period
		t.Reset()
		if len(s.pool) < tablePoolLimit && !oversized {
			s.pool = append(s.pool, pooledTable{t: t, period: period})
		}
		t = next
	}
}

// pooledTable is a released table kept for reuse: its period (ms) and when
// it was pooled (ms by the shard's clock; 0 until trimPool first sees it).
type pooledTable struct {
	t          *hist.Table
	period, at int64
}

// trimPool lets go of the pooled tables of tableTrimFrom bytes or more that
// no new table has taken for poolIdle, or two of their period's lengths if
// longer. recycle judges a table by the load its period has now (oversized),
// which only sealing a table updates: once a burst of series has gone and
// nothing comes any more, no table is sealed, and the burst's tables, pooled
// after it, would stay (a million series: 16 MB a table and a period, a
// shard). A table the load needs is taken at each bucket of its period.
func (s *Shard) trimPool(now int64) {
	if d := now - s.poolTrimAt; d >= 0 && d < poolTrimEvery {
		return
	}
	s.poolTrimAt = now
	kept := s.pool[:0]
	for _, p := range s.pool {
		if p.at == 0 || p.at > now { // new, or the clock stepped back
			p.at = now
		}
		if p.t.Bytes() >= tableTrimFrom && now-p.at > max(poolIdle, 2*p.period) {
			continue // the collector unmaps its rows
		}
		kept = append(kept, p)
	}
	clear(s.pool[len(kept):])
	s.pool = kept
}

// oversized tells whether a released table of tableTrimFrom bytes or
// more holds far more rows of a kind (with a histogram or without, a
// quarter of tableTrimFrom's bytes at least) than its period's tables now
// need (twice what tableFor would reserve). Reset keeps a table's memory
// (its rows' pages stay written), so a pooled table sized by a burst of
// series would keep the burst's memory for good, going round as the next
// tables; such a table is let go of instead (the collector unmaps its
// rows), and the next one grows to the load as it is. Each kind is judged
// by its own load: a burst of timers followed by counters leaves tables
// whose rows of both kinds together are within the load's.
func (s *Shard) oversized(t *hist.Table) bool {
	if t.Bytes() < tableTrimFrom {
		return false
	}
	p := t.PeriodIndex
	if p < 0 || p >= len(s.rowHint) || s.periods[p].ms != t.Period {
		return true // a period reconfigured away
	}
	h := s.rowHint[p]
	plain, hists := t.Caps()
	plainB, histsB := t.CapBytes()
	return plainB >= tableTrimFrom/4 && plain > 2*(h.plain+h.plain/8) ||
		histsB >= tableTrimFrom/4 && hists > 2*(h.hists+h.hists/8)
}

const (
	// tablePoolLimit bounds the released tables kept for reuse.
	tablePoolLimit = 64
	// poolIdle is how long, at least, a pooled table of tableTrimFrom
	// bytes or more is kept unused (trimPool), and poolTrimEvery how
	// often the pool is looked at.
	poolIdle      = 10_000
	poolTrimEvery = 1_000
	// tableTrimFrom: a released table of fewer bytes is kept for reuse
	// whatever its size against the load's (oversized).
	tableTrimFrom = 256 << 10
)

// rowHint is how many rows of each kind (without a histogram and with
// one, hist.Table.AddRow) to reserve in a period's next table.
type rowHint struct{ plain, hists int }

// follow updates the hint from a sealed table's rows: it follows growth at
// once and shrinkage slowly (a small table of late data must not undersize
// the next one).
func (h *rowHint) follow(plain, hists int) {
	h.plain = followHint(h.plain, plain)
	h.hists = followHint(h.hists, hists)
}

func followHint(h, n int) int {
	if n >= h {
		return n
	}
	return h - (h-n)/8
}

// seal closes the open table at idx and queues its snapshot.
func (s *Shard) seal(idx uint16) {
	d := &s.desc[idx]
	t := d.t
	p := t.PeriodIndex
	delete(s.byKey, tableKey{p, t.Start, t.Expires})
	sk := startKey{p, t.Start}
	if l := s.byStart[sk]; len(l) == 1 {
		delete(s.byStart, sk)
	} else {
		i := slices.Index(l, idx)
		s.byStart[sk] = slices.Delete(l, i, i+1)
	}
	if s.overflow[idx] != nil {
		s.overflow[idx] = nil
		s.overflowTables--
	}
	d.t = nil
	d.gen = (d.gen + 1) & genMask
	if d.gen == 0 {
		d.gen = 1
	}
	s.freeIdx.push(idx)
	s.outstanding = append(s.outstanding, t.Seq)
	s.stats.TablesSealed++
	s.stats.RowsSealed += uint64(t.Len())
	plain, hists := t.Lens()
	s.rowHint[p].follow(plain, hists)
	s.emit(hist.NewSnapshot(t, s.view(), s.id, &s.free))
}

// view captures what a snapshot sealed now reads of the series (record.go).
func (s *Shard) view() *seriesView {
	n := s.nRecs * s.stride
	return &seriesView{pool: s.keys.view(), recs: s.recs[:n:n], keep: s.recsKeep, stride: s.stride, sets: s.sets}
}

// sealExpired seals every open table whose expiration is before now (all of
// them if all is set), in order of expiration, period and start.
func (s *Shard) sealExpired(now int64, all bool) {
	s.sealIf(0, func(t *hist.Table) bool { return all || t.Expires < now })
}

// sealIf seals every open table for which due reports true, in order of
// expiration, period and start, marking each with cut (hist.Table.Cut).
func (s *Shard) sealIf(cut uint64, due func(*hist.Table) bool) {
	sealing := s.dueBuf[:0]
	kept := s.openList[:0]
	for _, idx := range s.openList {
		if due(s.desc[idx].t) {
			sealing = append(sealing, idx)
		} else {
			kept = append(kept, idx)
		}
	}
	s.openList = kept
	slices.SortFunc(sealing, func(a, b uint16) int {
		ta, tb := s.desc[a].t, s.desc[b].t
		if ta.Expires != tb.Expires {
			return cmpInt(ta.Expires, tb.Expires)
		}
		if ta.PeriodIndex != tb.PeriodIndex {
			return ta.PeriodIndex - tb.PeriodIndex
		}
		return cmpInt(ta.Start, tb.Start)
	})
	for _, idx := range sealing {
		s.desc[idx].t.Cut = cut
		s.seal(idx)
	}
	s.dueBuf = sealing[:0]
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// oldestOpenCreated returns the earliest creation time of an open table.
func (s *Shard) oldestOpenCreated() int64 {
	oldest := int64(math.MaxInt64)
	for _, idx := range s.openList {
		oldest = min(oldest, s.desc[idx].t.Created)
	}
	return oldest
}

// oldestAliveSeq returns the smallest Seq of a table that is open or sealed
// but not yet released, or the next Seq if there is none.
func (s *Shard) oldestAliveSeq() uint64 {
	oldest := s.tableSeq
	for _, idx := range s.openList {
		oldest = min(oldest, s.desc[idx].t.Seq)
	}
	for _, seq := range s.outstanding {
		oldest = min(oldest, seq)
	}
	return oldest
}

// emit queues a snapshot for the emitter, holding it while the output ring
// is full. Beyond PendingLimit held snapshots (the emitter has stalled), the
// oldest held one is dropped and counted, except while flushing for shutdown
// or reload, which must lose nothing.
func (s *Shard) emit(snap *hist.Snapshot) {
	s.pending = append(s.pending, snap)
	s.flushPending()
	if over := len(s.pending) - s.cfg.PendingLimit; over > 0 && !s.flushing {
		for _, old := range s.pending[:over] {
			s.stats.SnapshotsDropped++
			s.stats.RowsDropped += uint64(old.Len())
			old.Release()
		}
		s.dropPending(over)
	}
}

func (s *Shard) flushPending() {
	if len(s.pending) == 0 {
		return
	}
	s.dropPending(s.out.PushN(s.pending))
}

// dropPending removes the first n held snapshots (pushed or released). The
// slots the others leave behind are cleared: a stale pointer past the
// slice's length would keep a snapshot the emitter has released alive, and
// with it its table's memory and the records mapping its view holds.
func (s *Shard) dropPending(n int) {
	m := copy(s.pending, s.pending[n:])
	clear(s.pending[m:])
	s.pending = s.pending[:m]
}
