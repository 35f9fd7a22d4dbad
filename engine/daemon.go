package engine

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/sinks/telemetry"
)

// Version and Commit are set at build time (-ldflags -X).
var (
	Version = "dev"
	Commit  = "unknown"
)

// DaemonConfig configures the daemon: its control-plane HTTP server and
// its pipelines.
type DaemonConfig struct {
	// HTTPAddr is the control-plane address (MAD's httpHost:httpPort,
	// default "0.0.0.0:7090"); "" disables the server.
	HTTPAddr string
	// HealthCheckPath and StatusPath are MAD's httpHealthCheckPath and
	// httpStatusPath (defaults "/ping" and "/status").
	HealthCheckPath, StatusPath string
	// Pipelines are started with the daemon and run until it stops.
	Pipelines []PipelineConfig
	// HTTP are the server's timeouts (zero: MAD's 30 s to read a request,
	// 10 s for its header, 2 min idle).
	HTTP HTTPLimits
	// DisablePprof removes /debug/pprof.
	DisablePprof bool
	Log          *slog.Logger
}

// Daemon runs pipelines and the control-plane HTTP server. A daemon opened
// from a configuration file (Open) also reloads: it watches the main file
// and the pipelines directory and applies changes without losing data.
type Daemon struct {
	cfg DaemonConfig
	log *slog.Logger

	mu        sync.Mutex // control plane: pipelines, managed, main, servers
	static    []*Pipeline
	managed   map[string]*managedPipeline
	main      *MainSpec
	mainPath  string // "" for the embedded default configuration
	opt       LoadOptions
	problems  map[string]string // file → last problem, for /metrics and /status
	srv, tsrv *http.Server
	ln, tln   net.Listener
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
	spec *PipelineSpec
	p    *Pipeline
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	Started []string `json:"started,omitempty"`
	Updated []string `json:"updated,omitempty"`
	Stopped []string `json:"stopped,omitempty"`
	// Errors are the files refused (their running pipelines, if any, keep
	// running unchanged) with every problem found.
	Errors []string `json:"errors,omitempty"`
}

