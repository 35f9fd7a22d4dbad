//go:build linux

// Command madbench measures mad, its peers and any MAD-compatible endpoint
// from outside, on the workloads of PERF.md, and writes the tables and
// plots of BENCHMARKS.md.
//
//	madbench peers                    install the peers that are missing
//	madbench s1 [flags]               S1: classic StatsD
//	madbench s2 [flags]               S2: tagged DogStatsD
//	madbench s3 [flags]               S3: MAD's grid over V3, remote write, StatsD
//	madbench otlp [flags]             OTLP metrics over gRPC and HTTP (mad, otelcol)
//	madbench latency [flags]          period end to sink, and percentile error (mad)
//	madbench all [flags]              everything BENCHMARKS.md shows, one command
//	madbench relay [flags]            S1 through StatsD relays (mad-relay, mad-relay-8k, etsy-proxy) to harness sinks
//	madbench flame [-title T] [-width W] <perf-script.txt >flame.svg
//	                                  a flame graph of `perf script` output
//
// Targets are started by the harness (-peers mad,statsd_exporter,…), each
// on a fresh process pinned to -daemon-cpus while the generator runs on
// -gen-cpus; or given: -pid PID with -addr/-url for a running daemon (a
// Java MAD), or -addr/-url alone for a remote endpoint (no CPU or memory).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomad/mad/bench"
)

