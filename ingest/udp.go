package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/throttle"
)

// UDPConfig configures a StatsD source on UDP.
type UDPConfig struct {
	// Name is the source's name (MAD's `name`), used in metrics and logs.
	Name string
	// Addr is the address to listen on, "host:port".
	Addr string
	// UnixPath, when set, makes the source listen on a Unix datagram socket
	// bound at that path instead of on Addr: DogStatsD's transport over
	// Unix domain sockets (unixgram.go). The socket is read by the same
	// loop as a UDP socket; Loops must be 1, ReadBuffer does not apply.
	UnixPath string
	// UnixMode is the permissions of the socket file at UnixPath (default
	// DefaultUnixMode: anyone may send, as to a UDP port).
	UnixMode os.FileMode
	// Loops is the number of SO_REUSEPORT sockets, each read by its own
	// loop on its own OS thread. Default 1.
	Loops int
	// CPUs pins loop i to CPUs[i % len(CPUs)] when set.
	CPUs []int
	// ReadBuffer is the socket receive buffer in bytes (default 32 MiB).
	// It is forced past net.core.rmem_max where the process may
	// (SO_RCVBUFFORCE); otherwise the kernel caps it and the source reports
	// the cap.
	ReadBuffer int
	// Batch is the number of datagrams one recvmmsg call may return
	// (default 64); MaxDatagram the size of each receive buffer (default
	// 65535: nothing is truncated).
	Batch, MaxDatagram int
	// Decoder configures StatsD decoding (sample-rate mode, gauge deltas).
	Decoder statsd.Config
	// Log receives throttled reports of bad lines; nil: slog.Default().
	Log *slog.Logger
	// Mappers are MAD's wrapping sources around this one.
	Mappers MapperChain
	// Relay, if set, makes the source a StatsD relay: its loops forward
	// each line to one of Relay's destinations (by its series) instead of
	// aggregating it (issue 19). Mappers do not apply to relayed lines.
	Relay *RelayConfig
	// RelayUp, if set, tells for each of Relay's destinations whether it is
	// up (a prober sets them); shared by the loops.
	RelayUp []*atomic.Bool
}

// SourceName returns Name.
func (c *UDPConfig) SourceName() string { return c.Name }

// SourceKey is "udp " and the address, or "unixgram " and the socket's
// path.
func (c *UDPConfig) SourceKey() string {
	if c.UnixPath != "" {
		return "unixgram " + c.UnixPath
	}
	return "udp " + c.Addr
}

// Lanes is one producer per loop.
func (c *UDPConfig) Lanes() (int, int) { return max(1, c.Loops), 0 }

// Steps says that the loops call Producer.Step after publishing (Stepper).
func (c *UDPConfig) Steps() bool { return true }

// Wrap adds an enclosing wrapping source's mapper.
func (c *UDPConfig) Wrap(m MapperSpec) { c.Mappers = append(c.Mappers, m) }

// Open binds the sockets (ListenUDP).
func (c *UDPConfig) Open(lanes []Lanes) (Source, error) {
	return opened(ListenUDP(*c, lanes))
}

// EnsureDefaults fills in every unset option.
func (c *UDPConfig) EnsureDefaults() {
	if c.Loops <= 0 {
		c.Loops = 1
	}
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = 32 << 20
	}
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.MaxDatagram <= 0 {
		c.MaxDatagram = 65535
	}
	if c.UnixPath != "" && c.UnixMode == 0 {
		c.UnixMode = DefaultUnixMode
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Relay != nil { // a copy: the caller's stays as it was given
		r := *c.Relay
		r.EnsureDefaults()
		c.Relay = &r
	}
}

// Counters of a UDP loop, by index.
const (
	udpDatagrams = iota
	udpBytes
	udpTruncated
	udpReadErrors
	udpSamples
	udpSampledOut
	udpNonFinite
	udpTooLong
	udpDropped
	udpWaits
	udpHandles
	udpCacheClears
	udpLines    // + statsd.Result: lines by result
	udpCounters = udpLines + int(statsd.NumResults)
)