// Start starts every pipeline, then the HTTP server. On error what started
// is stopped.
func Start(cfg DaemonConfig) (*Daemon, error) {
	d := newDaemon(cfg)
	for _, pc := range cfg.Pipelines {
		if pc.Log == nil {
			pc.Log = d.log
		}
		p, err := StartPipeline(pc)
		if err != nil {
			d.Stop()
			return nil, err
		}
		d.static = append(d.static, p)
	}
	d.mu.Lock()
	d.updateRoutesLocked()
	d.mu.Unlock()
	if err := d.listen(cfg.HTTPAddr); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

func newDaemon(cfg DaemonConfig) *Daemon {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.HealthCheckPath == "" {
		cfg.HealthCheckPath = "/ping"
	}
	if cfg.StatusPath == "" {
		cfg.StatusPath = "/status"
	}
	if cfg.HTTP.ReadTimeout <= 0 {
		cfg.HTTP.ReadTimeout = 30 * time.Second
	}
	if cfg.HTTP.ReadHeaderTimeout <= 0 {
		cfg.HTTP.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.HTTP.IdleTime <= 0 {
		cfg.HTTP.IdleTime = 2 * time.Minute
	}
	d := &Daemon{cfg: cfg, log: cfg.Log, managed: map[string]*managedPipeline{}, problems: map[string]string{},
		hub: telemetry.NewHub(telemetry.HubConfig{})}
	d.setHandler()
	return d
}

// Open starts a daemon on a main configuration file (HOCON when it ends in
// .conf, JSON otherwise; data, if not nil, is used instead of reading
// path: the embedded default). It starts the pipelines written inline and
// those of the pipelines directory, then reloads as MAD does: every
// ReloadInterval, and on Reload (SIGHUP, POST /reload). A pipeline file
// that is refused at start is reported and retried at every reload; the
// main file must be valid.
func Open(path string, data []byte, opt LoadOptions, log *slog.Logger) (*Daemon, error) {
	var m *MainSpec
	var ps Problems
	if data != nil {
		m, ps = ParseMain(path, data, opt)
	} else {
		m, ps = LoadMain(path, opt)
	}
	if log == nil {
		log = slog.Default()
	}
	for _, p := range ps {
		log.Warn("configuration", "problem", p.Error())
	}
	if m == nil {
		return nil, ps
	}
	d := newDaemon(DaemonConfig{HealthCheckPath: m.HealthCheckPath, StatusPath: m.StatusPath, HTTP: m.HTTP, DisablePprof: !m.EnablePprof, Log: log})
	d.opt = opt
	d.main = m
	d.self = newSelfMetrics(d, m.MonitoringCluster, m.MonitoringService, m.MonitoringHost)
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
	res := d.applyPipelinesLocked()
	d.mu.Unlock()
	logResult(log, res)
	return d, nil
}

func logMain(log *slog.Logger, m *MainSpec) {
	if len(m.JVMOnly) > 0 {
		log.Info("JVM-only configuration keys accepted and ignored", "keys", strings.Join(m.JVMOnly, ", "))
	}
	for _, u := range m.Unknown {
		log.Debug("unknown configuration key ignored", "key", u)
	}
}

func logResult(log *slog.Logger, r ReloadResult) {
	for _, n := range r.Started {
		log.Info("pipeline started", "pipeline", n)
	}
	for _, n := range r.Updated {
		log.Info("pipeline updated", "pipeline", n)
	}
	for _, n := range r.Stopped {
		log.Info("pipeline stopped", "pipeline", n)
	}
	for _, e := range r.Errors {
		log.Error("configuration refused; what runs keeps running", "problem", e)
	}
}

// watch polls for changes every ReloadInterval (which a reload of the main
// file may change) and serves Reload.
func (d *Daemon) watch() {
	defer close(d.reloadDone)
	var every time.Duration
	var ticker *time.Ticker
	var tick <-chan time.Time
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		d.mu.Lock()
		now := d.main.ReloadInterval
		d.mu.Unlock()
		if now != every {
			if ticker != nil {
				ticker.Stop()
				ticker, tick = nil, nil
			}
			if now > 0 {
				ticker = time.NewTicker(now)
				tick = ticker.C
			}
			every = now
		}
		select {
		case <-d.stopReload:
			return
		case <-tick:
			logResult(d.log, d.reload())
		case reply := <-d.reloadNow:
			r := d.reload()
			logResult(d.log, r)
			reply <- r
		}
	}
}

// Reload checks the main configuration file and the pipelines now, as the
// periodic check does, and returns what changed. It is a no-op result for
// a daemon not opened from a file.
func (d *Daemon) Reload() ReloadResult {
	if d.reloadNow == nil {
		return ReloadResult{}
	}
	reply := make(chan ReloadResult, 1)
	select {
	case d.reloadNow <- reply:
		return <-reply
	case <-d.reloadDone:
		return ReloadResult{Errors: []string{"the daemon is stopping"}}
	}
}

// reload re-reads the main file (if it changed and is valid, its settings
// apply) and reconciles the pipelines.
func (d *Daemon) reload() ReloadResult {
	d.reloads.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	var res ReloadResult
	if d.mainPath != "" {
		data, err := d.opt.read(d.mainPath)
		switch {
		case err != nil:
			res.Errors = append(res.Errors, fmt.Sprintf("%s: cannot read: %v", d.mainPath, err))
			d.problems[d.mainPath] = err.Error()
		default:
			m, ps := ParseMain(d.mainPath, data, d.opt)
			if m == nil {
				res.Errors = append(res.Errors, ps.Error())
				d.problems[d.mainPath] = ps.Error()
			} else {
				delete(d.problems, d.mainPath)
				if m.Hash != d.main.Hash {
					if err := d.applyMainLocked(m); err != nil {
						res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", d.mainPath, err))
						d.problems[d.mainPath] = err.Error()
					}
				}
			}
		}
	}
	r := d.applyPipelinesLocked()
	res.Started, res.Updated, res.Stopped = r.Started, r.Updated, r.Stopped
	res.Errors = append(res.Errors, r.Errors...)
	if len(res.Errors) > 0 {
		d.reloadErrs.Add(1)
	}
	return res
}

// applyMainLocked applies a changed, valid main configuration: HTTP
// addresses (a new listener is bound before the old one closes; if it
// cannot be, the old one stays) and paths; pipelines follow in
// applyPipelinesLocked.
func (d *Daemon) applyMainLocked(m *MainSpec) error {
	logMain(d.log, m)
	old := d.main
	if m.HTTPAddr() != old.HTTPAddr() {
		ln, err := net.Listen("tcp", m.HTTPAddr())
		if err != nil {
			return fmt.Errorf("cannot listen on %s (still serving %s): %w", m.HTTPAddr(), old.HTTPAddr(), err)
		}
		oldSrv := d.srv
		d.serve(ln)
		if oldSrv != nil {
			go oldSrv.Shutdown(context.Background())
		}
	}
	if m.EnableHTTPS != old.EnableHTTPS || m.HTTPSHost != old.HTTPSHost || m.HTTPSPort != old.HTTPSPort ||
		m.HTTPSKeyPath != old.HTTPSKeyPath || m.HTTPSCertificate != old.HTTPSCertificate {
		oldSrv := d.tsrv
		d.tsrv, d.tln = nil, nil
		if oldSrv != nil {
			oldSrv.Shutdown(context.Background())
		}
		if m.EnableHTTPS {
			if err := d.listenTLS(m); err != nil {
				return err
			}
		}
	}
	d.main = m
	d.cfg.HealthCheckPath, d.cfg.StatusPath = m.HealthCheckPath, m.StatusPath
	d.cfg.DisablePprof = !m.EnablePprof
	d.cfg.HTTP = m.HTTP
	d.setHandler()
	return nil
}

// wanted is a pipeline the configuration asks for.
type wanted struct {
	key      string
	spec     *PipelineSpec
	problems Problems
}

// pipelineFiles lists the pipeline files of dir as MAD does (every file,
// no recursion), except hidden files and editor backups ("~"), which mad
// skips. A missing directory has no pipelines.
func pipelineFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	sort.Strings(out)
	return out, nil
}

