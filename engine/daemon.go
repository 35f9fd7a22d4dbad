package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"
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
	Pipelines                   []PipelineConfig
	Log                         *slog.Logger
}

// Daemon runs pipelines and the control-plane HTTP server.
type Daemon struct {
	cfg       DaemonConfig
	pipelines []*Pipeline
	srv       *http.Server
	ln        net.Listener
	mu        sync.Mutex
}

// Start starts every pipeline, then the HTTP server. On error what started
// is stopped.
func Start(cfg DaemonConfig) (*Daemon, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.HealthCheckPath == "" {
		cfg.HealthCheckPath = "/ping"
	}
	if cfg.StatusPath == "" {
		cfg.StatusPath = "/status"
	}
	d := &Daemon{cfg: cfg}
	for _, pc := range cfg.Pipelines {
		if pc.Log == nil {
			pc.Log = cfg.Log
		}
		p, err := StartPipeline(pc)
		if err != nil {
			d.Stop()
			return nil, err
		}
		d.pipelines = append(d.pipelines, p)
	}
	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			d.Stop()
			return nil, fmt.Errorf("cannot listen on %s: %w", cfg.HTTPAddr, err)
		}
		d.ln = ln
		d.srv = &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Log.Error("http server", "err", err)
			}
		}()
	}
	return d, nil
}

// HTTPAddr returns the control plane's bound address, nil if disabled.
func (d *Daemon) HTTPAddr() net.Addr {
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// Pipelines returns the running pipelines.
func (d *Daemon) Pipelines() []*Pipeline { return d.pipelines }

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
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		d.mu.Lock()
		ps := d.pipelines
		d.mu.Unlock()
		if err := WriteMetrics(w, ps); err != nil {
			d.cfg.Log.Warn("writing /metrics", "err", err)
		}
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Stop stops the HTTP server, then every pipeline, flushing their open
// buckets to their sinks.
func (d *Daemon) Stop() error {
	var errs []error
	if d.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, d.srv.Shutdown(ctx))
		cancel()
	}
	for _, p := range d.pipelines {
		errs = append(errs, p.Stop())
	}
	return errors.Join(errs...)
}