// UDPStats are the counters of a UDP source, summed over its loops.
type UDPStats struct {
	// Truncated datagrams were longer than MaxDatagram: their cut last line
	// is dropped (wholeLines).
	Datagrams, Bytes, Truncated, ReadErrors uint64
	// Lines counts non-empty lines by parse result.
	Lines [statsd.NumResults]uint64
	// Of the lines parsed OK: Samples became samples; SampledOut were
	// dropped by sample-rate re-sampling, NonFinite had NaN or infinite
	// values, TooLong had a series key over 64 KiB.
	Samples, SampledOut, NonFinite, TooLong uint64
	// Dropped samples: a shard's ring stayed full; Waits: publications
	// that found a ring full and waited.
	Dropped, Waits uint64
	// KernelDrops: datagrams the kernel dropped (receive buffer full),
	// read from the sockets (SO_MEMINFO). Always 0 on a unixgram socket:
	// there the kernel drops nothing, it makes senders wait or fail.
	KernelDrops uint64
	// Handles: samples, of Samples, sent by their series' handle (the
	// loops' series caches, Producer.Handles); CacheClears: times a loop's
	// cache was full and was cleared.
	Handles, CacheClears uint64
}

// UDPSource is a StatsD source on UDP: Loops sockets bound with
// SO_REUSEPORT to one address, each read by a loop that decodes datagrams
// straight into per-shard batches.
//
// Every method may be called from any goroutine.
type UDPSource struct {
	cfg   UDPConfig
	bad   throttle.Throttle // bad-line logs, across the loops
	addr  net.Addr          // the bound address
	loops []*udpLoop
	wg    sync.WaitGroup
	// ReadBuffer is the receive buffer the kernel granted (bytes, as
	// getsockopt reports it: twice what was set).
	ReadBuffer int

	ctl     sync.Mutex // serialises Retarget and Stop
	stopped bool       // under ctl
	// quit stops the trimmer (closed by Stop).
	quit chan struct{}

	mu        sync.Mutex
	closed    bool
	dropsLast []uint64 // kernel drops per socket, read before closing

	// unixFile is the socket file the source bound (UnixPath), removed
	// with the sockets if it is still that file (releaseConns); unixMode
	// its permissions, under ctl.
	unixFile os.FileInfo
	unixMode os.FileMode

	// relayUp[i] says whether relay destination i is up (shared by the
	// loops; the prober, or a TCP destination's writer, sets it);
	// relayTCP[i] is TCP destination i's writer.
	relayUp  []*atomic.Bool
	relayTCP []*relayTCP
}

// udpLoop is one socket and its loop. The loop holds mu while it processes
// what one read returned (decoding, publishing, accounting) and while it
// publishes before waiting, never while it waits in the netpoller: whoever
// else takes mu (Retarget, Stop) owns the loop's producer, decoder, counters
// and receive buffers until it releases it. An idle loop has published
// everything before it waits, so taking mu from it costs nothing.
type udpLoop struct {
	src    *UDPSource
	index  int
	raw    loopSocket
	mu     sync.Mutex
	dec    *statsd.Decoder
	decCfg statsd.Config
	prod   *Producer
	c      *counters
	recv   udpRecv // receive buffers (udp_linux.go, udp_other.go)
	dirty  bool    // decoded since the last flush
	// relay, when the source relays: the loop forwards instead of
	// decoding; relayDue is when its partly packed datagrams are to be
	// sent (ms; 0: none waits); rc publishes its counters.
	relay      *Relay
	relayDue   int64
	relayEvery int64
	rc         *counters
}

