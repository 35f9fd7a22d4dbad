package shard

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/gomad/mad/hist"
)

// Config is what a shard needs of a pipeline. The zero value, after
// EnsureDefaults, is MAD's default pipeline: periods PT1S and PT1M, MAD's
// default statistics per metric type, no overrides, idle timeout PT5M.
type Config struct {
	// Periods are the bucket lengths (MAD's `periods`). Each must be a
	// positive whole number of milliseconds; MAD buckets by epoch
	// milliseconds and so ignores finer precision.
	Periods []time.Duration

	// CounterStatistics, GaugeStatistics and TimerStatistics are the
	// statistics specified per metric type (MAD's counterStatistics, …).
	CounterStatistics hist.Set
	GaugeStatistics   hist.Set
	TimerStatistics   hist.Set

	// Overrides is MAD's `statistics` map in config order: a metric whose
	// name the pattern matches entirely (Java's matcher.matches()) gets the
	// override's statistics regardless of its type; the first match wins.
	Overrides []Override

	// IdleTimeout: a series that has had no new bucket for this long, and
	// has no open bucket, is forgotten (its memory is reused). This never
	// loses data, unlike MAD's idle reaping, which can cut a period longer
	// than the timeout.
	IdleTimeout time.Duration

	// Granularity is the resolution of bucket expirations: an expiration is
	// rounded up to a multiple of it, so that buckets that would expire
	// within the same Granularity share one table. MAD never closes a
	// bucket sooner than 100 ms after its previous check, so its closes are
	// no finer than this default of 100 ms either. For on-time data with
	// periods that are multiples of 200 ms the rounding changes nothing.
	Granularity time.Duration

	// MaxSeries bounds the number of series the shard tracks; samples of new
	// series beyond it are refused and counted (RefusedSeriesLimit). 0 means
	// MaxSeriesLimit, the most a table row reference can address. A
	// pipeline sets it to its share of the pipeline's limit (engine/pipeline,
	// Config.MaxSeries). Lowered below the series a running shard tracks
	// (Reconfigure), it refuses new series until idle ones are forgotten.
	MaxSeries int

	// KeyPoolChunks caps the chunks of the pool the series' key parts
	// are interned in; 0 (or more than its ids address) means what they
	// address: 2^14 chunks of at most 2 MiB, about 32 GiB. Past it new
	// series with new names or dimension sets are refused, counted as
	// RefusedKeySpace. For tests and experiments; a reconfiguration
	// applies it to the chunks made from then on.
	KeyPoolChunks int

	// HistChunks caps the chunks of each table's histograms (0: what a
	// histogram handle addresses, 2^16 chunks of 512 KiB); past it
	// samples that would update a histogram of the table are refused,
	// counted as RefusedHistogramSpace. For tests and experiments; tables
	// opened after a reconfiguration take it.
	HistChunks int

	// OutputQueue is the capacity of the ring of sealed snapshots to the
	// emitter; PendingLimit is how many more the shard holds while that ring
	// is full before it drops the oldest (counted).
	OutputQueue  int
	PendingLimit int
}

// Override is one entry of MAD's `statistics` map.
type Override struct {
	// Pattern is a regular expression (RE2 syntax) that must match the whole
	// metric name.
	Pattern string
	Stats   hist.Set
}

// MAD's defaults (MAD-SPEC §2).
var (
	DefaultPeriods           = []time.Duration{time.Second, time.Minute}
	DefaultTimerStatistics   = hist.SetOf(hist.Median, hist.TP90, hist.TP99, hist.Mean, hist.Count)
	DefaultCounterStatistics = hist.SetOf(hist.Mean, hist.Sum, hist.Count)
	DefaultGaugeStatistics   = hist.SetOf(hist.Min, hist.Max, hist.Mean)
)

// MaxSeriesLimit is the largest MaxSeries: what a table row reference can
// address.
const MaxSeriesLimit = hist.MaxRows

const maxRowsPerTable = hist.MaxRows

