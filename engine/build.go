package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks"
	"github.com/gomad/mad/sinks/cagg"
	"github.com/gomad/mad/sinks/jsonlines"
	"github.com/gomad/mad/sinks/telemetry"
)

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// httpKinds maps MAD's HTTP source classes to their kinds.
var httpKinds = map[string]ingest.HTTPKind{
	pkgSources + "ClientHttpSourceV1":   ingest.HTTPClientV1,
	pkgSources + "ClientHttpSourceV2":   ingest.HTTPClientV2,
	pkgSources + "ClientHttpSourceV3":   ingest.HTTPClientV3,
	pkgSources + "CollectdHttpSourceV1": ingest.HTTPCollectd,
	pkgSources + "PrometheusHttpSource": ingest.HTTPPrometheus,
}

// HTTPLimits are the request limits of the HTTP server (mad's main
// configuration keys; MAD has none).
type HTTPLimits struct {
	MaxBody, MaxDecompressed, MaxRecords     int
	ReadTimeout, ReadHeaderTimeout, IdleTime time.Duration
	// BusyTimeout bounds how long a request waits for the data plane
	// before it is answered 503.
	BusyTimeout time.Duration
}

// errUnavailable marks a source or sink mad cannot run yet.
var errUnavailable = errors.New("not available")

// buildPipeline turns a pipeline spec into what StartPipeline and Update
// take: sockets to bind and sinks, built (and, on error, closed again).
// With skip, unavailable sources and sinks are left out (they were
// reported when the file was loaded).
// buildCtx is what building sinks needs of the daemon.
type buildCtx struct {
	skip bool
	log  *slog.Logger
	// self takes mad's own metrics produced by sinks.
	self sinks.SelfEmitter
	// hub serves the telemetry websockets TelemetrySinks feed.
	hub *telemetry.Hub
}

func buildPipeline(spec *PipelineSpec, limits HTTPLimits, bc buildCtx) (PipelineConfig, error) {
	skip, log := bc.skip, bc.log
	cfg := PipelineConfig{Name: spec.Name, Shard: spec.Shard, Log: log}
	for _, outer := range spec.Sources {
		s, wrappers := unwrapSource(outer)
		newMapper, mapperKey, err := mapperOf(wrappers)
		if err != nil {
			return PipelineConfig{}, fmt.Errorf("%s: source %s: %w", outer.Pos, outer.Name, err)
		}
		if len(wrappers) > 0 && newMapper == nil {
			// A wrapper mad cannot run yet: the whole source is left out
			// (or refused).
			if !skip {
				return PipelineConfig{}, fmt.Errorf("%s: source %s (%s): %w", outer.Pos, outer.Name, outer.Class, errUnavailable)
			}
			continue
		}
		switch c := s.Conf.(type) {
		case *HTTPSourceConf:
			cfg.HTTP = append(cfg.HTTP, ingest.HTTPConfig{
				Name: s.Name, Kind: httpKinds[s.Class], Slots: max(2, affinity.Usable()),
				MaxBody: limits.MaxBody, MaxDecompressed: limits.MaxDecompressed, MaxRecords: limits.MaxRecords,
				Deadline: limits.BusyTimeout, InterpretUnits: c.InterpretUnits, ReservedNameWhitelist: c.ReservedNameWhitelist,
				NewMapper: newMapper, MapperKey: mapperKey,
			})
			continue
		case *StatsdSourceConf:
			cfg.UDP = append(cfg.UDP, ingest.UDPConfig{
				Name: s.Name, Addr: joinHostPort(c.Host, c.Port), Decoder: c.Decoder,
				Loops: max(1, affinity.Usable()/2), NewMapper: newMapper, MapperKey: mapperKey,
			})
			continue
		case *TCPLineSourceConf:
			base := ingest.TCPConfig{Name: s.Name, Addr: joinHostPort(c.Host, c.Port), Loops: 1, NewMapper: newMapper, MapperKey: mapperKey}
			switch p := c.Parser.Conf.(type) {
			case *GraphiteParserConf:
				base.Format = ingest.FormatGraphite
				base.Graphite.ParseCarbonTags = p.ParseCarbonTags
				for _, kv := range p.GlobalTags {
					base.Graphite.GlobalTags = append(base.Graphite.GlobalTags, [2]string{kv.Key, kv.Value})
				}
				cfg.TCP = append(cfg.TCP, base)
				continue
			case *TelegrafParserConf:
				base.Format = ingest.FormatTelegraf
				base.Telegraf.TimestampUnit = p.TimestampUnit
				cfg.TCP = append(cfg.TCP, base)
				continue
			}
			if p, ok := c.Parser.Conf.(*statsdParserConf); ok {
				cfg.TCP = append(cfg.TCP, ingest.TCPConfig{Name: s.Name, Addr: joinHostPort(c.Host, c.Port), Decoder: p.decoder, Loops: 1,
					NewMapper: newMapper, MapperKey: mapperKey})
				continue
			}
		}
		if !skip {
			return PipelineConfig{}, fmt.Errorf("%s: source %s (%s): %w", outer.Pos, outer.Name, outer.Class, errUnavailable)
		}
	}
	for _, s := range spec.Sinks {
		sk, err := buildSink(s, bc)
		if err != nil {
			closeSinks(cfg.Sinks)
			return PipelineConfig{}, err
		}
		if sk != nil {
			cfg.Sinks = append(cfg.Sinks, sk)
		}
	}
	return cfg, nil
}

