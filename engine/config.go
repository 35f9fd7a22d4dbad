package engine

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gomad/mad/engine/hocon"
	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/shard"
)

// LoadOptions are the environment configuration files are read in.
type LoadOptions struct {
	// Env looks up environment variables for ${VAR} and ${?VAR}
	// substitutions (default os.LookupEnv).
	Env func(string) (string, bool)
	// Properties are Java-style system properties (mad -Dkey=value): like
	// MAD's JVM system properties they are a fallback under every HOCON
	// file's root, so ${user.home} or ${?my.setting} resolve. A few
	// standard ones (user.dir, user.home, user.name, java.io.tmpdir,
	// os.name, os.arch, file.separator, path.separator, line.separator) are
	// always defined.
	Properties map[string]string
	// ReadFile reads configuration files, included ones too (default
	// os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// SkipUnavailable runs pipelines without the sources and sinks mad does
	// not implement yet (each is still reported) instead of refusing them.
	SkipUnavailable bool
}

func (o LoadOptions) hocon() hocon.Options {
	props := map[string]string{
		"file.separator": string(filepath.Separator),
		"path.separator": string(filepath.ListSeparator),
		"line.separator": "\n",
		"os.name":        osName(),
		"os.arch":        runtime.GOARCH,
		"java.io.tmpdir": os.TempDir(),
	}
	if wd, err := os.Getwd(); err == nil {
		props["user.dir"] = wd
	}
	if h, err := os.UserHomeDir(); err == nil {
		props["user.home"] = h
	}
	if u := os.Getenv("USER"); u != "" {
		props["user.name"] = u
	}
	for k, v := range o.Properties {
		props[k] = v
	}
	return hocon.Options{Env: o.Env, Fallback: props, ReadFile: o.ReadFile}
}

func osName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Mac OS X"
	case "windows":
		return "Windows"
	}
	return runtime.GOOS
}

func (o LoadOptions) read(path string) ([]byte, error) {
	if o.ReadFile != nil {
		return o.ReadFile(path)
	}
	return os.ReadFile(path)
}

// MainSpec is MAD's main configuration (AggregatorConfiguration, MAD-SPEC
// §1) as mad reads it.
type MainSpec struct {
	File string
	Hash [32]byte

	// PipelinesDirectory holds one pipeline per file; relative paths are
	// relative to the working directory, as in MAD.
	PipelinesDirectory string
	// Pipelines are pipelines written inline in the main file (mad's
	// `pipelines` key; the embedded default configuration uses it).
	Pipelines []*PipelineSpec

	HTTPHost                       string
	HTTPPort                       int
	HTTPSHost                      string
	HTTPSPort                      int
	EnableHTTPS                    bool
	HTTPSKeyPath, HTTPSCertificate string
	HealthCheckPath, StatusPath    string
	MonitoringCluster              string
	MonitoringService              string
	MonitoringHost                 string

	// HTTP are the limits of the HTTP server (mad's httpMaxBodyBytes,
	// httpMaxDecompressedBytes, httpMaxRecordsPerRequest, httpReadTimeout,
	// httpReadHeaderTimeout, httpIdleTimeout, httpBusyTimeout).
	HTTP HTTPLimits
	// EnablePprof serves /debug/pprof (mad's enablePprof, default true).
	EnablePprof bool

	// ReloadInterval is how often the main file and the pipeline files are
	// checked for changes (mad's `reloadInterval`, MAD's fixed 60 s by
	// default); 0 disables polling (SIGHUP and POST /reload still work).
	ReloadInterval time.Duration

	// JVMOnly lists the JVM-only keys that were accepted and ignored.
	JVMOnly []string
	// Unknown lists ignored keys, with their positions.
	Unknown []string
}

// HTTPAddr is httpHost:httpPort.
func (m *MainSpec) HTTPAddr() string {
	return joinHostPort(m.HTTPHost, m.HTTPPort)
}

// PipelineSpec is one pipeline (PipelineConfiguration, MAD-SPEC §2).
type PipelineSpec struct {
	File string
	Hash [32]byte
	Pos  hocon.Pos

	Name    string
	Shard   shard.Config
	Sources []ClassSpec
	Sinks   []ClassSpec
	// Unavailable are the problems naming classes mad does not implement
	// yet; with LoadOptions.SkipUnavailable they do not refuse the pipeline
	// and those sources and sinks are left out.
	Unavailable Problems
	Unknown     []string
}

