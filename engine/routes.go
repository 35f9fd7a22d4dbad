package engine

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

// updateRoutesLocked points each HTTP ingest route at the source of its
// kind (at most one runs: a route is a source's key, which no two
// pipelines share).
func (d *Daemon) updateRoutesLocked() {
	m := map[string]*ingest.HTTPSource{}
	for _, p := range d.pipelinesLocked() {
		for _, h := range pipeline.SourcesOf[*ingest.HTTPSource](p) {
			m[h.Kind().Path()] = h
		}
	}
	d.routes.Store(&m)
}

// ServeHTTP serves the current routes (they change with the configuration),
// counting what they refuse before a source takes a request (404, 405),
// and accounting each request in mad's own rest_service metrics as MAD
// does.
func (d *Daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	markRouted(r)
	rt := (*d.handler.Load()).(*router)
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	rt.Handler.ServeHTTP(sw, r)
	rt.refused.routed(r.URL.Path, sw.status)
	if d.self != nil && !strings.HasPrefix(r.URL.Path, "/telemetry/") {
		d.self.request(r.Method, r.URL.Path, sw.status, time.Since(start), r.ContentLength)
	}
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

// router is what the daemon serves: the routes of the current
// configuration, and the counters of refusals, which outlive a change of
// routes (setHandler hands them over).
type router struct {
	http.Handler
	refused *httpRefusals
}

func (d *Daemon) setHandler() {
	h := http.Handler(&router{Handler: d.Handler(), refused: d.refusals()})
	d.handler.Store(&h)
}

// refusals returns the counters of the requests the daemon's servers and
// routes refused (server.go).
func (d *Daemon) refusals() *httpRefusals {
	if h := d.handler.Load(); h != nil {
		return (*h).(*router).refused
	}
	return new(httpRefusals)
}

// Handler returns the control-plane routes. The configured health check
// and status paths match exactly and first, as MAD's routes do; they are
// not ServeMux patterns, so that any path a configuration names ("/",
// "/metrics", one with braces) neither conflicts with another route (a
// panic at start-up) nor reads as a wildcard.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
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
		if err := writeMetrics(w, d); err != nil {
			d.log.Warn("writing /metrics", "err", err)
		}
	})
	for _, k := range ingest.HTTPKinds() {
		key := k.Path()
		for _, path := range k.Paths() {
			mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				// MAD: 404 when no source of that kind runs (MAD-SPEC §3.1).
				if m := d.routes.Load(); m != nil {
					if src := (*m)[key]; src != nil {
						src.ServeHTTP(w, r)
						return
					}
				}
				http.Error(w, "no source serves "+path+" in the running configuration", http.StatusNotFound)
			})
		}
	}
	// The live page (ui.go).
	d.uiRoutes(mux)
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
	health, status := d.cfg.HealthCheckPath, d.cfg.StatusPath
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == health || p == status {
			switch {
			case r.Method == http.MethodGet || r.Method == http.MethodHead:
				if p == health {
					d.servePing(w, r)
				} else {
					d.serveStatus(w, r)
				}
				return
			case !routed(mux, r):
				// What another method finds there, as ServeMux answers a
				// path whose pattern names other methods.
				w.Header().Set("Allow", allowed(mux, r))
				http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// routed reports whether mux has a route for r.
func routed(mux *http.ServeMux, r *http.Request) bool {
	_, pattern := mux.Handler(r)
	return pattern != ""
}

// allowed lists the methods r's path answers: GET and HEAD (a configured
// health check or status path), and those mux has a route for.
func allowed(mux *http.ServeMux, r *http.Request) string {
	allow := "GET, HEAD"
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		other := *r
		other.Method = m
		if routed(mux, &other) {
			allow += ", " + m
		}
	}
	return allow
}
