package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/engine/pipeline"
	"github.com/gomad/mad/ingest"
)

func logMain(log *slog.Logger, m *config.MainSpec) {
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
		data, err := d.opt.Read(d.mainPath)
		switch {
		case err != nil:
			res.Errors = append(res.Errors, fmt.Sprintf("%s: cannot read: %v", d.mainPath, err))
			d.problems[d.mainPath] = err.Error()
		default:
			m, ps := config.ParseMain(d.mainPath, data, d.opt)
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
func (d *Daemon) applyMainLocked(m *config.MainSpec) error {
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
	spec     *config.PipelineSpec
	problems config.Problems
	sources  []ingest.SourceConfig
}

// builder builds pipelines for this daemon.
func (d *Daemon) builder() *config.Builder {
	return &config.Builder{SkipUnavailable: d.opt.SkipUnavailable, Log: d.log, HTTP: d.main.HTTP, Self: d.self.emit, Hub: d.hub}
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
		files, err := config.PipelineFiles(dir)
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
			data, err := d.opt.Read(f)
			if err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: cannot read: %v", f, err))
				d.problems[f] = err.Error()
				continue
			}
			if m, ok := d.managed[f]; ok && m.spec != nil && m.spec.Hash == config.Hash(data) {
				want = append(want, wanted{key: f, spec: m.spec})
				continue
			}
			spec, ps := config.ParsePipeline(f, data, d.opt)
			want = append(want, wanted{key: f, spec: spec, problems: ps})
		}
	}
	for _, w := range want {
		seen[w.key] = true
	}
	// Names and what sources occupy (addresses, routes) must be unique
	// across pipelines. Building sources binds nothing.
	b := d.builder()
	names := map[string]string{}
	keys := map[string]string{}
	// What running pipelines occupy counts too: a port 0 they were given.
	for _, w := range want {
		if m := d.managed[w.key]; m != nil {
			for _, s := range m.p.Sources() {
				keys[s.Key()] = w.key
			}
		}
	}
	for i := range want {
		w := &want[i]
		if w.spec == nil {
			continue
		}
		if other, dup := names[w.spec.Name]; dup {
			w.problems = append(w.problems, config.Problem{Pos: w.spec.Pos, Key: "name", Msg: fmt.Sprintf("pipeline name %q is already used by %s", w.spec.Name, other)})
			w.spec = nil
			continue
		}
		names[w.spec.Name] = w.key
		srcs, err := b.Sources(w.spec)
		if err != nil {
			w.problems = append(w.problems, config.Problem{Msg: err.Error()})
			w.spec = nil
			continue
		}
		w.sources = srcs
		for _, s := range srcs {
			k := s.SourceKey()
			if !ingest.Exclusive(k) {
				continue
			}
			if other, dup := keys[k]; dup && other != w.key {
				w.problems = append(w.problems, config.Problem{Pos: w.spec.Pos, Key: "sources", Msg: fmt.Sprintf("%s is already used by %s", k, other)})
				w.spec = nil
				break
			}
			keys[k] = w.key
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
		sks, err := b.Sinks(w.spec)
		if err != nil {
			d.problems[w.key] = err.Error()
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		cfg := pipeline.Config{Name: w.spec.Name, Shard: w.spec.Shard, Sources: w.sources, Sinks: sks, Log: d.log}
		if m == nil {
			p, err := pipeline.Start(cfg)
			if err != nil {
				config.CloseSinks(cfg.Sinks)
				d.problems[w.key] = err.Error()
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", w.key, err))
				continue
			}
			d.managed[w.key] = &managedPipeline{key: w.key, spec: w.spec, p: p}
			res.Started = append(res.Started, w.key)
			d.logSources(p)
		} else {
			if err := m.p.Update(cfg); err != nil {
				config.CloseSinks(cfg.Sinks)
				d.problems[w.key] = err.Error()
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", w.key, err))
				continue
			}
			m.spec = w.spec
			res.Updated = append(res.Updated, w.key)
			d.logSources(m.p)
		}
		delete(d.problems, w.key)
	}
	d.updateRoutesLocked()
	return res
}

// logSources logs where each source of a pipeline listens (with port 0,
// the port the kernel chose).
func (d *Daemon) logSources(p *pipeline.Pipeline) {
	for _, s := range p.Sources() {
		d.log.Info("source ready", "pipeline", p.Name(), "source", s.Name(), "at", s.Key())
	}
}
