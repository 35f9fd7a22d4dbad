//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Daemon is a target process started by the harness.
type Daemon struct {
	Name   string
	Cmd    *exec.Cmd
	exited chan error
}

// PID is the daemon's process id.
func (d *Daemon) PID() int { return d.Cmd.Process.Pid }

// cpuSet builds an affinity mask; nil or empty means every CPU.
func cpuSet(cpus []int) (*unix.CPUSet, error) {
	var set unix.CPUSet
	if len(cpus) == 0 {
		if err := unix.SchedGetaffinity(os.Getpid(), &set); err != nil {
			return nil, err
		}
		return &set, nil
	}
	for _, c := range cpus {
		set.Set(c)
	}
	return &set, nil
}

// PinSelf binds every thread of the harness (and the threads it starts
// later) to cpus.
func PinSelf(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	set, err := cpuSet(cpus)
	if err != nil {
		return err
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pinning thread %d: %w", tid, err)
		}
	}
	return nil
}

// StartDaemon starts argv with its standard output to stdout (nil: the
// null device), standard error to a file beside it in dir, and every
// thread of it bound to cpus: the harness forks from a thread it binds to
// cpus for the moment of the fork, and the child inherits the mask.
func StartDaemon(name string, argv, env []string, dir string, cpus []int, stdout io.Writer) (*Daemon, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = stdout
	errf, err := os.Create(filepath.Join(dir, name+".stderr"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	var old unix.CPUSet
	pinned := false
	if len(cpus) > 0 {
		set, err := cpuSet(cpus)
		if err == nil {
			if err = unix.SchedGetaffinity(0, &old); err == nil {
				err = unix.SchedSetaffinity(0, set)
				pinned = err == nil
			}
		}
		if err != nil {
			runtime.UnlockOSThread()
			errf.Close()
			return nil, fmt.Errorf("pinning %s: %w", name, err)
		}
	}
	err = cmd.Start()
	if pinned {
		unix.SchedSetaffinity(0, &old)
	}
	runtime.UnlockOSThread()
	errf.Close()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &Daemon{Name: name, Cmd: cmd, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait() }()
	return d, nil
}

// WaitReady polls ready until it succeeds, the daemon exits, or timeout.
func (d *Daemon) WaitReady(ready func() error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case e := <-d.exited:
			d.exited <- e
			return fmt.Errorf("%s exited before it was ready (%v); see its .stderr", d.Name, e)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", d.Name, timeout, err)
		}
	}
}

// resolve runs peer.Resolve, or fails as soon as the daemon exits (a
// configuration it refused) instead of when Resolve gives up.
func (d *Daemon) resolve(peer Peer, dir string, o PeerOptions) (PeerOptions, error) {
	type resolved struct {
		o   PeerOptions
		err error
	}
	ch := make(chan resolved, 1)
	go func() {
		o, err := peer.Resolve(dir, o)
		ch <- resolved{o, err}
	}()
	select {
	case r := <-ch:
		return r.o, r.err
	case e := <-d.exited:
		d.exited <- e
		return o, fmt.Errorf("%s exited before it was ready (%v); see its .stderr", d.Name, e)
	}
}

// Stop sends SIGTERM (a clean stop: mad flushes its open buckets), waits
// up to timeout, then kills the process group.
func (d *Daemon) Stop(timeout time.Duration) error {
	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		d.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			return nil // a peer that dies of SIGTERM stopped as asked
		}
		return err
	case <-time.After(timeout):
		syscall.Kill(-d.PID(), syscall.SIGKILL)
		err := <-d.exited
		d.exited <- err
		return fmt.Errorf("%s did not stop in %v; killed", d.Name, timeout)
	}
}

// UDPReady reports whether a UDP port is bound (it appears in
// /proc/net/udp or udp6).
func UDPReady(port int) func() error {
	return func() error {
		for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
			f, err := os.Open(path)
			if err != nil {
				continue
			}
			n, err := countPort(f, port)
			f.Close()
			if err == nil && n > 0 {
				return nil
			}
		}
		return fmt.Errorf("nothing bound to udp port %d", port)
	}
}

// Target is what a run measures: a process (by PID; 0 for a remote
// endpoint, whose CPU and memory the harness cannot see) and where to
// send to.
type Target struct {
	Name string
	PID  int
	// Addr is the StatsD host:port (UDP and TCP); URL the base of the HTTP
	// routes ("http://127.0.0.1:7090").
	Addr string
	URL  string
	// Metrics is mad's /metrics URL, for the internal loss; "" if none.
	Metrics string
	// RemoteWritePath is where the target takes Prometheus remote write
	// ("" is MAD's route, /metrics/prometheus; vmagent's is /api/v1/write).
	RemoteWritePath string
	// GRPC is the host:port of OTLP/gRPC ("": URL's host and port).
	GRPC string
	// Allocs is a Prometheus text URL with the target's
	// go_memstats_alloc_bytes_total, for the heap allocated per request
	// ("": Metrics, if that has it).
	Allocs string
}