// jvmOnlyKeys are MAD main-configuration keys that configure the JVM, Pekko
// or MAD's metrics client; mad accepts and ignores them.
var jvmOnlyKeys = []string{"pekkoConfiguration", "akkaConfiguration", "jvmMetricsCollectionInterval", "logDeadLetters",
	"supplementalHttpRoutesClass", "monitoringSinks", "metricsClientHost", "metricsClientPort", "logDirectory"}

// IsMainConfig reports whether a parsed file is a main configuration rather
// than a pipeline (it names a pipelines directory or inline pipelines).
func IsMainConfig(root *hocon.Value) bool {
	_, dir := root.Obj.Get("pipelinesDirectory")
	_, inline := root.Obj.Get("pipelines")
	return dir || inline
}

// parseFile reads and parses one configuration file (HOCON for .conf,
// strict JSON otherwise), returning its content hash.
func parseFile(path string, opt LoadOptions) (*hocon.Value, [32]byte, Problems) {
	data, err := opt.read(path)
	if err != nil {
		return nil, [32]byte{}, Problems{{Pos: hocon.Pos{File: path}, Msg: fmt.Sprintf("cannot read: %v", err)}}
	}
	return parseBytes(path, data, opt)
}

func sha(data []byte) [32]byte { return sha256.Sum256(data) }

func parseBytes(path string, data []byte, opt LoadOptions) (*hocon.Value, [32]byte, Problems) {
	sum := sha(data)
	var v *hocon.Value
	var err error
	if strings.HasSuffix(strings.ToLower(path), ".conf") {
		v, err = hocon.Parse(path, data, opt.hocon())
	} else {
		v, err = hocon.ParseJSON(path, data)
	}
	if err != nil {
		return nil, sum, problemsOf(path, err)
	}
	if v.Kind != hocon.Object {
		return nil, sum, Problems{{Pos: v.Pos, Msg: "the configuration must be an object"}}
	}
	return v, sum, nil
}

func problemsOf(path string, err error) Problems {
	if e, ok := err.(*hocon.Error); ok {
		return Problems{{Pos: e.Pos, Msg: e.Msg}}
	}
	return Problems{{Pos: hocon.Pos{File: path}, Msg: err.Error()}}
}

// LoadMain reads a main configuration file and binds it, with its inline
// pipelines (the pipelines directory is read by the daemon). Problems lists
// everything wrong; the spec is nil if anything but unavailable classes
// (which SkipUnavailable tolerates) is wrong.
func LoadMain(path string, opt LoadOptions) (*MainSpec, Problems) {
	root, sum, ps := parseFile(path, opt)
	if ps != nil {
		return nil, ps
	}
	m, ps := bindMain(path, root, opt)
	if m != nil {
		m.Hash = sum
	}
	return m, ps
}

// ParseMain binds a main configuration from bytes (the embedded default).
func ParseMain(name string, data []byte, opt LoadOptions) (*MainSpec, Problems) {
	root, sum, ps := parseBytes(name, data, opt)
	if ps != nil {
		return nil, ps
	}
	m, ps := bindMain(name, root, opt)
	if m != nil {
		m.Hash = sum
	}
	return m, ps
}

