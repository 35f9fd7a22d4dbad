package engine

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gomad/mad/engine/hocon"
	"github.com/gomad/mad/ingest/statsd"
)

// The class registry maps each MAD class name (the `type` of a source, sink
// or parser: a Java class name, MAD-SPEC §0) and its short alias (the simple
// class name) to its configuration binder, and, for the classes mad
// implements, to the code that builds it. Classes mad does not implement
// yet are still bound, so that their values are checked, and then refused
// by name.

type classKind uint8

const (
	kindSource classKind = iota
	kindSink
	kindParser
)

func (k classKind) String() string {
	return [...]string{"source", "sink", "parser"}[k]
}

type class struct {
	fqcn string
	kind classKind
	// bind reads the class's keys (other than type and name) into its
	// configuration value.
	bind func(n *node) any
	// missing says why mad cannot run this class yet ("" when it can).
	missing string
}

func (c *class) alias() string { return c.fqcn[strings.LastIndexByte(c.fqcn, '.')+1:] }

const (
	pkgSources    = "com.arpnetworking.metrics.common.sources."
	pkgMadSources = "com.arpnetworking.metrics.mad.sources."
	pkgParsers    = "com.arpnetworking.metrics.mad.parsers."
	pkgSinks      = "com.arpnetworking.tsdcore.sinks."
	pkgExpSources = "com.arpnetworking.metrics.mad.experimental.sources."
	pkgExpSinks   = "com.arpnetworking.metrics.mad.experimental.sinks."
	// pkgMad names the classes mad adds.
	pkgMad = "io.gomad.mad.sinks."

	laterParser = "mad does not implement this parser yet (StatsD, Graphite and Telegraf lines are)"
	laterKafka  = "the Kafka source is not implemented in mad yet"
	laterWrap   = "wrapping sources are not implemented in mad yet"
	laterOTel   = "the OpenTelemetry gRPC source is not implemented in mad yet"
	outOfScope  = "FileSource is out of mad's scope (MAD-SPEC §3.5): tail files with a log shipper instead"
)

var registry = map[string]*class{}

func register(c *class) {
	registry[c.fqcn] = c
	if _, dup := registry[c.alias()]; !dup {
		registry[c.alias()] = c
	}
}

// lookupClass finds a class by MAD class name or short alias.
func lookupClass(name string) (*class, bool) {
	c, ok := registry[name]
	return c, ok
}

// ClassNames returns every class mad knows, by kind, marking those it
// cannot run yet (for -check-config and documentation).
func ClassNames() []string {
	var out []string
	for name, c := range registry {
		if name != c.fqcn {
			continue
		}
		state := "available"
		if c.missing != "" {
			state = "not available yet"
		}
		out = append(out, fmt.Sprintf("%s %s (%s): %s", c.kind, c.fqcn, c.alias(), state))
	}
	slices.Sort(out)
	return out
}

// Configurations of MAD's classes. Durations of zero are unset where MAD's
// are nullable.

// StatsdSourceConf is StatsdSource (UDP).
type StatsdSourceConf struct {
	Host string
	Port int
	// Decoder holds mad's StatsD options (keys sampleRateMode and
	// negativeGaugeDelta; MAD's behaviour by default).
	Decoder statsd.Config
}

// TCPLineSourceConf is TcpLineSource.
type TCPLineSourceConf struct {
	Host        string
	Port        int
	AcceptQueue int
	Parser      ClassSpec
}

// HTTPSourceConf is any of MAD's HTTP sources (ClientHttpSourceV1/V2/V3,
// CollectdHttpSourceV1, PrometheusHttpSource).
type HTTPSourceConf struct {
	// Prometheus only.
	InterpretUnits, OutputDebugFiles bool
	ReservedNameWhitelist            []string
}

// KafkaSourceConf is KafkaSource.
type KafkaSourceConf struct {
	Topics                                   []string
	Configs                                  []KV
	Parser                                   ClassSpec
	PollTime, ShutdownAwaitTime, BackoffTime time.Duration
	NumWorkerThreads, BufferSize             int
}

// MappingSourceConf is MappingSource.
type MappingSourceConf struct {
	Source         ClassSpec
	FindAndReplace []KVs
}

// TimeStampingSourceConf is TimeStampingSource.
type TimeStampingSourceConf struct{ Source ClassSpec }

// TransformingSourceConf is mad-experimental's TransformingSource.
type TransformingSourceConf struct {
	Source          ClassSpec
	Transformations []TransformationSet
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
}

