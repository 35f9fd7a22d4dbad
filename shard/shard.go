// Package shard aggregates samples into MAD buckets. A shard is the single
// writer of its series table and of its open bucket tables: one goroutine
// (pinned to a core by the engine) consumes sample batches from its input
// rings, accumulates each sample into the row of its series in the open table
// of every configured period, seals tables when they expire, and hands each
// sealed table to the control plane as an immutable hist.Snapshot over an
// SPSC ring. It never takes a lock, never allocates per sample in steady
// state, and never waits for its consumer.
//
// Semantics are MAD's PeriodWorker and Bucket (MAD-SPEC §6), applied per
// series: bucket start t − t mod period (epoch-anchored), timeout
// clamp(period/2, 1 s, 10 min), expiration max(now + timeout, start + period +
// timeout) fixed when the bucket is created, closing at the first check after
// the expiration, and late data opening a new bucket for the same start. See
// DESIGN.md for where this differs from MAD and why.
//
// A shard owns its series storage, pointer-free at any size: the series
// records (record.go, read and written through typed words), the series
// index (tagIndex, tagindex.go), the interned key parts (stringPool,
// strpool.go) and the slab they live in (keySlab, keyslab.go). Package hist
// owns the histograms, statistics, tables, arenas and snapshots; a snapshot
// reads the keys and statistics of its rows' series through a seriesView of
// the shard's records (hist.SeriesKeys), which the shard keeps valid until
// the snapshot is released.
package shard

import (
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/vmem"
	"github.com/gomad/mad/ring"
)

type period struct {
	ms      int64
	timeout int64
	// The bucket of the last sample (see bucketStart).
	lastStart int64
	lastValid bool
}

// Shard is one aggregation shard. Apply, Tick and Flush are called by its
// owning goroutine only: Run's loop, or, for a round at a time, a goroutine
// that calls Step (both hold the round mutex); Output, Stats,
// SealedThrough, Attach, AttachHosted, Detach, Reconfigure and Step are safe
// from any goroutine.
type Shard struct {
	id        int
	cfg       Config
	periods   []period
	gran      int64
	sets      []hist.Set
	needs     []hist.Need
	overrides []*regexp.Regexp
	nameCache map[string]int32

	// Series.
	index      tagIndex
	nSeries    int        // live series
	recs       []uint64   // series records, stride words each (record.go)
	recsKeep   *vmem.Keep // recs' mapping; nil while recs is on the heap
	stride     int
	nRecs      int         // records in use or free (sids below nRecs)
	keys       *stringPool // key parts: names and dimension sets
	freeSids   sidSet      // free sids: below nRecs, neither live nor in limbo
	recsHigh   int         // nRecs at most since the records past it were given back (trimRecs)
	recsGiven  int64       // bytes of records given back (trimRecs), for tests
	genHigh    uint32      // the highest generation of a freed sid: a lost one's stand-in (newSeries)
	limbo      []limboEntry
	reapCursor int
	keyBuf     []byte

	// Handles (handle.go): the epoch, when it last moved, the input whose
	// batch is being applied (nil if none), and a key made again.
	epoch     atomic.Uint32
	epochAt   int64
	src       *input
	handleKey []byte

	// Tables.
	desc           []tableDesc
	freeIdx        idxQueue
	openList       []uint16
	byKey          map[tableKey]uint16
	byStart        map[startKey][]uint16
	cur            []curTable
	overflow       []map[uint32]uint32 // by table idx; nil when unused
	overflowTables int
	pool           []pooledTable
	poolTrimAt     int64 // when trimPool last ran (ms)
	free           hist.FreeList
	rowHint        []rowHint // per period: rows to reserve in a new table
	outstanding    []uint64  // Seq of sealed tables not yet released
	tableSeq       uint64
	dueBuf         []uint16

	// Output.
	out           *ring.SPSC[*hist.Snapshot]
	pending       []*hist.Snapshot
	sealedThrough atomicInt64
	cutThrough    atomic.Uint64 // see CutThrough
	lastReap      int64
	flushing      bool

	// Inputs: the attached producers' rings, an immutable slice replaced
	// under ctl (run.go); the loop loads it once per drain round.
	inputs atomic.Pointer[[]*input]
	ctl    sync.Mutex // control plane only: Attach, Detach, Reconfigure, Run's start and end
	state  int        // loopNotStarted, loopRunning, loopStopped; under ctl
	// reconf is a Reconfigure waiting for the loop (reconfigure.go); cuts
	// counts the reconfigurations applied (hist.Table.Cut).
	reconf atomic.Pointer[reconfiguration]
	cuts   uint64
	// bell wakes the idle loop: every input ring rings it on a push, and
	// Detach and Reconfigure ring it (run.go).
	bell *ring.Bell
	// round is held by whoever runs a round of the loop (drain, tick): the
	// shard's own goroutine, or a producer on the same CPU that calls Step
	// (run.go). live is set while Run runs, before stop was seen; hostedAt
	// is when Step last ran a round (wall clock, ns).
	round    sync.Mutex
	live     atomic.Bool
	hostedAt atomic.Int64
	roundBuf []*sample.Batch
	lastTick int64
	clock    func() int64 // Run's clock

	stats        Stats
	pub          publishedStats
	pipelineFrom int64                    // working set from which Apply may prefetch (tests lower it; 0: always)
	pipe         pipeChoice               // past pipelineFrom: whether Apply prefetches
	poolHintFrom int                      // key pool index entries from which a new series' key parts are hinted (tests lower it)
	ahead        [aheadMask + 1]uint32    // series found by prefetchRecord, by sample index
	aheadRows    []aheadRow               // rows found by prefetchRows, [sample index*periods + p]
	aheadNeed    [aheadMask + 1]hist.Need // accumulators of the series found by prefetchRows
}