func bindMain(path string, root *hocon.Value, opt LoadOptions) (*MainSpec, Problems) {
	b := &binder{file: path}
	n := b.root(root)
	m := &MainSpec{File: path}
	m.PipelinesDirectory = n.str("pipelinesDirectory", "")
	m.HTTPHost = n.str("httpHost", "0.0.0.0")
	m.HTTPPort = int(n.integer("httpPort", 7090, 0, maxPort))
	m.HTTPSHost = n.str("httpsHost", "0.0.0.0")
	m.HTTPSPort = int(n.integer("httpsPort", 7091, 0, maxPort))
	m.EnableHTTPS = n.boolean("enableHttps", false)
	m.HTTPSKeyPath = n.str("httpsKeyPath", "/opt/mad/tls/key.pem")
	m.HTTPSCertificate = n.str("httpsCertificatePath", "/opt/mad/tls/cert.pem")
	m.HealthCheckPath = n.str("httpHealthCheckPath", "/ping")
	m.StatusPath = n.str("httpStatusPath", "/status")
	for _, k := range []string{"httpHealthCheckPath", "httpStatusPath"} {
		if p := n.str(k, "/"); !strings.HasPrefix(p, "/") {
			n.fail(n.get(k), k, "must start with /")
		}
	}
	m.MonitoringCluster = n.str("monitoringCluster", "mad")
	m.MonitoringService = n.str("monitoringService", "mad")
	host, _ := os.Hostname()
	m.MonitoringHost = n.str("monitoringHost", host)
	m.HTTP = HTTPLimits{
		MaxBody:         int(n.integer("httpMaxBodyBytes", 64<<20, 1, 1<<40)),
		MaxDecompressed: int(n.integer("httpMaxDecompressedBytes", 256<<20, 1, 1<<40)),
		MaxRecords:      int(n.integer("httpMaxRecordsPerRequest", 0, 0, 1<<40)),
	}
	// MAD reads a whole body within 30 s (Routes: toStrict(30000 ms)).
	m.HTTP.ReadTimeout = n.positiveDuration("httpReadTimeout", 30*time.Second)
	m.HTTP.ReadHeaderTimeout = n.positiveDuration("httpReadHeaderTimeout", 10*time.Second)
	m.HTTP.IdleTime = n.positiveDuration("httpIdleTimeout", 2*time.Minute)
	m.HTTP.BusyTimeout = n.positiveDuration("httpBusyTimeout", 5*time.Second)
	m.EnablePprof = n.boolean("enablePprof", true)
	m.ReloadInterval, _ = n.duration("reloadInterval", time.Minute)
	if m.ReloadInterval < 0 {
		n.fail(n.get("reloadInterval"), "reloadInterval", "must not be negative")
	}
	for _, k := range jvmOnlyKeys {
		if n.has(k) {
			m.JVMOnly = append(m.JVMOnly, k)
		}
		n.ignore(k)
	}
	for i, v := range n.list("pipelines") {
		e := n.elem("pipelines", i, v)
		if e == nil {
			continue
		}
		p := bindPipeline(e, path, opt)
		p.Pos = v.Pos
		p.Hash = sha(v.JSON())
		m.Pipelines = append(m.Pipelines, p)
	}
	if m.PipelinesDirectory == "" && !n.has("pipelines") {
		n.fail(nil, "pipelinesDirectory", "is required (or mad's inline `pipelines`)")
	}
	ignoreFallback(n)
	n.done()
	m.Unknown = b.unknown
	if bad := fatal(b.problems, opt); len(bad) > 0 {
		return nil, b.problems
	}
	return m, b.problems
}

// ignoreFallback marks as known the root keys that only the system
// properties define.
func ignoreFallback(n *node) {
	for _, k := range n.v.Obj.Keys {
		if v := n.v.Obj.Fields[k]; v.Pos.File == "" || v.Pos.File == "fallback" { // hocon marks values of Options.Fallback so
			n.ignore(k)
		}
	}
}

// fatal returns the problems that refuse a configuration: all of them, or,
// with SkipUnavailable, all but the unavailable classes.
func fatal(ps Problems, opt LoadOptions) Problems {
	var out Problems
	for _, p := range ps {
		if !p.Unavailable || !opt.SkipUnavailable {
			out = append(out, p)
		}
	}
	return out
}

// LoadPipeline reads and binds one pipeline file.
func LoadPipeline(path string, opt LoadOptions) (*PipelineSpec, Problems) {
	root, sum, ps := parseFile(path, opt)
	if ps != nil {
		return nil, ps
	}
	b := &binder{file: path}
	n := b.root(root)
	p := bindPipeline(n, path, opt)
	p.Hash = sum
	p.Pos = root.Pos
	ignoreFallback(n)
	n.done()
	p.Unknown = b.unknown
	if bad := fatal(b.problems, opt); len(bad) > 0 {
		return nil, b.problems
	}
	return p, b.problems
}

