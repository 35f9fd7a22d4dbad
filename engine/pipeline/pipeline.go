package pipeline

import (
	"errors"
	"sync"

	"github.com/gomad/mad/ingest"
	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
)

// Pipeline is a running pipeline: sources feeding an aggregator (shards and
// their emitter) whose closed buckets go to a sink tree. Update changes it
// in place without losing anything.
type Pipeline struct {
	mu      sync.Mutex // held by Update and Stop (control plane)
	cfg     Config
	agg     *aggregator
	sources []*running // in the order of cfg.Sources
	stopped bool
	stopErr error
	// retired holds the last counts of what reloads retired (sinks, shards
	// and the emitter of a replaced aggregator, stopped sources): Report
	// adds them to the counters that took their place, or reports them
	// alone, so that what a component counted up to its end (a sink's
	// drops at its close among them) is not lost from /metrics, and a
	// counter does not go back.
	retired sm.Carry
}

// Start builds and starts a pipeline. On error nothing keeps running (the
// sinks are not closed).
func Start(cfg Config) (*Pipeline, error) {
	cfg.EnsureDefaults()
	root := &sinks.MultiSink{Name: cfg.Name, Sinks: cfg.Sinks}
	agg, err := startAggregator(cfg, root)
	if err != nil {
		return nil, err
	}
	rs, err := agg.open(cfg.Sources)
	if err != nil {
		agg.stop()
		return nil, err
	}
	for _, r := range rs {
		r.src.Start()
	}
	return &Pipeline{cfg: cfg, agg: agg, sources: rs}, nil
}

// Stop stops the sources (what they read is published), lets the shards
// drain their inputs and seal every open bucket, emits everything, and
// closes the sinks: nothing accepted is lost. Safe to call more than once.
func (p *Pipeline) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return p.stopErr
	}
	p.stopped = true
	var errs []error
	for _, r := range p.sources {
		errs = append(errs, r.src.Stop())
	}
	p.agg.stop()
	errs = append(errs, p.agg.emitter.Sink().Close())
	// Everything was emitted and the sinks closed: sources that acknowledge
	// only what was emitted (Kafka's offsets) acknowledge the rest.
	for _, r := range p.sources {
		if f, ok := r.src.(ingest.Finisher); ok {
			errs = append(errs, f.Finish())
		}
	}
	p.stopErr = errors.Join(errs...)
	return p.stopErr
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.Name
}

// Sources returns the running sources, in the order of the configuration.
func (p *Pipeline) Sources() []ingest.Source {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ingest.Source, len(p.sources))
	for i, r := range p.sources {
		out[i] = r.src
	}
	return out
}

// SourcesOf returns the running sources of type T (*ingest.UDPSource,
// *ingest.HTTPSource, …).
func SourcesOf[T ingest.Source](p *Pipeline) []T {
	var out []T
	for _, s := range p.Sources() {
		if t, ok := s.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Shards returns the pipeline's shards.
func (p *Pipeline) Shards() []*shard.Shard {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.agg.shards
}

// Emitter returns the pipeline's emitter.
func (p *Pipeline) Emitter() *Emitter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.agg.emitter
}

// Sinks returns the pipeline's top-level sinks.
func (p *Pipeline) Sinks() []sinks.Sink {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.Sinks
}