// applyPipelinesLocked reconciles the running pipelines with the
// configuration: new files start, changed ones update in place, removed
// ones stop, refused ones keep what runs.
func (d *Daemon) applyPipelinesLocked() ReloadResult {
	var res ReloadResult
	var want []wanted
	// Problems are found afresh: what is still wrong is reported again.
	for k := range d.problems {
		if k != d.mainPath {
			delete(d.problems, k)
		}
	}
	for _, p := range d.main.Pipelines {
		want = append(want, wanted{key: d.main.File + "#" + p.Name, spec: p})
	}
	seen := map[string]bool{}
	if dir := d.main.PipelinesDirectory; dir != "" {
		files, err := pipelineFiles(dir)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", dir, err))
			d.problems[dir] = err.Error()
			// Keep the pipelines of an unreadable directory.
			for k := range d.managed {
				seen[k] = true
			}
		}
		for _, f := range files {
			seen[f] = true
			data, err := d.opt.read(f)
			if err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: cannot read: %v", f, err))
				d.problems[f] = err.Error()
				continue
			}
			if m, ok := d.managed[f]; ok && m.spec != nil && m.spec.Hash == sha(data) {
				want = append(want, wanted{key: f, spec: m.spec})
				continue
			}
			spec, ps := loadPipelineBytes(f, data, d.opt)
			want = append(want, wanted{key: f, spec: spec, problems: ps})
		}
	}
	for _, w := range want {
		seen[w.key] = true
	}
	// Names and addresses must be unique across pipelines.
	names := map[string]string{}
	addrs := map[string]string{}
	for i := range want {
		w := &want[i]
		if w.spec == nil {
			continue
		}
		if other, dup := names[w.spec.Name]; dup {
			w.problems = append(w.problems, Problem{Pos: w.spec.Pos, Key: "name", Msg: fmt.Sprintf("pipeline name %q is already used by %s", w.spec.Name, other)})
			w.spec = nil
			continue
		}
		names[w.spec.Name] = w.key
		for _, a := range sourceAddrs(w.spec) {
			if other, dup := addrs[a]; dup {
				w.problems = append(w.problems, Problem{Pos: w.spec.Pos, Key: "sources", Msg: fmt.Sprintf("%s is already used by %s", a, other)})
				w.spec = nil
				break
			}
			addrs[a] = w.key
		}
	}
	// Stop what is gone first: it may free addresses.
	for key, m := range d.managed {
		if !seen[key] {
			if err := m.p.Stop(); err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: stopping: %v", key, err))
			}
			delete(d.managed, key)
			delete(d.problems, key)
			res.Stopped = append(res.Stopped, key)
		}
	}
	for _, w := range want {
		m := d.managed[w.key]
		if w.spec == nil {
			msg := w.problems.Error()
			d.problems[w.key] = msg
			res.Errors = append(res.Errors, msg)
			continue
		}
		if m != nil && m.spec.Hash == w.spec.Hash {
			continue // unchanged
		}
		for _, p := range w.spec.Unavailable {
			d.log.Warn("left out of the pipeline: not available yet", "problem", p.Error())
		}
		for _, u := range w.spec.Unknown {
			d.log.Debug("unknown configuration key ignored", "key", u)
		}
		cfg, err := buildPipeline(w.spec, d.main.HTTP, buildCtx{skip: d.opt.SkipUnavailable, log: d.log, self: d.self.emit, hub: d.hub})
		if err != nil {
			d.problems[w.key] = err.Error()
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		if m == nil {
			p, err := StartPipeline(cfg)
			if err != nil {
				closeSinks(cfg.Sinks)
				d.problems[w.key] = err.Error()
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", w.key, err))
				continue
			}
			d.managed[w.key] = &managedPipeline{key: w.key, spec: w.spec, p: p}
			res.Started = append(res.Started, w.key)
		} else {
			if err := m.p.Update(cfg); err != nil {
				closeSinks(cfg.Sinks)
				d.problems[w.key] = err.Error()
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", w.key, err))
				continue
			}
			m.spec = w.spec
			res.Updated = append(res.Updated, w.key)
		}
		delete(d.problems, w.key)
	}
	d.updateRoutesLocked()
	return res
}

