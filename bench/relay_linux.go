//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The relay scenario (issue 19): a StatsD relay in front of N aggregators.
// The harness plays the aggregators: UDP sockets that count the lines and
// datagrams they receive, each with an admin TCP port that answers Etsy
// statsd's health check ("health: up"). S1's datagrams are sent to the
// relay; what is measured is the relay's CPU per line it forwarded, the
// datagrams it sent per 1 000 lines, and what it lost.

// RelaySinks are the aggregators a relay forwards to.
type RelaySinks struct {
	conns  []*net.UDPConn
	admins []net.Listener
	lines  []atomic.Uint64
	dgrams []atomic.Uint64
	wg     sync.WaitGroup
}

// StartRelaySinks opens n sinks on loopback.
func StartRelaySinks(n int) (*RelaySinks, error) {
	s := &RelaySinks{lines: make([]atomic.Uint64, n), dgrams: make([]atomic.Uint64, n)}
	for i := range n {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			s.Close()
			return nil, err
		}
		c.SetReadBuffer(64 << 20)
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.Close()
			s.Close()
			return nil, err
		}
		s.conns, s.admins = append(s.conns, c), append(s.admins, a)
		s.wg.Go(func() { s.read(i) })
		s.wg.Go(func() { serveHealth(a) })
	}
	return s, nil
}

func (s *RelaySinks) read(i int) {
	buf := make([]byte, 1<<16)
	for {
		n, err := s.conns[i].Read(buf)
		if err != nil {
			return
		}
		s.dgrams[i].Add(1)
		// Lines end in '\n' but perhaps the last; mad's relay pads a
		// segmented datagram with newlines (empty lines), not counted.
		b := bytes.TrimRight(buf[:n], "\n")
		if len(b) > 0 {
			s.lines[i].Add(uint64(bytes.Count(b, []byte{'\n'}) + 1))
		}
	}
}

// serveHealth answers Etsy statsd's admin "health" command with "up".
func serveHealth(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				if strings.TrimSpace(sc.Text()) == "health" {
					io.WriteString(c, "health: up\n")
				}
			}
		}()
	}
}

// Addrs returns the sinks' UDP addresses; Admins their admin ports.
func (s *RelaySinks) Addrs() (a []string) {
	for _, c := range s.conns {
		a = append(a, c.LocalAddr().String())
	}
	return a
}

func (s *RelaySinks) adminPort(i int) int { return s.admins[i].Addr().(*net.TCPAddr).Port }

// Totals returns the lines and datagrams received, over all sinks, and the
// lines per sink.
func (s *RelaySinks) Totals() (lines, datagrams uint64, per []uint64) {
	for i := range s.conns {
		n := s.lines[i].Load()
		lines, datagrams, per = lines+n, datagrams+s.dgrams[i].Load(), append(per, n)
	}
	return lines, datagrams, per
}

