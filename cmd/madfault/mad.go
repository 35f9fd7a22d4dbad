//go:build linux

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomad/mad/bench"
)

// madProc is one mad process the campaign started on a generated
// configuration, with every source on a port 0 and the control plane on
// 127.0.0.1:0: the addresses it got are read from its log.
type madProc struct {
	name    string
	dir     string
	d       *bench.Daemon
	HTTP    string            // host:port of the control plane
	sources map[string]string // source name → host:port (UDP and TCP sources)
}

// The lines mad logs when it has started and where each source listens.
var (
	logStarted = regexp.MustCompile(`msg="mad started" .*\bhttp=(\S+)`)
	logSource  = regexp.MustCompile(`msg="source ready" .*\bsource=(\S+) at="(?:udp|tcp) (\S+)"`)
)

// parseMadLog returns the control plane's address and the sources'
// addresses from mad's log; ok is false until mad has logged its start.
func parseMadLog(log []byte) (httpAddr string, sources map[string]string, ok bool) {
	m := logStarted.FindSubmatch(log)
	if m == nil {
		return "", nil, false
	}
	sources = map[string]string{}
	for _, s := range logSource.FindAllSubmatch(log, -1) {
		sources[string(s[1])] = string(s[2])
	}
	return string(m[1]), sources, true
}

// startMad writes conf into dir as name.conf and starts bin on it, its
// standard output to stdout (nil: the null device) and its log to
// dir/name.stderr, bound to cpus (nil: any), and waits until it has
// started.
func startMad(bin, dir, name, conf string, cpus []int, stdout io.Writer) (*madProc, error) {
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	d, err := bench.StartDaemon(name, []string{bin, path}, nil, dir, cpus, stdout)
	if err != nil {
		return nil, err
	}
	m := &madProc{name: name, dir: dir, d: d}
	logPath := filepath.Join(dir, name+".stderr")
	err = d.WaitReady(func() error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		var ok bool
		if m.HTTP, m.sources, ok = parseMadLog(b); !ok {
			return fmt.Errorf("mad has not logged its start yet (%s)", logPath)
		}
		return nil
	}, 60*time.Second)
	if err != nil {
		d.Stop(5 * time.Second)
		return nil, err
	}
	return m, nil
}

// PID is the process id.
func (m *madProc) PID() int { return m.d.PID() }

// URL is the base URL of the control plane.
func (m *madProc) URL() string { return "http://" + m.HTTP }

// Source returns the address of a UDP or TCP source.
func (m *madProc) Source(name string) string { return m.sources[name] }

// Alive reports whether the process still runs.
func (m *madProc) Alive() bool { return syscall.Kill(m.PID(), 0) == nil }

// Stop sends SIGTERM (mad seals and emits every open bucket) and waits
// (up to stopTimeout, then kills it); it returns how the process ended.
func (m *madProc) Stop() string {
	err := m.d.Stop(stopTimeout)
	return exitText(m.d, err)
}

// stopTimeout bounds a SIGTERM's flush; past it mad is killed (and the
// fault reports "signal: killed").
const stopTimeout = 15 * time.Minute

// systemdStopTimeout is systemd's default TimeoutStopSec: a service that
// takes longer to stop is killed, and its open buckets lost.
const systemdStopTimeout = 90 * time.Second

// Kill sends SIGKILL and waits.
func (m *madProc) Kill() string {
	m.d.Cmd.Process.Kill()
	err := m.d.Stop(30 * time.Second)
	return exitText(m.d, err)
}

func exitText(d *bench.Daemon, err error) string {
	if st := d.Cmd.ProcessState; st != nil {
		return st.String()
	}
	if err != nil {
		return err.Error()
	}
	return "?"
}

// Log returns the process's log.
func (m *madProc) Log() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, m.name+".stderr"))
	return string(b)
}

// Metrics scrapes /metrics.
func (m *madProc) Metrics() (prom, error) {
	s, err := bench.ScrapeProm(m.URL() + "/metrics")
	return prom(s), err
}

