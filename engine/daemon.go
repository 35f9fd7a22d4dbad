package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/sinks/telemetry"
)

// DaemonConfig configures the daemon: its control-plane HTTP server and
// its pipelines.
type DaemonConfig struct {
	// HTTPAddr is the control-plane address (MAD's httpHost:httpPort); ""
	// disables the server.
	HTTPAddr string
	// HealthCheckPath and StatusPath are MAD's httpHealthCheckPath and
	// httpStatusPath (defaults "/ping" and "/status").
	HealthCheckPath, StatusPath string
	// Pipelines are started with the daemon and run until it stops.
	Pipelines []pipeline.Config
	// HTTP are the server's timeouts (config.DefaultHTTPLimits where unset:
	// MAD's 30 s to read a request, 10 s for its header, 2 min idle).
	HTTP config.HTTPLimits
	// DisablePprof removes /debug/pprof.
	DisablePprof bool
	Log          *slog.Logger
}

// EnsureDefaults fills in every unset option.
func (c *DaemonConfig) EnsureDefaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.HealthCheckPath == "" {
		c.HealthCheckPath = "/ping"
	}
	if c.StatusPath == "" {
		c.StatusPath = "/status"
	}
	c.HTTP.EnsureDefaults()
	for i := range c.Pipelines {
		if c.Pipelines[i].Log == nil {
			c.Pipelines[i].Log = c.Log
		}
	}
}

// Daemon runs pipelines and the control-plane HTTP server. A daemon opened
// from a configuration file (Open) also reloads: it watches the main file
// and the pipelines directory and applies changes without losing data.
type Daemon struct {
	cfg DaemonConfig
	log *slog.Logger

	stopOnce sync.Once
	stopErr  error

	mu       sync.Mutex // control plane: pipelines, managed, main, servers
	static   []*pipeline.Pipeline
	managed  map[string]*managedPipeline
	main     *config.MainSpec
	mainPath string // "" for the embedded default configuration
	opt      config.LoadOptions
	problems map[string]string // file → last problem, for /metrics and /status
	// retired: the last counters of pipelines a reload removed, kept on
	// /metrics (added to a pipeline of the same name should one return).
	retired   sm.Carry
	down      atomic.Pointer[[]downPipeline]
	srv, tsrv *http.Server
	ln, tln   net.Listener
	tlsCert   atomic.Pointer[tls.Certificate] // tsrv's (serveTLS)
	handler   atomic.Pointer[http.Handler]
	routes    atomic.Pointer[map[string]*ingest.HTTPSource]
	self      *selfMetrics
	hub       *telemetry.Hub
	selfStop  chan struct{}
	selfDone  chan struct{}

	reloadNow  chan chan ReloadResult
	stopReload chan struct{}
	reloadDone chan struct{}
	reloads    atomic.Uint64
	reloadErrs atomic.Uint64
}

// managedPipeline is a pipeline defined by a file (or inline in the main
// file) and kept in step with it.
type managedPipeline struct {
	key  string // file path, or "<main file>#<name>" for inline pipelines
	spec *config.PipelineSpec
	p    *pipeline.Pipeline
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	Started []string `json:"started,omitempty"`
	Updated []string `json:"updated,omitempty"`
	Stopped []string `json:"stopped,omitempty"`
	// Errors are the files refused (their running pipelines, if any, keep
	// running unchanged) with every problem found.
	Errors []string `json:"errors,omitempty"`
	// Warnings are what failed while a change was applied (among Updated:
	// the old sinks' close, an old source's stop): the new configuration
	// runs.
	Warnings []string `json:"warnings,omitempty"`
}