// KernelDrops returns the datagrams the kernel dropped at the sinks'
// sockets (their receive buffers full): sent by the relay, never read.
func (s *RelaySinks) KernelDrops() (uint64, error) {
	var total uint64
	for _, c := range s.conns {
		n, err := UDPDrops(c.LocalAddr().(*net.UDPAddr).Port)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// Close closes the sinks.
func (s *RelaySinks) Close() {
	for _, c := range s.conns {
		c.Close()
	}
	for _, a := range s.admins {
		a.Close()
	}
	s.wg.Wait()
}

// RelayPeer is a relay under test.
type RelayPeer struct {
	Name      string
	Note      string
	Installed func(dir string) bool
	Install   func(dir string, log io.Writer) error
	// Command returns the relay's command line: listening on listen,
	// forwarding to the sinks.
	Command func(dir, mad, listen string, s *RelaySinks) ([]string, error)
}

// RelayPeers are mad's relay, packing datagrams to a 1500-byte MTU's 1432
// bytes (mad-relay) or to 8192 (mad-relay-8k: jumbo frames, loopback), and
// Etsy statsd's proxy (npm's statsd@0.9.0, proxy.js: a hash ring of the
// metric name only, one datagram a line).
func RelayPeers() []RelayPeer {
	etsy := etsy()
	return []RelayPeer{madRelayPeer("mad-relay", 1432), madRelayPeer("mad-relay-8k", 8192), {
		Name:      "etsy-proxy",
		Note:      "Etsy statsd 0.9.0's proxy.js (node): a hash ring of the metric name, one datagram a line, health checks on each node's admin port",
		Installed: etsy.Installed,
		Install:   etsy.Install,
		Command: func(dir, _, listen string, s *RelaySinks) ([]string, error) {
			host, port, err := net.SplitHostPort(listen)
			if err != nil {
				return nil, err
			}
			var nodes []string
			for i, a := range s.Addrs() {
				h, p, _ := net.SplitHostPort(a)
				nodes = append(nodes, fmt.Sprintf("{host: %q, port: %s, adminport: %d}", h, p, s.adminPort(i)))
			}
			mgmt, err := freeTCPPort()
			if err != nil {
				return nil, err
			}
			conf := fmt.Sprintf("{nodes: [%s], udp_version: 'udp4', host: %q, port: %s, mgmt_address: '127.0.0.1', mgmt_port: %d, forkCount: 0, checkInterval: 1000, cacheSize: 100000}\n",
				strings.Join(nodes, ", "), host, port, mgmt)
			path := filepath.Join(dir, "etsy-proxy.js")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			return []string{"node", filepath.Join(dir, "etsy", "node_modules", "statsd", "proxy.js"), path}, nil
		},
	}}
}

// madRelayPeer is mad as a relay packing datagrams to maxDatagram bytes.
func madRelayPeer(name string, maxDatagram int) RelayPeer {
	mad := madPeer()
	return RelayPeer{
		Name:      name,
		Note:      fmt.Sprintf("mad with a StatsdSource relay (rendezvous hashing of name and sorted tags, datagrams packed to %d bytes, sendmmsg)", maxDatagram),
		Installed: mad.Installed,
		Install:   mad.Install,
		Command: func(dir, bin, listen string, s *RelaySinks) ([]string, error) {
			if bin == "" {
				bin = filepath.Join(dir, "bin", "mad")
			}
			host, port, err := net.SplitHostPort(listen)
			if err != nil {
				return nil, err
			}
			var dests []string
			for _, a := range s.Addrs() {
				dests = append(dests, fmt.Sprintf("%q", a))
			}
			conf := fmt.Sprintf(`httpHost="127.0.0.1"
httpPort=0
monitoringSinks=[]
reloadInterval="PT0S"
pipelines=[{
  name="relay"
  sources=[{type="com.arpnetworking.metrics.common.sources.StatsdSource", name="relay", host=%q, port=%s,
    relay={destinations=[%s], maxDatagram=%d}}]
  sinks=[]
}]
`, host, port, strings.Join(dests, ", "), maxDatagram)
			path := filepath.Join(dir, name+".conf")
			if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			return []string{bin, path}, nil
		},
	}
}

// RelayResult is one relay run: the harness's measure of the relay's CPU
// and what the sinks received.
type RelayResult struct {
	Result
	Forwarded, Datagrams uint64
	PerSink              []uint64
	// SinkDrops counts the datagrams the kernel dropped at the sinks'
	// sockets: sent by the relay, not in Forwarded.
	SinkDrops uint64
}

// RunRelay starts the relay on a free UDP port, sends sc's load to it, waits
// until it is idle and the sinks have stopped receiving, and stops it.
func (b *Bench) RunRelay(ctx context.Context, peer RelayPeer, sc Scenario, sinks int) (RelayResult, error) {
	s, err := StartRelaySinks(sinks)
	if err != nil {
		return RelayResult{}, err
	}
	defer s.Close()
	port, err := freeUDPPort()
	if err != nil {
		return RelayResult{}, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	argv, err := peer.Command(b.Dir, b.Options.Mad, listen, s)
	if err != nil {
		return RelayResult{}, err
	}
	d, err := StartDaemon(peer.Name, argv, nil, b.Dir, b.DaemonCPUs, nil)
	if err != nil {
		return RelayResult{}, err
	}
	defer d.Stop(10 * time.Second)
	if err := d.WaitReady(UDPReady(port), 60*time.Second); err != nil {
		return RelayResult{}, err
	}
	time.Sleep(1500 * time.Millisecond) // past start-up work and the proxy's first health checks
	r, err := Run(ctx, Target{Name: peer.Name, PID: d.PID(), Addr: listen}, sc)
	if err != nil {
		return RelayResult{Result: r}, err
	}
	// The sinks may still be reading what the relay sent last.
	for last := uint64(0); ; {
		time.Sleep(200 * time.Millisecond)
		n, _, _ := s.Totals()
		if n == last {
			break
		}
		last = n
	}
	rr := RelayResult{Result: r}
	rr.Forwarded, rr.Datagrams, rr.PerSink = s.Totals()
	if rr.SinkDrops, err = s.KernelDrops(); err != nil {
		return rr, err
	}
	return rr, nil
}

// freeTCPPort returns a TCP port on loopback that was free a moment ago.
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeUDPPort returns a UDP port on loopback that was free a moment ago.
func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
