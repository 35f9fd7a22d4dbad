//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Bench runs scenarios on peers, each run on a freshly started process
// pinned to DaemonCPUs (the harness itself runs on GenCPUs), and checks
// what came out of it end to end where the peer has an output.
type Bench struct {
	Dir                 string
	Options             PeerOptions
	DaemonCPUs, GenCPUs []int
	Log                 io.Writer
	// Profile, if set, is a directory for CPU profiles of the targets that
	// serve them (Peer.Pprof), fetched throughout each run (RunPeer) from
	// just after start-up until the target is stopped: the load, the drain
	// and the buckets emitted meanwhile, not the stop's flush of the open
	// ones. They are what the daemon's profile-guided build is made from
	// (make pgo). The profiler's sampling costs the target a little CPU.
	Profile string

	sink *RemoteWriteSink
}

// Close releases what the bench started.
func (b *Bench) Close() {
	if b.sink != nil {
		b.sink.Close()
	}
}

func (b *Bench) logf(format string, args ...any) {
	if b.Log != nil {
		fmt.Fprintf(b.Log, format+"\n", args...)
	}
}

// Prepare installs the peers that are missing; it returns the peers that
// can run, and why the others cannot.
func (b *Bench) Prepare(peers []Peer, install bool) (ok []Peer, skipped map[string]error) {
	skipped = map[string]error{}
	if err := os.MkdirAll(filepath.Join(b.Dir, "bin"), 0o755); err != nil {
		for _, p := range peers {
			skipped[p.Name] = err
		}
		return nil, skipped
	}
	for _, p := range peers {
		if !p.Installed(b.Dir) || (p.Rebuild && install && b.Options.Mad == "") {
			if !install {
				skipped[p.Name] = fmt.Errorf("not installed (madbench peers installs it)")
				continue
			}
			b.logf("installing %s", p.Name)
			log, _ := os.Create(filepath.Join(b.Dir, p.Name+".install.log"))
			err := p.Install(b.Dir, log)
			log.Close()
			if err == nil && !p.Installed(b.Dir) {
				err = fmt.Errorf("installed, but not found")
			}
			if err != nil {
				skipped[p.Name] = err
				continue
			}
		}
		ok = append(ok, p)
	}
	return ok, skipped
}

// Supports reports whether the peer takes the scenario's protocol and,
// for tagged workloads, DogStatsD tags.
func (p Peer) Supports(proto Protocol, tagged bool) bool {
	if tagged && !p.Tags {
		return false
	}
	for _, q := range p.Protocols {
		if q == proto {
			return true
		}
	}
	return false
}

// RunPeer starts the peer, runs the scenario against it, stops it and
// compares its output with what was sent.
func (b *Bench) RunPeer(ctx context.Context, peer Peer, sc Scenario) (Result, error) {
	opts := b.Options
	opts.Protocol = sc.Protocol
	if sc.Protocol == RemoteWrite && peer.Name == "vmagent" {
		if b.sink == nil {
			s, err := StartRemoteWriteSink()
			if err != nil {
				return Result{}, err
			}
			b.sink = s
		}
		b.sink.Reset()
		opts.SinkURL = b.sink.URL
	}
	argv, err := peer.Command(b.Dir, opts)
	if err != nil {
		return Result{}, err
	}
	var outPath string
	var stdout io.Writer
	if peer.StdoutOutput {
		outPath = filepath.Join(b.Dir, peer.Name+".out.jsonl")
		f, err := os.Create(outPath)
		if err != nil {
			return Result{}, err
		}
		defer f.Close()
		stdout = f
	}
	d, err := StartDaemon(peer.Name, argv, nil, b.Dir, b.DaemonCPUs, stdout)
	if err != nil {
		return Result{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Stop(10 * time.Second)
		}
	}()
	if err := d.WaitReady(peer.Ready(opts), 60*time.Second); err != nil {
		return Result{}, err
	}
	if peer.Resolve != nil {
		if opts, err = d.resolve(peer, b.Dir, opts); err != nil {
			return Result{}, err
		}
	}
	time.Sleep(500 * time.Millisecond) // past start-up work
	stopProfiling := func() {}
	if b.Profile != "" && peer.Pprof {
		stopProfiling = b.startProfiling(peer.Name, peer.URL(opts))
		defer stopProfiling() // a run that failed
	}
	t := Target{Name: peer.Name, PID: d.PID(), Addr: opts.StatsD, URL: peer.URL(opts), GRPC: opts.OTLPGRPC}
	if peer.Metrics != "" {
		t.Metrics = t.URL + peer.Metrics
	}
	if opts.PeerMetrics != "" {
		t.Allocs = "http://" + opts.PeerMetrics + "/metrics"
	}
	if peer.Name == "vmagent" {
		t.RemoteWritePath = "/api/v1/write"
	}
	r, err := Run(ctx, t, sc)
	if err != nil {
		return r, err
	}
	if peer.Points != nil {
		// Every request was answered: what the peer counted is final.
		n, err := peer.Points(opts)
		if err != nil {
			b.logf("%s: no end-to-end check: %v", peer.Name, err)
		} else {
			r.E2E = &EndToEnd{PointsOnly: true, Expected: float64(r.Sent.Lines), Emitted: n}
		}
	}
	var got map[string]Got
	var gotErr error
	if peer.Totals != nil && peer.BeforeStop {
		got, gotErr = peer.Totals(b.Dir, opts)
	}
	if peer.Totals != nil && !peer.BeforeStop {
		// Let the last interval be gathered and written.
		time.Sleep(2*opts.Flush + 500*time.Millisecond)
	}
	stopProfiling()
	stopped = true
	if err := d.Stop(60 * time.Second); err != nil {
		b.logf("%s: %v", peer.Name, err)
	}
	r.SetCPUToExit(d.Cmd.ProcessState)
	switch {
	case peer.StdoutOutput:
		o, err := NewOutput(fmt.Sprintf("PT%dS", int(opts.Flush.Seconds())), "")
		if err != nil {
			return r, err
		}
		f, err := os.Open(outPath)
		if err != nil {
			return r, err
		}
		err = o.Read(f, false)
		f.Close()
		if err != nil {
			return r, err
		}
		got = o.Totals()
	case peer.Totals != nil && !peer.BeforeStop:
		got, gotErr = peer.Totals(b.Dir, opts)
	case b.sink != nil && opts.SinkURL != "":
		got = b.sink.Totals()
	}
	if gotErr != nil {
		b.logf("%s: no end-to-end check: %v", peer.Name, gotErr)
		return r, nil
	}
	if got != nil {
		want := map[string]Expected{}
		for id, e := range sc.Load.Payloads.Totals(r.Sent.Messages+len(r.Sent.Refused), r.Sent.Refused) {
			if peer.CountersOnly && !e.Counter {
				continue
			}
			if peer.Mangle != nil {
				id = peer.Mangle(id)
			}
			want[id] = e
		}
		e := Compare(want, got, peer.CountersOnly)
		r.E2E = &e
	}
	return r, nil
}

