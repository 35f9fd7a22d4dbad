package config

import (
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gomad/mad/internal/hocon"
)

// HTTPLimits are the limits of the control plane's HTTP server and its
// ingest routes (mad's main configuration keys; MAD has none).
type HTTPLimits struct {
	// MaxBody and MaxDecompressed bound a request body as sent and after
	// Content-Encoding (httpMaxBodyBytes, httpMaxDecompressedBytes);
	// MaxRecords its records (httpMaxRecordsPerRequest, 0: no limit).
	MaxBody, MaxDecompressed, MaxRecords int
	// ReadTimeout, ReadHeaderTimeout and IdleTime are the server's
	// (httpReadTimeout: MAD reads a whole body within 30 s,
	// httpReadHeaderTimeout, httpIdleTimeout).
	ReadTimeout, ReadHeaderTimeout, IdleTime time.Duration
	// BusyTimeout bounds how long a request waits for the data plane
	// before it is answered 503 (httpBusyTimeout).
	BusyTimeout time.Duration
}

// DefaultHTTPLimits are the defaults of HTTPLimits.
var DefaultHTTPLimits = HTTPLimits{
	MaxBody: 64 << 20, MaxDecompressed: 256 << 20,
	ReadTimeout: 30 * time.Second, ReadHeaderTimeout: 10 * time.Second, IdleTime: 2 * time.Minute,
	BusyTimeout: 5 * time.Second,
}

// EnsureDefaults sets every unset limit (MaxRecords 0 is no limit).
func (l *HTTPLimits) EnsureDefaults() {
	d := &DefaultHTTPLimits
	for _, f := range []struct{ v, def *int }{{&l.MaxBody, &d.MaxBody}, {&l.MaxDecompressed, &d.MaxDecompressed}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{{&l.ReadTimeout, &d.ReadTimeout}, {&l.ReadHeaderTimeout, &d.ReadHeaderTimeout},
		{&l.IdleTime, &d.IdleTime}, {&l.BusyTimeout, &d.BusyTimeout}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
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
	// LoopBack feeds mad's own metrics back into the pipeline serving
	// /metrics/v3/application, as MAD's default monitoring sink posts them
	// to MAD's own V3 route (MAD-SPEC §11). It is on unless the
	// configuration sets monitoringSinks to an empty list (MAD's client
	// then has no sink either); mad's own metrics are on /metrics anyway.
	LoopBack bool

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

// HTTPSAddr is httpsHost:httpsPort.
func (m *MainSpec) HTTPSAddr() string {
	return joinHostPort(m.HTTPSHost, m.HTTPSPort)
}

// Certificate loads the TLS certificate (with its chain) and key of
// enableHttps: both files readable, PEM that parses, and a key that matches
// the certificate.
func (m *MainSpec) Certificate() (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(m.HTTPSCertificate, m.HTTPSKeyPath)
	if err != nil {
		return cert, fmt.Errorf("enableHttps: cannot load httpsCertificatePath %s and httpsKeyPath %s: %w", m.HTTPSCertificate, m.HTTPSKeyPath, err)
	}
	return cert, nil
}

// HTTPAddr is httpHost:httpPort.
func (m *MainSpec) HTTPAddr() string {
	return joinHostPort(m.HTTPHost, m.HTTPPort)
}

// jvmOnlyKeys are MAD main-configuration keys that configure the JVM, Pekko
// or MAD's metrics client; mad accepts and ignores them.
var jvmOnlyKeys = []string{"pekkoConfiguration", "akkaConfiguration", "jvmMetricsCollectionInterval", "logDeadLetters",
	"supplementalHttpRoutesClass", "metricsClientHost", "metricsClientPort", "logDirectory"}

// IsMainConfig reports whether a parsed file is a main configuration rather
// than a pipeline (it names a pipelines directory or inline pipelines).
func IsMainConfig(root *hocon.Value) bool {
	_, dir := root.Obj.Get("pipelinesDirectory")
	_, inline := root.Obj.Get("pipelines")
	return dir || inline
}

// bindMain binds a main configuration (AggregatorConfiguration) with its
// inline pipelines.
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
	d := &DefaultHTTPLimits
	m.HTTP = HTTPLimits{
		MaxBody:         int(n.integer("httpMaxBodyBytes", int64(d.MaxBody), 1, 1<<40)),
		MaxDecompressed: int(n.integer("httpMaxDecompressedBytes", int64(d.MaxDecompressed), 1, 1<<40)),
		MaxRecords:      int(n.integer("httpMaxRecordsPerRequest", 0, 0, 1<<40)),
		// MAD reads a whole body within 30 s (Routes: toStrict(30000 ms)).
		ReadTimeout:       n.positiveDuration("httpReadTimeout", d.ReadTimeout),
		ReadHeaderTimeout: n.positiveDuration("httpReadHeaderTimeout", d.ReadHeaderTimeout),
		IdleTime:          n.positiveDuration("httpIdleTimeout", d.IdleTime),
		BusyTimeout:       n.positiveDuration("httpBusyTimeout", d.BusyTimeout),
	}
	m.EnablePprof = n.boolean("enablePprof", true)
	m.ReloadInterval, _ = n.duration("reloadInterval", time.Minute)
	if m.ReloadInterval < 0 {
		n.fail(n.get("reloadInterval"), "reloadInterval", "must not be negative")
	}
	// monitoringSinks configures MAD's metrics client: absent or null, its
	// default sink posts to MAD's own V3 route; [] leaves it no sink;
	// metricsClientHost/Port, when set, replace it with one to
	// host:port/metrics/v3/application. mad honours the loop-back and its
	// absence; the sinks' own settings are the Java client's.
	m.LoopBack = true
	if v := n.get("monitoringSinks"); v != nil && v.Kind != hocon.Null {
		switch {
		case v.Kind != hocon.Array:
			n.fail(v, "monitoringSinks", "must be a list, not %s", kindName(v))
		case len(v.Arr) == 0:
			m.LoopBack = n.has("metricsClientHost") || n.has("metricsClientPort")
		default:
			m.JVMOnly = append(m.JVMOnly, "monitoringSinks")
		}
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
		p.Hash = Hash(v.JSON())
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