// New returns shard number id of a pipeline configured by cfg (defaults are
// applied to a copy).
func New(id int, cfg Config) (*Shard, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot configure shard: %w", err)
	}
	s := &Shard{
		id:        id,
		stride:    recSlots + 2*len(cfg.Periods),
		nameCache: map[string]int32{},
		keys:      newStringPool(),
		index:     newTagIndex(),
		byKey:     map[tableKey]uint16{},
		byStart:   map[startKey][]uint16{},
		out:       ring.NewSPSC[*hist.Snapshot](cfg.OutputQueue),
		bell:      ring.NewBell(),

		pipelineFrom: pipelineFrom,
		poolHintFrom: poolHintFrom,
	}
	s.inputs.Store(new([]*input))
	s.epoch.Store(1) // a batch of epoch 0 is of a producer that does not read it
	for _, o := range cfg.Overrides {
		re, err := compileFull(o.Pattern)
		if err != nil {
			return nil, err
		}
		s.overrides = append(s.overrides, re)
	}
	s.setConfig(cfg)
	s.rowHint = make([]rowHint, len(s.periods))
	// desc[0] exists from the start: the zero slot (idx 0, generation 0,
	// which no table has) is read before any table opens. It waits in the
	// pool until allocIdx stops making new indexes.
	s.desc = append(s.desc, tableDesc{gen: 1})
	s.overflow = append(s.overflow, nil)
	s.freeIdx.push(0)
	return s, nil
}

// setConfig makes cfg the shard's configuration: its periods (with an empty
// bucket cache), statistics and the lookahead sized by them. The records'
// layout (stride), the open tables and the overrides' patterns are the
// caller's (New, reconfigure).
func (s *Shard) setConfig(cfg Config) {
	s.cfg = cfg
	s.keys.slab.maxChunks = poolMaxChunk + 1
	if n := cfg.KeyPoolChunks; n > 0 && n < s.keys.slab.maxChunks {
		s.keys.slab.maxChunks = n
	}
	s.gran = cfg.Granularity.Milliseconds()
	s.periods = s.periods[:0:0]
	for _, p := range cfg.Periods {
		s.periods = append(s.periods, period{ms: p.Milliseconds(), timeout: Timeout(p)})
	}
	s.cur = make([]curTable, len(s.periods))
	for i := range s.cur {
		s.cur[i].key.period = -1
	}
	s.aheadRows = make([]aheadRow, (aheadMask+1)*len(s.periods))
	s.sets, s.needs = specsOf(&cfg)
}

