package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
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
	// HTTP are MAD's HTTP sources; the daemon routes their paths to them.
	HTTP []ingest.HTTPConfig
	// Sinks receive every closed bucket, in order (the pipeline's root
	// MultiSink).
	Sinks []sinks.Sink
	Log   *slog.Logger
}

func (c *PipelineConfig) ensureDefaults() {
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
	for i := range c.UDP {
		c.UDP[i].Loops = max(1, c.UDP[i].Loops)
		c.UDP[i].Log = c.Log
	}
	for i := range c.TCP {
		c.TCP[i].Loops = max(1, c.TCP[i].Loops)
		c.TCP[i].Log = c.Log
	}
	for i := range c.HTTP {
		c.HTTP[i].Slots = max(2, c.HTTP[i].Slots)
		c.HTTP[i].Log = c.Log
	}
}

// Pipeline is a running pipeline: sources feeding an aggregator (shards and
// their emitter) whose closed buckets go to a sink tree. Update changes it
// in place without losing anything.
type Pipeline struct {
	mu      sync.Mutex // held by Update and Stop (control plane)
	cfg     PipelineConfig
	agg     *aggregator
	udp     []*udpSource
	tcp     []*tcpSource
	http    []*httpSource
	stopped bool
	stopErr error
}

type udpSource struct {
	cfg   ingest.UDPConfig
	src   *ingest.UDPSource
	lanes []ingest.Lanes
}

type tcpSource struct {
	cfg   ingest.TCPConfig
	src   *ingest.TCPSource
	lanes []ingest.Lanes
}

type httpSource struct {
	cfg   ingest.HTTPConfig
	src   *ingest.HTTPSource
	lanes []ingest.Lanes
}

// startHTTP makes the HTTP sources of cfgs over lanes of agg.
func startHTTP(agg *aggregator, cfgs []ingest.HTTPConfig) ([]*httpSource, error) {
	var out []*httpSource
	for _, c := range cfgs {
		ls := agg.lanesOf(c.Slots, httpRingSize)
		src, err := ingest.NewHTTPSource(c, ls)
		if err != nil {
			agg.detach(ls)
			for _, h := range out {
				h.src.Stop()
				agg.detach(h.lanes)
			}
			return nil, err
		}
		out = append(out, &httpSource{cfg: c, src: src, lanes: ls})
	}
	return out, nil
}

// aggregator is a pipeline's shards and emitter.
type aggregator struct {
	cfg         PipelineConfig
	shards      []*shard.Shard
	emitter     *Emitter
	stopShards  chan struct{}
	shardsDone  sync.WaitGroup
	stopEmitter chan struct{}
	emitterDone chan struct{}
}

// startAggregator starts the shards and the emitter of cfg, emitting to
// root.
func startAggregator(cfg PipelineConfig, root sinks.Sink) (*aggregator, error) {
	a := &aggregator{cfg: cfg, stopShards: make(chan struct{}), stopEmitter: make(chan struct{}), emitterDone: make(chan struct{})}
	for i := 0; i < cfg.Shards; i++ {
		s, err := shard.New(i, cfg.Shard)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", cfg.Name, err)
		}
		a.shards = append(a.shards, s)
	}
	a.emitter = NewEmitter(a.shards, cfg.Shard.Periods, root)
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
	return a, nil
}

// lanes makes the rings of a source with the given number of loops to every
// shard and attaches them (shards accept inputs while running).
func (a *aggregator) lanes(loops int) []ingest.Lanes { return a.lanesOf(loops, a.cfg.RingSize) }

// httpRingSize is the capacity of the rings of an HTTP source's slots: each
// request is one batch per shard, of any size, so the rings hold few, and a
// request that finds them full waits (and is refused past the deadline)
// instead of piling up memory.
const httpRingSize = 2

