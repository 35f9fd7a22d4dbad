package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/telemetry"
)

// ErrUnavailable marks a source or sink mad cannot run yet.
var ErrUnavailable = errors.New("not available")

// Builder turns bound specifications into what package pipeline runs,
// through each class's registry entry.
type Builder struct {
	// SkipUnavailable leaves out the sources and sinks mad cannot run yet
	// (they were reported when the file was loaded) instead of refusing
	// the pipeline.
	SkipUnavailable bool
	Log             *slog.Logger
	// HTTP are the request limits of HTTP sources.
	HTTP HTTPLimits
	// Self takes mad's own metrics produced by sinks.
	Self sinks.SelfEmitter
	// Hub serves the telemetry websockets TelemetrySinks feed.
	Hub *telemetry.Hub
	// Check makes Sink check what building would find wrong, and build
	// nothing that stays or touches the outside world (mad -check-config):
	// a class with a check runs it (a JSON-lines file must be writable,
	// not created), any other is built and closed at once. Sink returns
	// nil sinks (and wrapping sinks, having nothing to wrap, nil too).
	Check bool

	// periods are the periods of the pipeline being built, for the
	// classes that depend on them (KafkaSink, PartialsParser); txnIDs its
	// KafkaSources' transactional ids (nil: not known).
	periods []time.Duration
	txnIDs  map[string]bool
}

func (b *Builder) log() *slog.Logger {
	if b.Log == nil {
		return slog.Default()
	}
	return b.Log
}

// Sources builds the sources of a pipeline. It binds nothing: it can run
// for every pipeline of a configuration before any starts, to see whether
// two claim one address.
func (b *Builder) Sources(spec *PipelineSpec) ([]ingest.SourceConfig, error) {
	b.periods = spec.Shard.Periods
	defer func() { b.periods = nil }()
	for _, src := range spec.Sources {
		if k, ok := src.Conf.(*KafkaSourceConf); ok && k.ExactlyOnce != nil && len(spec.Sources) > 1 {
			return nil, fmt.Errorf("%s: source %s: an exactly-once KafkaSource must be its pipeline's only source (its transactions hold the pipeline's whole output)", src.Pos, src.Name)
		}
	}
	var out []ingest.SourceConfig
	for _, s := range spec.Sources {
		c, err := b.Source(s)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Sinks builds the sinks of a pipeline; on error it closes those it built.
func (b *Builder) Sinks(spec *PipelineSpec) ([]sinks.Sink, error) {
	b.periods = spec.Shard.Periods
	b.txnIDs = map[string]bool{}
	for _, src := range spec.Sources {
		if k, ok := src.Conf.(*KafkaSourceConf); ok && k.ExactlyOnce != nil {
			b.txnIDs[k.ExactlyOnce.TransactionalID] = true
		}
	}
	defer func() { b.periods, b.txnIDs = nil, nil }()
	var out []sinks.Sink
	for _, s := range spec.Sinks {
		sk, err := b.Sink(s)
		if err != nil {
			CloseSinks(out)
			return nil, err
		}
		if sk != nil {
			out = append(out, sk)
		}
	}
	return out, nil
}

// Pipeline builds a pipeline's configuration: its sources, then its sinks.
func (b *Builder) Pipeline(spec *PipelineSpec) (pipeline.Config, error) {
	srcs, err := b.Sources(spec)
	if err != nil {
		return pipeline.Config{}, err
	}
	sks, err := b.Sinks(spec)
	if err != nil {
		return pipeline.Config{}, err
	}
	return pipeline.Config{Name: spec.Name, Shard: spec.Shard, MaxSeries: spec.MaxSeries, Sources: srcs, Sinks: sks, Log: b.Log}, nil
}

// Source builds one source through its class (nil, with SkipUnavailable,
// for one mad cannot run, or that wraps one).
func (b *Builder) Source(s ClassSpec) (ingest.SourceConfig, error) {
	c, ok := lookupClass(s.Class)
	if !ok || c.kind != kindSource || !c.available() {
		return nil, b.unavailable(s, "source")
	}
	return c.source(b, s)
}

// Sink builds one sink through its class (nil, with SkipUnavailable, for
// one mad cannot run, or that wraps one).
func (b *Builder) Sink(s ClassSpec) (sinks.Sink, error) {
	c, ok := lookupClass(s.Class)
	if !ok || c.kind != kindSink || !c.available() {
		return nil, b.unavailable(s, "sink")
	}
	if !b.Check {
		return c.sink(b, s)
	}
	if c.check != nil {
		return nil, c.check(b, s)
	}
	sk, err := c.sink(b, s)
	if sk != nil {
		sk.Close()
	}
	return nil, err
}

// failed says where a sink or source that could not be built is.
func (s ClassSpec) failed(what string, err error) error {
	return fmt.Errorf("%s: %s %s: %w", s.Pos, what, s.Name, err)
}

func (b *Builder) unavailable(s ClassSpec, what string) error {
	if b.SkipUnavailable {
		return nil
	}
	return fmt.Errorf("%s: %s %s (%s): %w", s.Pos, what, s.Name, s.Class, ErrUnavailable)
}

// wrapped builds the source a wrapping source wraps and adds the wrapper's
// mapper around it (nil if the inner source is left out).
func (b *Builder) wrapped(inner ClassSpec, m ingest.MapperSpec) (ingest.SourceConfig, error) {
	c, err := b.Source(inner)
	if c == nil || err != nil {
		return nil, err
	}
	c.Wrap(m)
	return c, nil
}

// CloseSinks closes sinks that were built and will not run.
func CloseSinks(ss []sinks.Sink) {
	for _, s := range ss {
		s.Close()
	}
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