// DropSet is one of TagDroppingSource's dropSets.
type DropSet struct {
	MetricPattern    string
	RemoveDimensions []string
}

// GraphiteParserConf is GraphitePlaintextToRecordParser.
type GraphiteParserConf struct {
	GlobalTags      []KV
	ParseCarbonTags bool
}

// TelegrafParserConf is TelegrafJsonToRecordParser.
type TelegrafParserConf struct{ TimestampUnit string }

// MultiSinkConf is MultiSink.
type MultiSinkConf struct{ Sinks []ClassSpec }

// PeriodFilteringSinkConf is PeriodFilteringSink.
type PeriodFilteringSinkConf struct {
	Sink                                ClassSpec
	Include, Exclude                    []time.Duration
	ExcludeLessThan, ExcludeGreaterThan time.Duration
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

// PeriodicStatisticsSinkConf is PeriodicStatisticsSink.
type PeriodicStatisticsSinkConf struct {
	Interval                                  time.Duration
	Dimensions                                []string
	MappedDimensions, DefaultDimensionsValues []KV
	PeriodDimensionName                       string
}

// TelemetrySinkConf is TelemetrySink.
type TelemetrySinkConf struct{ TelemetryActorPath string }

// TracingSinkConf is TracingSink.
type TracingSinkConf struct{ Patterns []KV }

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

// MetricSeriesLoggingSinkConf is mad-experimental's MetricSeriesLoggingSink.
type MetricSeriesLoggingSinkConf struct{ Directory, FileName string }

// JSONLinesSinkConf is mad's JsonLinesSink: one JSON object per metric and
// closed bucket, appended to a file or standard output.
type JSONLinesSinkConf struct{ Path string }

// ClassSpec is one configured source, sink or parser: its class, name,
// where it was written, and its bound configuration (one of the *Conf
// types above; nil for classes without keys).
type ClassSpec struct {
	Class string // MAD class name (the alias is resolved)
	Name  string
	Pos   hocon.Pos
	Conf  any
}

const maxPort = 65535

func init() {
	for _, name := range []string{"ClientHttpSourceV1", "ClientHttpSourceV2", "ClientHttpSourceV3", "CollectdHttpSourceV1", "PrometheusHttpSource"} {
		register(&class{fqcn: pkgSources + name, kind: kindSource, bind: bindHTTPSource})
	}
	register(&class{fqcn: pkgSources + "StatsdSource", kind: kindSource, bind: func(n *node) any {
		n.ignore("actorName", "poolSize")
		return &StatsdSourceConf{
			Host:    n.str("host", "localhost"),
			Port:    int(n.integer("port", 8125, 0, maxPort)),
			Decoder: bindDecoder(n),
		}
	}})
	register(&class{fqcn: pkgSources + "TcpLineSource", kind: kindSource, bind: func(n *node) any {
		n.ignore("actorName", "poolSize")
		c := &TCPLineSourceConf{
			Host:        n.str("host", "localhost"),
			Port:        int(n.integer("port", 0, 0, maxPort)),
			AcceptQueue: int(n.integer("acceptQueue", 100, 1, 1<<20)),
		}
		if !n.has("port") {
			n.fail(nil, "port", "is required")
		}
		c.Parser = n.nested("parser", kindParser, true)
		if p, ok := c.Parser.Conf.(*statsdParserConf); ok {
			p.decoder = bindDecoder(n)
		}
		return c
	}})
	register(&class{fqcn: pkgSources + "KafkaSource", kind: kindSource, missing: laterKafka, bind: func(n *node) any {
		c := &KafkaSourceConf{}
		if cons := n.object("consumer"); cons == nil {
			n.fail(nil, "consumer", "is required")
		} else {
			cons.ignore("type")
			var ok bool
			if c.Topics, ok = cons.strings("topics"); !ok {
				cons.fail(nil, "topics", "is required")
			}
			if !cons.has("configs") {
				cons.fail(nil, "configs", "is required")
			}
			c.Configs = cons.strMap("configs")
			cons.done()
		}
		c.Parser = n.nested("parser", kindParser, true)
		var set bool
		if c.PollTime, set = n.duration("pollTime", 0); !set {
			n.fail(nil, "pollTime", "is required")
		}
		c.ShutdownAwaitTime, _ = n.duration("shutdownAwaitTime", 10*time.Second)
		c.BackoffTime, _ = n.duration("backoffTime", time.Second)
		c.NumWorkerThreads = int(n.integer("numWorkerThreads", 1, 1, 1024))
		c.BufferSize = int(n.integer("bufferSize", 1000, 1, 1<<24))
		return c
	}})
	register(&class{fqcn: pkgSources + "FileSource", kind: kindSource, missing: outOfScope, bind: func(n *node) any {
		n.ignore("sourceFile", "parser", "interval", "stateFile", "initialPosition")
		return nil
	}})
	register(&class{fqcn: pkgMadSources + "MappingSource", kind: kindSource, bind: func(n *node) any {
		c := &MappingSourceConf{Source: n.nested("source", kindSource, true)}
		c.FindAndReplace = n.listMap("findAndReplace")
		for _, e := range c.FindAndReplace {
			n.checkRegexp("findAndReplace", e.Key)
		}
		return c
	}})
	register(&class{fqcn: pkgMadSources + "TimeStampingSource", kind: kindSource, bind: func(n *node) any {
		return &TimeStampingSourceConf{Source: n.nested("source", kindSource, true)}
	}})
	register(&class{fqcn: pkgExpSources + "TransformingSource", kind: kindSource, missing: laterWrap, bind: bindTransforming})
	register(&class{fqcn: pkgExpSources + "TagDroppingSource", kind: kindSource, missing: laterWrap, bind: func(n *node) any {
		c := &TagDroppingSourceConf{Source: n.nested("source", kindSource, true)}
		sets := n.list("dropSets")
		if len(sets) == 0 {
			n.fail(n.get("dropSets"), "dropSets", "must be a non-empty list")
		}
		for i, v := range sets {
			e := n.elem("dropSets", i, v)
			if e == nil {
				continue
			}
			d := DropSet{MetricPattern: e.reqStr("metricPattern")}
			e.checkRegexp("metricPattern", d.MetricPattern)
			d.RemoveDimensions, _ = e.strings("removeDimensions")
			e.done()
			c.DropSets = append(c.DropSets, d)
		}
		return c
	}})
	register(&class{fqcn: pkgExpSources + "OpenTelemetryGrpcSource", kind: kindSource, missing: laterOTel, bind: func(n *node) any {
		n.ignore("actorName", "poolSize")
		return nil
	}})

	// Parsers.
	register(&class{fqcn: pkgParsers + "StatsdToRecordParser", kind: kindParser, bind: func(n *node) any { return &statsdParserConf{} }})
	register(&class{fqcn: pkgParsers + "GraphitePlaintextToRecordParser", kind: kindParser, bind: func(n *node) any {
		return &GraphiteParserConf{GlobalTags: n.strMap("globalTags"), ParseCarbonTags: n.boolean("parseCarbonTags", false)}
	}})
	register(&class{fqcn: pkgParsers + "TelegrafJsonToRecordParser", kind: kindParser, bind: func(n *node) any {
		return &TelegrafParserConf{TimestampUnit: n.enum("timestampUnit", "SECONDS", "SECONDS", "MILLISECONDS", "MICROSECONDS", "NANOSECONDS")}
	}})
	for _, name := range []string{"ProtobufV1ToRecordParser", "ProtobufV2ToRecordParser", "ProtobufV2bytesToRecordParser", "ProtobufV3ToRecordParser", "PrometheusToRecordParser", "CollectdJsonToRecordParser"} {
		register(&class{fqcn: pkgParsers + name, kind: kindParser, missing: laterParser, bind: func(n *node) any { return nil }})
	}

	// Sinks.
	register(&class{fqcn: pkgSinks + "MultiSink", kind: kindSink, bind: func(n *node) any {
		return &MultiSinkConf{Sinks: n.nestedList("sinks", kindSink)}
	}})
	register(&class{fqcn: pkgSinks + "PeriodFilteringSink", kind: kindSink, bind: func(n *node) any {
		c := &PeriodFilteringSinkConf{Sink: n.nested("sink", kindSink, true)}
		c.Include = n.durations("include", nil)
		c.Exclude = n.durations("exclude", nil)
		c.ExcludeLessThan, _ = n.duration("excludeLessThan", 0)
		c.ExcludeGreaterThan, _ = n.duration("excludeGreaterThan", 0)
		return c
	}})
	register(&class{fqcn: pkgSinks + "DimensionInjectingSink", kind: kindSink, bind: func(n *node) any {
		return &DimensionInjectingSinkConf{Sink: n.nested("sink", kindSink, true),
			DefaultDimensions: n.strMap("defaultDimensions"), OverrideDimensions: n.strMap("overrideDimensions")}
	}})
	register(&class{fqcn: pkgSinks + "TimeThresholdSink", kind: kindSink, bind: func(n *node) any {
		c := &TimeThresholdSinkConf{Sink: n.nested("sink", kindSink, true)}
		var set bool
		if c.Threshold, set = n.duration("threshold", 0); !set {
			n.fail(nil, "threshold", "is required")
		}
		c.ExcludedServices, _ = n.strings("excludedServices")
		c.LogOnly = n.boolean("logOnly", false)
		return c
	}})
	register(&class{fqcn: pkgSinks + "PeriodicStatisticsSink", kind: kindSink, bind: func(n *node) any {
		c := &PeriodicStatisticsSinkConf{
			Interval:                time.Duration(n.integer("intervalInMilliseconds", 500, 1, 1<<40)) * time.Millisecond,
			MappedDimensions:        n.strMap("mappedDimensions"),
			DefaultDimensionsValues: n.strMap("defaultDimensionsValues"),
			PeriodDimensionName:     n.str("periodDimensionName", "_period"),
		}
		c.Dimensions, _ = n.strings("dimensions")
		return c
	}})
	register(&class{fqcn: pkgSinks + "TelemetrySink", kind: kindSink, bind: func(n *node) any {
		n.ignore("histogramStatistics") // mad-2.0 TODO in MAD's own sample file
		return &TelemetrySinkConf{TelemetryActorPath: n.str("telemetryActorPath", "/user/telemetry")}
	}})
	register(&class{fqcn: pkgSinks + "TracingSink", kind: kindSink, bind: func(n *node) any {
		c := &TracingSinkConf{Patterns: n.strMap("patterns")}
		if !n.has("patterns") {
			n.fail(nil, "patterns", "is required")
		}
		for _, p := range c.Patterns {
			n.checkRegexp("patterns", p.Value)
		}
		return c
	}})
	register(&class{fqcn: pkgSinks + "AggregationServerHttpSink", kind: kindSink, bind: func(n *node) any {
		c := &HTTPPostSinkConf{
			URI:                n.reqStr("uri"),
			MaximumConcurrency: int(n.integer("maximumConcurrency", 1, 1, 1<<16)),
			MaximumQueueSize:   int(n.integer("maximumQueueSize", 25000, 1, 1<<30)),
		}
		c.SpreadPeriod, _ = n.duration("spreadPeriod", 0)
		c.AcceptedStatusCodes = n.statusCodes("acceptedStatusCodes", []int{200, 201, 202, 204})
		c.MaximumAttempts = int(n.integer("maximumAttempts", 1, 1, 1000))
		c.BaseBackoff, _ = n.duration("baseBackoff", 50*time.Millisecond)
		c.MaximumDelay, _ = n.duration("maximumDelay", time.Minute)
		c.RetryableStatusCodes = n.statusCodes("retryableStatusCodes", []int{408, 429, 502, 503})
		return c
	}})
	register(&class{fqcn: pkgSinks + "AggregationServerSink", kind: kindSink, bind: func(n *node) any {
		return &AggregationServerSinkConf{
			ServerAddress: n.reqStr("serverAddress"),
			ServerPort:    int(n.integer("serverPort", 7065, 1, maxPort)),
			MaxQueueSize:  int(n.integer("maxQueueSize", 10000, 1, 1<<30)),
		}
	}})
	register(&class{fqcn: pkgExpSinks + "MetricSeriesLoggingSink", kind: kindSink, bind: func(n *node) any {
		// mad's keys; MAD writes metrics_streams.json in the working directory.
		return &MetricSeriesLoggingSinkConf{Directory: n.str("directory", ""), FileName: n.str("fileName", "metrics_streams.json")}
	}})
	register(&class{fqcn: pkgMad + "JsonLinesSink", kind: kindSink, bind: func(n *node) any {
		return &JSONLinesSinkConf{Path: n.str("path", "-")}
	}})
}

// statsdParserConf is StatsdToRecordParser; mad's StatsD options are read
// from the enclosing TcpLineSource (as for StatsdSource).
type statsdParserConf struct{ decoder statsd.Config }

// bindDecoder reads mad's StatsD options: sampleRateMode "resample" (MAD:
// keep a line with probability r) or "scale" (standard StatsD: keep every
// line, weighted 1/r); negativeGaugeDelta (Etsy: "-N" on a gauge is a
// delta).
func bindDecoder(n *node) statsd.Config {
	var c statsd.Config
	switch n.enum("sampleRateMode", "resample", "resample", "scale") {
	case "scale":
		c.RateMode = statsd.RateScale
	}
	c.NegativeGaugeDelta = n.boolean("negativeGaugeDelta", false)
	return c
}

func bindHTTPSource(n *node) any {
	n.ignore("actorName", "poolSize")
	c := &HTTPSourceConf{
		InterpretUnits:   n.boolean("interpretUnits", false),
		OutputDebugFiles: n.boolean("outputDebugFiles", false),
	}
	c.ReservedNameWhitelist, _ = n.strings("reservedNameWhitelist")
	return c
}

func bindTransforming(n *node) any {
	c := &TransformingSourceConf{Source: n.nested("source", kindSource, true)}
	sets := n.list("transformations")
	if len(sets) == 0 {
		n.fail(n.get("transformations"), "transformations", "must be a non-empty list")
	}
	for i, v := range sets {
		e := n.elem("transformations", i, v)
		if e == nil {
			continue
		}
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
		e.done()
		c.Transformations = append(c.Transformations, t)
	}
	return c
}

// statusCodes reads a list of HTTP status codes.
func (n *node) statusCodes(k string, def []int) []int {
	codes := n.list(k)
	if codes == nil {
		return def
	}
	out := []int{}
	for i := range codes {
		out = append(out, int(n.indexInteger(k, i, 100, 599)))
	}
	return out
}

// indexInteger reads element i of the list at k as an integer.
func (n *node) indexInteger(k string, i int, lo, hi int64) int64 {
	v := n.list(k)[i]
	tmp := &node{b: n.b, v: &hocon.Value{Kind: hocon.Object, Obj: &hocon.Obj{Keys: []string{"v"}, Fields: map[string]*hocon.Value{"v": v}}, Pos: v.Pos}, path: fmt.Sprintf("%s[%d]", n.key(k), i), used: map[string]bool{}}
	return tmp.integer("v", 0, lo, hi)
}

// checkRegexp reports a pattern Go's regexp cannot compile (MAD's patterns
// are Java regular expressions; RE2 lacks look-around and
// back-references).
func (n *node) checkRegexp(k, pattern string) {
	if _, err := regexp.Compile(pattern); err != nil {
		n.fail(n.get(k), k, "pattern %q: %v (mad uses RE2 syntax: no look-around or back-references)", pattern, err)
	}
}

// nested binds the source, sink or parser object at k.
func (n *node) nested(k string, kind classKind, required bool) ClassSpec {
	o := n.object(k)
	if o == nil {
		if required {
			n.fail(nil, k, "a %s is required", kind)
		}
		return ClassSpec{}
	}
	return o.bindClass(kind)
}

// nestedList binds the list of sources or sinks at k.
func (n *node) nestedList(k string, kind classKind) []ClassSpec {
	var out []ClassSpec
	for i, v := range n.list(k) {
		if e := n.elem(k, i, v); e != nil {
			out = append(out, e.bindClass(kind))
		}
	}
	return out
}

// bindClass binds this object as a source, sink or parser: its type, name
// and keys. A class mad cannot run yet is still bound (its values checked)
// and then reported.
func (n *node) bindClass(kind classKind) ClassSpec {
	spec := ClassSpec{Pos: n.v.Pos}
	typ := n.str("type", "")
	if typ == "" {
		n.fail(nil, "type", "is required: the MAD class name of this %s", kind)
		n.ignore(objKeys(n)...)
		return spec
	}
	c, ok := lookupClass(typ)
	if !ok {
		n.fail(n.get("type"), "type", "unknown %s class %q", kind, typ)
		n.ignore(objKeys(n)...)
		return spec
	}
	if c.kind != kind {
		n.fail(n.get("type"), "type", "%s is a %s, not a %s", typ, c.kind, kind)
		n.ignore(objKeys(n)...)
		return spec
	}
	spec.Class = c.fqcn
	if kind != kindParser {
		spec.Name = n.reqStr("name")
	}
	spec.Conf = c.bind(n)
	n.done()
	if c.missing != "" {
		n.b.problems = append(n.b.problems, Problem{Pos: n.v.Pos, Key: n.path, Unavailable: true,
			Msg: fmt.Sprintf("%s %s is not available: %s", kind, c.fqcn, c.missing)})
	}
	return spec
}

func objKeys(n *node) []string {
	if n.v == nil || n.v.Obj == nil {
		return nil
	}
	return n.v.Obj.Keys
}