// Start starts every pipeline, then the HTTP server. On error what started
// is stopped.
func Start(cfg DaemonConfig) (*Daemon, error) {
	d := newDaemon(cfg)
	for _, pc := range d.cfg.Pipelines {
		p, err := pipeline.Start(pc)
		if err != nil {
			d.Stop()
			return nil, err
		}
		d.static = append(d.static, p)
	}
	d.mu.Lock()
	d.updateRoutesLocked()
	d.sizeProcsLocked()
	d.mu.Unlock()
	if err := d.listen(cfg.HTTPAddr); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

func newDaemon(cfg DaemonConfig) *Daemon {
	cfg.EnsureDefaults()
	d := &Daemon{cfg: cfg, log: cfg.Log, managed: map[string]*managedPipeline{}, problems: map[string]string{},
		hub: telemetry.NewHub(telemetry.HubConfig{})}
	d.setHandler()
	return d
}

// Open starts a daemon on a main configuration file (HOCON when it ends in
// .conf, JSON otherwise; data, if not nil, is used instead of reading
// path: the embedded default). It starts the pipelines written inline and
// those of the pipelines directory, then reloads as MAD does: every
// ReloadInterval, and on Reload (SIGHUP, POST /reload).
//
// A configuration that cannot run in full is refused: Open returns every
// problem found (config.Problems for the main file, a *RefusedError for
// the pipelines) and leaves nothing running. With
// LoadOptions.SkipUnavailable, sources and sinks mad does not implement
// are left out instead (each is logged). After start-up a refused file
// keeps what runs (see Reload).
func Open(path string, data []byte, opt config.LoadOptions, log *slog.Logger) (*Daemon, error) {
	var m *config.MainSpec
	var ps config.Problems
	if data != nil {
		m, ps = config.ParseMain(path, data, opt)
	} else {
		m, ps = config.LoadMain(path, opt)
	}
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		return nil, ps
	}
	for _, p := range ps {
		log.Warn("configuration", "problem", p.Error())
	}
	d := newDaemon(DaemonConfig{HealthCheckPath: m.HealthCheckPath, StatusPath: m.StatusPath, HTTP: m.HTTP, DisablePprof: !m.EnablePprof, Log: log})
	d.opt = opt
	d.main = m
	d.self = newSelfMetrics(d, m.MonitoringCluster, m.MonitoringService, m.MonitoringHost, m.LoopBack)
	d.selfStop, d.selfDone = make(chan struct{}), make(chan struct{})
	go d.self.run(d.selfStop, d.selfDone)
	if data == nil {
		d.mainPath = path
	}
	logMain(log, m)
	// The watcher starts first, so that Stop is right on every path; it
	// takes d.mu, which the initial start below holds.
	d.reloadNow = make(chan chan ReloadResult)
	d.stopReload = make(chan struct{})
	d.reloadDone = make(chan struct{})
	d.mu.Lock()
	go d.watch()
	err := d.listen(m.HTTPAddr())
	d.mu.Unlock()
	if err != nil {
		d.Stop()
		return nil, err
	}
	d.mu.Lock()
	if m.EnableHTTPS {
		if err := d.listenTLS(m); err != nil {
			d.mu.Unlock()
			d.Stop()
			return nil, err
		}
	}
	res := d.applyPipelinesLocked(true)
	n := len(d.managed)
	d.mu.Unlock()
	if len(res.Errors) > 0 {
		d.Stop()
		return nil, &RefusedError{Problems: res.Errors}
	}
	logResult(log, res)
	if n == 0 {
		log.Warn("no pipeline is configured: nothing is aggregated until one is added (and the configuration reloaded)",
			"pipelinesDirectory", m.PipelinesDirectory)
	}
	return d, nil
}

// RefusedError is a configuration refused at start-up because its
// pipelines cannot run: every problem, one per entry.
type RefusedError struct{ Problems []string }

func (e *RefusedError) Error() string { return strings.Join(e.Problems, "\n") }

// HTTPAddr returns the control plane's bound address, nil if disabled.
func (d *Daemon) HTTPAddr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// Pipelines returns the running pipelines: those started with the daemon,
// then those of the configuration, by file.
func (d *Daemon) Pipelines() []*pipeline.Pipeline {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pipelinesLocked()
}

func (d *Daemon) pipelinesLocked() []*pipeline.Pipeline {
	out := slices.Clone(d.static)
	keys := make([]string, 0, len(d.managed))
	for k := range d.managed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, d.managed[k].p)
	}
	return out
}

// Stop stops reloading, the HTTP servers, then every pipeline, flushing
// their open buckets to their sinks. Calls after the first return its
// result.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.stop() })
	return d.stopErr
}

func (d *Daemon) stop() error {
	if d.stopReload != nil {
		close(d.stopReload)
		<-d.reloadDone
	}
	if d.selfStop != nil {
		close(d.selfStop) // a last report goes into the pipelines, then they flush
		<-d.selfDone
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, srv := range []*http.Server{d.srv, d.tsrv} {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, srv.Shutdown(ctx))
			cancel()
		}
	}
	for _, p := range d.pipelinesLocked() {
		errs = append(errs, p.Stop())
	}
	errs = append(errs, d.hub.Close())
	return errors.Join(errs...)
}

// Telemetry returns the hub of the telemetry websockets.
func (d *Daemon) Telemetry() *telemetry.Hub { return d.hub }
