//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomad/mad/bench"
)

// Shares of the overload by transport (of lines per second).
const (
	shareUDP  = 0.7
	shareTCP  = 0.15
	shareHTTP = 0.15
)

// faultOverload first measures mad's sustainable rate (StatsD over TCP as
// fast as mad takes it: TCP pushes back, so nothing is lost and the rate
// is what mad sustains on this machine), unless -rate gives it; then it
// offers ten times that for 2 minutes on UDP, TCP and HTTP (client
// protocol V3) together, beside the valid traffic. RSS must stay bounded,
// /ping must answer, and drops must be counted where they happen: by the
// kernel on the UDP socket, at the rings, as HTTP 503.
func faultOverload(c *campaign) []result {
	r := result{Fault: "Overload ×10 on UDP, TCP and HTTP"}
	dir, err := c.subdir("overload")
	if err != nil {
		return errResult(r.Fault, err)
	}
	sources := []string{udpSource("load_udp"), tcpSource("load_tcp"), v3Source("load_http"), tcpSource("valid")}
	// mad on its CPUs, the senders on the others (as far as the machine
	// has others).
	oc := *c
	oc.cpus = c.loadCPUs
	s, err := oc.startSession(dir, "mad", configText(pipelineText("fault", sources, []string{jsonSink("json", "-")})))
	if err != nil {
		return errResult(r.Fault, err)
	}
	// PERF.md's S2 (tagged DogStatsD, 100 k series) in datagrams of 60 to
	// 80 lines (about 7 KiB, under DogStatsD's 8 KiB): cheap to send, so
	// that the senders, on the same machine, outrun mad by as much as they
	// can.
	w := bench.S2(100000, 1)
	w.MinLines, w.MaxLines = 60, 80
	s1 := w.Build()
	rate := c.rate
	if rate == 0 {
		probe := c.dur(20*time.Second, 5*time.Second)
		c.log("  measuring the sustainable rate (%s of StatsD over TCP as fast as mad takes it)", probe)
		start := time.Now()
		sent, err := bench.SendTCP(s.m.Source("load_tcp"), 2, bench.Load{Payloads: s1, Rate: 1e9, Duration: probe})
		if err == nil && !s.m.waitLines("load_tcp", int64(sent.Lines), 2*time.Minute) {
			err = fmt.Errorf("mad did not read the %d lines sent", sent.Lines)
		}
		if err != nil {
			s.end()
			return errResult(r.Fault, fmt.Errorf("measuring the sustainable rate: %w", err))
		}
		rate = float64(sent.Lines) / time.Since(start).Seconds()
		r.detail("Sustainable rate: %s lines/s, measured: %s lines of the overload's StatsD (below) over 2 TCP connections as fast as mad read them, in %s.",
			n(rate), n(sent.Lines), time.Since(start).Round(100*time.Millisecond))
	} else {
		r.detail("Sustainable rate: %s lines/s (given with -rate).", n(rate))
	}
	dur := c.dur(2*time.Minute, 12*time.Second)
	target := 10 * rate
	v3 := bench.BuildS3(bench.Cell{UnitsOfWork: 10000, Names: 10, Samples: 5}, bench.V3, 2, 64)
	v3Lines := float64(v3.TotalLines(1))
	udpAddr := s.m.Source("load_udp")
	_, ps, _ := net.SplitHostPort(udpAddr)
	udpPort, _ := strconv.Atoi(ps)
	time.Sleep(2 * time.Second) // past the probe's buckets
	m0, err := s.m.Metrics()
	if err != nil {
		s.end()
		return errResult(r.Fault, err)
	}
	drops0, _ := bench.UDPDrops(udpPort)
	r.Mem.Before, _ = rss(s.m.PID())
	s.samp.finish()
	samp := startSampler(s.m)
	v := newValidStream(100)
	if err := v.start(s.m.Source("valid"), 100*time.Millisecond, 50*time.Millisecond); err != nil {
		s.end()
		return errResult(r.Fault, err)
	}
	c.log("  offering %s lines/s for %s", n(target), dur)
	perMsg := float64(s1.TotalLines(len(s1.Messages))) / float64(len(s1.Messages))
	loadStart := time.Now()
	var wg sync.WaitGroup
	var udp, tcp, htp bench.Sent
	var udpErr, tcpErr, httpErr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		udp, udpErr = bench.SendUDP(udpAddr, 4, bench.Load{Payloads: s1, Rate: target * shareUDP / perMsg, Duration: dur})
	}()
	go func() {
		defer wg.Done()
		tcp, tcpErr = bench.SendTCP(s.m.Source("load_tcp"), 4, bench.Load{Payloads: s1, Rate: target * shareTCP / perMsg, Duration: dur})
	}()
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
		defer cancel()
		htp, httpErr = bench.SendHTTP(ctx, s.m.URL()+v3.Path, 8, bench.Load{Payloads: v3, Rate: target * shareHTTP / v3Lines, Duration: dur})
	}()
	wg.Wait()
	loadEnd := time.Now()
	verr := v.halt()
	lines, bursts := v.sent()
	s.m.waitLines("valid", lines, 2*time.Minute)
	s.m.waitLines("load_tcp", int64(m0.get("mad_source_lines_total", "source", "load_tcp"))+int64(tcp.Lines), 2*time.Minute)
	// Let mad drain its backlog, and its memory settle.
	time.Sleep(c.dur(10*time.Second, 5*time.Second))
	m2, err := s.m.Metrics()
	if err != nil {
		s.end()
		return errResult(r.Fault, err)
	}
	drops1, _ := bench.UDPDrops(udpPort)
	r.Mem.After, r.Mem.Peak = rss(s.m.PID())
	r.Mem.SampledPeak = samp.sampledPeak()
	r.Ping = samp.finish()
	s.samp = startSampler(s.m) // end() stops one
	_, exit := s.end()
	var validOK bool
	r.Valid, validOK = s.out.check(v, bursts)
	for _, e := range []error{udpErr, tcpErr, verr} {
		if e != nil {
			r.fail("sender: %v", e)
		}
	}
	if httpErr != nil && httpErr != context.DeadlineExceeded {
		r.fail("HTTP sender: %v", httpErr)
	}
	d := func(name string, kv ...string) float64 { return m2.get(name, kv...) - m0.get(name, kv...) }
	elapsed := loadEnd.Sub(loadStart).Seconds()
	httpLines := float64(htp.Lines)
	offered := float64(udp.Lines+tcp.Lines) + float64(htp.Messages+len(htp.Refused))*v3Lines
	r.Sent = fmt.Sprintf("%s lines (%.1f× the sustainable rate)", n(offered), offered/elapsed/rate)
	rows, byPeriod, _ := s.out.counts()
	r.Emitted = fmt.Sprintf("%s rows (%s PT1S)", n(rows), n(byPeriod["PT1S"]))
	kernel := d("mad_source_kernel_drops_total", "source", "load_udp")
	ring := d("mad_source_ring_dropped_samples_total")
	refused := d("mad_shard_refused_total")
	rowsDropped := d("mad_shard_rows_dropped_total")
	sinkDropped := d("mad_sink_dropped_total")
	saturated := d("mad_source_requests_total", "source", "load_http", "result", "saturated")
	r.Dropped = fmt.Sprintf("%s datagrams by the kernel, %s samples at rings, %s HTTP 503, %s refused, %s rows", n(kernel), n(ring), n(saturated), n(refused), n(rowsDropped+sinkDropped))
	if !validOK {
		r.fail("valid traffic not exact")
	}
	if r.Ping.Fails > 0 {
		r.fail("/ping failed %d times", r.Ping.Fails)
	}
	// Kubernetes' default probe timeout.
	if r.Ping.Max > time.Second {
		r.fail("/ping took up to %s (a liveness probe with Kubernetes' default 1 s timeout fails)", ms(r.Ping.Max))
	}
	received := d("mad_source_datagrams_total", "source", "load_udp")
	procDrops := float64(drops1 - drops0)
	if float64(udp.Messages) != received+procDrops {
		r.fail("UDP: %s datagrams sent, %s received + %s dropped by the kernel", n(udp.Messages), n(received), n(procDrops))
	}
	if kernel != procDrops {
		r.fail("UDP: mad counted %s kernel drops, /proc/net/udp %s", n(kernel), n(procDrops))
	}
	tcpRead := d("mad_source_lines_total", "source", "load_tcp")
	if tcpRead != float64(tcp.Lines) {
		r.fail("TCP: %s lines sent, mad read %s", n(tcp.Lines), n(tcpRead))
	}
	// mad's own metrics reach the V3 route's source too (one request a
	// second), counted as accepted.
	accepted := d("mad_source_requests_total", "source", "load_http", "result", "accepted")
	self := d("mad_self_records_total", "result", "delivered")
	if ok := float64(htp.Status[200]); accepted < ok || accepted > ok+self {
		r.fail("HTTP: mad accepted %s requests (%s of them its own metrics at most), the sender saw %s answered 200", n(accepted), n(self), n(ok))
	}
	if exit != "exit status 0" {
		r.fail("mad ended with %s", exit)
	}
	r.detail("Offered %s lines/s for %s: UDP %.0f %%, TCP %.0f %%, HTTP %.0f %% (StatsD: PERF.md's S2, tagged, 100 k series, in datagrams of ~%.0f lines from 4 sockets, the same over 4 TCP connections; V3 requests of %s samples over 8 connections), with 100 valid series every 100 ms on their own TCP connection; the senders ran for %s.",
		n(target), dur, 100*shareUDP, 100*shareTCP, 100*shareHTTP, perMsg, n(v3Lines), loadEnd.Sub(loadStart).Round(100*time.Millisecond))
	r.detail("mad was bound to CPUs %v (the sustainable rate was measured so too); the senders ran anywhere. The offered rate is what the senders achieved: a sender on the same machine can outrun mad only by so much.", c.loadCPUs)
	r.detail("")
	r.detail("| transport | asked lines/s | achieved lines/s | sent | mad's account |")
	r.detail("|---|---:|---:|---|---|")
	r.detail("| UDP | %s | %s | %s datagrams, %s lines | %s datagrams received, %s dropped by the kernel (mad's count; /proc/net/udp: %s), %s samples dropped at rings, %s ring waits |",
		n(target*shareUDP), n(float64(udp.Lines)/elapsed), n(udp.Messages), n(udp.Lines), n(received), n(kernel), n(procDrops),
		n(d("mad_source_ring_dropped_samples_total", "source", "load_udp")), n(d("mad_source_ring_waits_total", "source", "load_udp")))
	r.detail("| TCP | %s | %s | %s lines | %s lines read, %s samples dropped at rings, %s ring waits (the sender is slowed: TCP pushes back) |",
		n(target*shareTCP), n(float64(tcp.Lines)/elapsed), n(tcp.Lines), n(tcpRead),
		n(d("mad_source_ring_dropped_samples_total", "source", "load_tcp")), n(d("mad_source_ring_waits_total", "source", "load_tcp")))
	r.detail("| HTTP V3 | %s | %s | %s requests (%s), %s samples accepted | %s |",
		n(target*shareHTTP), n(httpLines/elapsed), n(htp.Messages+len(htp.Refused)), statusText(htp.Status), n(httpLines), requestsText(m2, m0))
	r.detail("")
	r.detail("Shards refused %s samples (%s); %s sealed rows dropped for a slow emitter; sinks dropped %s rows.", n(refused), refusalsText(m2, m0), n(rowsDropped), n(sinkDropped))
	r.detail("RSS %s MiB before the overload, peak (VmHWM) %s MiB (sampled %s MiB), %s MiB after it. /ping answered %d times during the overload (p50 / p99 / max %s), %d failures. mad exited with %q.",
		mb(r.Mem.Before), mb(r.Mem.Peak), mb(r.Mem.SampledPeak), mb(r.Mem.After), r.Ping.N, r.Ping.String(), r.Ping.Fails, exit)
	return []result{r}
}

func statusText(m map[int]int) string {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k == 0 {
			name = "transport error"
		}
		parts = append(parts, fmt.Sprintf("%s ×%s", name, n(m[k])))
	}
	return strings.Join(parts, ", ")
}

func requestsText(m2, m0 prom) string {
	var parts []string
	for _, res := range m2.labels("mad_source_requests_total", "result") {
		if v := m2.get("mad_source_requests_total", "source", "load_http", "result", res) - m0.get("mad_source_requests_total", "source", "load_http", "result", res); v != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", n(v), res))
		}
	}
	if len(parts) == 0 {
		return "no requests"
	}
	return strings.Join(parts, ", ")
}

func refusalsText(m2, m0 prom) string {
	var parts []string
	for _, reason := range m2.labels("mad_shard_refused_total", "reason") {
		if v := m2.get("mad_shard_refused_total", "reason", reason) - m0.get("mad_shard_refused_total", "reason", reason); v != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", n(v), reason))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