// ListenUDP binds the sockets of a UDP source, one per loop; lanes[i] are
// loop i's rings to the shards. Start starts the loops.
func ListenUDP(cfg UDPConfig, lanes []Lanes) (*UDPSource, error) {
	cfg.EnsureDefaults()
	if len(lanes) != cfg.Loops {
		return nil, fmt.Errorf("udp source %s: %d lanes for %d loops", cfg.Name, len(lanes), cfg.Loops)
	}
	if cfg.UnixPath != "" {
		if err := ValidateUnixPath(cfg.UnixPath); err != nil {
			return nil, fmt.Errorf("udp source %s: %w", cfg.Name, err)
		}
		if cfg.Loops != 1 {
			// No SO_REUSEPORT for Unix sockets; loops sharing one socket
			// would reorder a sender's datagrams (gauges, deltas).
			return nil, fmt.Errorf("udp source %s: a unixgram socket is read by one loop, not %d", cfg.Name, cfg.Loops)
		}
	}
	s := &UDPSource{cfg: cfg, quit: make(chan struct{})}
	if cfg.Relay != nil {
		s.relayUp = cfg.RelayUp
		if len(s.relayUp) != len(cfg.Relay.Destinations) {
			s.relayUp = make([]*atomic.Bool, len(cfg.Relay.Destinations))
			for i := range s.relayUp {
				s.relayUp[i] = new(atomic.Bool)
				s.relayUp[i].Store(true)
			}
		}
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		return setSocketOptions(c, cfg.ReadBuffer)
	}}
	addr := cfg.Addr
	for i := 0; i < cfg.Loops; i++ {
		var conn net.PacketConn
		var err error
		if cfg.UnixPath != "" {
			conn, s.unixFile, err = listenUnixgram(cfg.UnixPath, cfg.UnixMode)
			s.unixMode = cfg.UnixMode
		} else {
			conn, err = lc.ListenPacket(context.Background(), "udp", addr)
		}
		if err != nil {
			s.releaseConns()
			return nil, fmt.Errorf("udp source %s: cannot listen on %s: %w", cfg.Name, cfg.SourceKey(), err)
		}
		if i == 0 {
			// The other sockets join the first one's address: with port 0
			// each would get a port of its own.
			s.addr = conn.LocalAddr()
			addr = s.addr.String()
		}
		raw, err := openLoopSocket(conn)
		if err != nil {
			conn.Close()
			s.releaseConns()
			return nil, fmt.Errorf("udp source %s: %w", cfg.Name, err)
		}
		prod := newProducer(lanes[i], cfg.Mappers)
		prod.SizeNew = true
		l := &udpLoop{
			src: s, index: i, raw: raw,
			dec:    newStatsdDecoder(cfg.Decoder, prod),
			decCfg: cfg.Decoder,
			prod:   prod,
			c:      newCounters(udpCounters),
			recv:   newUDPRecv(&cfg),
		}
		if cfg.Relay != nil {
			if i == 0 {
				s.startRelayTCP()
			}
			if l.relay, err = newRelay(*cfg.Relay, s.relayUp, s.relayTCP); err != nil {
				raw.close()
				s.releaseConns()
				return nil, fmt.Errorf("udp source %s: %w", cfg.Name, err)
			}
			l.relayEvery = max(1, cfg.Relay.FlushInterval.Milliseconds())
			l.rc = newCounters(relayCounterCount(len(cfg.Relay.Destinations)))
		}
		s.loops = append(s.loops, l)
	}
	if cfg.UnixPath != "" {
		return s, nil // no receive buffer to size: see unixgram.go
	}
	s.ReadBuffer = readBufferOf(s.loops[0].raw)
	if s.ReadBuffer > 0 && s.ReadBuffer < 2*cfg.ReadBuffer {
		cfg.Log.Warn("udp receive buffer capped by the kernel; raise net.core.rmem_max or run with CAP_NET_ADMIN",
			"source", cfg.Name, "requested", cfg.ReadBuffer, "granted", s.ReadBuffer/2)
	}
	return s, nil
}

// Addr returns the bound address (useful with port 0).
func (s *UDPSource) Addr() net.Addr { return s.addr }

// Key is "udp " and the bound address, or "unixgram " and the socket's path.
func (s *UDPSource) Key() string { return s.addr.Network() + " " + s.addr.String() }

// loopSocket is a loop's socket as the loop reads it (udp_linux.go,
// udp_other.go).
type loopSocket interface {
	syscall.RawConn
	// shutdown ends the loop's reads (a waiting read returns an error).
	shutdown()
	// close releases the socket, once the loop has returned.
	close()
	// setWait bounds the next wait for a datagram (ms; -1: the socket's
	// own bound), for a relay's flush interval.
	setWait(ms int)
}

// closeConns ends the loops' reads (Stop then waits for the loops and
// releases the sockets: releaseConns).
func (s *UDPSource) closeConns() {
	for i, l := range s.loops {
		// The last count before the socket is shut (it reads nothing
		// after): what the refusing filter dropped since Stop read them.
		s.mu.Lock()
		if s.dropsLast != nil {
			s.dropsLast[i] = max(s.dropsLast[i], kernelDrops(l.raw))
		}
		s.mu.Unlock()
		l.raw.shutdown()
	}
}

// releaseConns releases the sockets; the loops have returned (or never
// started).
func (s *UDPSource) releaseConns() {
	s.removeUnixFile()
	for _, l := range s.loops {
		l.raw.close()
		if l.relay != nil {
			l.relay.Close()
		}
	}
	for _, w := range s.relayTCP {
		if w != nil {
			w.stop() // the loops are done: what they queued is written
		}
	}
}

