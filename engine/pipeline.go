package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// PipelineConfig is one pipeline: sources, aggregation, sinks (MAD's
// pipeline file, as Go values; file loading builds one of these).
type PipelineConfig struct {
	Name string
	// Shard configures aggregation: periods, statistics, limits.
	Shard shard.Config
	// Shards is the number of shards (default: the usable CPUs).
	Shards int
	// ShardCPUs pins shard i to ShardCPUs[i % len] when set.
	ShardCPUs []int
	// RingSize is the capacity, in batches, of each ring between a loop
	// and a shard (default 256).
	RingSize int
	UDP      []ingest.UDPConfig
	TCP      []ingest.TCPConfig
	// Sinks receive every closed bucket, in order (the pipeline's root
	// MultiSink).
	Sinks []sinks.Sink
	Log   *slog.Logger
}

// Pipeline is a running pipeline.
type Pipeline struct {
	cfg     PipelineConfig
	shards  []*shard.Shard
	udp     []*ingest.UDPSource
	tcp     []*ingest.TCPSource
	root    *sinks.MultiSink
	emitter *Emitter

	stopShards  chan struct{}
	shardsDone  sync.WaitGroup
	stopEmitter chan struct{}
	emitterDone chan struct{}
	stopOnce    sync.Once
	stopErr     error
}

// StartPipeline builds and starts a pipeline. On error nothing keeps
// running.
func StartPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Shards <= 0 {
		cfg.Shards = affinity.Usable()
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = 256
	}
	cfg.Shard.EnsureDefaults()
	p := &Pipeline{
		cfg:         cfg,
		root:        &sinks.MultiSink{Name: cfg.Name, Sinks: cfg.Sinks},
		stopShards:  make(chan struct{}),
		stopEmitter: make(chan struct{}),
		emitterDone: make(chan struct{}),
	}
	for i := 0; i < cfg.Shards; i++ {
		s, err := shard.New(i, cfg.Shard)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", cfg.Name, err)
		}
		p.shards = append(p.shards, s)
	}
	// Every loop gets its own lanes to every shard; attach before any
	// shard runs.
	lanes := func(loops int) []ingest.Lanes {
		ls := make([]ingest.Lanes, loops)
		for i := range ls {
			ls[i] = ingest.NewLanes(len(p.shards), cfg.RingSize)
			for j, s := range p.shards {
				s.Attach(ls[i].To[j], ls[i].Back[j])
			}
		}
		return ls
	}
	type udpPlan struct {
		cfg   ingest.UDPConfig
		lanes []ingest.Lanes
	}
	var udps []udpPlan
	for _, u := range cfg.UDP {
		if u.Loops <= 0 {
			u.Loops = 1
		}
		u.Log = cfg.Log
		udps = append(udps, udpPlan{u, lanes(u.Loops)})
	}
	type tcpPlan struct {
		cfg   ingest.TCPConfig
		lanes []ingest.Lanes
	}
	var tcps []tcpPlan
	for _, t := range cfg.TCP {
		if t.Loops <= 0 {
			t.Loops = 1
		}
		t.Log = cfg.Log
		tcps = append(tcps, tcpPlan{t, lanes(t.Loops)})
	}
	p.emitter = NewEmitter(p.shards, cfg.Shard.Periods, p.root)
	for i, s := range p.shards {
		p.shardsDone.Add(1)
		go func() {
			defer p.shardsDone.Done()
			if len(cfg.ShardCPUs) > 0 {
				if err := affinity.Pin(cfg.ShardCPUs[i%len(cfg.ShardCPUs)]); err != nil {
					cfg.Log.Warn("shard not pinned", "pipeline", cfg.Name, "shard", i, "err", err)
				}
			} else {
				runtime.LockOSThread()
			}
			defer runtime.UnlockOSThread()
			s.Run(p.stopShards)
		}()
	}
	go func() {
		defer close(p.emitterDone)
		p.emitter.Run(p.stopEmitter)
	}()
	// Bind every socket; on any failure undo what started.
	for _, u := range udps {
		src, err := ingest.ListenUDP(u.cfg, u.lanes)
		if err != nil {
			p.Stop()
			return nil, fmt.Errorf("pipeline %s: %w", cfg.Name, err)
		}
		p.udp = append(p.udp, src)
	}
	for _, t := range tcps {
		src, err := ingest.ListenTCP(t.cfg, t.lanes)
		if err != nil {
			p.Stop()
			return nil, fmt.Errorf("pipeline %s: %w", cfg.Name, err)
		}
		p.tcp = append(p.tcp, src)
	}
	for _, u := range p.udp {
		u.Start()
	}
	return p, nil
}

// Stop stops the sources (what they read is published), lets the shards
// drain their inputs and seal every open bucket, emits everything, and
// closes the sinks: nothing accepted is lost. Safe to call more than once.
func (p *Pipeline) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		for _, u := range p.udp {
			u.Stop()
		}
		for _, t := range p.tcp {
			errs = append(errs, t.Stop())
		}
		close(p.stopShards)
		p.shardsDone.Wait()
		close(p.stopEmitter)
		<-p.emitterDone
		errs = append(errs, p.root.Close())
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.cfg.Name }

// UDP returns the pipeline's UDP sources.
func (p *Pipeline) UDP() []*ingest.UDPSource { return p.udp }

// TCP returns the pipeline's TCP sources.
func (p *Pipeline) TCP() []*ingest.TCPSource { return p.tcp }

// Shards returns the pipeline's shards.
func (p *Pipeline) Shards() []*shard.Shard { return p.shards }

// Emitter returns the pipeline's emitter.
func (p *Pipeline) Emitter() *Emitter { return p.emitter }

// Sinks returns the pipeline's top-level sinks.
func (p *Pipeline) Sinks() []sinks.Sink { return p.cfg.Sinks }