// Ladder runs the scenario at each rate (messages per second) on a fresh
// peer and returns the results in order.
func (b *Bench) Ladder(ctx context.Context, peer Peer, sc Scenario, rates []float64) ([]Result, error) {
	var rs []Result
	for _, rate := range rates {
		if ctx.Err() != nil {
			return rs, ctx.Err()
		}
		s := sc
		s.Load.Rate = rate
		s.Load.Count = 0
		r, err := b.RunPeer(ctx, peer, s)
		if err != nil {
			return rs, fmt.Errorf("%s at %v/s: %w", peer.Name, rate, err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// MaxRateAt returns the highest rate of a ladder whose loss is at most
// maxLoss, in lines per second, and whether any step qualified.
func MaxRateAt(rs []Result, maxLoss float64) (float64, bool) {
	best, ok := 0.0, false
	for _, r := range rs {
		if r.Loss() <= maxLoss && r.Sent.Elapsed > 0 {
			if lps := float64(r.Sent.Lines) / r.Sent.Elapsed.Seconds(); lps > best {
				best, ok = lps, true
			}
		}
	}
	return best, ok
}

// LatencyRun starts mad with its output read live, sends a steady load
// and the probe for periods seconds, stops it and returns the latency from
// period end to sink and the probe's percentile errors.
func (b *Bench) LatencyRun(ctx context.Context, peer Peer, sc Scenario, probe *Probe, periods int) (Latency, error) {
	if !peer.StdoutOutput {
		return Latency{}, fmt.Errorf("%s: no live output to time", peer.Name)
	}
	argv, err := peer.Command(b.Dir, b.Options)
	if err != nil {
		return Latency{}, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return Latency{}, err
	}
	d, err := StartDaemon(peer.Name, argv, nil, b.Dir, b.DaemonCPUs, pw)
	pw.Close()
	if err != nil {
		pr.Close()
		return Latency{}, err
	}
	o, err := NewOutput(fmt.Sprintf("PT%dS", int(b.Options.Flush.Seconds())), probe.Prefix)
	if err != nil {
		return Latency{}, err
	}
	readDone := make(chan error, 1)
	go func() { readDone <- o.Read(pr, true) }()
	opts := b.Options
	if err := d.WaitReady(peer.Ready(opts), 60*time.Second); err != nil {
		d.Stop(10 * time.Second)
		return Latency{}, err
	}
	if peer.Resolve != nil {
		if opts, err = peer.Resolve(b.Dir, opts); err != nil {
			d.Stop(10 * time.Second)
			return Latency{}, err
		}
	}
	s := sc
	s.Load.Count, s.Load.Duration = 0, time.Duration(periods+1)*time.Second
	loadDone := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Target{Name: peer.Name, PID: d.PID(), Addr: opts.StatsD}, s)
		loadDone <- err
	}()
	probeErr := probe.Run(ctx, opts.StatsD, periods)
	loadErr := <-loadDone
	// Rows of the last periods close within two periods.
	time.Sleep(2*b.Options.Flush + time.Second)
	lat := o.Latencies()
	starts := o.Periods()
	d.Stop(60 * time.Second)
	pr.Close()
	<-readDone
	if probeErr != nil {
		return Latency{}, probeErr
	}
	if loadErr != nil {
		return Latency{}, loadErr
	}
	l := probe.Check(o.Probes())
	return Summarize(l, lat, starts), nil
}