func closeSinks(ss []sinks.Sink) {
	for _, s := range ss {
		s.Close()
	}
}

// buildSink builds one sink (nil with skip for an unavailable one).
func buildSink(s ClassSpec, bc buildCtx) (sinks.Sink, error) {
	skip := bc.skip
	switch c := s.Conf.(type) {
	case *TelemetrySinkConf:
		if bc.hub == nil {
			return nil, fmt.Errorf("%s: sink %s: no telemetry hub in this daemon", s.Pos, s.Name)
		}
		return telemetry.NewSink(s.Name, bc.hub), nil
	case *HTTPPostSinkConf:
		sk, err := cagg.NewHTTP(cagg.HTTPConfig{Name: s.Name, URI: c.URI, MaximumConcurrency: c.MaximumConcurrency,
			MaximumQueueSize: c.MaximumQueueSize, SpreadPeriod: c.SpreadPeriod, AcceptedStatusCodes: c.AcceptedStatusCodes,
			MaximumAttempts: c.MaximumAttempts, BaseBackoff: c.BaseBackoff, MaximumDelay: c.MaximumDelay,
			RetryableStatusCodes: c.RetryableStatusCodes, Log: bc.log})
		if err != nil {
			return nil, fmt.Errorf("%s: sink %s: %w", s.Pos, s.Name, err)
		}
		return sk, nil
	case *AggregationServerSinkConf:
		sk, err := cagg.NewTCP(cagg.TCPConfig{Name: s.Name, ServerAddress: c.ServerAddress, ServerPort: c.ServerPort,
			MaxQueueSize: c.MaxQueueSize, Log: bc.log})
		if err != nil {
			return nil, fmt.Errorf("%s: sink %s: %w", s.Pos, s.Name, err)
		}
		return sk, nil
	case *PeriodicStatisticsSinkConf:
		mapped := make([][2]string, len(c.MappedDimensions))
		for i, kv := range c.MappedDimensions {
			mapped[i] = [2]string{kv.Key, kv.Value}
		}
		defaults := map[string]string{}
		for _, kv := range c.DefaultDimensionsValues {
			defaults[kv.Key] = kv.Value
		}
		return sinks.NewPeriodicStatisticsSink(sinks.PeriodicStatisticsConfig{Name: s.Name, Interval: c.Interval, Dimensions: c.Dimensions,
			MappedDimensions: mapped, DefaultDimensionsValues: defaults, PeriodDimensionName: c.PeriodDimensionName, Emit: bc.self}), nil
	case *TracingSinkConf:
		patterns := make([][2]string, len(c.Patterns))
		for i, kv := range c.Patterns {
			patterns[i] = [2]string{kv.Key, kv.Value}
		}
		sk, err := sinks.NewTracingSink(s.Name, patterns, bc.self)
		if err != nil {
			return nil, fmt.Errorf("%s: sink %s: %w", s.Pos, s.Name, err)
		}
		return sk, nil
	case *JSONLinesSinkConf:
		sk, err := jsonlines.New(jsonlines.Config{Name: s.Name, Path: c.Path})
		if err != nil {
			return nil, fmt.Errorf("%s: sink %s: %w", s.Pos, s.Name, err)
		}
		return sk, nil
	case *PeriodFilteringSinkConf:
		inner, err := buildSink(c.Sink, bc)
		if err != nil || inner == nil {
			return nil, err
		}
		return &sinks.PeriodFilteringSink{Name: s.Name, Sink: inner, Include: c.Include, Exclude: c.Exclude,
			ExcludeLessThan: c.ExcludeLessThan, ExcludeGreaterThan: c.ExcludeGreaterThan}, nil
	case *DimensionInjectingSinkConf:
		inner, err := buildSink(c.Sink, bc)
		if err != nil || inner == nil {
			return nil, err
		}
		return &sinks.DimensionInjectingSink{Name: s.Name, Sink: inner, DefaultDimensions: sinkDims(c.DefaultDimensions),
			OverrideDimensions: sinkDims(c.OverrideDimensions)}, nil
	case *TimeThresholdSinkConf:
		inner, err := buildSink(c.Sink, bc)
		if err != nil || inner == nil {
			return nil, err
		}
		return &sinks.TimeThresholdSink{Name: s.Name, Sink: inner, Threshold: c.Threshold, ExcludedServices: c.ExcludedServices,
			LogOnly: c.LogOnly, Log: slog.Default()}, nil
	case *MetricSeriesLoggingSinkConf:
		return sinks.NewMetricSeriesLoggingSink(s.Name, c.Directory, c.FileName, slog.Default()), nil
	case *MultiSinkConf:
		m := &sinks.MultiSink{Name: s.Name}
		for _, in := range c.Sinks {
			sk, err := buildSink(in, bc)
			if err != nil {
				closeSinks(m.Sinks)
				return nil, err
			}
			if sk != nil {
				m.Sinks = append(m.Sinks, sk)
			}
		}
		return m, nil
	}
	if skip {
		return nil, nil
	}
	return nil, fmt.Errorf("%s: sink %s (%s): %w", s.Pos, s.Name, s.Class, errUnavailable)
}