// specsOf returns the statistics specified by cfg and the accumulators a row
// keeps for them, by specification (specNone, specCounter, …; series.go).
func specsOf(cfg *Config) ([]hist.Set, []hist.Need) {
	sets := []hist.Set{0, cfg.CounterStatistics, cfg.GaugeStatistics, cfg.TimerStatistics, hist.SetOf(hist.Count)}
	for _, o := range cfg.Overrides {
		sets = append(sets, o.Stats)
	}
	needs := make([]hist.Need, 0, len(sets))
	for _, set := range sets {
		needs = append(needs, set.Need())
	}
	needs[specSet] = hist.NeedDistinct
	return sets, needs
}

// ID returns the shard's index.
func (s *Shard) ID() int { return s.id }

// Output returns the ring of sealed snapshots. Its consumer (the emitter)
// must Release every snapshot it takes.
func (s *Shard) Output() *ring.SPSC[*hist.Snapshot] { return s.out }

// SealedThrough returns a time W (ms since the epoch) such that every table
// expiring before W has been sealed and pushed to Output: a consumer that
// reads W and then drains Output has every bucket of the shard that expired
// before W.
func (s *Shard) SealedThrough() int64 { return s.sealedThrough.Load() }

// CutThrough returns the number of reconfigurations whose cut tables have
// all been pushed to Output: a consumer that reads C and then drains Output
// has every table with 0 < hist.Table.Cut <= C (reconfigure.go), which it
// may emit without waiting for their expiration.
func (s *Shard) CutThrough() uint64 { return s.cutThrough.Load() }

// validAgg returns the sample's pre-aggregated data if it is well-formed and
// finite, counting the refusal otherwise.
func (s *Shard) validAgg(b *sample.Batch, smp *sample.Sample) *sample.Agg {
	if int(smp.Agg) >= len(b.Aggs) {
		s.stats.Refused[RefusedBadAgg]++
		return nil
	}
	a := &b.Aggs[smp.Agg]
	if uint64(a.HistOff)+uint64(a.HistLen) > uint64(len(b.Hist)) {
		s.stats.Refused[RefusedBadAgg]++
		return nil
	}
	var hist []sample.HistEntry
	if a.Has&sample.HasHist != 0 {
		hist = b.HistOf(a)
	}
	if !a.Finite(hist) {
		s.stats.Refused[RefusedNonFinite]++
		return nil
	}
	return a
}

// Tick seals the tables that expired before now, takes back released tables,
// forgets idle series and publishes the shard's statistics. Call it at least
// every Granularity.
func (s *Shard) Tick(now int64) {
	s.recycle()
	s.trimPool(now)
	s.sealExpired(now, false)
	s.flushPending()
	s.freeLimbo()
	if now-s.lastReap >= reapInterval {
		s.reapStep(now, reapBatch)
		s.lastReap = now
	}
	s.nextEpoch(now)
	if len(s.pending) == 0 {
		s.sealedThrough.Store(now)
		s.cutThrough.Store(s.cuts)
	}
	s.publish()
}

const (
	reapInterval = 100 // ms between reaping steps
	reapBatch    = 8192
)

// Flush seals every open table regardless of its expiration, as on shutdown
// or reload: nothing that was accepted is lost.
func (s *Shard) Flush(now int64) {
	s.recycle()
	s.flushing = true
	s.sealExpired(now, true)
	s.flushing = false
	s.flushPending()
	s.freeLimbo()
	if len(s.pending) == 0 {
		s.sealedThrough.Store(maxTime)
		s.cutThrough.Store(s.cuts)
	}
	s.publish()
}

const maxTime = 1<<63 - 1

// Pending returns how many sealed snapshots wait for room in Output.
func (s *Shard) Pending() int { return len(s.pending) }

// OpenTables returns the number of open bucket tables.
func (s *Shard) OpenTables() int { return len(s.openList) }

// Now is the shard's clock: milliseconds since the epoch.
func Now() int64 { return time.Now().UnixMilli() }
