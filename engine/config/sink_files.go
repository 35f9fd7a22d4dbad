package config

import (
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/jsonlines"
)

// Sinks that write files (or standard output).

// MetricSeriesLoggingSinkConf is mad-experimental's MetricSeriesLoggingSink.
type MetricSeriesLoggingSinkConf struct{ Directory, FileName string }

// JSONLinesSinkConf is mad's JsonLinesSink: one JSON object per metric and
// closed bucket, appended to a file or standard output.
type JSONLinesSinkConf struct{ Path string }

func init() {
	register(&class{fqcn: pkgExpSinks + "MetricSeriesLoggingSink", kind: kindSink,
		bind: func(n *node) any {
			// mad's keys; MAD writes metrics_streams.json in the working directory.
			return &MetricSeriesLoggingSinkConf{Directory: n.str("directory", ""), FileName: n.str("fileName", "metrics_streams.json")}
		},
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			c := s.Conf.(*MetricSeriesLoggingSinkConf)
			return sinks.NewMetricSeriesLoggingSink(s.Name, c.Directory, c.FileName, b.log()), nil
		},
	})
	register(&class{fqcn: pkgMad + "JsonLinesSink", kind: kindSink,
		bind: func(n *node) any { return &JSONLinesSinkConf{Path: n.str("path", "-")} },
		sink: func(b *Builder, s ClassSpec) (sinks.Sink, error) {
			sk, err := jsonlines.New(jsonlines.Config{Name: s.Name, Path: s.Conf.(*JSONLinesSinkConf).Path})
			if err != nil {
				return nil, s.failed("sink", err)
			}
			return sk, nil
		},
	})
}