func (a *aggregator) lanesOf(loops, size int) []ingest.Lanes {
	ls := make([]ingest.Lanes, loops)
	for i := range ls {
		ls[i] = ingest.NewLanes(len(a.shards), size)
		for j, s := range a.shards {
			s.Attach(ls[i].To[j], ls[i].Back[j])
		}
	}
	return ls
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

// stop drains the shards (their producers must have stopped or moved),
// seals every open bucket, and emits everything. It does not close the
// sinks.
func (a *aggregator) stop() {
	close(a.stopShards)
	a.shardsDone.Wait()
	close(a.stopEmitter)
	<-a.emitterDone
}

// StartPipeline builds and starts a pipeline. On error nothing keeps
// running (the sinks are not closed).
func StartPipeline(cfg PipelineConfig) (*Pipeline, error) {
	cfg.ensureDefaults()
	root := &sinks.MultiSink{Name: cfg.Name, Sinks: cfg.Sinks}
	agg, err := startAggregator(cfg, root)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, agg: agg}
	udp, tcp, err := p.bind(agg, cfg.UDP, cfg.TCP)
	if err != nil {
		agg.stop()
		return nil, err
	}
	hs, err := startHTTP(agg, cfg.HTTP)
	if err != nil {
		for _, u := range udp {
			u.src.Stop()
		}
		for _, t := range tcp {
			t.src.Stop()
		}
		agg.stop()
		return nil, err
	}
	p.udp, p.tcp, p.http = udp, tcp, hs
	for _, u := range udp {
		u.src.Start()
	}
	return p, nil
}

// bind binds new sources over lanes of agg; on error it undoes what it
// bound.
func (p *Pipeline) bind(agg *aggregator, udps []ingest.UDPConfig, tcps []ingest.TCPConfig) ([]*udpSource, []*tcpSource, error) {
	var us []*udpSource
	var ts []*tcpSource
	undo := func() {
		for _, u := range us {
			u.src.Stop()
			agg.detach(u.lanes)
		}
		for _, t := range ts {
			t.src.Stop()
			agg.detach(t.lanes)
		}
	}
	for _, c := range udps {
		ls := agg.lanes(c.Loops)
		src, err := ingest.ListenUDP(c, ls)
		if err != nil {
			agg.detach(ls)
			undo()
			return nil, nil, fmt.Errorf("pipeline %s: %w", agg.cfg.Name, err)
		}
		us = append(us, &udpSource{cfg: c, src: src, lanes: ls})
	}
	for _, c := range tcps {
		ls := agg.lanes(c.Loops)
		src, err := ingest.ListenTCP(c, ls)
		if err != nil {
			agg.detach(ls)
			undo()
			return nil, nil, fmt.Errorf("pipeline %s: %w", agg.cfg.Name, err)
		}
		ts = append(ts, &tcpSource{cfg: c, src: src, lanes: ls})
	}
	return us, ts, nil
}

// sameAggregation reports whether two pipeline configurations aggregate
// identically, so that the running shards (and their open buckets) can
// serve the new one.
func sameAggregation(a, b PipelineConfig) bool {
	return reflect.DeepEqual(a.Shard, b.Shard) && a.Shards == b.Shards && a.RingSize == b.RingSize &&
		slices.Equal(a.ShardCPUs, b.ShardCPUs)
}

