package engine

import (
	"time"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
)

// DefaultConfig is the configuration `mad` runs without arguments: one
// pipeline with StatsD on UDP and TCP port 8125 (MAD's StatsdSource
// default), periods PT1S and PT1M with MAD's default statistics, every
// bucket written as JSON lines to standard output, and the control plane
// on 0.0.0.0:7090 (MAD's httpPort).
func DefaultConfig() (DaemonConfig, error) {
	out, err := jsonlines.New(jsonlines.Config{Name: "json_lines_sink", Path: "-"})
	if err != nil {
		return DaemonConfig{}, err
	}
	loops := max(1, affinity.Usable()/2)
	return DaemonConfig{
		HTTPAddr: "0.0.0.0:7090",
		Pipelines: []PipelineConfig{{
			Name: "default",
			Shard: shard.Config{
				Periods:           []time.Duration{time.Second, time.Minute},
				CounterStatistics: shard.DefaultCounterStatistics,
				GaugeStatistics:   shard.DefaultGaugeStatistics,
				TimerStatistics:   shard.DefaultTimerStatistics,
			},
			UDP:   []ingest.UDPConfig{{Name: "statsd_source", Addr: "0.0.0.0:8125", Loops: loops}},
			TCP:   []ingest.TCPConfig{{Name: "statsd_tcp_source", Addr: "0.0.0.0:8125", Loops: 1}},
			Sinks: []sinks.Sink{out},
		}},
	}, nil
}