// EnsureDefaults fills unset fields with MAD's defaults.
func (c *Config) EnsureDefaults() {
	if len(c.Periods) == 0 {
		c.Periods = DefaultPeriods
	}
	if c.CounterStatistics == 0 {
		c.CounterStatistics = DefaultCounterStatistics
	}
	if c.GaugeStatistics == 0 {
		c.GaugeStatistics = DefaultGaugeStatistics
	}
	if c.TimerStatistics == 0 {
		c.TimerStatistics = DefaultTimerStatistics
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.Granularity == 0 {
		c.Granularity = 100 * time.Millisecond
	}
	if c.MaxSeries == 0 {
		c.MaxSeries = maxRowsPerTable
	}
	if c.OutputQueue == 0 {
		c.OutputQueue = 1024
	}
	if c.PendingLimit == 0 {
		c.PendingLimit = 4096
	}
}

// Equal reports whether c and o configure a shard identically (field by
// field; periods and overrides in order), so that running shards can serve
// o: a pipeline keeps its open buckets across a reload when they are.
func (c *Config) Equal(o *Config) bool {
	return slices.Equal(c.Periods, o.Periods) && c.CounterStatistics == o.CounterStatistics &&
		c.GaugeStatistics == o.GaugeStatistics && c.TimerStatistics == o.TimerStatistics &&
		slices.Equal(c.Overrides, o.Overrides) && c.IdleTimeout == o.IdleTimeout && c.Granularity == o.Granularity &&
		c.MaxSeries == o.MaxSeries && c.OutputQueue == o.OutputQueue && c.PendingLimit == o.PendingLimit &&
		c.KeyPoolChunks == o.KeyPoolChunks && c.HistChunks == o.HistChunks
}

// Reconfigurable reports whether a running shard configured by c can take o
// in place (Shard.Reconfigure), keeping its series and the open buckets that
// o still aggregates: o may change the periods, the statistics (per type and
// per override), the idle timeout, the granularity and the limits, but not
// the overrides' patterns (they decide which series share rows) nor the
// output queue's capacity. Both have had EnsureDefaults.
func (c *Config) Reconfigurable(o *Config) bool {
	return c.OutputQueue == o.OutputQueue && slices.EqualFunc(c.Overrides, o.Overrides, func(a, b Override) bool { return a.Pattern == b.Pattern })
}

// Validate reports the first problem with c (after EnsureDefaults).
func (c *Config) Validate() error {
	seen := map[time.Duration]bool{}
	for _, p := range c.Periods {
		if p < time.Millisecond || p%time.Millisecond != 0 {
			return fmt.Errorf("period %v: must be a positive whole number of milliseconds", p)
		}
		if seen[p] {
			return fmt.Errorf("period %v listed twice", p)
		}
		seen[p] = true
	}
	if len(c.Periods) > 255 {
		return fmt.Errorf("%d periods: at most 255", len(c.Periods))
	}
	for _, o := range c.Overrides {
		if _, err := compileFull(o.Pattern); err != nil {
			return err
		}
		if o.Stats == 0 {
			return fmt.Errorf("statistics override %q: empty statistics set", o.Pattern)
		}
	}
	if c.CounterStatistics == 0 || c.GaugeStatistics == 0 || c.TimerStatistics == 0 {
		return fmt.Errorf("per-type statistics sets must not be empty")
	}
	if c.IdleTimeout < 0 || c.Granularity < time.Millisecond || c.Granularity%time.Millisecond != 0 {
		return fmt.Errorf("idle timeout must be >= 0 and granularity a positive whole number of milliseconds")
	}
	if c.MaxSeries < 0 || c.MaxSeries > maxRowsPerTable {
		return fmt.Errorf("max series %d: must be in [0, %d]", c.MaxSeries, maxRowsPerTable)
	}
	if len(c.Overrides) > 1<<15 {
		return fmt.Errorf("%d statistics overrides: too many", len(c.Overrides))
	}
	return nil
}

// compileFull compiles pattern so that it must match a whole name.
func compileFull(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("statistics override %q: %w", pattern, err)
	}
	return re, nil
}

// Timeout returns MAD's period timeout: half the period, at least 1 s and at
// most 10 min (PeriodWorker.getPeriodTimeout), in milliseconds.
func Timeout(period time.Duration) int64 {
	return min(max(period.Milliseconds()/2, 1000), 600_000)
}

// BucketStart returns MAD's bucket start for a record time, both in
// milliseconds since the epoch: t - t % period, with Java's truncated
// remainder (so starts are anchored at 1970-01-01T00:00Z).
func BucketStart(t, periodMs int64) int64 { return t - t%periodMs }