// updateRoutesLocked points each HTTP ingest route at the source of its
// kind (at most one runs: sourceAddrs makes the route an address).
func (d *Daemon) updateRoutesLocked() {
	m := map[string]*ingest.HTTPSource{}
	for _, p := range d.pipelinesLocked() {
		for _, h := range p.HTTP() {
			m[h.Kind().Path()] = h
		}
	}
	d.routes.Store(&m)
}

func loadPipelineBytes(path string, data []byte, opt LoadOptions) (*PipelineSpec, Problems) {
	o := opt
	o.ReadFile = func(p string) ([]byte, error) {
		if p == path {
			return data, nil
		}
		return opt.read(p)
	}
	return LoadPipeline(path, o)
}

// sourceAddrs lists the sockets a pipeline binds ("udp host:port").
func sourceAddrs(p *PipelineSpec) []string {
	var out []string
	for _, outer := range p.Sources {
		s, _ := unwrapSource(outer)
		switch c := s.Conf.(type) {
		case *StatsdSourceConf:
			if c.Port != 0 {
				out = append(out, "udp "+joinHostPort(c.Host, c.Port))
			}
		case *TCPLineSourceConf:
			if c.Port != 0 {
				out = append(out, "tcp "+joinHostPort(c.Host, c.Port))
			}
		case *HTTPSourceConf:
			out = append(out, "the route POST "+httpKinds[s.Class].Path())
		}
	}
	return out
}

func (d *Daemon) listen(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	d.serve(ln)
	return nil
}

// newServer returns the control-plane server: HTTP/1.1 with keep-alive and
// HTTP/2 (cleartext with prior knowledge, as MAD's enable-http2 serves
// OTLP gRPC on 7090; over TLS by ALPN on the HTTPS port).
func (d *Daemon) newServer() *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           d,
		Protocols:         &protos,
		ReadTimeout:       d.cfg.HTTP.ReadTimeout,
		ReadHeaderTimeout: d.cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       d.cfg.HTTP.IdleTime,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
}

func (d *Daemon) serve(ln net.Listener) {
	srv := d.newServer()
	d.ln, d.srv = ln, srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server", "err", err)
		}
	}()
}

