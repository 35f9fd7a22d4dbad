package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
			sk, err := jsonlines.New(jsonlines.Config{Name: s.Name, Path: s.Conf.(*JSONLinesSinkConf).Path, Log: b.log()})
			if err != nil {
				return nil, s.failed("sink", err)
			}
			return sk, nil
		},
		check: func(_ *Builder, s ClassSpec) error {
			if err := appendable(s.Conf.(*JSONLinesSinkConf).Path); err != nil {
				return s.failed("sink", err)
			}
			return nil
		},
	})
}

// appendable checks that the sink could open path to append, as building
// it does, without creating it: an existing file opens for writing, a
// missing one needs an existing directory. "-" is standard output.
func appendable(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("cannot create %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("cannot create %s: %s is not a directory", path, dir)
	}
	return nil
}