// prom is one scrape of mad's /metrics.
type prom []bench.PromSample

// get adds the values of the samples of a family whose labels include the
// pairs kv (label, value, label, value, …).
func (p prom) get(name string, kv ...string) float64 {
	match := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		match[kv[i]] = kv[i+1]
	}
	return bench.SumProm(p, name, match)
}

// labels returns the values a label takes in a family, sorted.
func (p prom) labels(name, label string) []string {
	var out []string
	for _, s := range p {
		if v, ok := s.Labels[label]; ok && s.Name == name && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// waitLines waits until mad's source has counted at least lines lines.
func (m *madProc) waitLines(source string, lines int64, timeout time.Duration) bool {
	return waitFor(timeout, func() bool {
		p, err := m.Metrics()
		return err == nil && int64(p.get("mad_source_lines_total", "source", source)) >= lines
	})
}

// memory is a process's resident memory over a fault: before it, the peak
// (the kernel's high-water mark, VmHWM, over the process's life, and the
// highest VmRSS sampled) and after it.
type memory struct {
	Before, Peak, SampledPeak, After int64
}

func (m memory) String() string {
	return fmt.Sprintf("%s / %s / %s", mb(m.Before), mb(m.Peak), mb(m.After))
}

func mb(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

// sampler watches a mad process while a fault runs: VmRSS every 100 ms, and
// /ping in a loop (one request at a time, 5 s timeout), timing each.
type sampler struct {
	pid      int
	ping     string
	stop     chan struct{} // stops the memory sampling
	stopOnce sync.Once
	stopPing chan struct{}
	wg       sync.WaitGroup
	pingDone sync.WaitGroup

	mu        sync.Mutex
	rssMax    int64
	hwm       int64 // the last VmHWM read
	pingLat   []time.Duration
	pingFails int
	firstFail string
}

func startSampler(m *madProc) *sampler {
	s := &sampler{pid: m.PID(), ping: m.URL() + "/ping", stop: make(chan struct{}), stopPing: make(chan struct{})}
	s.wg.Add(1)
	s.pingDone.Add(1)
	go s.memory()
	go s.pinger()
	return s
}

func (s *sampler) memory() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if rss, hwm, err := bench.ProcMemory(s.pid); err == nil {
			s.mu.Lock()
			s.rssMax = max(s.rssMax, rss)
			s.hwm = max(s.hwm, hwm)
			s.mu.Unlock()
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) pinger() {
	defer s.pingDone.Done()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: false, MaxIdleConnsPerHost: 1}}
	for {
		start := time.Now()
		resp, err := c.Get(s.ping)
		lat := time.Since(start)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		s.mu.Lock()
		if err != nil {
			s.pingFails++
			if s.firstFail == "" {
				s.firstFail = err.Error()
			}
		} else {
			s.pingLat = append(s.pingLat, lat)
		}
		s.mu.Unlock()
		select {
		case <-s.stopPing:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pings stops pinging and returns what /ping did.
func (s *sampler) pings() pingStats {
	select {
	case <-s.stopPing:
	default:
		close(s.stopPing)
	}
	s.pingDone.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return summarizePings(s.pingLat, s.pingFails, s.firstFail)
}

// finish stops the sampler and returns what /ping did.
func (s *sampler) finish() pingStats {
	p := s.pings()
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	return p
}

// sampledPeak returns the highest VmRSS sampled so far.
func (s *sampler) sampledPeak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rssMax
}

// peak returns the last VmHWM read (the process's peak until then).
func (s *sampler) peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hwm
}

// pingStats summarises /ping latencies.
type pingStats struct {
	N, Fails      int
	P50, P99, Max time.Duration
	FirstFailure  string
}

func summarizePings(lat []time.Duration, fails int, first string) pingStats {
	p := pingStats{N: len(lat), Fails: fails, FirstFailure: first}
	if len(lat) == 0 {
		return p
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	p.P50, p.P99, p.Max = at(0.5), at(0.99), s[len(s)-1]
	return p
}

func (p pingStats) String() string {
	if p.N == 0 && p.Fails == 0 {
		return "n/a"
	}
	s := fmt.Sprintf("%s / %s / %s", ms(p.P50), ms(p.P99), ms(p.Max))
	if p.Fails > 0 {
		s += fmt.Sprintf(", %d of %d failed", p.Fails, p.N+p.Fails)
	}
	return s
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

// rss reads a process's current VmRSS and VmHWM.
func rss(pid int) (cur, hwm int64) {
	cur, hwm, _ = bench.ProcMemory(pid)
	return cur, hwm
}

// configText is a mad main configuration: the control plane on
// 127.0.0.1:0, no periodic reload, and the pipelines given (HOCON).
func configText(pipelines ...string) string {
	return "httpHost=\"127.0.0.1\"\nhttpPort=0\nreloadInterval=\"PT0S\"\n" +
		"monitoringCluster=\"fault\"\nmonitoringService=\"mad\"\n" +
		"pipelines=[\n" + strings.Join(pipelines, "\n") + "\n]\n"
}

// pipelineText is one pipeline with MAD's default periods and statistics.
func pipelineText(name string, sources, sinks []string) string {
	return fmt.Sprintf("{\n name=%q\n periods=[\"PT1S\",\"PT1M\"]\n sources=[\n  %s\n ]\n sinks=[\n  %s\n ]\n}",
		name, strings.Join(sources, "\n  "), strings.Join(sinks, "\n  "))
}

// The classes the campaign configures.
const (
	classStatsd  = "com.arpnetworking.metrics.common.sources.StatsdSource"
	classTCPLine = "com.arpnetworking.metrics.common.sources.TcpLineSource"
	classV3      = "com.arpnetworking.metrics.common.sources.ClientHttpSourceV3"
	classJSON    = "io.gomad.mad.sinks.JsonLinesSink"
	classCAHTTP  = "com.arpnetworking.tsdcore.sinks.AggregationServerHttpSink"
	classCATCP   = "com.arpnetworking.tsdcore.sinks.AggregationServerSink"
)

func udpSource(name string) string {
	return fmt.Sprintf("{ type=%q, name=%q, host=\"127.0.0.1\", port=0 }", classStatsd, name)
}

func tcpSource(name string) string {
	return fmt.Sprintf("{ type=%q, name=%q, host=\"127.0.0.1\", port=0, parser={ type=\"com.arpnetworking.metrics.mad.parsers.StatsdToRecordParser\" } }",
		classTCPLine, name)
}

func v3Source(name string) string { return fmt.Sprintf("{ type=%q, name=%q }", classV3, name) }

func jsonSink(name, path string) string {
	return fmt.Sprintf("{ type=%q, name=%q, path=%q }", classJSON, name, path)
}

// session is a mad process whose standard output the campaign reads, with
// its sampler.
type session struct {
	m    *madProc
	out  *output
	wait func() // until mad's output has ended
	samp *sampler
}

// startSession starts mad on conf with its JSON lines read by a new
// output.
func (c *campaign) startSession(dir, name, conf string) (*session, error) {
	return c.startSessionTo(dir, name, conf, newOutput())
}

// startSessionTo starts mad on conf with its JSON lines read by o.
func (c *campaign) startSessionTo(dir, name, conf string, o *output) (*session, error) {
	pw, wait, err := o.follow()
	if err != nil {
		return nil, err
	}
	m, err := startMad(c.bin, dir, name, conf, c.cpus, pw)
	pw.Close()
	if err != nil {
		wait()
		return nil, err
	}
	return &session{m: m, out: o, wait: wait, samp: startSampler(m)}, nil
}

// end stops pinging, stops mad (SIGTERM) while its memory is still
// sampled, and waits for its output to end; it returns /ping's figures and
// how mad exited.
func (s *session) end() (pingStats, string) {
	p := s.samp.pings()
	exit := s.m.Stop()
	s.samp.finish()
	s.wait()
	return p, exit
}
