package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
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
	if !m.LoopBack {
		log.Info("mad's own metrics are on /metrics only: monitoringSinks=[] turns off their loop-back into the pipeline serving /metrics/v3/application")
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
	for _, w := range r.Warnings {
		log.Warn("configuration applied; on the way", "problem", w)
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
	r := d.applyPipelinesLocked(false)
	res.Started, res.Updated, res.Stopped, res.Warnings = r.Started, r.Updated, r.Stopped, r.Warnings
	res.Errors = append(res.Errors, r.Errors...)
	if len(res.Errors) > 0 {
		d.reloadErrs.Add(1)
	}
	return res
}

// applyMainLocked applies a changed, valid main configuration: HTTP and
// HTTPS addresses and the certificate, and paths; pipelines follow in
// applyPipelinesLocked. It changes everything or nothing: what can fail
// (loading the certificate, binding a new address) is done first, and a
// failure closes what it bound and leaves the old configuration running,
// which a later reload can move from (a new listener is bound before the
// old one closes; a certificate of the same address is swapped in place).
func (d *Daemon) applyMainLocked(m *config.MainSpec) error {
	logMain(d.log, m)
	old := d.main
	var ln, tln net.Listener
	var cert *tls.Certificate
	undo := func() {
		for _, l := range []net.Listener{ln, tln} {
			if l != nil {
				l.Close()
			}
		}
	}
	if m.HTTPAddr() != old.HTTPAddr() {
		var err error
		if ln, err = net.Listen("tcp", m.HTTPAddr()); err != nil {
			return fmt.Errorf("cannot listen on %s (still serving %s): %w", m.HTTPAddr(), old.HTTPAddr(), err)
		}
	}
	tlsChanged := m.EnableHTTPS != old.EnableHTTPS || m.HTTPSHost != old.HTTPSHost || m.HTTPSPort != old.HTTPSPort ||
		m.HTTPSKeyPath != old.HTTPSKeyPath || m.HTTPSCertificate != old.HTTPSCertificate
	sameTLSAddr := d.tsrv != nil && m.EnableHTTPS && m.HTTPSAddr() == old.HTTPSAddr()
	if tlsChanged && m.EnableHTTPS {
		c, err := m.Certificate()
		if err != nil {
			undo()
			return err
		}
		cert = &c
		if !sameTLSAddr {
			if tln, err = net.Listen("tcp", m.HTTPSAddr()); err != nil {
				undo()
				return fmt.Errorf("cannot listen on %s: %w", m.HTTPSAddr(), err)
			}
		}
	}
	// Commit: nothing fails from here.
	if ln != nil {
		oldSrv := d.srv
		d.serve(ln)
		if oldSrv != nil {
			go oldSrv.Shutdown(context.Background())
		}
	}
	if tlsChanged {
		switch {
		case sameTLSAddr:
			d.tlsCert.Store(cert)
		default:
			oldSrv := d.tsrv
			d.tsrv, d.tln = nil, nil
			if oldSrv != nil {
				go oldSrv.Shutdown(context.Background())
			}
			if tln != nil {
				d.serveTLS(tln, cert)
			}
		}
	}
	d.main = m
	d.self.setLoopBack(m.LoopBack)
	d.self.setDims(m.MonitoringCluster, m.MonitoringService, m.MonitoringHost)
	d.cfg.HealthCheckPath, d.cfg.StatusPath = m.HealthCheckPath, m.StatusPath
	d.cfg.DisablePprof = !m.EnablePprof
	d.cfg.HTTP = m.HTTP
	d.setHandler()
	return nil
}

// wanted is a pipeline the configuration asks for: its spec, or, if it
// is refused, nil and the problems that refuse it.
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

// wantedPipelines reads the pipelines a main configuration asks for: those
// written inline, then one per file of its pipelines directory (a file
// whose content is that of the pipeline running from it keeps its spec,
// from running). A file that cannot be read or bound is wanted with its
// problems. The error says the directory cannot be listed.
func wantedPipelines(m *config.MainSpec, opt config.LoadOptions, running map[string]*managedPipeline) ([]wanted, error) {
	var want []wanted
	for _, p := range m.Pipelines {
		want = append(want, wanted{key: m.File + "#" + p.Name, spec: p})
	}
	if m.PipelinesDirectory == "" {
		return want, nil
	}
	files, err := config.PipelineFiles(m.PipelinesDirectory)
	for _, f := range files {
		data, err := opt.Read(f)
		if err != nil {
			want = append(want, wanted{key: f, problems: config.Problems{{Msg: fmt.Sprintf("%s: cannot read: %v", f, err)}}})
			continue
		}
		if r, ok := running[f]; ok && r.spec != nil && r.spec.Hash == config.Hash(data) {
			want = append(want, wanted{key: f, spec: r.spec})
			continue
		}
		spec, ps := config.ParsePipeline(f, data, opt)
		want = append(want, wanted{key: f, spec: spec, problems: ps})
	}
	return want, err
}

// checkWanted checks the wanted pipelines as far as can be without binding
// anything: names are unique, sources build, and no socket address or HTTP
// route is claimed twice, within a pipeline, across pipelines, or against
// claims (what already runs: key → who holds it; checkWanted adds the
// claims of the pipelines it accepts). A pipeline that fails is refused:
// its spec becomes nil and its problems say why.
func checkWanted(want []wanted, b *config.Builder, claims map[string]string) {
	names := map[string]string{}
	for i := range want {
		w := &want[i]
		if w.spec == nil {
			continue
		}
		refuse := func(key, format string, args ...any) {
			w.problems = append(w.problems, config.Problem{Pos: w.spec.Pos, Key: key, Msg: fmt.Sprintf(format, args...)})
			w.spec = nil
		}
		if other, dup := names[w.spec.Name]; dup {
			refuse("name", "pipeline name %q is already used by %s", w.spec.Name, other)
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
		var mine []string
	sources:
		for _, s := range srcs {
			for _, k := range append([]string{s.SourceKey()}, ingest.ClaimsOf(s)...) {
				if !ingest.Exclusive(k) {
					continue
				}
				if other := claimant(claims, k, w.key); other != "" {
					refuse("sources", "%s is already used by %s", k, other)
					break sources
				}
				if slices.ContainsFunc(mine, func(m string) bool { return overlaps(m, k) }) {
					refuse("sources", "%s is claimed by two sources of this pipeline", k)
					break sources
				}
				mine = append(mine, k)
			}
		}
		if w.spec != nil {
			for _, k := range mine {
				claims[k] = w.key
			}
		}
	}
}

// claimant returns who, other than self, holds a claim that overlaps key
// ("" if nobody).
func claimant(claims map[string]string, key, self string) string {
	for k, who := range claims {
		if who != self && overlaps(k, key) {
			return who
		}
	}
	return ""
}

// overlaps reports whether two source keys ("udp host:port", "tcp
// host:port", "http /route") claim the same thing: equal keys, or sockets of
// one protocol on one port (not 0) whose hosts are equal or either a
// wildcard address: binding both would fail, or with SO_REUSEPORT silently
// split the traffic.
func overlaps(a, b string) bool {
	if a == b {
		return true
	}
	pa, ha, _ := strings.Cut(a, " ")
	pb, hb, _ := strings.Cut(b, " ")
	if pa != pb || pa != "udp" && pa != "tcp" {
		return false
	}
	hostA, portA, errA := net.SplitHostPort(ha)
	hostB, portB, errB := net.SplitHostPort(hb)
	if errA != nil || errB != nil || portA != portB || portA == "0" {
		return false
	}
	return hostA == hostB || wildcard(hostA) || wildcard(hostB)
}

func wildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// claimsLocked returns what is claimed before the wanted pipelines are
// checked: the control plane's sockets, and the sources of the running
// pipelines that are still wanted (by their bound address, so that a port
// 0 given to one counts).
func (d *Daemon) claimsLocked(want []wanted) map[string]string {
	claims := map[string]string{}
	for _, l := range []struct {
		ln  net.Listener
		who string
	}{{d.ln, "the control plane (httpPort)"}, {d.tln, "the control plane (httpsPort)"}} {
		if l.ln != nil {
			claims["tcp "+l.ln.Addr().String()] = l.who
		}
	}
	for _, w := range want {
		if m := d.managed[w.key]; m != nil {
			for _, s := range m.p.Sources() {
				claims[s.Key()] = w.key
				for _, k := range ingest.ClaimsOf(s) {
					claims[k] = w.key
				}
			}
		}
	}
	return claims
}

// applyPipelinesLocked reconciles the running pipelines with the
// configuration: new files start, changed ones update in place, removed
// ones stop, refused ones keep what runs. At start-up (startup true) a
// configuration that cannot run in full is refused before anything starts,
// when the problem can be found without binding, and the caller stops what
// started otherwise.
func (d *Daemon) applyPipelinesLocked(startup bool) ReloadResult {
	var res ReloadResult
	// Problems are found afresh: what is still wrong is reported again.
	for k := range d.problems {
		if k != d.mainPath {
			delete(d.problems, k)
		}
	}
	want, dirErr := wantedPipelines(d.main, d.opt, d.managed)
	seen := map[string]bool{}
	if dirErr != nil {
		dir := d.main.PipelinesDirectory
		res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", dir, dirErr))
		d.problems[dir] = dirErr.Error()
		// Keep the pipelines of an unreadable directory.
		for k := range d.managed {
			seen[k] = true
		}
	}
	for _, w := range want {
		seen[w.key] = true
	}
	checkWanted(want, d.builder(), d.claimsLocked(want))
	for _, w := range want {
		if w.spec == nil {
			msg := w.problems.Error()
			d.problems[w.key] = msg
			res.Errors = append(res.Errors, msg)
		}
	}
	if startup && len(res.Errors) > 0 {
		return res
	}
	// Stop what is gone first: it may free addresses.
	for key, m := range d.managed {
		if !seen[key] {
			if err := m.p.Stop(); err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: stopping: %v", key, err))
			}
			d.retired.Retire(m.p.Report) // what it counted to its end, its sinks' close among it
			delete(d.managed, key)
			delete(d.problems, key)
			res.Stopped = append(res.Stopped, key)
		}
	}
	b := d.builder()
	for _, w := range want {
		m := d.managed[w.key]
		if w.spec == nil || m != nil && m.spec.Hash == w.spec.Hash {
			continue // refused, or unchanged
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
		cfg := pipeline.Config{Name: w.spec.Name, Shard: w.spec.Shard, MaxSeries: w.spec.MaxSeries, Sources: w.sources, Sinks: sks, Log: d.log}
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
				var applied *pipeline.AppliedError
				if !errors.As(err, &applied) {
					config.CloseSinks(cfg.Sinks)
					d.problems[w.key] = err.Error()
					res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", w.key, err))
					continue
				}
				// Applied: the new sinks run; what failed on the way
				// (the old sinks' close, say) is reported, not refused.
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %v", w.key, err))
			}
			m.spec = w.spec
			res.Updated = append(res.Updated, w.key)
			d.logSources(m.p)
		}
		delete(d.problems, w.key)
	}
	d.updateRoutesLocked()
	d.sizeProcsLocked()
	// What the configuration asks for and does not run makes /ping
	// UNHEALTHY; a refused change to a pipeline that keeps running does not.
	var down []downPipeline
	for _, w := range want {
		if d.managed[w.key] == nil {
			down = append(down, downPipeline{Pipeline: w.key, Problem: d.problems[w.key]})
		}
	}
	d.down.Store(&down)
	return res
}

// logSources logs where each source of a pipeline listens (with port 0,
// the port the kernel chose).
func (d *Daemon) logSources(p *pipeline.Pipeline) {
	for _, s := range p.Sources() {
		if c := ingest.ClaimsOf(s); len(c) > 0 {
			d.log.Info("source ready", "pipeline", p.Name(), "source", s.Name(), "at", s.Key(), "also", strings.Join(c, ", "))
			continue
		}
		d.log.Info("source ready", "pipeline", p.Name(), "source", s.Name(), "at", s.Key())
	}
}