// listenTLS serves the same routes over TLS on httpsHost:httpsPort (MAD's
// enableHttps), with the PEM certificate and key of the configuration.
func (d *Daemon) listenTLS(m *MainSpec) error {
	cert, err := tls.LoadX509KeyPair(m.HTTPSCertificate, m.HTTPSKeyPath)
	if err != nil {
		return fmt.Errorf("enableHttps: cannot load httpsCertificatePath %s and httpsKeyPath %s: %w", m.HTTPSCertificate, m.HTTPSKeyPath, err)
	}
	addr := joinHostPort(m.HTTPSHost, m.HTTPSPort)
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	srv := d.newServer()
	d.tln, d.tsrv = ln, srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("https server", "err", err)
		}
	}()
	return nil
}

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
func (d *Daemon) Pipelines() []*Pipeline {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pipelinesLocked()
}

func (d *Daemon) pipelinesLocked() []*Pipeline {
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

// ServeHTTP serves the current routes (they change with the configuration),
// accounting each request in mad's own rest_service metrics as MAD does.
func (d *Daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.self == nil || strings.HasPrefix(r.URL.Path, "/telemetry/") {
		(*d.handler.Load()).ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	(*d.handler.Load()).ServeHTTP(sw, r)
	d.self.request(r.Method, r.URL.Path, sw.status, time.Since(start), r.ContentLength)
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (d *Daemon) setHandler() {
	h := d.Handler()
	d.handler.Store(&h)
}

// Handler returns the control-plane routes.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+d.cfg.HealthCheckPath, func(w http.ResponseWriter, r *http.Request) {
		// MAD's answer (Routes): no deep check.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate")
		w.Write([]byte(`{"status":"HEALTHY"}`))
	})
	mux.HandleFunc("GET "+d.cfg.StatusPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"Metrics Aggregator Daemon","version":%q,"sha":%q}`, Version, Commit)
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		if d.reloadNow == nil {
			http.Error(w, "this daemon runs without a configuration file: nothing to reload", http.StatusConflict)
			return
		}
		res := d.Reload()
		w.Header().Set("Content-Type", "application/json")
		if len(res.Errors) > 0 {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
		json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		d.mu.Lock()
		ps := d.pipelinesLocked()
		cs := d.configStateLocked()
		d.mu.Unlock()
		if err := WriteMetrics(w, ps, cs); err != nil {
			d.log.Warn("writing /metrics", "err", err)
		}
	})
	for _, k := range ingest.HTTPKinds() {
		path := k.Path()
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			// MAD: 404 when no source of that kind runs (MAD-SPEC §3.1).
			if m := d.routes.Load(); m != nil {
				if src := (*m)[path]; src != nil {
					src.ServeHTTP(w, r)
					return
				}
			}
			http.Error(w, "no source serves "+path+" in the running configuration", http.StatusNotFound)
		})
	}
	// MAD's telemetry websockets (MAD-SPEC §10), fed by TelemetrySinks.
	mux.Handle("/telemetry/v1/stream", d.hub.Handler(1))
	mux.Handle("/telemetry/v2/stream", d.hub.Handler(2))
	if !d.cfg.DisablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// ConfigState is the configuration side of /metrics.
type ConfigState struct {
	Reloads, ReloadErrors uint64
	// Refused maps each file whose last version was refused to why.
	Refused map[string]string
	// Records of mad's own metrics fed back into the aggregation, not
	// delivered (no V3 source runs, or it stayed saturated), and dropped
	// because too many waited.
	SelfDelivered, SelfUndelivered, SelfOverflow uint64
}

func (d *Daemon) configStateLocked() ConfigState {
	cs := ConfigState{Reloads: d.reloads.Load(), ReloadErrors: d.reloadErrs.Load(), Refused: maps(d.problems)}
	if d.self != nil {
		cs.SelfDelivered, cs.SelfUndelivered, cs.SelfOverflow = d.self.delivered.Load(), d.self.undelivered.Load(), d.self.overflow.Load()
	}
	return cs
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Stop stops reloading, the HTTP servers, then every pipeline, flushing
// their open buckets to their sinks.
func (d *Daemon) Stop() error {
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