// Start starts the loops.
func (s *UDPSource) Start() {
	s.probeRelayFirst()
	for _, l := range s.loops {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if len(s.cfg.CPUs) > 0 {
				if err := affinity.Pin(s.cfg.CPUs[l.index%len(s.cfg.CPUs)]); err != nil {
					s.cfg.Log.Warn("udp loop not pinned", "source", s.cfg.Name, "loop", l.index, "err", err)
				}
			} else {
				runtime.LockOSThread()
			}
			defer runtime.UnlockOSThread()
			l.run()
		}()
	}
	s.wg.Go(s.trim)
	if s.cfg.Relay != nil {
		for i, d := range s.cfg.Relay.Destinations {
			if d.Probe != "" && !d.TCP { // a TCP destination is up while connected
				s.wg.Go(func() { probeRelay(d, s.cfg.Relay, s.relayUp[i], s.quit, s.cfg.Log, s.cfg.Name) })
			}
		}
	}
}

// probeRelayFirst probes the relay's probed destinations once, together,
// so that the loops start with each one's state.
func (s *UDPSource) probeRelayFirst() {
	if s.cfg.Relay == nil {
		return
	}
	var wg sync.WaitGroup
	for i, d := range s.cfg.Relay.Destinations {
		if d.Probe != "" && !d.TCP {
			wg.Go(func() { firstProbe(d, s.cfg.Relay, s.relayUp[i]) })
		}
	}
	wg.Wait()
}

// trim trims the loops' producers every trimEvery (Producer.Trim: an idle
// one lets go of what a burst left allocated) until Stop. It takes each
// loop's mu, which an idle loop does not hold.
func (s *UDPSource) trim() {
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		for _, l := range s.loops {
			l.mu.Lock()
			l.prod.Trim()
			l.mu.Unlock()
		}
	}
}

// Loops returns the number of loops: data-plane goroutines, each busy
// while its socket has datagrams.
func (s *UDPSource) Loops() int { return len(s.loops) }

// Retargetable reports whether cfg is a UDPConfig for the same sockets
// (address or Unix path, loops, CPUs, buffers) and mappers: only its
// decoder options, and a Unix socket file's permissions, may differ.
func (s *UDPSource) Retargetable(cfg SourceConfig) bool {
	c, ok := cfg.(*UDPConfig)
	if !ok {
		return false
	}
	n := *c
	n.EnsureDefaults()
	o := &s.cfg
	return (n.Addr == o.Addr || n.Addr == s.Addr().String()) && n.UnixPath == o.UnixPath && n.Loops == o.Loops && slices.Equal(n.CPUs, o.CPUs) && n.ReadBuffer == o.ReadBuffer &&
		n.Batch == o.Batch && n.MaxDatagram == o.MaxDatagram && n.Mappers.Equal(o.Mappers) &&
		reflect.DeepEqual(n.Relay, o.Relay) // a relay's destinations and sockets are the loops' own
}

