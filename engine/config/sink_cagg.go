package config

import (
	"time"

	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/cagg"
)

// The Cluster Aggregator sinks (MAD-SPEC §9.1, §9.2).

// HTTPPostSinkConf is AggregationServerHttpSink (MAD's HttpPostSink keys,
// and the Cluster Aggregator's retry keys, which default to MAD's: no
// retry).
type HTTPPostSinkConf struct {
	URI                                  string
	MaximumConcurrency, MaximumQueueSize int
	SpreadPeriod                         time.Duration
	AcceptedStatusCodes                  []int
	MaximumAttempts                      int
	BaseBackoff, MaximumDelay            time.Duration
	RetryableStatusCodes                 []int
}

// AggregationServerSinkConf is AggregationServerSink (TCP).
type AggregationServerSinkConf struct {
	ServerAddress string
	ServerPort    int
	MaxQueueSize  int
}

func init() {
	register(&class{fqcn: pkgSinks + "AggregationServerHttpSink", kind: kindSink,
		bind: func(n *node) any {
			var d cagg.HTTPConfig // the sink's defaults
			d.EnsureDefaults()
			c := &HTTPPostSinkConf{
				URI:                n.reqStr("uri"),
				MaximumConcurrency: int(n.integer("maximumConcurrency", int64(d.MaximumConcurrency), 1, 1<<16)),
				MaximumQueueSize:   int(n.integer("maximumQueueSize", int64(d.MaximumQueueSize), 1, 1<<30)),
			}
			c.SpreadPeriod, _ = n.duration("spreadPeriod", 0)
			c.AcceptedStatusCodes = n.statusCodes("acceptedStatusCodes", d.AcceptedStatusCodes)
			c.MaximumAttempts = int(n.integer("maximumAttempts", int64(d.MaximumAttempts), 1, 1000))
			c.BaseBackoff, _ = n.duration("baseBackoff", d.BaseBackoff)
			c.MaximumDelay, _ = n.duration("maximumDelay", d.MaximumDelay)
			c.RetryableStatusCodes = n.statusCodes("retryableStatusCodes", d.RetryableStatusCodes)
			return c
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			c := s.Conf.(*HTTPPostSinkConf)
			sk, err := cagg.NewHTTP(cagg.HTTPConfig{Name: s.Name, URI: c.URI, MaximumConcurrency: c.MaximumConcurrency,
				MaximumQueueSize: c.MaximumQueueSize, SpreadPeriod: c.SpreadPeriod, AcceptedStatusCodes: c.AcceptedStatusCodes,
				MaximumAttempts: c.MaximumAttempts, BaseBackoff: c.BaseBackoff, MaximumDelay: c.MaximumDelay,
				RetryableStatusCodes: c.RetryableStatusCodes, Log: b.log()})
			if err != nil {
				return nil, s.failed("sink", err)
			}
			return sk, nil
		},
	})
	register(&class{fqcn: pkgSinks + "AggregationServerSink", kind: kindSink,
		bind: func(n *node) any {
			var d cagg.TCPConfig // the sink's defaults
			d.EnsureDefaults()
			return &AggregationServerSinkConf{
				ServerAddress: n.reqStr("serverAddress"),
				ServerPort:    int(n.integer("serverPort", int64(d.ServerPort), 1, maxPort)),
				MaxQueueSize:  int(n.integer("maxQueueSize", int64(d.MaxQueueSize), 1, 1<<30)),
			}
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			c := s.Conf.(*AggregationServerSinkConf)
			sk, err := cagg.NewTCP(cagg.TCPConfig{Name: s.Name, ServerAddress: c.ServerAddress, ServerPort: c.ServerPort,
				MaxQueueSize: c.MaxQueueSize, Log: b.log()})
			if err != nil {
				return nil, s.failed("sink", err)
			}
			return sk, nil
		},
		// Building connects (in the background, never failing the
		// start); what NewTCP refuses, binding already did (serverAddress
		// required, serverPort in range).
		check: func(*Builder, ClassSpec) error { return nil },
	})
}
