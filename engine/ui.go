package engine

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
)

// The live page (GET /ui): the pipelines, their sources, aggregation and
// sinks with what each received, refused and dropped (GET /ui/state, polled
// every second, ui_state.go), and charts of metrics chosen from the
// telemetry websocket (/telemetry/v2/stream, subscribed to as MAD's clients
// do). Plain HTML and JavaScript embedded in the binary, with uPlot
// vendored under ui/static/uplot (its version and license there): no build step
// and nothing loaded from elsewhere.

//go:embed ui
var uiFiles embed.FS

// uiRoutes adds the page's routes to mux: /ui, its state and its files
// under /ui/static/, and / (only /) redirecting to /ui. A configured health
// check or status path takes precedence: where one is /ui or under it, the
// page is not served.
func (d *Daemon) uiRoutes(mux *http.ServeMux) {
	paths := []string{d.cfg.HealthCheckPath, d.cfg.StatusPath}
	for _, p := range paths {
		if p == "/ui" || strings.HasPrefix(p, "/ui/") {
			d.log.Warn("the live page is not served: a configured path takes its route", "path", p)
			return
		}
	}
	static, err := fs.Sub(uiFiles, "ui/static")
	if err != nil {
		panic("BUG: the embedded ui/static directory: " + err.Error())
	}
	page, err := uiFiles.ReadFile("ui/index.html")
	if err != nil {
		panic("BUG: the embedded ui/index.html: " + err.Error())
	}
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(page)
	})
	mux.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui", http.StatusFound)
	})
	mux.HandleFunc("GET /ui/state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := json.NewEncoder(w).Encode(d.uiState()); err != nil {
			d.log.Warn("writing /ui/state", "err", err)
		}
	})
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	mux.Handle("GET /ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui", http.StatusFound)
	})
}