// Retarget switches the source to new lanes, lanes[i] for loop i, and to
// the decoder configuration of cfg (Retargetable), without touching its
// sockets: nothing is rebound and no datagram is refused meanwhile. Loop by
// loop, it waits until the loop is between two reads (or asleep), publishes
// everything the loop had decoded to the old lanes, and points the loop's
// producer at the new ones; so when Retarget returns, every sample decoded
// before went to the old lanes and every sample decoded after goes to the
// new ones. The old lanes' shards must keep running until Retarget returns
// (a batch they leave no room for is dropped after Producer.MaxWait, and
// counted); then the old lanes have no producer any more and may be
// detached. A decoder whose configuration changes is replaced; counters
// stay cumulative. A Unix socket file whose mode changes is given the new
// one (chmod; a failure is logged, the socket stays as it was).
//
// Safe from any goroutine, before or after Start; it fails after Stop, for
// a configuration that is not Retargetable, and when len(lanes) is not the
// number of loops.
func (s *UDPSource) Retarget(cfg SourceConfig, lanes []Lanes) error {
	if !s.Retargetable(cfg) {
		return fmt.Errorf("udp source %s: cannot take %s in place", s.cfg.Name, cfg.SourceKey())
	}
	dec := cfg.(*UDPConfig).Decoder
	mode := cfg.(*UDPConfig).UnixMode
	if len(lanes) != len(s.loops) {
		return fmt.Errorf("udp source %s: %d lanes for %d loops", s.cfg.Name, len(lanes), len(s.loops))
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if s.stopped {
		return fmt.Errorf("udp source %s: retarget after stop", s.cfg.Name)
	}
	s.chmodUnixFile(mode)
	for i, l := range s.loops {
		l.mu.Lock()
		l.prod.Retarget(lanes[i])
		if dec != l.decCfg {
			d := newStatsdDecoder(dec, l.prod)
			d.Stats = l.dec.Stats
			l.dec, l.decCfg = d, dec
		}
		l.account(nowMillis(), true)
		l.mu.Unlock()
	}
	return nil
}

// Stop stops the source and waits until every loop has published what it
// read. First the kernel is made to refuse new datagrams on every socket (a
// socket filter that drops everything, on Linux; such drops are counted in
// KernelDrops like those of a full buffer), then each loop's socket buffer
// is drained: read without waiting until it is empty, decoded and
// published, so that what the kernel accepted is not discarded at close.
// The drain is bounded, to about one receive buffer's worth of datagrams,
// so that Stop returns even if the filter could not be attached and a
// sender never stops. Then the sockets are closed. Elsewhere than on Linux
// there is no drain: what is left in the buffers is lost.
//
// Safe to call more than once, from any goroutine, with or without Start.
// It returns nil: what it cannot do is counted or logged.
func (s *UDPSource) Stop() error {
	s.ctl.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.quit)
		for _, l := range s.loops {
			if err := refuseNew(l.raw); err != nil {
				s.cfg.Log.Warn("udp source: cannot refuse new datagrams before draining", "source", s.cfg.Name, "loop", l.index, "err", err)
			}
		}
		var drains sync.WaitGroup
		for _, l := range s.loops {
			drains.Go(func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				l.drain()
			})
		}
		drains.Wait()
		s.mu.Lock()
		s.dropsLast = make([]uint64, len(s.loops))
		for i, l := range s.loops {
			s.dropsLast[i] = kernelDrops(l.raw)
		}
		s.closed = true
		s.mu.Unlock()
		if udpStopHook != nil {
			udpStopHook(s)
		}
		s.closeConns()
	}
	s.ctl.Unlock()
	s.wg.Wait()
	s.ctl.Lock()
	s.releaseConns() // idempotent
	s.ctl.Unlock()
	return nil
}

// udpStopHook, if set (tests), runs in Stop after the sockets' drop counts
// were first read and before they are shut down.
var udpStopHook func(*UDPSource)

// kernelDrops returns the kernel drops of loop i's socket: live while it is
// open, as last read when it was closed.
func (s *UDPSource) kernelDrops(i int) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.dropsLast[i]
	}
	return kernelDrops(s.loops[i].raw)
}

// Stats sums the counters of the loops. Safe from any goroutine.
func (s *UDPSource) Stats() UDPStats {
	var st UDPStats
	for i, l := range s.loops {
		v := l.c.read()
		st.Datagrams += v[udpDatagrams]
		st.Bytes += v[udpBytes]
		st.Truncated += v[udpTruncated]
		st.ReadErrors += v[udpReadErrors]
		st.Samples += v[udpSamples]
		st.SampledOut += v[udpSampledOut]
		st.NonFinite += v[udpNonFinite]
		st.TooLong += v[udpTooLong]
		st.Dropped += v[udpDropped]
		st.Waits += v[udpWaits]
		st.Handles += v[udpHandles]
		st.CacheClears += v[udpCacheClears]
		for r := range st.Lines {
			st.Lines[r] += v[udpLines+r]
		}
		st.KernelDrops += s.kernelDrops(i)
	}
	return st
}

// Name returns the source's name.
func (s *UDPSource) Name() string { return s.cfg.Name }

// startRelayTCP starts the writers of the relay's TCP destinations.
func (s *UDPSource) startRelayTCP() {
	c := s.cfg.Relay
	s.relayTCP = make([]*relayTCP, len(c.Destinations))
	for i, d := range c.Destinations {
		if d.TCP {
			s.relayTCP[i] = startRelayTCP(d.Addr, c.QueueDatagrams, s.relayUp[i], c.ProbeTimeout+time.Second, s.cfg.Log, s.cfg.Name)
		}
	}
}