// Update changes a running pipeline to cfg without losing anything and
// without closing a socket whose address did not change:
//
//   - sinks: the new sink tree is swapped in between two emissions; the old
//     one is flushed and closed;
//   - aggregation: if periods, statistics and shard layout are unchanged the
//     running shards keep aggregating, open buckets included (nothing is
//     cut); otherwise new shards start beside the old ones, traffic moves
//     to them, and the old ones seal and emit every open bucket to the old
//     sinks before those are closed;
//   - sources: a source whose protocol and address are unchanged keeps its
//     sockets and loops and is re-pointed to the new shards (decoder
//     options may change); new addresses are bound before anything
//     changes, so a bind failure leaves the pipeline as it was; sources
//     that are gone stop after publishing what they read.
//
// On error nothing changed (the new sinks are not closed).
func (p *Pipeline) Update(cfg PipelineConfig) error {
	cfg.ensureDefaults()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("pipeline " + p.cfg.Name + " is stopped")
	}
	root := &sinks.MultiSink{Name: cfg.Name, Sinks: cfg.Sinks}
	keep := sameAggregation(p.cfg, cfg)
	agg := p.agg
	if !keep {
		var err error
		if agg, err = startAggregator(cfg, root); err != nil {
			return err
		}
	}
	// Bind what is new first: a failure here changes nothing.
	oldUDP := map[string]*udpSource{}
	for _, u := range p.udp {
		oldUDP[u.cfg.Addr] = u
	}
	oldTCP := map[string]*tcpSource{}
	for _, t := range p.tcp {
		oldTCP[t.cfg.Addr] = t
	}
	var newUDPCfg []ingest.UDPConfig
	var keptUDP []*udpSource
	var keptUDPCfg []ingest.UDPConfig
	for _, c := range cfg.UDP {
		if o, ok := oldUDP[c.Addr]; ok && o.cfg.Loops == c.Loops && slices.Equal(o.cfg.CPUs, c.CPUs) && o.cfg.MapperKey == c.MapperKey {
			keptUDP, keptUDPCfg = append(keptUDP, o), append(keptUDPCfg, c)
			delete(oldUDP, c.Addr)
			continue
		}
		newUDPCfg = append(newUDPCfg, c)
	}
	var newTCPCfg []ingest.TCPConfig
	var keptTCP []*tcpSource
	var keptTCPCfg []ingest.TCPConfig
	for _, c := range cfg.TCP {
		if o, ok := oldTCP[c.Addr]; ok && o.cfg.Loops == c.Loops && o.cfg.MapperKey == c.MapperKey && o.cfg.Format == c.Format &&
			reflect.DeepEqual(o.cfg.Graphite, c.Graphite) && reflect.DeepEqual(o.cfg.Telegraf, c.Telegraf) {
			keptTCP, keptTCPCfg = append(keptTCP, o), append(keptTCPCfg, c)
			delete(oldTCP, c.Addr)
			continue
		}
		newTCPCfg = append(newTCPCfg, c)
	}
	// A changed address that another source of this pipeline frees in the
	// same update is bound after that source stops.
	var deferUDP []ingest.UDPConfig
	for i := 0; i < len(newUDPCfg); {
		if _, freed := oldUDP[newUDPCfg[i].Addr]; freed {
			deferUDP = append(deferUDP, newUDPCfg[i])
			newUDPCfg = slices.Delete(newUDPCfg, i, i+1)
			continue
		}
		i++
	}
	var deferTCP []ingest.TCPConfig
	for i := 0; i < len(newTCPCfg); {
		if _, freed := oldTCP[newTCPCfg[i].Addr]; freed {
			deferTCP = append(deferTCP, newTCPCfg[i])
			newTCPCfg = slices.Delete(newTCPCfg, i, i+1)
			continue
		}
		i++
	}
	oldHTTP := map[ingest.HTTPKind]*httpSource{}
	for _, h := range p.http {
		oldHTTP[h.cfg.Kind] = h
	}
	var keptHTTP []*httpSource
	var keptHTTPCfg, newHTTPCfg []ingest.HTTPConfig
	for _, c := range cfg.HTTP {
		if o, ok := oldHTTP[c.Kind]; ok && o.cfg.Slots == c.Slots {
			keptHTTP, keptHTTPCfg = append(keptHTTP, o), append(keptHTTPCfg, c)
			delete(oldHTTP, c.Kind)
			continue
		}
		newHTTPCfg = append(newHTTPCfg, c)
	}
	addedUDP, addedTCP, err := p.bind(agg, newUDPCfg, newTCPCfg)
	if err != nil {
		if !keep {
			agg.stop()
		}
		return err
	}
	addedHTTP, err := startHTTP(agg, newHTTPCfg)
	if err != nil {
		for _, u := range addedUDP {
			u.src.Stop()
			agg.detach(u.lanes)
		}
		for _, t := range addedTCP {
			t.src.Stop()
			agg.detach(t.lanes)
		}
		if !keep {
			agg.stop()
		}
		return err
	}
	// Commit. Kept sources move to the new lanes: everything they read
	// before is in the old lanes, which the old shards drain.
	var errs []error
	for i, u := range keptUDP {
		ls := agg.lanes(u.cfg.Loops)
		if err := u.src.Retarget(ls, keptUDPCfg[i].Decoder); err != nil {
			// Cannot happen with a running source of as many loops;
			// keep it on its old lanes (and shards) rather than lose it.
			errs = append(errs, err, agg.detach(ls))
			continue
		}
		errs = append(errs, p.agg.detach(u.lanes))
		u.lanes, u.cfg = ls, keptUDPCfg[i]
	}
	for i, t := range keptTCP {
		ls := agg.lanes(t.cfg.Loops)
		if err := t.src.Retarget(ls, keptTCPCfg[i].Decoder); err != nil {
			errs = append(errs, err, agg.detach(ls))
			continue
		}
		errs = append(errs, p.agg.detach(t.lanes))
		t.lanes, t.cfg = ls, keptTCPCfg[i]
	}
	for i, h := range keptHTTP {
		ls := agg.lanesOf(h.cfg.Slots, httpRingSize)
		if err := h.src.Retarget(keptHTTPCfg[i], ls); err != nil {
			errs = append(errs, err, agg.detach(ls))
			continue
		}
		errs = append(errs, p.agg.detach(h.lanes))
		h.lanes, h.cfg = ls, keptHTTPCfg[i]
	}
	for _, u := range addedUDP {
		u.src.Start()
	}
	for _, h := range oldHTTP {
		h.src.Stop()
		errs = append(errs, p.agg.detach(h.lanes))
	}
	for _, u := range oldUDP {
		u.src.Stop()
		errs = append(errs, p.agg.detach(u.lanes))
	}
	for _, t := range oldTCP {
		errs = append(errs, t.src.Stop(), p.agg.detach(t.lanes))
	}
	if len(deferUDP) > 0 || len(deferTCP) > 0 {
		us, ts, err := p.bind(agg, deferUDP, deferTCP)
		if err != nil {
			// The old sources are gone; report, keep what runs.
			errs = append(errs, err)
		}
		for _, u := range us {
			u.src.Start()
		}
		addedUDP, addedTCP = append(addedUDP, us...), append(addedTCP, ts...)
	}
	oldRoot := p.agg.emitter.Sink()
	if keep {
		p.agg.emitter.SetSink(root)
	} else {
		p.agg.stop()
	}
	errs = append(errs, oldRoot.Close())
	p.cfg, p.agg = cfg, agg
	p.udp = append(keptUDP, addedUDP...)
	p.tcp = append(keptTCP, addedTCP...)
	p.http = append(keptHTTP, addedHTTP...)
	return errors.Join(errs...)
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
	for _, u := range p.udp {
		u.src.Stop()
	}
	for _, t := range p.tcp {
		errs = append(errs, t.src.Stop())
	}
	for _, h := range p.http {
		h.src.Stop()
	}
	p.agg.stop()
	errs = append(errs, p.agg.emitter.Sink().Close())
	p.stopErr = errors.Join(errs...)
	return p.stopErr
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.Name
}

// UDP returns the pipeline's UDP sources.
func (p *Pipeline) UDP() []*ingest.UDPSource {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*ingest.UDPSource, len(p.udp))
	for i, u := range p.udp {
		out[i] = u.src
	}
	return out
}

// TCP returns the pipeline's TCP sources.
func (p *Pipeline) TCP() []*ingest.TCPSource {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*ingest.TCPSource, len(p.tcp))
	for i, t := range p.tcp {
		out[i] = t.src
	}
	return out
}

// HTTP returns the pipeline's HTTP sources.
func (p *Pipeline) HTTP() []*ingest.HTTPSource {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*ingest.HTTPSource, len(p.http))
	for i, h := range p.http {
		out[i] = h.src
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
