package pipeline

import (
	"log/slog"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/internal/throttle"
	"github.com/gomad/mad/shard"
)

// The default series limit bounds what a pipeline's series can take of the
// machine's memory: half of it, at the resident memory a series costs at
// the emission peak. The other half is for everything else (rings and
// batches, HTTP bodies, sink queues, the emitter's parts, other processes).
//
// A series' resident cost: the fault campaign's cardinality fault (cmd/
// madfault, MAD's periods PT1S and PT1M, one counter per series) measured
// RSS over series at 391 bytes for 10 M series and 463 for 2 M, the peak
// (SIGTERM emitting every series' PT1M row) included; the live heap is
// 218 bytes a counter series, 276 a gauge, 283 a timer with one value per
// bucket, and each further period adds 52 (counters) to 85 (timers): the
// rest of RSS is the garbage collector's headroom and arrays caught
// growing, about 2.1 × the heap. seriesBytes(p) = 256 + 192·p covers
// 2.2 × a timer's heap: 640 bytes for 2 periods, 1,216 for 5. Histograms
// of many distinct values grow a series past this; the limit bounds
// series, not what each one holds.
const (
	seriesBytesBase      = 256
	seriesBytesPerPeriod = 192
	// seriesMemoryDivisor: the default limit budgets 1/2 of memory.
	seriesMemoryDivisor = 2
	// unknownMemory is assumed where the machine's memory is unknown
	// (affinity.Memory).
	unknownMemory = 4 << 30
	// MaxPipelineSeries is the largest series limit: 2^31 series would
	// take a terabyte, and it keeps a bucket's rows countable in 32 bits
	// (the emitter's).
	MaxPipelineSeries = 1 << 31
)

// DefaultMaxSeries returns the series limit of a pipeline of periods
// periods that sets none: half the usable memory (affinity.Memory, capped
// by GOMEMLIMIT when set) over seriesBytes(periods). On a 24 GiB machine
// with MAD's two periods, about 20.1 M series. It assumes the pipeline is
// the only one with many series; several such pipelines should each set
// maxSeries.
func DefaultMaxSeries(periods int) int { return defaultMaxSeries(usableMemory(), periods) }

func defaultMaxSeries(mem int64, periods int) int {
	n := mem / seriesMemoryDivisor / int64(seriesBytesBase+seriesBytesPerPeriod*max(periods, 1))
	return int(min(max(n, 1), MaxPipelineSeries))
}

// usableMemory is read once: a limit that changed between two reloads
// would reconfigure every pipeline.
var usableMemory = sync.OnceValue(func() int64 {
	mem, ok := affinity.Memory()
	if !ok {
		mem = unknownMemory
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 && l < mem {
		mem = l
	}
	return mem
})

// limitLog logs that a pipeline's shards refuse new series at the series
// limit: at most one line per throttle.Every, with the series refused since
// the previous line; likewise, on lines of their own, for the refusals of a
// full key pool and of full histograms. The shards only count
// (shard.RefusedSeriesLimit, shard.RefusedKeySpace,
// shard.RefusedHistogramSpace).
type limitLog struct {
	pipeline string
	log      *slog.Logger
	shards   []*shard.Shard
	limit    atomic.Int64 // the pipeline's MaxSeries; a reload changes it
	seen     uint64       // refusals at the last line
	th       throttle.Throttle
	keySeen  uint64 // refusals for key space at the last line of those
	keyTh    throttle.Throttle
	histSeen uint64 // likewise for histogram space
	histTh   throttle.Throttle
}

// check logs, if a line is due and refusals grew since the last one: at
// the series limit, and when a shard's key pool is full.
func (l *limitLog) check(now time.Time) {
	if !l.th.Due(now) && !l.keyTh.Due(now) && !l.histTh.Due(now) {
		return
	}
	var refused, keyRefused, histRefused, series uint64
	for _, s := range l.shards {
		st := s.Stats()
		refused += st.Refused[shard.RefusedSeriesLimit]
		keyRefused += st.Refused[shard.RefusedKeySpace]
		histRefused += st.Refused[shard.RefusedHistogramSpace]
		series += st.Series
	}
	if refused != l.seen && l.th.Due(now) {
		if ok, _ := l.th.Allow(now); ok {
			l.log.Warn("series limit reached: samples of new series refused", "pipeline", l.pipeline, "max_series", l.limit.Load(),
				"series", series, "refused", refused-l.seen, "refused_total", refused)
			l.seen = refused
		}
	}
	if keyRefused != l.keySeen && l.keyTh.Due(now) {
		if ok, _ := l.keyTh.Allow(now); ok {
			l.log.Warn("a shard's key pool is full: samples of new series with new names or dimension sets refused",
				"pipeline", l.pipeline, "series", series, "refused", keyRefused-l.keySeen, "refused_total", keyRefused)
			l.keySeen = keyRefused
		}
	}
	if histRefused != l.histSeen && l.histTh.Due(now) {
		if ok, _ := l.histTh.Allow(now); ok {
			l.log.Warn("a bucket's histograms are full (32 GiB in a shard): samples that would grow them refused",
				"pipeline", l.pipeline, "refused", histRefused-l.histSeen, "refused_total", histRefused)
			l.histSeen = histRefused
		}
	}
}

// run checks every second until stop is closed.
func (l *limitLog) run(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			l.check(time.Now())
			return
		case now := <-t.C:
			l.check(now)
		}
	}
}