// RelayUp reports whether the source's relay destination i is up (false
// if the source does not relay).
func (s *UDPSource) RelayUp(i int) bool { return i < len(s.relayUp) && s.relayUp[i].Load() }

// flush publishes every batch and the counters. Under mu.
func (l *udpLoop) flush() {
	l.prod.Flush()
	l.prod.Step()
	l.account(nowMillis(), true)
	l.dirty = false
}

// decode hands one datagram's whole lines to the decoder, or to the relay.
// Under mu.
func (l *udpLoop) decode(b []byte, now int64) {
	if l.relay != nil {
		l.relay.Forward(b)
		return
	}
	l.dec.Decode(b, now, l.prod.Route)
}

// relaySend sends the datagrams the relay packed full, and those not full
// once the flush interval has passed since their first line (or at once
// if sealNow). Under mu.
func (l *udpLoop) relaySend(now int64, sealNow bool) {
	r := l.relay
	if r == nil {
		return
	}
	if r.Partial() {
		if l.relayDue == 0 {
			l.relayDue = now + l.relayEvery
		}
		if sealNow || now >= l.relayDue {
			r.Seal()
			l.relayDue = 0
		}
	} else {
		l.relayDue = 0
	}
	r.Send()
	r.fill(l.rc.vals)
	l.rc.publish(now, false)
}

// relayFinish sends what the relay holds as the loop stops (Relay.Finish:
// retrying what full buffers refuse for up to relayFinishWait, counting
// the rest) and publishes its counters. Under mu.
func (l *udpLoop) relayFinish() {
	if l.relay == nil {
		return
	}
	l.relay.Finish(time.Now().Add(relayFinishWait))
	l.relayDue = 0
	l.relay.fill(l.rc.vals)
	l.rc.publish(nowMillis(), true)
}

// relayFinishWait bounds how long a stopping relay loop retries sending.
const relayFinishWait = 500 * time.Millisecond

// relayWait returns how long the loop may wait for datagrams before a
// partly packed one is due (ms; -1: no limit). Under mu.
func (l *udpLoop) relayWait(now int64) int {
	switch {
	case l.relay == nil:
		return -1
	case l.relay.Queued():
		return 1 // a full buffer refused some: retry soon
	case l.relayDue == 0:
		return -1
	}
	return int(max(0, l.relayDue-now))
}

// account copies the decoder's and producer's counters into the loop's
// counters and publishes them. Under mu.
func (l *udpLoop) account(now int64, force bool) {
	v, d := l.c.vals, &l.dec.Stats
	v[udpSamples], v[udpSampledOut], v[udpNonFinite], v[udpTooLong] = d.Samples, d.SampledOut, d.NonFinite, d.TooLong
	v[udpWaits] = l.prod.Waits
	v[udpDropped] = l.prod.Dropped
	v[udpHandles], v[udpCacheClears] = d.Handles, l.prod.CacheClears()
	for r, n := range d.Lines {
		v[udpLines+r] = n
	}
	l.c.publish(now, force)
	logRefused(&l.src.bad, l.src.cfg.Log, l.src.cfg.Name, l.dec, now)
}

// logRefused logs one line a StatsD decoder refused, throttled: at most one
// per source every throttle.Every, and each line once.
func logRefused(t *throttle.Throttle, log *slog.Logger, source string, dec *statsd.Decoder, nowMs int64) {
	now := time.UnixMilli(nowMs)
	if !t.Due(now) {
		return
	}
	for r := statsd.ErrSyntax; r < statsd.NumResults; r++ {
		if bad := dec.LastRefused(r); len(bad) > 0 {
			if ok, _ := t.Allow(now); ok {
				log.Warn("bad statsd line", "source", source, "reason", r.String(), "line", string(bad), "count", dec.Stats.Lines[r])
			}
			dec.ClearRefused() // logged once, not at every report
			return
		}
	}
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// wholeLines returns the lines of a datagram that are whole: all of them,
// unless the datagram was truncated (longer than the receive buffer), when
// its last line is cut and dropped, as TCP drops a line over its limit
// (TCPSource.frame): the start of a line is not read as a line of its own.
// The datagram is counted as truncated.
func wholeLines(datagram []byte, truncated bool) []byte {
	if !truncated {
		return datagram
	}
	return datagram[:bytes.LastIndexByte(datagram, '\n')+1]
}
