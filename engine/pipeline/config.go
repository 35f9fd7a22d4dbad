package pipeline

import (
	"log/slog"
	"slices"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// Config is one pipeline: sources, aggregation, sinks (MAD's pipeline file,
// as Go values).
type Config struct {
	Name string
	// Shard configures aggregation: periods, statistics, limits. Its
	// MaxSeries is not used: each shard's is its share of MaxSeries.
	Shard shard.Config
	// MaxSeries bounds the series the pipeline tracks (mad's `maxSeries`):
	// shard i takes MaxSeries/Shards of them (the first MaxSeries%Shards one
	// more; at least 1, at most shard.MaxSeriesLimit) and refuses samples of
	// new series past its share, counted
	// (mad_shard_refused_total{reason="series_limit"}) and logged (at most
	// once per throttle.Every). Series are routed by hash, so the shards fill
	// evenly. 0 means DefaultMaxSeries. Update applies a new limit in place.
	MaxSeries int
	// Shards is the number of shards (default: the usable CPUs).
	Shards int
	// ShardCPUs pins shard i to ShardCPUs[i % len] when set.
	ShardCPUs []int
	// Inline says whether producers run the shards' rounds themselves
	// after publishing (run to completion; see ingest.Lanes.Step). The
	// default, InlineAuto, does so when a single CPU is usable: there the
	// shards' threads would only take turns with the loops' on that CPU,
	// each switch costing more than the round it runs.
	Inline InlineMode
	// RingSize is the capacity, in batches, of each ring between a source's
	// producer and a shard, unless the source asks for another (default
	// 256).
	RingSize int
	// Sources feed the shards; HTTP sources are served by the daemon's
	// routes.
	Sources []ingest.SourceConfig
	// Sinks receive every closed bucket, in order (the pipeline's root
	// MultiSink).
	Sinks []sinks.Sink
	// Log receives the pipeline's warnings (default slog.Default()).
	Log *slog.Logger
}

// InlineMode is Config.Inline.
type InlineMode uint8

const (
	// InlineAuto: inline when affinity.Usable() is 1.
	InlineAuto InlineMode = iota
	// InlineOn: always (tests; a loop and shards pinned to one CPU).
	InlineOn
	// InlineOff: never; each shard's own thread applies every batch.
	InlineOff
)

// inline reports whether producers run the shards' rounds (Config.Inline).
func (c *Config) inline() bool {
	return c.Inline == InlineOn || c.Inline == InlineAuto && affinity.Usable() == 1
}

// EnsureDefaults fills in every unset option, the sources' included.
func (c *Config) EnsureDefaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Shards <= 0 {
		c.Shards = affinity.Usable()
	}
	if c.RingSize <= 0 {
		c.RingSize = 256
	}
	c.Shard.EnsureDefaults()
	if c.MaxSeries <= 0 {
		c.MaxSeries = DefaultMaxSeries(len(c.Shard.Periods))
	}
	c.MaxSeries = min(c.MaxSeries, MaxPipelineSeries)
	for _, s := range c.Sources {
		s.EnsureDefaults()
	}
}

// shardConfig returns shard i's configuration: Shard with its share of
// MaxSeries (after EnsureDefaults).
func (c *Config) shardConfig(i int) shard.Config {
	sc := c.Shard
	share := c.MaxSeries / c.Shards
	if i < c.MaxSeries%c.Shards {
		share++
	}
	sc.MaxSeries = min(max(share, 1), shard.MaxSeriesLimit)
	return sc
}

// shardsEqual reports whether o configures the shards as c does.
func (c *Config) shardsEqual(o *Config) bool {
	return c.Shard.Equal(&o.Shard) && c.MaxSeries == o.MaxSeries
}

// reconfigurable reports whether the running shards can serve o, keeping
// their series and open buckets: the same number of shards on the same CPUs,
// and a shard configuration they can take in place (shard.Config.
// Reconfigurable: periods, statistics, limits). The ring size only sizes the
// lanes made from then on.
func (c *Config) reconfigurable(o *Config) bool {
	return c.Shards == o.Shards && slices.Equal(c.ShardCPUs, o.ShardCPUs) && c.Shard.Reconfigurable(&o.Shard)
}
