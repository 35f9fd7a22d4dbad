package shard

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gomad/mad/hist"
)

// A running shard takes a new configuration (Reconfigure) without losing its
// series or cutting the buckets the new configuration still aggregates, so
// that a reload emits each (series, period, start) once:
//
//   - the open tables of a period that stays keep their rows and take the
//     samples that follow; the period's index may change, so the tables and
//     the series' row slots are renumbered;
//   - the open tables of a period that goes are sealed at once, "cut",
//     marked with the reconfiguration's number (hist.Table.Cut): an emitter
//     emits them as soon as every shard has pushed its cut tables
//     (CutThrough), without waiting for their expiration, and apart from
//     any table of the same bucket opened later;
//   - a period that comes starts with empty slots;
//   - statistics take effect on the open tables as well when every open row
//     keeps the accumulators they need (the same or fewer per series, e.g.
//     tp99 instead of median and tp90): a bucket open across the change is
//     emitted once, with the new statistics over everything it took. If the
//     new statistics need an accumulator the open rows did not keep (max
//     added to the counters, a percentile to the gauges), no row can give
//     it for the samples it already took, and a mean would mix a partial
//     sum with a full count: every open table is cut, and a bucket open
//     across the change is emitted in two parts, the first with the old
//     statistics (counted as mad_shard_buckets_cut_total).
//
// The control plane posts the request; the shard applies it on its own
// goroutine between two batches (at a tick), so the hot path neither locks
// nor checks anything for it.

// reconfiguration is a pending Reconfigure, posted in Shard.reconf.
type reconfiguration struct {
	cfg  Config
	err  error
	done chan struct{}
}

// errStopped is returned by Reconfigure on a shard whose loop has stopped.
var errStopped = errors.New("shard: stopped")

// Reconfigure makes cfg the shard's configuration, keeping its series and
// the open buckets of the periods cfg keeps (see above). cfg must be
// Reconfigurable from the shard's configuration. It may be called from any
// goroutine, before Run or while it runs, one call at a time; while Run runs
// it returns once the shard has applied it (at its next tick: Reconfigure
// wakes an idle shard). It fails, changing nothing, if cfg is invalid or not
// reconfigurable, or if the shard has stopped.
func (s *Shard) Reconfigure(cfg Config) error {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("cannot configure shard: %w", err)
	}
	s.ctl.Lock()
	if s.reconf.Load() != nil {
		s.ctl.Unlock()
		panic("BUG: shard: concurrent Reconfigure calls")
	}
	// s.cfg is written only by reconfigure, which a previous call saw
	// done (or ran itself) before this one started.
	if !s.cfg.Reconfigurable(&cfg) {
		s.ctl.Unlock()
		return fmt.Errorf("shard %d: cannot change the statistics overrides' patterns or the output queue in place", s.id)
	}
	switch s.state {
	case loopNotStarted:
		defer s.ctl.Unlock()
		s.reconfigure(cfg)
		s.publish()
		return nil
	case loopStopped:
		s.ctl.Unlock()
		return fmt.Errorf("shard %d: %w", s.id, errStopped)
	}
	r := &reconfiguration{cfg: cfg, done: make(chan struct{})}
	s.reconf.Store(r)
	s.ctl.Unlock()
	s.bell.Ring()
	<-r.done
	return r.err
}

// takeReconfiguration applies a posted reconfiguration, if any. Called by
// the running shard at each tick.
func (s *Shard) takeReconfiguration() {
	r := s.reconf.Load()
	if r == nil {
		return
	}
	s.reconfigure(r.cfg)
	s.reconf.Store(nil)
	close(r.done)
}

// abandonReconfiguration fails a posted reconfiguration the shard will not
// apply because its loop stops. Under ctl, on the shard's goroutine.
func (s *Shard) abandonReconfiguration() {
	if r := s.reconf.Swap(nil); r != nil {
		r.err = fmt.Errorf("shard %d: %w before it was reconfigured", s.id, errStopped)
		close(r.done)
	}
}

// reconfigure switches the shard to cfg (see above). On the shard's
// goroutine, between batches.
func (s *Shard) reconfigure(cfg Config) {
	s.recycle()
	// to[i] is the new index of period i, -1 if it goes.
	to := make([]int, len(s.periods))
	for i, p := range s.periods {
		to[i] = slices.IndexFunc(cfg.Periods, func(d time.Duration) bool { return d.Milliseconds() == p.ms })
	}
	grow := false
	_, needs := specsOf(&cfg)
	for spec, need := range needs {
		grow = grow || need&^s.needs[spec] != 0
	}
	s.cuts++
	before := s.stats.TablesSealed
	s.flushing = true // a cut table is never dropped for backpressure
	s.sealIf(s.cuts, func(t *hist.Table) bool { return grow || to[t.PeriodIndex] < 0 })
	s.flushing = false
	s.stats.TablesCut += s.stats.TablesSealed - before

	// Renumber what stays open.
	clear(s.byKey)
	clear(s.byStart)
	for _, idx := range s.openList {
		t := s.desc[idx].t
		t.PeriodIndex = to[t.PeriodIndex]
		s.byKey[tableKey{t.PeriodIndex, t.Start, t.Expires}] = idx
		sk := startKey{t.PeriodIndex, t.Start}
		s.byStart[sk] = append(s.byStart[sk], idx)
	}
	hints := make([]rowHint, len(cfg.Periods))
	for i, j := range to {
		if j >= 0 {
			hints[j] = s.rowHint[i]
		}
	}
	s.rowHint = hints
	s.restride(to, len(cfg.Periods), cfg.MaxSeries)
	s.setConfig(cfg)
}

// restride lays the series records out for n periods, moving period i's
// row slots to period to[i] (dropping them if it is -1); the slots of new
// periods are empty. The records move to a new array: the snapshots sealed
// before read the old one through their seriesView, which the shard no
// longer writes.
func (s *Shard) restride(to []int, n, maxSeries int) {
	same := len(to) == n
	for i, j := range to {
		same = same && i == j
	}
	if same {
		return
	}
	stride := recSlots + 2*n
	recs, keep := growRecs(nil, nil, stride, s.nRecs*stride, maxSeries)
	for sid := 0; sid < s.nRecs; sid++ {
		if s.freeSids.has(uint32(sid)) {
			continue // a free record may read as zero (trimRecs): not written, it costs no memory
		}
		from, into := s.recs[sid*s.stride:(sid+1)*s.stride], recs[sid*stride:(sid+1)*stride]
		copy(into[:recSlots], from[:recSlots])
		for i, j := range to {
			if j >= 0 {
				copy(into[recSlots+2*j:recSlots+2*j+2], from[recSlots+2*i:recSlots+2*i+2])
			}
		}
	}
	s.recs, s.recsKeep, s.stride, s.recsHigh = recs, keep, stride, s.nRecs
}
