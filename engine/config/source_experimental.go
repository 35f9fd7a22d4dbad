package config

import (
	"os"
	"strings"
	"time"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/internal/transform"
)

// environ is the process environment as a map (TransformingSource's env
// lookups).
func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// mad-experimental's sources, bound with MAD's keys and validation: the
// OpenTelemetry source, and the wrapping TransformingSource and
// TagDroppingSource (ingest.RewriteSpec over internal/transform).

// OpenTelemetrySourceConf is mad-experimental's OpenTelemetryGrpcSource:
// MAD's keys are only name and actorName; the others are mad's, each off
// by default because it changes results (ingest.OTLPOptions).
type OpenTelemetrySourceConf struct {
	CumulativeToDelta  bool
	MaxDeltaStreams    int
	DeltaStreamTimeout time.Duration
	NumberUnits        bool
	// GRPCHost and GRPCPort (mad's own keys grpcHost, grpcPort; OTLP's
	// port is 4317) are a port of the source's own for OTLP/gRPC, beside
	// MAD's route on the HTTP port; GRPCPort < 0: none.
	GRPCHost string
	GRPCPort int
}

// TransformingSourceConf is mad-experimental's TransformingSource.
type TransformingSourceConf struct {
	Source          ClassSpec
	Transformations []TransformationSet
	Cache           RewriteCache
}

// TransformationSet is one of TransformingSource's transformations.
type TransformationSet struct {
	TransformMetrics []KVs
	InjectDimensions []InjectDimension
	RemoveDimensions []string
}

// InjectDimension is one injectDimensions entry.
type InjectDimension struct {
	Key, Value string
	Overwrite  bool
}

// TagDroppingSourceConf is mad-experimental's TagDroppingSource.
type TagDroppingSourceConf struct {
	Source   ClassSpec
	DropSets []DropSet
	Cache    RewriteCache
}

// DropSet is one of TagDroppingSource's dropSets.
type DropSet struct {
	MetricPattern    string
	RemoveDimensions []string
}

func init() {
	register(&class{fqcn: pkgExpSources + "TransformingSource", kind: kindSource, bind: bindTransforming,
		source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
			c := s.Conf.(*TransformingSourceConf)
			sets := make([]transform.Set, len(c.Transformations))
			for i, t := range c.Transformations {
				for _, kv := range t.TransformMetrics {
					sets[i].Metrics = append(sets[i].Metrics, transform.Rule{Pattern: kv.Key, Templates: kv.Values})
				}
				for _, d := range t.InjectDimensions {
					sets[i].Inject = append(sets[i].Inject, transform.Injection{Key: d.Key, Value: d.Value, Overwrite: d.Overwrite})
				}
				sets[i].Remove = t.RemoveDimensions
			}
			// The environment as it is now, when the configuration loads
			// (and again at each reload), never per record.
			m, err := ingest.NewTransformingSpec(s.Name, sets, environ())
			if err != nil {
				return nil, s.failed("source", err)
			}
			return b.wrapped(c.Source, c.Cache.bounded(m))
		}})
	register(&class{fqcn: pkgExpSources + "TagDroppingSource", kind: kindSource, source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
		c := s.Conf.(*TagDroppingSourceConf)
		sets := make([]transform.DropSet, len(c.DropSets))
		for i, d := range c.DropSets {
			sets[i] = transform.DropSet{MetricPattern: d.MetricPattern, RemoveDimensions: d.RemoveDimensions}
		}
		m, err := ingest.NewTagDroppingSpec(s.Name, sets)
		if err != nil {
			return nil, s.failed("source", err)
		}
		return b.wrapped(c.Source, c.Cache.bounded(m))
	}, bind: func(n *node) any {
		c := &TagDroppingSourceConf{Source: n.nested("source", kindSource, true), Cache: bindRewriteCache(n)}
		n.eachObject("dropSets", func(e *node) {
			d := DropSet{MetricPattern: e.reqStr("metricPattern")}
			e.checkRegexp("metricPattern", d.MetricPattern)
			d.RemoveDimensions, _ = e.strings("removeDimensions")
			c.DropSets = append(c.DropSets, d)
		})
		return c
	}})
	// OTLP/gRPC on MAD's HTTP server, and OTLP/HTTP beside it (ingest's
	// HTTPOTLP): an HTTP source like the client protocols'.
	register(&class{fqcn: pkgExpSources + "OpenTelemetryGrpcSource", kind: kindSource, bind: func(n *node) any {
		n.ignore("actorName", "poolSize")
		c := &OpenTelemetrySourceConf{
			CumulativeToDelta: n.boolean("cumulativeToDelta", false),
			MaxDeltaStreams:   int(n.integer("maxDeltaStreams", 100_000, 1, 1<<31-1)),
			NumberUnits:       n.boolean("numberUnits", false),
			GRPCHost:          n.str("grpcHost", "localhost"),
			GRPCPort:          -1,
		}
		if n.has("grpcPort") {
			c.GRPCPort = int(n.integer("grpcPort", 4317, 0, maxPort))
		}
		c.DeltaStreamTimeout = n.positiveDuration("deltaStreamTimeout", 10*time.Minute)
		return c
	}, source: func(b *Builder, s ClassSpec) (ingest.SourceConfig, error) {
		c, l := s.Conf.(*OpenTelemetrySourceConf), b.HTTP
		var grpcAddr string
		if c.GRPCPort >= 0 {
			grpcAddr = joinHostPort(c.GRPCHost, c.GRPCPort)
		}
		return &ingest.HTTPConfig{Name: s.Name, Kind: ingest.HTTPOTLP, Slots: max(2, affinity.Usable()), GRPCAddr: grpcAddr,
			MaxBody: l.MaxBody, MaxDecompressed: l.MaxDecompressed, MaxRecords: l.MaxRecords, Deadline: l.BusyTimeout, Log: b.log(),
			OTLP: ingest.OTLPOptions{CumulativeToDelta: c.CumulativeToDelta, MaxStreams: c.MaxDeltaStreams,
				StreamTimeout: c.DeltaStreamTimeout, NumberUnits: c.NumberUnits}}, nil
	}})
}

func bindTransforming(n *node) any {
	c := &TransformingSourceConf{Source: n.nested("source", kindSource, true), Cache: bindRewriteCache(n)}
	n.eachObject("transformations", func(e *node) {
		var t TransformationSet
		t.TransformMetrics = e.listMap("transformMetrics")
		for _, kv := range t.TransformMetrics {
			e.checkRegexp("transformMetrics", kv.Key)
		}
		if inj := e.object("injectDimensions"); inj != nil {
			for _, k := range inj.v.Obj.Keys {
				d := inj.object(k)
				if d == nil {
					continue
				}
				t.InjectDimensions = append(t.InjectDimensions, InjectDimension{Key: k, Value: d.reqStr("value"), Overwrite: d.boolean("overwrite", true)})
				d.done()
			}
		}
		t.RemoveDimensions, _ = e.strings("removeDimensions")
		c.Transformations = append(c.Transformations, t)
	})
	return c
}
