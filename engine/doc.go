// Package engine is the daemon: it opens MAD's configuration (package
// config), runs its pipelines (package pipeline), reloads them when the
// files change, and serves the control plane over HTTP(S).
//
// The files are named after its parts: daemon.go (starting, stopping, the
// running pipelines), server.go (HTTP and TLS listeners), routes.go (MAD's
// routes: ingest, /ping, /status, /metrics, POST /reload, telemetry,
// pprof), reload.go (the reload loop and reconciling pipelines with their
// files), metrics.go (the counters of everything, as Prometheus text) and
// selfmetrics.go (mad's own metrics fed back into the aggregation, as MAD
// does).
//
// Everything here is control plane: ordinary Go that may allocate, lock and
// log. Nothing in the data plane imports it.
package engine