// bindPipeline binds PipelineConfiguration's keys from n; its problems go
// to n's binder.
func bindPipeline(n *node, file string, opt LoadOptions) *PipelineSpec {
	before := len(n.b.problems)
	p := &PipelineSpec{File: file, Name: n.reqStr("name")}
	c := &p.Shard
	c.Periods = n.durations("periods", shard.DefaultPeriods)
	if v := n.get("periods"); v != nil && v.Kind == hocon.Array && len(v.Arr) == 0 {
		n.fail(v, "periods", "must not be empty")
	}
	for _, d := range c.Periods {
		if d <= 0 || d%time.Millisecond != 0 {
			n.fail(n.get("periods"), "periods", "%s: a period must be a positive whole number of milliseconds", d)
		}
	}
	c.IdleTimeout = n.positiveDuration("idleTimeout", 5*time.Minute)
	c.TimerStatistics = n.statSet("timerStatistics", shard.DefaultTimerStatistics)
	c.CounterStatistics = n.statSet("counterStatistics", shard.DefaultCounterStatistics)
	c.GaugeStatistics = n.statSet("gaugeStatistics", shard.DefaultGaugeStatistics)
	if o := n.object("statistics"); o != nil {
		for _, k := range o.v.Obj.Keys {
			set := o.statSet(k, 0)
			o.checkRegexp(k, k)
			c.Overrides = append(c.Overrides, shard.Override{Pattern: k, Stats: set})
		}
	}
	p.Sources = n.nestedList("sources", kindSource)
	p.Sinks = n.nestedList("sinks", kindSink)
	for _, pr := range n.b.problems[before:] {
		if pr.Unavailable {
			p.Unavailable = append(p.Unavailable, pr)
		}
	}
	return p
}

// statSet reads a list of statistic names (MAD's aliases accepted).
func (n *node) statSet(k string, def hist.Set) hist.Set {
	names, present := n.strings(k)
	if !present {
		if n.has(k) && n.get(k).Kind != hocon.Null {
			return def
		}
		if def == 0 {
			n.fail(n.get(k), k, "must be a non-empty list of statistics")
		}
		return def
	}
	set, err := hist.ParseSet(names)
	if err != nil {
		n.fail(n.get(k), k, "%v", err)
		return def
	}
	return set
}

// CheckConfig validates a main configuration (with its inline pipelines and
// every file of its pipelines directory) or a single pipeline file, and
// returns a summary of what it found with every problem. Classes mad does
// not implement yet count as problems.
func CheckConfig(path string, opt LoadOptions) (summary []string, problems Problems) {
	opt.SkipUnavailable = false
	root, _, ps := parseFile(path, opt)
	if ps != nil {
		return nil, ps
	}
	if !IsMainConfig(root) {
		p, ps := LoadPipeline(path, opt)
		if p != nil {
			summary = append(summary, fmt.Sprintf("%s: pipeline %q: %d sources, %d sinks, periods %v", path, p.Name, len(p.Sources), len(p.Sinks), p.Shard.Periods))
		}
		return summary, ps
	}
	m, ps := LoadMain(path, opt)
	problems = append(problems, ps...)
	if m == nil {
		return summary, problems
	}
	summary = append(summary, fmt.Sprintf("%s: main configuration: http %s, %d inline pipelines, pipelines directory %q", path, m.HTTPAddr(), len(m.Pipelines), m.PipelinesDirectory))
	if len(m.JVMOnly) > 0 {
		summary = append(summary, fmt.Sprintf("%s: JVM-only keys accepted and ignored: %s", path, strings.Join(m.JVMOnly, ", ")))
	}
	if m.PipelinesDirectory != "" {
		if _, err := os.Stat(m.PipelinesDirectory); err != nil {
			summary = append(summary, fmt.Sprintf("%s: pipelines directory %s: %v (no pipelines from it)", path, m.PipelinesDirectory, err))
		}
		files, err := pipelineFiles(m.PipelinesDirectory)
		if err != nil {
			problems = append(problems, Problem{Pos: hocon.Pos{File: m.PipelinesDirectory}, Msg: err.Error()})
		}
		for _, f := range files {
			s, ps := CheckConfig(f, opt)
			summary = append(summary, s...)
			problems = append(problems, ps...)
		}
	}
	return summary, problems
}