// Scenario is what a run sends and how.
type Scenario struct {
	Protocol Protocol // StatsDLines ("statsd") means UDP; "tcp" StatsD over TCP
	Load     Load
	// Conns is the sockets (UDP source ports), TCP or HTTP connections,
	// or gRPC connections with Streams calls in flight on each.
	Conns, Streams int
}

// TCP is StatsD over TCP.
const TCP Protocol = "tcp"

// Result is one measured run.
type Result struct {
	Target, Workload string
	Protocol         Protocol
	Rate             float64 // requested messages per second, 0: as fast as possible
	Sent             Sent
	// Kernel loss: datagrams dropped on the target's port, and the
	// machine's UDP receive-buffer errors during the run.
	KernelDrops  uint64
	RcvbufErrors uint64
	// LinesReceived is the lines sent minus the lines of dropped
	// datagrams (at the workload's average lines per datagram).
	LinesReceived float64
	Internal      *InternalLoss
	E2E           *EndToEnd
	CPU           time.Duration
	// LinesPerCPUSecond is LinesReceived over CPU.
	LinesPerCPUSecond float64
	// CPUStart is the target's CPU when the window began. CPUToExit is its
	// CPU from then until it exited after the run (set by the runner that
	// started it, 0 otherwise): the window's CPU plus what the target did
	// after it drained (the buckets it emitted once they closed, and the
	// open buckets it flushed when stopped), so that the CPU a run costs
	// does not depend on whether a bucket's emission fell inside the
	// window. It also holds what the target did idle while the harness
	// read its counts and waited for its last interval (a target that
	// polls when idle pays for that wait). LinesPerCPUSecondToExit is
	// LinesReceived over CPUToExit.
	CPUStart, CPUToExit     time.Duration
	LinesPerCPUSecondToExit float64
	// UserCPUStart and UserCPUToExit are the same for the target's user
	// CPU alone, without the kernel's work on its behalf: its system calls
	// (receiving, writing its output) and page faults, whose cost depends
	// on the machine's state more than on the target (on a guest whose
	// host takes freed memory back, touching a page again costs fifteen
	// times as much; BENCHMARKS.md), so that user CPU compares builds of
	// the same target more steadily.
	UserCPUStart, UserCPUToExit time.Duration
	RSSBefore, RSS, HWM         int64
	// BytesPerSeries is the RSS growth over the run per series of the
	// workload (every series is active); Series is how many.
	BytesPerSeries float64
	Series         int
	Drain          time.Duration
	// AllocBytes is the heap the target allocated over the run, where it
	// reports go_memstats_alloc_bytes_total (AllocKnown).
	AllocBytes float64
	AllocKnown bool
	// GenCPU is the harness's own CPU while it sent (the generator's, to
	// tell a target that was not kept busy).
	GenCPU time.Duration
}