func sinkDims(kvs []KV) []sinks.Dimension {
	out := make([]sinks.Dimension, len(kvs))
	for i, kv := range kvs {
		out[i] = sinks.Dimension{Key: []byte(kv.Key), Value: []byte(kv.Value)}
	}
	return out
}

// unwrapSource returns the source a chain of wrapping sources (MappingSource,
// TimeStampingSource, …) wraps, and the wrappers from the outermost in.
func unwrapSource(s ClassSpec) (ClassSpec, []ClassSpec) {
	var wrappers []ClassSpec
	for {
		var inner ClassSpec
		switch c := s.Conf.(type) {
		case *MappingSourceConf:
			inner = c.Source
		case *TimeStampingSourceConf:
			inner = c.Source
		case *TransformingSourceConf:
			inner = c.Source
		case *TagDroppingSourceConf:
			inner = c.Source
		default:
			return s, wrappers
		}
		wrappers = append(wrappers, s)
		s = inner
	}
}

// mapperOf returns a factory of the mapper of a chain of wrappers (nil if
// there are none, or if one is not available) and a key identifying it.
func mapperOf(wrappers []ClassSpec) (func() ingest.Mapper, string, error) {
	if len(wrappers) == 0 {
		return nil, "", nil
	}
	var key strings.Builder
	var makers []func() (ingest.Mapper, error)
	// The innermost wrapper maps first.
	for i := len(wrappers) - 1; i >= 0; i-- {
		w := wrappers[i]
		fmt.Fprintf(&key, "%s%+v;", w.Class, w.Conf)
		switch c := w.Conf.(type) {
		case *MappingSourceConf:
			rules := make([]ingest.MappingRule, len(c.FindAndReplace))
			for j, fr := range c.FindAndReplace {
				rules[j] = ingest.MappingRule{Pattern: fr.Key, Replacements: fr.Values}
			}
			if _, err := ingest.NewMapping(rules); err != nil {
				return nil, "", err
			}
			makers = append(makers, func() (ingest.Mapper, error) { return ingest.NewMapping(rules) })
		case *TimeStampingSourceConf:
			makers = append(makers, func() (ingest.Mapper, error) { return ingest.TimeStamping{}, nil })
		default:
			return nil, "", nil
		}
	}
	return func() ingest.Mapper {
		ms := make(ingest.Mappers, 0, len(makers))
		for _, mk := range makers {
			m, _ := mk() // compiled once above: cannot fail
			ms = append(ms, m)
		}
		return ms
	}, key.String(), nil
}
