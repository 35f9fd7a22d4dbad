package config

import (
	"time"

	"github.com/gomad/mad/sinks"
)

// Sinks that turn what they see into mad's own metrics (fed back through
// Builder.Self, MAD-SPEC §11).

// PeriodicStatisticsSinkConf is PeriodicStatisticsSink.
type PeriodicStatisticsSinkConf struct {
	Interval                                  time.Duration
	Dimensions                                []string
	MappedDimensions, DefaultDimensionsValues []KV
	PeriodDimensionName                       string
}

// TracingSinkConf is TracingSink.
type TracingSinkConf struct{ Patterns []KV }

func init() {
	register(&class{fqcn: pkgSinks + "PeriodicStatisticsSink", kind: kindSink,
		bind: func(n *node) any {
			var d sinks.PeriodicStatisticsConfig // the sink's defaults
			d.EnsureDefaults()
			c := &PeriodicStatisticsSinkConf{
				Interval:                time.Duration(n.integer("intervalInMilliseconds", d.Interval.Milliseconds(), 1, 1<<40)) * time.Millisecond,
				MappedDimensions:        n.strMap("mappedDimensions"),
				DefaultDimensionsValues: n.strMap("defaultDimensionsValues"),
				PeriodDimensionName:     n.str("periodDimensionName", d.PeriodDimensionName),
			}
			c.Dimensions, _ = n.strings("dimensions")
			return c
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			c := s.Conf.(*PeriodicStatisticsSinkConf)
			defaults := map[string]string{}
			for _, kv := range c.DefaultDimensionsValues {
				defaults[kv.Key] = kv.Value
			}
			return sinks.NewPeriodicStatisticsSink(sinks.PeriodicStatisticsConfig{Name: s.Name, Interval: c.Interval, Dimensions: c.Dimensions,
				MappedDimensions: pairs(c.MappedDimensions), DefaultDimensionsValues: defaults, PeriodDimensionName: c.PeriodDimensionName,
				Emit: b.Self}), nil
		},
	})
	register(&class{fqcn: pkgSinks + "TracingSink", kind: kindSink,
		bind: func(n *node) any {
			c := &TracingSinkConf{Patterns: n.strMap("patterns")}
			if !n.has("patterns") {
				n.fail(nil, "patterns", "is required")
			}
			for _, p := range c.Patterns {
				n.checkRegexp("patterns", p.Value)
			}
			return c
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			sk, err := sinks.NewTracingSink(s.Name, pairs(s.Conf.(*TracingSinkConf).Patterns), b.Self)
			if err != nil {
				return nil, s.failed("sink", err)
			}
			return sk, nil
		},
	})
}

// pairs turns an ordered map into key-value pairs.
func pairs(kvs []KV) [][2]string {
	out := make([][2]string, len(kvs))
	for i, kv := range kvs {
		out[i] = [2]string{kv.Key, kv.Value}
	}
	return out
}