// Run sends the scenario to the target and measures it: the target's CPU
// from the first message until its backlog has drained (its CPU use stays
// under 5 % of a core for 300 ms), its memory, the kernel's drops and mad's
// internal loss. The end-to-end comparison needs the sink's output and is
// the caller's (Result.E2E).
func Run(ctx context.Context, t Target, s Scenario) (Result, error) {
	p := s.Load.Payloads
	r := Result{Target: t.Name, Workload: p.Name, Protocol: s.Protocol, Rate: s.Load.Rate}
	port := 0
	if s.Protocol == StatsDLines {
		_, ps, err := splitPort(t.Addr)
		if err != nil {
			return r, err
		}
		port = ps
	}
	var cpu0 time.Duration
	// quiet is the CPU a drained target may still use in a 100 ms window:
	// 5 ms, or more for a target that polls when idle (its own idle use,
	// measured over 500 ms before the run, with a margin).
	quiet := 5 * time.Millisecond
	if t.PID != 0 {
		var err error
		if cpu0, err = ProcCPU(t.PID); err != nil {
			return r, err
		}
		time.Sleep(500 * time.Millisecond)
		user, sys, err := ProcCPUTimes(t.PID)
		if err != nil {
			return r, err
		}
		c := user + sys
		quiet = max(quiet, 2*(c-cpu0)/5+2*time.Millisecond)
		cpu0 = c
		r.CPUStart, r.UserCPUStart = c, user
		if r.RSSBefore, _, err = ProcMemory(t.PID); err != nil {
			return r, err
		}
	}
	allocsURL := t.Allocs
	if allocsURL == "" {
		allocsURL = t.Metrics
	}
	alloc0, allocOK := scrapeAllocs(allocsURL)
	var internal0 InternalLoss
	if t.Metrics != "" {
		m, err := ScrapeProm(t.Metrics)
		if err != nil {
			return r, fmt.Errorf("%s metrics: %w", t.Name, err)
		}
		internal0 = MadInternalLoss(m)
	}
	drops0, rcvbuf0 := uint64(0), uint64(0)
	if port != 0 {
		drops0, _ = UDPDrops(port)
		rcvbuf0, _, _ = UDPErrors()
	}
	gen0, _ := ProcCPU(os.Getpid())
	var err error
	switch s.Protocol {
	case StatsDLines:
		r.Sent, err = SendUDP(t.Addr, s.Conns, s.Load)
	case TCP:
		r.Sent, err = SendTCP(t.Addr, s.Conns, s.Load)
	case OTLPGRPC:
		addr := t.GRPC
		if addr == "" {
			addr = strings.TrimPrefix(t.URL, "http://")
		}
		r.Sent, err = SendGRPC(ctx, addr, s.Conns, s.Streams, s.Load)
	case V3, RemoteWrite, OTLPHTTP:
		path := p.Path
		if s.Protocol == RemoteWrite && t.RemoteWritePath != "" {
			path = t.RemoteWritePath
		}
		r.Sent, err = SendHTTP(ctx, t.URL+path, s.Conns, s.Load)
	default:
		err = fmt.Errorf("bench: no sender for %q", s.Protocol)
	}
	if err != nil {
		return r, err
	}
	sendEnd := time.Now()
	if gen1, err := ProcCPU(os.Getpid()); err == nil && gen0 > 0 {
		r.GenCPU = gen1 - gen0
	}
	if t.PID != 0 {
		prev, idle := cpu0, 0
		for deadline := time.Now().Add(120 * time.Second); idle < 3; {
			time.Sleep(100 * time.Millisecond)
			c, err := ProcCPU(t.PID)
			if err != nil {
				return r, err
			}
			if c-prev < quiet {
				idle++
			} else {
				idle = 0
			}
			prev = c
			if time.Now().After(deadline) {
				return r, fmt.Errorf("%s did not drain in 120 s", t.Name)
			}
		}
		// The last 300 ms were the idle window.
		r.Drain = max(0, time.Since(sendEnd)-300*time.Millisecond)
		r.CPU = prev - cpu0
		r.RSS, r.HWM, err = ProcMemory(t.PID)
		if err != nil {
			return r, err
		}
		if p.Series > 0 {
			r.Series = p.Series
			r.BytesPerSeries = float64(r.RSS-r.RSSBefore) / float64(p.Series)
		}
	}
	if port != 0 {
		drops1, _ := UDPDrops(port)
		rcvbuf1, _, _ := UDPErrors()
		r.KernelDrops, r.RcvbufErrors = drops1-drops0, rcvbuf1-rcvbuf0
	}
	r.LinesReceived = float64(r.Sent.Lines)
	if r.Sent.Messages > 0 {
		r.LinesReceived -= float64(r.KernelDrops) * float64(r.Sent.Lines) / float64(r.Sent.Messages)
	}
	if r.CPU > 0 {
		r.LinesPerCPUSecond = r.LinesReceived / r.CPU.Seconds()
	}
	if allocOK {
		if alloc1, ok := scrapeAllocs(allocsURL); ok {
			r.AllocBytes, r.AllocKnown = alloc1-alloc0, true
		}
	}
	if t.Metrics != "" {
		m, err := ScrapeProm(t.Metrics)
		if err != nil {
			return r, fmt.Errorf("%s metrics: %w", t.Name, err)
		}
		l := MadInternalLoss(m).Sub(internal0)
		r.Internal = &l
	}
	return r, nil
}

// scrapeAllocs reads go_memstats_alloc_bytes_total at url; ok is false if
// there is no url, no answer or no such counter.
func scrapeAllocs(url string) (float64, bool) {
	if url == "" {
		return 0, false
	}
	s, err := ScrapeProm(url)
	if err != nil {
		return 0, false
	}
	for _, x := range s {
		if x.Name == "go_memstats_alloc_bytes_total" {
			return x.Value, true
		}
	}
	return 0, false
}

func splitPort(addr string) (string, int, error) {
	i := len(addr) - 1
	for i >= 0 && addr[i] != ':' {
		i--
	}
	port, err := strconv.Atoi(addr[i+1:])
	if i < 0 || err != nil || port <= 0 {
		return "", 0, fmt.Errorf("bad address %q", addr)
	}
	return addr[:i], port, nil
}

// SetCPUToExit sets CPUToExit and LinesPerCPUSecondToExit from the state of
// the target's exited process (its whole life's CPU, from wait4).
func (r *Result) SetCPUToExit(ps *os.ProcessState) {
	if ps == nil || r.CPU == 0 {
		return
	}
	r.CPUToExit = ps.UserTime() + ps.SystemTime() - r.CPUStart
	r.UserCPUToExit = ps.UserTime() - r.UserCPUStart
	if r.CPUToExit > 0 {
		r.LinesPerCPUSecondToExit = r.LinesReceived / r.CPUToExit.Seconds()
	}
}
