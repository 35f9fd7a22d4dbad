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
	// Shard configures aggregation: periods, statistics, limits.
	Shard shard.Config
	// Shards is the number of shards (default: the usable CPUs).
	Shards int
	// ShardCPUs pins shard i to ShardCPUs[i % len] when set.
	ShardCPUs []int
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
	for _, s := range c.Sources {
		s.EnsureDefaults()
	}
}

// reconfigurable reports whether the running shards can serve o, keeping
// their series and open buckets: the same number of shards on the same CPUs,
// and a shard configuration they can take in place (shard.Config.
// Reconfigurable: periods, statistics, limits). The ring size only sizes the
// lanes made from then on.
func (c *Config) reconfigurable(o *Config) bool {
	return c.Shards == o.Shards && slices.Equal(c.ShardCPUs, o.ShardCPUs) && c.Shard.Reconfigurable(&o.Shard)
}