type options struct {
	relaySinks, rounds    int
	peers                 string
	pid                   int
	addr, url, metrics    string
	name                  string
	series, seed          int
	messages              int
	duration              time.Duration
	rate                  float64
	ladder                string
	proto                 string
	conns                 int
	cells, s3protos       string
	daemonCPUs, genCPUs   string
	dir, md, svg, pprof   string
	install               bool
	periods, probeSeries  int
	probeValues           int
	flush                 time.Duration
	mad                   string
	latencyRate           float64
	maxMessages           int
	s1Names, s2Series     string
	skipLadder, skipS3    bool
	ladderPeers           string
	ladderDurationSeconds int
	tags, mix             string
	fixedTags             bool
	otlpProtos, otlpMix   string
	otlpPoints            string
	otlpResources         int
	streams               int
	skipOTLP              bool
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	if cmd == "flame" {
		cmdFlame(os.Args[2:])
		return
	}
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	var o options
	home, _ := os.UserCacheDir()
	fs.StringVar(&o.peers, "peers", "mad", "targets the harness starts, comma-separated: "+peerNames())
	fs.IntVar(&o.pid, "pid", 0, "measure this running process instead (with -addr and/or -url)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8125", "StatsD address (UDP and TCP)")
	fs.StringVar(&o.url, "url", "", "base URL of the HTTP routes of a given target (default http://127.0.0.1:7090)")
	fs.StringVar(&o.metrics, "metrics", "", "Prometheus /metrics URL of a given mad, for its internal loss")
	fs.StringVar(&o.name, "name", "target", "name of a given target in the results")
	fs.IntVar(&o.series, "series", 0, "series (S1: names; S2: series); 0 for the workload's default")
	fs.IntVar(&o.seed, "seed", 1, "workload seed")
	fs.IntVar(&o.messages, "messages", 300000, "messages to send at the maximum rate")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long a fixed-rate run sends")
	fs.Float64Var(&o.rate, "rate", 0, "fixed rate in lines (samples) per second; 0 sends -messages as fast as possible (OTLP: data points per second; 0: as fast as possible for -duration)")
	fs.StringVar(&o.ladder, "ladder", "", "rates in lines per second, comma-separated: a fixed-rate run at each, on a fresh process")
	fs.StringVar(&o.proto, "proto", "udp", "StatsD transport for S1 and S2: udp or tcp")
	fs.IntVar(&o.conns, "conns", 4, "UDP source ports, TCP or HTTP connections")
	fs.StringVar(&o.cells, "cells", "diagonal", "S3 cells: diagonal, grid, or uow/names/samples;… (e.g. 10000/10/5)")
	fs.StringVar(&o.s3protos, "s3-protocols", "v3,remotewrite,statsd", "S3 protocols")
	fs.StringVar(&o.daemonCPUs, "daemon-cpus", "0", "CPUs of a started target, comma-separated; empty: unpinned")
	fs.StringVar(&o.genCPUs, "gen-cpus", "1", "CPUs of the generator (this process); empty: unpinned")
	fs.StringVar(&o.dir, "dir", filepath.Join(home, "madbench"), "work directory: peers, configurations, outputs")
	fs.StringVar(&o.md, "md", "", "also write the results as Markdown to this file")
	fs.StringVar(&o.svg, "svg", "", "also draw the results as SVG to this file")
	fs.StringVar(&o.pprof, "pprof", "", "write CPU profiles of the mad targets, taken throughout each run, into this directory (make pgo)")
	fs.BoolVar(&o.install, "install", true, "install missing peers")
	fs.IntVar(&o.periods, "periods", 32, "latency: periods (seconds) to measure")
	fs.IntVar(&o.probeSeries, "probe-series", 10, "latency: probe series")
	fs.IntVar(&o.probeValues, "probe-values", 1000, "latency: values per probe series and period")
	fs.Float64Var(&o.latencyRate, "latency-rate", 200000, "latency: background S1 load in lines per second")
	fs.DurationVar(&o.flush, "flush", time.Second, "flush interval of the peers (mad: PT1S)")
	fs.StringVar(&o.mad, "mad", "", "mad binary (default: built from this repository into -dir)")
	fs.IntVar(&o.maxMessages, "max-messages", 20000, "S3: distinct prebuilt messages per cell at most")
	fs.StringVar(&o.s1Names, "s1-names", "10000,100000", "all: S1 name counts")
	fs.StringVar(&o.s2Series, "s2-series", "100000,1000000", "all: S2 series counts")
	fs.BoolVar(&o.skipLadder, "skip-ladder", false, "all: skip the fixed-rate ladder")
	fs.BoolVar(&o.skipS3, "skip-s3", false, "all: skip S3")
	fs.StringVar(&o.ladderPeers, "ladder-peers", "mad,statsd_exporter", "all: peers of the fixed-rate ladder")
	fs.IntVar(&o.ladderDurationSeconds, "ladder-seconds", 10, "all: seconds per ladder step")
	fs.StringVar(&o.tags, "tags", "", "S1/S2: tags per series as min-max (S1 default 0-0, S2 3-6)")
	fs.BoolVar(&o.fixedTags, "fixed-tags", false, "S1/S2: write a series' tags in one order of its own on every line (as a client library does), not shuffled")
	fs.StringVar(&o.mix, "mix", "", "S1/S2: type mix in percent of series, e.g. c=40,sc=5,g=15,ms=12,h=12,d=11,s=5 (sc: sampled counters)")
	fs.StringVar(&o.otlpProtos, "otlp-protocols", "otlp-grpc,otlp-http", "OTLP: protocols")
	fs.StringVar(&o.otlpPoints, "otlp-points", "100,1000", "OTLP: data points per request (1-1000), comma-separated: a run each")
	fs.StringVar(&o.otlpMix, "otlp-mix", "mixed", "OTLP: mixed (40 % delta sums, 40 % gauges, 20 % histograms) and/or numbers (sums and gauges only), comma-separated")
	fs.IntVar(&o.otlpResources, "otlp-resources", 20, "OTLP: resources (service and host), 1000 series each")
	fs.IntVar(&o.streams, "streams", 2, "OTLP/gRPC: calls in flight per connection (-conns connections)")
	fs.BoolVar(&o.skipOTLP, "skip-otlp", false, "all: skip OTLP")
	fs.IntVar(&o.relaySinks, "relay-sinks", 3, "relay: aggregators (harness sinks) behind the relay")
	fs.IntVar(&o.rounds, "rounds", 1, "relay: rounds, each running every peer, the order rotated")
	fs.Parse(os.Args[2:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := bench.Env(os.Args)
	fmt.Println("environment:", env)
	if err := bench.PinSelf(cpus(o.genCPUs)); err != nil {
		fail(err)
	}
	var err error
	switch cmd {
	case "peers":
		err = cmdPeers(o)
	case "s1", "s2":
		err = cmdStatsD(ctx, o, cmd, env)
	case "s3":
		err = cmdS3(ctx, o, env)
	case "otlp":
		err = cmdOTLP(ctx, o, env)
	case "latency":
		err = cmdLatency(ctx, o, env)
	case "relay":
		err = cmdRelay(ctx, o)
	case "all":
		err = cmdAll(ctx, o, env)
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

// cmdFlame draws the flame graph of the `perf script` output on standard
// input as SVG on standard output.
func cmdFlame(args []string) {
	fs := flag.NewFlagSet("flame", flag.ExitOnError)
	title := fs.String("title", "CPU profile", "the graph's title")
	width := fs.Int("width", 1600, "width in pixels")
	fs.Parse(args)
	folded, err := bench.FoldPerfScript(os.Stdin)
	if err != nil {
		fail(err)
	}
	if _, err := os.Stdout.WriteString(bench.FlameSVG(*title, folded, *width)); err != nil {
		fail(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: madbench peers|s1|s2|s3|otlp|latency|relay|all|flame [flags]   (madbench s1 -h for the flags)")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "madbench:", err)
	os.Exit(1)
}

func peerNames() string {
	var names []string
	for _, p := range bench.Peers() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

func cpus(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func newBench(o options) *bench.Bench {
	return &bench.Bench{
		Dir:        o.dir,
		Options:    bench.PeerOptions{StatsD: o.addr, Flush: o.flush, Mad: o.mad},
		DaemonCPUs: cpus(o.daemonCPUs),
		GenCPUs:    cpus(o.genCPUs),
		Log:        os.Stderr,
		Profile:    o.pprof,
	}
}

func selectPeers(b *bench.Bench, o options, names string) ([]bench.Peer, error) {
	var ps []bench.Peer
	for _, n := range strings.Split(names, ",") {
		p, ok := bench.PeerByName(strings.TrimSpace(n))
		if !ok {
			return nil, fmt.Errorf("unknown peer %q (known: %s)", n, peerNames())
		}
		ps = append(ps, p)
	}
	ok, skipped := b.Prepare(ps, o.install)
	for n, err := range skipped {
		fmt.Fprintf(os.Stderr, "skipping %s: %v\n", n, err)
	}
	return ok, nil
}

func cmdPeers(o options) error {
	b := newBench(o)
	ok, skipped := b.Prepare(bench.Peers(), true)
	for _, p := range ok {
		fmt.Printf("%-16s ready  %s\n", p.Name, p.Note)
	}
	for n, err := range skipped {
		fmt.Printf("%-16s %v\n", n, err)
	}
	return nil
}

// statsdPayloads builds S1 or S2, with -tags and -mix applied.
func statsdPayloads(o options, which string, series int) (*bench.Payloads, error) {
	var w bench.StatsD
	if which == "s1" {
		if series == 0 {
			series = 10000
		}
		w = bench.S1(series, uint64(o.seed))
		w.Name = fmt.Sprintf("S1 %s names", short(series))
	} else {
		if series == 0 {
			series = 100000
		}
		w = bench.S2(series, uint64(o.seed))
		w.Name = fmt.Sprintf("S2 %s series", short(series))
	}
	if o.tags != "" {
		lo, hi, ok := strings.Cut(o.tags, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || a < 0 || b < a || b > 6 || (a == 0) != (b == 0) {
			return nil, fmt.Errorf("bad -tags %q: want min-max within 1-6, or 0-0", o.tags)
		}
		w.MinTags, w.MaxTags = a, b
		w.Name += fmt.Sprintf(", %s tags", o.tags)
	}
	if o.fixedTags {
		w.FixedTagOrder = true
		w.Name += " in one order"
	}
	if o.mix != "" {
		m, err := parseMix(o.mix)
		if err != nil {
			return nil, err
		}
		w.Mix = m
		w.Name += ", mix " + o.mix
	}
	return w.Build(), nil
}

func parseMix(s string) (bench.Mix, error) {
	var m bench.Mix
	fields := map[string]*int{"c": &m.Counter, "sc": &m.SampledCounter, "g": &m.Gauge, "ms": &m.Timer, "h": &m.Histogram, "d": &m.Distribution, "s": &m.Set}
	total := 0
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		p := fields[k]
		if !ok || err != nil || p == nil || n < 0 {
			return m, fmt.Errorf("bad -mix entry %q (types c, sc, g, ms, h, d, s)", kv)
		}
		*p = n
		total += n
	}
	if total != 100 {
		return m, fmt.Errorf("-mix adds up to %d; want 100", total)
	}
	return m, nil
}

func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func avgLines(p *bench.Payloads) float64 {
	return float64(p.TotalLines(len(p.Messages))) / float64(len(p.Messages))
}

// runStatsD runs one StatsD workload (max rate, or each ladder rate) on
// the chosen targets.
func runStatsD(ctx context.Context, b *bench.Bench, o options, peers []bench.Peer, p *bench.Payloads, tagged bool) ([]bench.Result, error) {
	proto := bench.StatsDLines
	if o.proto == "tcp" {
		proto = bench.TCP
	}
	sc := bench.Scenario{Protocol: proto, Conns: o.conns, Load: bench.Load{Payloads: p, Count: o.messages}}
	if o.rate > 0 {
		sc.Load = bench.Load{Payloads: p, Rate: o.rate / avgLines(p), Duration: o.duration}
	}
	var rs []bench.Result
	if o.pid != 0 || len(peers) == 0 {
		t := bench.Target{Name: o.name, PID: o.pid, Addr: o.addr, URL: o.url, Metrics: o.metrics}
		r, err := bench.Run(ctx, t, sc)
		if err != nil {
			return nil, err
		}
		return []bench.Result{r}, nil
	}
	for _, peer := range peers {
		if ctx.Err() != nil {
			return rs, ctx.Err()
		}
		if !peer.Supports(proto, tagged) {
			fmt.Fprintf(os.Stderr, "%s does not take %s%s; skipped\n", peer.Name, proto, map[bool]string{true: " with tags"}[tagged])
			continue
		}
		fmt.Fprintf(os.Stderr, "%s: %s\n", peer.Name, p.Name)
		r, err := b.RunPeer(ctx, peer, sc)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return rs, err
			}
			fmt.Fprintf(os.Stderr, "%s: %v\n", peer.Name, err)
			continue
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func cmdStatsD(ctx context.Context, o options, which string, env bench.Environment) error {
	b := newBench(o)
	defer b.Close()
	var peers []bench.Peer
	if o.pid == 0 {
		var err error
		if peers, err = selectPeers(b, o, o.peers); err != nil {
			return err
		}
	}
	p, err := statsdPayloads(o, which, o.series)
	if err != nil {
		return err
	}
	tagged := which == "s2" || (o.tags != "" && o.tags != "0-0")
	var rs []bench.Result
	var panels []any
	if o.ladder != "" {
		rates, err := floats(o.ladder)
		if err != nil {
			return err
		}
		var lines []bench.Line
		for _, peer := range peers {
			sc := bench.Scenario{Protocol: bench.StatsDLines, Conns: o.conns, Load: bench.Load{Payloads: p, Duration: o.duration}}
			var msgRates []float64
			for _, r := range rates {
				msgRates = append(msgRates, r/avgLines(p))
			}
			lr, err := b.Ladder(ctx, peer, sc, msgRates)
			rs = append(rs, lr...)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			lines = append(lines, ladderLine(peer.Name, lr))
		}
		panels = append(panels, bench.LinePanel{Title: p.Name + ": loss against offered load", XLabel: "lines per second offered", YLabel: "loss, %", Lines: lines, LogX: true})
	} else {
		var err error
		if rs, err = runStatsD(ctx, b, o, peers, p, tagged); err != nil {
			return err
		}
		panels = append(panels, cpuPanel(p.Name, rs), rssPanel(p.Name, rs))
	}
	return report(o, env, strings.ToUpper(which), rs, panels, "")
}

func ladderLine(name string, rs []bench.Result) bench.Line {
	l := bench.Line{Name: name}
	for _, r := range rs {
		if r.Sent.Elapsed <= 0 {
			continue
		}
		l.X = append(l.X, float64(r.Sent.Lines)/r.Sent.Elapsed.Seconds())
		l.Y = append(l.Y, 100*r.Loss())
	}
	return l
}

func cpuPanel(title string, rs []bench.Result) bench.BarPanel {
	p := bench.BarPanel{Title: title + ": lines per CPU-second", Unit: "lines/CPU-s"}
	best := 0.0
	for _, r := range rs {
		if r.Target != "mad" {
			best = max(best, r.LinesPerCPUSecond)
		}
	}
	for _, r := range rs {
		b := bench.Bar{Label: r.Target, Value: r.LinesPerCPUSecond}
		if r.Target == "mad" && best > 0 {
			b.Note = fmt.Sprintf("%.1fx the best peer", r.LinesPerCPUSecond/best)
		}
		p.Bars = append(p.Bars, b)
	}
	return p
}

func rssPanel(title string, rs []bench.Result) bench.BarPanel {
	p := bench.BarPanel{Title: title + ": resident memory after the run", Unit: "MB"}
	for _, r := range rs {
		p.Bars = append(p.Bars, bench.Bar{Label: r.Target, Value: float64(r.RSS) / 1e6})
	}
	return p
}

func cells(s string) ([]bench.Cell, error) {
	switch s {
	case "diagonal":
		return bench.Diagonal(), nil
	case "grid":
		return bench.Grid(), nil
	}
	var cs []bench.Cell
	for _, c := range strings.Split(s, ";") {
		f := strings.Split(c, "/")
		if len(f) != 3 {
			return nil, fmt.Errorf("bad cell %q: want uow/names/samples", c)
		}
		var v [3]int
		for i := range f {
			n, err := strconv.Atoi(f[i])
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bad cell %q", c)
			}
			v[i] = n
		}
		cs = append(cs, bench.Cell{UnitsOfWork: v[0], Names: v[1], Samples: v[2]})
	}
	return cs, nil
}

func runS3(ctx context.Context, b *bench.Bench, o options, peers []bench.Peer) ([]bench.Result, error) {
	cs, err := cells(o.cells)
	if err != nil {
		return nil, err
	}
	var rs []bench.Result
	for _, proto := range strings.Split(o.s3protos, ",") {
		proto := bench.Protocol(strings.TrimSpace(proto))
		for _, c := range cs {
			if ctx.Err() != nil {
				return rs, ctx.Err()
			}
			p := bench.BuildS3(c, proto, uint64(o.seed), o.maxMessages)
			sc := bench.Scenario{Protocol: proto, Conns: o.conns,
				Load: bench.Load{Payloads: p, Rate: c.MessagesPerSecond(proto), Duration: o.duration}}
			if o.pid != 0 || len(peers) == 0 {
				url := o.url
				if url == "" {
					url = "http://127.0.0.1:7090"
				}
				r, err := bench.Run(ctx, bench.Target{Name: o.name, PID: o.pid, Addr: o.addr, URL: url, Metrics: o.metrics}, sc)
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s %s: %v\n", o.name, p.Name, err)
					continue
				}
				rs = append(rs, r)
				continue
			}
			for _, peer := range peers {
				if !peer.Supports(proto, false) {
					continue
				}
				fmt.Fprintf(os.Stderr, "%s: %s\n", peer.Name, p.Name)
				r, err := b.RunPeer(ctx, peer, sc)
				if err != nil {
					if errors.Is(err, context.Canceled) {
						return rs, err
					}
					fmt.Fprintf(os.Stderr, "%s: %v\n", peer.Name, err)
					continue
				}
				rs = append(rs, r)
			}
		}
	}
	return rs, nil
}

func cmdS3(ctx context.Context, o options, env bench.Environment) error {
	b := newBench(o)
	defer b.Close()
	var peers []bench.Peer
	if o.pid == 0 {
		var err error
		if peers, err = selectPeers(b, o, o.peers); err != nil {
			return err
		}
	}
	rs, err := runS3(ctx, b, o, peers)
	if err != nil {
		return err
	}
	return report(o, env, "S3", rs, nil, "")
}

func cmdLatency(ctx context.Context, o options, env bench.Environment) error {
	b := newBench(o)
	defer b.Close()
	peers, err := selectPeers(b, o, "mad")
	if err != nil || len(peers) == 0 {
		return fmt.Errorf("latency needs mad: %v", err)
	}
	l, err := latency(ctx, b, o, peers[0])
	if err != nil {
		return err
	}
	return report(o, env, "latency", nil, nil, l.String())
}

func latency(ctx context.Context, b *bench.Bench, o options, mad bench.Peer) (bench.Latency, error) {
	p, err := statsdPayloads(options{seed: o.seed}, "s1", 10000)
	if err != nil {
		return bench.Latency{}, err
	}
	sc := bench.Scenario{Protocol: bench.StatsDLines, Conns: o.conns, Load: bench.Load{Payloads: p, Rate: o.latencyRate / avgLines(p)}}
	probe := &bench.Probe{Prefix: "bench.probe.", Series: o.probeSeries, Values: o.probeValues, Seed: uint64(o.seed)}
	fmt.Fprintf(os.Stderr, "mad: latency over %d periods with %s lines/s of S1 and %d probe series\n", o.periods, short(int(o.latencyRate)), o.probeSeries)
	return b.LatencyRun(ctx, mad, sc, probe, o.periods)
}

// cmdAll runs what BENCHMARKS.md shows.
func cmdAll(ctx context.Context, o options, env bench.Environment) error {
	b := newBench(o)
	defer b.Close()
	var peers []string
	for _, p := range bench.Peers() {
		if !p.Variant {
			peers = append(peers, p.Name)
		}
	}
	all, err := selectPeers(b, o, strings.Join(peers, ","))
	if err != nil {
		return err
	}
	var rs []bench.Result
	var panels []any
	names, err := floats(o.s1Names)
	if err != nil {
		return err
	}
	for _, n := range names {
		p, err := statsdPayloads(o, "s1", int(n))
		if err != nil {
			return err
		}
		r, err := runStatsD(ctx, b, o, all, p, false)
		if err != nil {
			return err
		}
		rs = append(rs, r...)
		panels = append(panels, cpuPanel(p.Name, r), rssPanel(p.Name, r))
		write(o, env, "all", rs, panels, "", false)
	}
	series, err := floats(o.s2Series)
	if err != nil {
		return err
	}
	for _, n := range series {
		p, err := statsdPayloads(o, "s2", int(n))
		if err != nil {
			return err
		}
		r, err := runStatsD(ctx, b, o, all, p, true)
		if err != nil {
			return err
		}
		rs = append(rs, r...)
		panels = append(panels, cpuPanel(p.Name, r), rssPanel(p.Name, r))
		write(o, env, "all", rs, panels, "", false)
	}
	if !o.skipLadder {
		p, err := statsdPayloads(o, "s1", 10000)
		if err != nil {
			return err
		}
		rates := []float64{250e3, 500e3, 1e6, 2e6, 4e6, 8e6}
		var lines []bench.Line
		for _, peer := range all {
			if !slices.Contains(strings.Split(o.ladderPeers, ","), peer.Name) {
				continue
			}
			var msgRates []float64
			for _, r := range rates {
				msgRates = append(msgRates, r/avgLines(p))
			}
			sc := bench.Scenario{Protocol: bench.StatsDLines, Conns: o.conns, Load: bench.Load{Payloads: p, Duration: time.Duration(o.ladderDurationSeconds) * time.Second}}
			fmt.Fprintf(os.Stderr, "%s: ladder\n", peer.Name)
			lr, err := b.Ladder(ctx, peer, sc, msgRates)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			rs = append(rs, lr...)
			lines = append(lines, ladderLine(peer.Name, lr))
		}
		panels = append(panels, bench.LinePanel{Title: p.Name + ": loss against offered load", XLabel: "lines per second offered", YLabel: "loss, %", Lines: lines, LogX: true})
		write(o, env, "all", rs, panels, "", false)
	}
	if !o.skipS3 {
		r, err := runS3(ctx, b, o, all)
		rs = append(rs, r...)
		if err != nil {
			return err
		}
		write(o, env, "all", rs, panels, "", false)
	}
	if !o.skipOTLP {
		r, p, err := runOTLP(ctx, b, o, all)
		rs = append(rs, r...)
		panels = append(panels, p...)
		if err != nil {
			return err
		}
		write(o, env, "all", rs, panels, "", false)
	}
	var extra string
	for _, p := range all {
		if p.Name == "mad" {
			l, err := latency(ctx, b, o, p)
			if err != nil {
				fmt.Fprintln(os.Stderr, "latency:", err)
			} else {
				extra = "mad, " + l.String()
			}
		}
	}
	return report(o, env, "all", rs, panels, extra)
}

// report prints the table and writes the Markdown and SVG files.
func report(o options, env bench.Environment, title string, rs []bench.Result, panels []any, extra string) error {
	return write(o, env, title, rs, panels, extra, true)
}

// write writes the Markdown and SVG files, and prints the table if asked.
func write(o options, env bench.Environment, title string, rs []bench.Result, panels []any, extra string, print bool) error {
	var md strings.Builder
	fmt.Fprintf(&md, "Environment: %s\n\n", env)
	var plain, otlp []bench.Result
	for _, r := range rs {
		if r.Protocol.IsOTLP() {
			otlp = append(otlp, r)
		} else {
			plain = append(plain, r)
		}
	}
	if len(plain) > 0 {
		md.WriteString(bench.Table(plain))
	}
	if len(otlp) > 0 {
		if len(plain) > 0 {
			md.WriteString("\n")
		}
		md.WriteString(bench.OTLPTable(otlp))
	}
	if extra != "" {
		fmt.Fprintf(&md, "\n%s\n", extra)
	}
	for _, p := range bench.Peers() {
		for _, r := range rs {
			if r.Target == p.Name {
				fmt.Fprintf(&md, "\n- %s: %s", p.Name, p.Note)
				break
			}
		}
	}
	md.WriteString("\n")
	if print {
		fmt.Print(md.String())
	}
	if o.md != "" {
		if err := os.WriteFile(o.md, []byte(md.String()), 0o644); err != nil {
			return err
		}
	}
	if o.svg != "" && len(panels) > 0 {
		svg := bench.SVG("madbench "+title+" ("+env.Commit+")", panels...)
		if err := os.WriteFile(o.svg, []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runOTLP runs the OTLP workloads (-otlp-points × -otlp-mix) over each of
// -otlp-protocols on the peers that take it: -duration each, as fast as the
// target takes them, or at -rate data points per second.
func runOTLP(ctx context.Context, b *bench.Bench, o options, peers []bench.Peer) ([]bench.Result, []any, error) {
	points, err := floats(o.otlpPoints)
	if err != nil {
		return nil, nil, err
	}
	var rs []bench.Result
	var panels []any
	for _, mix := range strings.Split(o.otlpMix, ",") {
		mix = strings.TrimSpace(mix)
		if mix != "mixed" && mix != "numbers" {
			return rs, panels, fmt.Errorf("bad -otlp-mix %q: mixed or numbers", mix)
		}
		for _, n := range points {
			if n < 1 || n > bench.OTLPStreams || n != float64(int(n)) {
				return rs, panels, fmt.Errorf("bad -otlp-points %v: 1 to %d", n, bench.OTLPStreams)
			}
			w := bench.OTLP{Points: int(n), Resources: o.otlpResources, Numbers: mix == "numbers", Seed: uint64(o.seed), MaxMessages: o.maxMessages}
			p := w.Build()
			for _, proto := range strings.Split(o.otlpProtos, ",") {
				proto := bench.Protocol(strings.TrimSpace(proto))
				if !proto.IsOTLP() {
					return rs, panels, fmt.Errorf("bad -otlp-protocols %q: otlp-grpc, otlp-http", proto)
				}
				if ctx.Err() != nil {
					return rs, panels, ctx.Err()
				}
				sc := bench.Scenario{Protocol: proto, Conns: o.conns, Streams: o.streams,
					Load: bench.Load{Payloads: p, Rate: o.rate / n, Duration: o.duration}}
				var cell []bench.Result
				if o.pid != 0 || len(peers) == 0 {
					url := o.url
					if url == "" {
						url = "http://127.0.0.1:7090"
					}
					r, err := bench.Run(ctx, bench.Target{Name: o.name, PID: o.pid, URL: url, Metrics: o.metrics}, sc)
					if err != nil {
						fmt.Fprintf(os.Stderr, "%s %s %s: %v\n", o.name, p.Name, proto, err)
						continue
					}
					cell = append(cell, r)
				}
				for _, peer := range peers {
					if !peer.Supports(proto, false) {
						continue
					}
					fmt.Fprintf(os.Stderr, "%s: %s over %s\n", peer.Name, p.Name, proto)
					r, err := b.RunPeer(ctx, peer, sc)
					if err != nil {
						if errors.Is(err, context.Canceled) {
							return rs, panels, err
						}
						fmt.Fprintf(os.Stderr, "%s: %v\n", peer.Name, err)
						continue
					}
					cell = append(cell, r)
				}
				rs = append(rs, cell...)
				if len(cell) > 0 {
					panels = append(panels, otlpPanel(p.Name+" over "+string(proto), cell))
				}
			}
		}
	}
	return rs, panels, nil
}

func otlpPanel(title string, rs []bench.Result) bench.BarPanel {
	p := bench.BarPanel{Title: title + ": data points per CPU-second", Unit: "points/CPU-s"}
	peer := 0.0
	for _, r := range rs {
		if r.Target == "otelcol" {
			peer = r.LinesPerCPUSecond
		}
	}
	for _, r := range rs {
		b := bench.Bar{Label: r.Target, Value: r.LinesPerCPUSecond}
		if r.Target == "mad" && peer > 0 {
			b.Note = fmt.Sprintf("%.1fx otelcol", r.LinesPerCPUSecond/peer)
		}
		p.Bars = append(p.Bars, b)
	}
	return p
}

func cmdOTLP(ctx context.Context, o options, env bench.Environment) error {
	b := newBench(o)
	defer b.Close()
	var peers []bench.Peer
	if o.pid == 0 {
		var err error
		if peers, err = selectPeers(b, o, o.peers); err != nil {
			return err
		}
	}
	rs, panels, err := runOTLP(ctx, b, o, peers)
	if err != nil {
		return err
	}
	return report(o, env, "OTLP", rs, panels, "")
}

// cmdRelay runs S1 through StatsD relays (mad-relay, mad-relay-8k, etsy-proxy; -peers)
// to -relay-sinks harness sinks, -rounds times with the order rotated, and
// prints each run: lines forwarded per CPU-second of the relay, datagrams
// sent per 1 000 lines, and lines lost.
func cmdRelay(ctx context.Context, o options) error {
	b := newBench(o)
	byName := map[string]bench.RelayPeer{}
	for _, p := range bench.RelayPeers() {
		byName[p.Name] = p
	}
	names := o.peers
	if names == "mad" {
		names = "mad-relay,etsy-proxy"
	}
	var peers []bench.RelayPeer
	for _, n := range strings.Split(names, ",") {
		p, ok := byName[strings.TrimSpace(n)]
		if !ok {
			return fmt.Errorf("unknown relay peer %q (known: mad-relay, mad-relay-8k, etsy-proxy)", n)
		}
		if !p.Installed(b.Dir) || strings.HasPrefix(p.Name, "mad-relay") && o.mad == "" && o.install {
			if err := p.Install(b.Dir, os.Stderr); err != nil {
				fmt.Fprintf(os.Stderr, "skipping %s: %v\n", p.Name, err)
				continue
			}
		}
		peers = append(peers, p)
	}
	p, err := statsdPayloads(o, "s1", o.series)
	if err != nil {
		return err
	}
	sc := bench.Scenario{Protocol: bench.StatsDLines, Conns: o.conns, Load: bench.Load{Payloads: p, Count: o.messages}}
	if o.rate > 0 {
		sc.Load = bench.Load{Payloads: p, Rate: o.rate / avgLines(p), Duration: o.duration}
	}
	fmt.Printf("| round | relay | lines sent | lines forwarded | lost | datagrams dropped at the relay's socket | at the sinks' | relay CPU s | lines forwarded per CPU-s | datagrams per 1 000 lines | per sink |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for round := range o.rounds {
		for k := range peers {
			peer := peers[(k+round)%len(peers)]
			r, err := b.RunRelay(ctx, peer, sc, o.relaySinks)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", peer.Name, err)
				continue
			}
			sent := r.Sent.Lines
			lost := float64(sent) - float64(r.Forwarded)
			fmt.Printf("| %d | %s | %s | %s | %.1f %% | %d | %d | %.2f | %s | %.1f | %v |\n", round+1, peer.Name, short(int(sent)), short(int(r.Forwarded)),
				100*lost/float64(max(sent, 1)), r.KernelDrops, r.SinkDrops, r.CPU.Seconds(), short(int(float64(r.Forwarded)/r.CPU.Seconds())),
				1000*float64(r.Datagrams)/float64(max(r.Forwarded, 1)), r.PerSink)
		}
	}
	for _, p := range peers {
		fmt.Printf("\n- %s: %s", p.Name, p.Note)
	}
	fmt.Println()
	return nil
}
