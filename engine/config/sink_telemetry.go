package config

import (
	"errors"

	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/telemetry"
)

// TelemetrySinkConf is TelemetrySink: it feeds the daemon's telemetry
// websockets (MAD-SPEC §10).
type TelemetrySinkConf struct{ TelemetryActorPath string }

func init() {
	register(&class{fqcn: pkgSinks + "TelemetrySink", kind: kindSink,
		bind: func(n *node) any {
			n.ignore("histogramStatistics") // mad-2.0 TODO in MAD's own sample file
			return &TelemetrySinkConf{TelemetryActorPath: n.str("telemetryActorPath", "/user/telemetry")}
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			if b.Hub == nil {
				return nil, s.failed("sink", errors.New("no telemetry hub in this daemon"))
			}
			return telemetry.NewSink(s.Name, b.Hub), nil
		},
	})
}
