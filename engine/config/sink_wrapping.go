package config

import (
	"time"

	"github.com/gomad/mad/sinks"
)

// MAD's sinks that route, filter or rewrite buckets for the sinks they
// wrap. A wrapper whose inner sink is left out (SkipUnavailable) is left
// out too.

// MultiSinkConf is MultiSink.
type MultiSinkConf struct{ Sinks []ClassSpec }

// PeriodFilteringSinkConf is PeriodFilteringSink.
type PeriodFilteringSinkConf struct {
	Sink                                ClassSpec
	Include, Exclude                    []time.Duration
	ExcludeLessThan, ExcludeGreaterThan time.Duration
	GreaterThanSet                      bool // excludeGreaterThan given (PT0S excludes every period)
}

// DimensionInjectingSinkConf is DimensionInjectingSink.
type DimensionInjectingSinkConf struct {
	Sink                                  ClassSpec
	DefaultDimensions, OverrideDimensions []KV
}

// TimeThresholdSinkConf is TimeThresholdSink.
type TimeThresholdSinkConf struct {
	Sink             ClassSpec
	Threshold        time.Duration
	ExcludedServices []string
	LogOnly          bool
}

func init() {
	register(&class{fqcn: pkgSinks + "MultiSink", kind: kindSink,
		bind: func(n *node) any { return &MultiSinkConf{Sinks: n.nestedList("sinks", kindSink)} },
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			m := &sinks.MultiSink{Name: s.Name}
			for _, in := range s.Conf.(*MultiSinkConf).Sinks {
				sk, err := b.Sink(in)
				if err != nil {
					CloseSinks(m.Sinks)
					return nil, err
				}
				if sk != nil {
					m.Sinks = append(m.Sinks, sk)
				}
			}
			return m, nil
		},
	})
	register(&class{fqcn: pkgSinks + "PeriodFilteringSink", kind: kindSink,
		bind: func(n *node) any {
			c := &PeriodFilteringSinkConf{Sink: n.nested("sink", kindSink, true)}
			c.Include = n.durations("include", nil)
			c.Exclude = n.durations("exclude", nil)
			c.ExcludeLessThan, _ = n.duration("excludeLessThan", 0)
			c.ExcludeGreaterThan, c.GreaterThanSet = n.duration("excludeGreaterThan", 0)
			return c
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			c := s.Conf.(*PeriodFilteringSinkConf)
			inner, err := b.Sink(c.Sink)
			if err != nil || inner == nil {
				return nil, err
			}
			return &sinks.PeriodFilteringSink{Name: s.Name, Sink: inner, Include: c.Include, Exclude: c.Exclude,
				ExcludeLessThan: c.ExcludeLessThan, ExcludeGreaterThan: c.ExcludeGreaterThan, GreaterThanSet: c.GreaterThanSet}, nil
		},
	})
	register(&class{fqcn: pkgSinks + "DimensionInjectingSink", kind: kindSink,
		bind: func(n *node) any {
			return &DimensionInjectingSinkConf{Sink: n.nested("sink", kindSink, true),
				DefaultDimensions: n.strMap("defaultDimensions"), OverrideDimensions: n.strMap("overrideDimensions")}
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			c := s.Conf.(*DimensionInjectingSinkConf)
			inner, err := b.Sink(c.Sink)
			if err != nil || inner == nil {
				return nil, err
			}
			return &sinks.DimensionInjectingSink{Name: s.Name, Sink: inner, DefaultDimensions: sinkDims(c.DefaultDimensions),
				OverrideDimensions: sinkDims(c.OverrideDimensions)}, nil
		},
	})
	register(&class{fqcn: pkgSinks + "TimeThresholdSink", kind: kindSink,
		bind: func(n *node) any {
			c := &TimeThresholdSinkConf{Sink: n.nested("sink", kindSink, true)}
			var set bool
			if c.Threshold, set = n.duration("threshold", 0); !set {
				n.fail(nil, "threshold", "is required")
			}
			c.ExcludedServices, _ = n.strings("excludedServices")
			c.LogOnly = n.boolean("logOnly", false)
			return c
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			c := s.Conf.(*TimeThresholdSinkConf)
			inner, err := b.Sink(c.Sink)
			if err != nil || inner == nil {
				return nil, err
			}
			return &sinks.TimeThresholdSink{Name: s.Name, Sink: inner, Threshold: c.Threshold, ExcludedServices: c.ExcludedServices,
				LogOnly: c.LogOnly, Log: b.log()}, nil
		},
	})
}

func sinkDims(kvs []KV) []sinks.Dimension {
	out := make([]sinks.Dimension, len(kvs))
	for i, kv := range kvs {
		out[i] = sinks.Dimension{Key: []byte(kv.Key), Value: []byte(kv.Value)}
	}
	return out
}
