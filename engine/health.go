package engine

import (
	"encoding/json"
	"net/http"
)

// Health (MAD-SPEC §10). MAD's health check is shallow: /ping answers
// HEALTHY whenever the status actor answers within a second, which it
// always does, and UNHEALTHY (500) only when the actor system is too busy to
// answer; a "deep health check" was on MAD's wish list (MAD-SPEC §15.15).
// mad's /ping keeps MAD's answer, status code and headers and adds the one
// check a deployment needs from it: every pipeline the configuration asks
// for runs. A pipeline file that was refused or could not start while no
// version of it runs (a new file with an error, a port taken) makes /ping
// answer 500 UNHEALTHY with the pipelines and their problems, so that a load
// balancer stops sending traffic that would find no listener or a 404. A
// refused change to a pipeline that keeps running its previous version does
// not: data is still aggregated (the refusal is on /metrics as
// mad_config_refused and in POST /reload's answer).

// downPipeline is a pipeline the configuration asks for that does not run.
type downPipeline struct {
	Pipeline string `json:"pipeline"`
	Problem  string `json:"problem"`
}

// notRunning returns the configured pipelines that do not run (after the
// last start-up or reload).
func (d *Daemon) notRunning() []downPipeline {
	if p := d.down.Load(); p != nil {
		return *p
	}
	return nil
}

// servePing answers the health check (httpHealthCheckPath). It takes no
// lock: a reload in progress does not delay it.
func (d *Daemon) servePing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate")
	down := d.notRunning()
	if len(down) == 0 {
		w.Write([]byte(`{"status":"HEALTHY"}`))
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
	json.NewEncoder(w).Encode(struct {
		Status     string         `json:"status"`
		NotRunning []downPipeline `json:"notRunning"`
	}{"UNHEALTHY", down})
}

// serveStatus answers httpStatusPath as MAD does, with the version and
// commit the binary was built from (version.go).
func (d *Daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		SHA     string `json:"sha"`
	}{"Metrics Aggregator Daemon", Version, Commit})
}
