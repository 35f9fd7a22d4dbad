package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/gomad/mad/ingest"
	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/sinks"
)

// Update changes a running pipeline to cfg without losing anything and
// without closing a socket whose address did not change:
//
//   - sinks: the new sink tree is swapped in between two emissions; the old
//     one is flushed and closed;
//   - aggregation: if the shard layout (number, CPUs) and the statistics
//     overrides' patterns are unchanged, the running shards keep
//     aggregating and take the new periods, statistics and limits (the
//     series limit among them) in place
//     (shard.Shard.Reconfigure): the open buckets of the periods that stay
//     carry on, so each is emitted once with everything it received; those
//     of a removed period are sealed, and an added period starts empty. (If
//     the new statistics need an accumulator the open buckets did not keep,
//     they are sealed too, and a bucket open across the reload is emitted
//     in two parts.) Otherwise new shards start beside the old ones,
//     traffic moves to them, and the old ones seal and emit every open
//     bucket to the old sinks before those are closed: a bucket open across
//     the reload is then emitted in two parts, one by each;
//   - sources, matched by key (ingest.SourceConfig.SourceKey): a running
//     source that can take its new configuration in place keeps its sockets
//     and is re-pointed to the new shards (decoder options, limits and the
//     like may change); new keys are opened before anything changes, so a
//     bind failure leaves the pipeline as it was; sources that are gone stop
//     after publishing what they read; a key whose source must be replaced
//     (another shape) is opened again once its old source stopped.
//
// An error refuses the change: nothing changed (the new sinks are not
// closed), unless it is an *AppliedError: the pipeline runs the new
// configuration, its new sinks among it, and the error reports what went
// wrong on the way (an old source's stop, the old sinks' close, a source
// that could not be opened again).
func (p *Pipeline) Update(cfg Config) error {
	cfg.EnsureDefaults()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("pipeline " + p.cfg.Name + " is stopped")
	}
	root := &sinks.MultiSink{Name: cfg.Name, Sinks: cfg.Sinks}
	keep := p.cfg.reconfigurable(&cfg)
	agg := p.agg
	if !keep {
		var err error
		if agg, err = startAggregator(cfg, root); err != nil {
			return err
		}
	} else if err := cfg.Shard.Validate(); err != nil {
		return fmt.Errorf("pipeline %s: %w", cfg.Name, err)
	}

	// Match the new configuration to the running sources, by the key
	// each was configured with or the one it occupies (a port 0 bound).
	gone := slices.Clone(p.sources) // what is left at the end stops
	holding := func(k string) int {
		return slices.IndexFunc(gone, func(r *running) bool { return r.cfg.SourceKey() == k || r.src.Key() == k })
	}
	type retarget struct {
		r   *running
		cfg ingest.SourceConfig
	}
	var kept []retarget
	var added, later []ingest.SourceConfig
	for _, c := range cfg.Sources {
		i := holding(c.SourceKey())
		switch {
		case i >= 0 && gone[i].src.Retargetable(c):
			kept = append(kept, retarget{gone[i], c})
			gone = slices.Delete(gone, i, i+1)
		case i >= 0:
			later = append(later, c) // its key is free once the old source stops
		default:
			added = append(added, c)
		}
	}

	// Open what is new first: a failure here changes nothing.
	opened, err := agg.open(added)
	if err != nil {
		if !keep {
			agg.stop()
		}
		return err
	}

	// Commit. Kept shards take the new configuration first; kept sources
	// move to the new lanes: everything they read before is in the old
	// lanes, which the old shards drain.
	var errs []error
	if keep {
		if !p.cfg.shardsEqual(&cfg) {
			errs = append(errs, agg.reconfigure(&cfg))
		}
		agg.cfg = cfg
	}
	for _, k := range kept {
		// On the same shards, the new lanes wait for what the old ones
		// still hold: the source's samples are applied in order.
		var after []ingest.Lanes
		if keep {
			after = k.r.lanes
		}
		ls := agg.lanesFor(k.cfg, after)
		if err := k.r.src.Retarget(k.cfg, ls); err != nil {
			// Cannot happen with a running, retargetable source; keep it
			// on its old lanes rather than lose it.
			errs = append(errs, err, agg.detach(ls))
			continue
		}
		errs = append(errs, p.agg.detach(k.r.lanes))
		k.r.cfg, k.r.lanes = k.cfg, ls
	}
	for _, r := range opened {
		r.src.Start()
	}
	for _, r := range gone {
		errs = append(errs, r.src.Stop(), p.agg.detach(r.lanes))
		p.retired.Retire(r.src.Report)
	}
	if len(later) > 0 {
		rs, err := agg.open(later)
		if err != nil {
			// The old sources are gone; report, keep what runs.
			errs = append(errs, err)
		}
		for _, r := range rs {
			r.src.Start()
		}
		opened = append(opened, rs...)
	}

	oldRoot := p.agg.emitter.Sink()
	if keep {
		p.agg.emitter.SetSink(root)
	} else {
		p.agg.stop()
		old := p.agg
		p.retired.Retire(func(emit func(sm.Value)) {
			for _, s := range old.shards {
				st := s.Stats()
				reportShard(emit, strconv.Itoa(s.ID()), &st)
			}
			reportEmitter(emit, old.emitter)
		})
	}
	errs = append(errs, oldRoot.Close())
	for _, s := range p.cfg.Sinks { // the old configuration's, closed
		p.retired.Retire(func(emit func(sm.Value)) { reportSinks(emit, s) })
	}
	// Sources that acknowledge only what was emitted (Kafka's offsets)
	// acknowledge what they left once it is, within their own bound.
	for _, r := range gone {
		if f, ok := r.src.(ingest.Finisher); ok {
			go f.Finish()
		}
	}

	// The running sources, in the configuration's order.
	byCfg := map[ingest.SourceConfig]*running{}
	for _, k := range kept {
		byCfg[k.cfg] = k.r
	}
	for _, r := range opened {
		byCfg[r.cfg] = r
	}
	p.sources = p.sources[:0:0]
	for _, c := range cfg.Sources {
		if r := byCfg[c]; r != nil { // nil: a key opened later that failed
			p.sources = append(p.sources, r)
		}
	}
	p.cfg, p.agg = cfg, agg
	if err := errors.Join(errs...); err != nil {
		return &AppliedError{Err: err}
	}
	return nil
}

// AppliedError is what Update returns when it applied the new
// configuration and something failed on the way: the caller must not
// treat the change as refused (the new sinks run).
type AppliedError struct{ Err error }

func (e *AppliedError) Error() string { return e.Err.Error() }
func (e *AppliedError) Unwrap() error { return e.Err }
