package config

import (
	"time"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/hocon"
	"github.com/gomad/mad/shard"
)

// PipelineSpec is one pipeline (PipelineConfiguration, MAD-SPEC §2).
type PipelineSpec struct {
	File string
	Hash [32]byte
	Pos  hocon.Pos

	Name  string
	Shard shard.Config
	// MaxSeries is mad's `maxSeries` (MAD has no such key): the most series
	// the pipeline tracks, split across its shards; 0 (absent or null):
	// pipeline.DefaultMaxSeries, derived from the machine's memory.
	MaxSeries int
	Sources   []ClassSpec
	Sinks     []ClassSpec
	// Unavailable are the problems naming classes mad does not implement
	// yet; with LoadOptions.SkipUnavailable they do not refuse the pipeline
	// and those sources and sinks are left out.
	Unavailable Problems
	Unknown     []string
}

// bindPipeline binds PipelineConfiguration's keys from n; its problems go
// to n's binder.
func bindPipeline(n *node, file string, opt LoadOptions) *PipelineSpec {
	before := len(n.b.problems)
	p := &PipelineSpec{File: file, Name: n.reqStr("name")}
	c := &p.Shard
	c.Periods = n.durations("periods", shard.DefaultPeriods)
	if v := n.get("periods"); v != nil && v.Kind == hocon.Array && len(v.Arr) == 0 {
		n.fail(v, "periods", "must not be empty")
	}
	for _, d := range c.Periods {
		if d <= 0 || d%time.Millisecond != 0 {
			n.fail(n.get("periods"), "periods", "%s: a period must be a positive whole number of milliseconds", d)
		}
	}
	c.IdleTimeout = n.positiveDuration("idleTimeout", 5*time.Minute)
	p.MaxSeries = int(n.integer("maxSeries", 0, 1, pipeline.MaxPipelineSeries))
	c.TimerStatistics = n.statSet("timerStatistics", shard.DefaultTimerStatistics)
	c.CounterStatistics = n.statSet("counterStatistics", shard.DefaultCounterStatistics)
	c.GaugeStatistics = n.statSet("gaugeStatistics", shard.DefaultGaugeStatistics)
	if o := n.object("statistics"); o != nil {
		for _, k := range o.v.Obj.Keys {
			set := o.statSet(k, 0)
			o.checkRegexp(k, k)
			c.Overrides = append(c.Overrides, shard.Override{Pattern: k, Stats: set})
		}
	}
	p.Sources = n.nestedList("sources", kindSource)
	p.Sinks = n.nestedList("sinks", kindSink)
	for _, pr := range n.b.problems[before:] {
		if pr.Unavailable {
			p.Unavailable = append(p.Unavailable, pr)
		}
	}
	return p
}

// statSet reads a list of statistic names (MAD's aliases accepted).
func (n *node) statSet(k string, def hist.Set) hist.Set {
	names, present := n.strings(k)
	if !present {
		if n.has(k) && n.get(k).Kind != hocon.Null {
			return def
		}
		if def == 0 {
			n.fail(n.get(k), k, "must be a non-empty list of statistics")
		}
		return def
	}
	set, err := hist.ParseSet(names)
	if err != nil {
		n.fail(n.get(k), k, "%v", err)
		return def
	}
	return set
}
