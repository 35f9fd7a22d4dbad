package pipeline

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/ring"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// aggregator is a pipeline's shards and emitter.
type aggregator struct {
	cfg         Config
	shards      []*shard.Shard
	emitter     *Emitter
	stopShards  chan struct{}
	shardsDone  sync.WaitGroup
	stopEmitter chan struct{}
	emitterDone chan struct{}
	limits      *limitLog
	limitsDone  chan struct{}
	// configs are the shard configurations the aggregator has had, with
	// distinct periods (Expiry takes the worst: a reconfiguration may
	// leave tables of the previous ones open).
	mu      sync.Mutex
	configs []shard.Config
}

// startAggregator starts the shards and the emitter of cfg, emitting to
// root.
func startAggregator(cfg Config, root sinks.Sink) (*aggregator, error) {
	a := &aggregator{cfg: cfg, stopShards: make(chan struct{}), stopEmitter: make(chan struct{}), emitterDone: make(chan struct{}),
		limitsDone: make(chan struct{})}
	for i := 0; i < cfg.Shards; i++ {
		s, err := shard.New(i, cfg.shardConfig(i))
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", cfg.Name, err)
		}
		a.shards = append(a.shards, s)
	}
	a.emitter = NewEmitter(a.shards, root)
	a.configs = []shard.Config{cfg.shardConfig(0)}
	for i, s := range a.shards {
		a.shardsDone.Add(1)
		go func() {
			defer a.shardsDone.Done()
			if len(cfg.ShardCPUs) > 0 {
				if err := affinity.Pin(cfg.ShardCPUs[i%len(cfg.ShardCPUs)]); err != nil {
					cfg.Log.Warn("shard not pinned", "pipeline", cfg.Name, "shard", i, "err", err)
				}
			} else {
				runtime.LockOSThread()
			}
			defer runtime.UnlockOSThread()
			s.Run(a.stopShards)
		}()
	}
	go func() {
		defer close(a.emitterDone)
		a.emitter.Run(a.stopEmitter)
	}()
	a.limits = &limitLog{pipeline: cfg.Name, log: cfg.Log, shards: a.shards}
	a.limits.limit.Store(int64(cfg.MaxSeries))
	go func() {
		defer close(a.limitsDone)
		a.limits.run(a.stopShards)
	}()
	return a, nil
}

// lanes makes n producers' rings to every shard, of size batches (0: the
// pipeline's RingSize), and attaches them (shards accept inputs while
// running); a ring to a shard is applied only after that shard's rings of
// after, which the producers are moving from (shard.Shard.AttachAfter).
func (a *aggregator) lanes(n, size int, hosted bool, after []ingest.Lanes) []ingest.Lanes {
	if size <= 0 {
		size = a.cfg.RingSize
	}
	ls := make([]ingest.Lanes, n)
	for i := range ls {
		ls[i] = ingest.NewLanes(len(a.shards), size)
		ls[i].Progress = a
		ls[i].Epochs = make([]*atomic.Uint32, len(a.shards))
		if hosted {
			ls[i].Step = make([]func() bool, len(a.shards))
		}
		for j, s := range a.shards {
			ls[i].Epochs[j] = s.Epoch()
			var prev []*ring.SPSC[*sample.Batch]
			for _, l := range after {
				prev = append(prev, l.To[j])
			}
			// A hosted producer applies its own batches (Lanes.Step): its
			// pushes need not wake the shard.
			s.AttachAfter(ls[i].To[j], ls[i].Back[j], hosted, prev)
			if hosted {
				ls[i].Step[j] = s.Step
			}
		}
	}
	return ls
}

// SealedThrough is the least of the shards' SealedThrough (ingest.Progress).
func (a *aggregator) SealedThrough() int64 {
	w := int64(math.MaxInt64)
	for _, s := range a.shards {
		w = min(w, s.SealedThrough())
	}
	return w
}

// EmittedThrough is the emitter's (ingest.Progress).
func (a *aggregator) EmittedThrough() int64 { return a.emitter.EmittedThrough() }

// Expiry bounds the expiration of the buckets of a sample of time t applied
// at or before applied, under the configuration the shards have now or
// will have after a reconfiguration in progress (ingest.Progress).
func (a *aggregator) Expiry(applied, t int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := int64(math.MinInt64)
	for _, c := range a.configs {
		e = max(e, c.Expiry(applied, t))
	}
	return e
}

// lanesFor makes and attaches the lanes a source configuration asks for:
// hosted ones (producers that run the shards' rounds, Config.Inline) if the
// pipeline runs inline and the source's producers call Step
// (ingest.Stepper); applied after the lanes after (the source's before a
// retarget to the same shards; nil for a new source or new shards).
func (a *aggregator) lanesFor(c ingest.SourceConfig, after []ingest.Lanes) []ingest.Lanes {
	n, size := c.Lanes()
	st, ok := c.(ingest.Stepper)
	return a.lanes(n, size, a.cfg.inline() && ok && st.Steps(), after)
}

// detach removes a source's rings once the shards have applied everything
// in them; the source must have stopped publishing to them.
func (a *aggregator) detach(ls []ingest.Lanes) error {
	var errs []error
	for _, l := range ls {
		for j, s := range a.shards {
			errs = append(errs, s.Detach(l.To[j]))
		}
	}
	return errors.Join(errs...)
}

// running is a source the pipeline runs: its configuration, the source and
// the lanes it writes to.
type running struct {
	cfg   ingest.SourceConfig
	src   ingest.Source
	lanes []ingest.Lanes
}

// open opens sources over new lanes of a, in order; on error it stops and
// detaches what it opened.
func (a *aggregator) open(cfgs []ingest.SourceConfig) ([]*running, error) {
	var out []*running
	for _, c := range cfgs {
		ls := a.lanesFor(c, nil)
		src, err := c.Open(ls)
		if err != nil {
			a.detach(ls)
			for _, r := range out {
				r.src.Stop()
				a.detach(r.lanes)
			}
			return nil, fmt.Errorf("pipeline %s: %w", a.cfg.Name, err)
		}
		out = append(out, &running{cfg: c, src: src, lanes: ls})
	}
	return out, nil
}

// reconfigure reconfigures every shard to its configuration of cfg at once
// (shard.Reconfigure), so that all of them cut what they cut within the
// same tick or two.
func (a *aggregator) reconfigure(cfg *Config) error {
	errs := make([]error, len(a.shards))
	var wg sync.WaitGroup
	for i, s := range a.shards {
		wg.Go(func() { errs[i] = s.Reconfigure(cfg.shardConfig(i)) })
	}
	wg.Wait()
	a.limits.limit.Store(int64(cfg.MaxSeries))
	a.mu.Lock()
	sc := cfg.shardConfig(0)
	if !slices.ContainsFunc(a.configs, func(c shard.Config) bool {
		return slices.Equal(c.Periods, sc.Periods) && c.Granularity == sc.Granularity
	}) {
		a.configs = append(a.configs, sc)
	}
	a.mu.Unlock()
	return errors.Join(errs...)
}

// stop drains the shards (their producers must have stopped or moved),
// seals every open bucket, and emits everything. It does not close the
// sinks.
func (a *aggregator) stop() {
	close(a.stopShards)
	a.shardsDone.Wait()
	<-a.limitsDone
	close(a.stopEmitter)
	<-a.emitterDone
}
