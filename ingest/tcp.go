package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"golang.org/x/sys/unix"

	"github.com/gomad/mad/ingest/graphite"
	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/ingest/telegraf"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/throttle"
)

// TCPConfig configures a source of newline-delimited lines on TCP: MAD's
// TcpLineSource with its parser (StatsD, Graphite plaintext or Telegraf
// JSON; Format).
type TCPConfig struct {
	Name string
	// Addr is "host:port".
	Addr string
	// Loops is the number of gnet event loops (default 1).
	Loops int
	// MaxLine bounds a line (default 64 KiB, without its newline): a longer
	// line is discarded whole, through its newline, and counted once, and a
	// connection never buffers more than MaxLine bytes of it (frame).
	MaxLine int
	// MaxWait bounds how long a read event waits for room in a shard's
	// full ring (default DefaultTCPMaxWait) before it drops the batch,
	// counted; see TCPSource.
	MaxWait time.Duration
	// Decoder configures StatsD decoding.
	Decoder statsd.Config
	Log     *slog.Logger
	// Mappers are MAD's wrapping sources around this one.
	Mappers MapperChain
	// Format is the parser of TcpLineSource's lines: StatsD (default),
	// Graphite plaintext or Telegraf JSON, configured by Graphite and
	// Telegraf.
	Format   LineFormat
	Graphite graphite.Config
	Telegraf telegraf.Config
}

// SourceName returns Name.
func (c *TCPConfig) SourceName() string { return c.Name }

// SourceKey is "tcp " and the address.
func (c *TCPConfig) SourceKey() string { return "tcp " + c.Addr }

// Lanes is one producer per event loop.
func (c *TCPConfig) Lanes() (int, int) { return max(1, c.Loops), 0 }

// Steps says that the event loops call Producer.Step after publishing
// (Stepper).
func (c *TCPConfig) Steps() bool { return true }

// Wrap adds an enclosing wrapping source's mapper.
func (c *TCPConfig) Wrap(m MapperSpec) { c.Mappers = append(c.Mappers, m) }

// Open listens (ListenTCP).
func (c *TCPConfig) Open(lanes []Lanes) (Source, error) {
	return opened(ListenTCP(*c, lanes))
}

// EnsureDefaults fills in every unset option.
func (c *TCPConfig) EnsureDefaults() {
	if c.Loops <= 0 {
		c.Loops = 1
	}
	if c.MaxLine <= 0 {
		c.MaxLine = 64 << 10
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultTCPMaxWait
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// sameLines reports whether two configurations read lines alike (format,
// parser options, limit, mappers): all but the StatsD decoder options,
// which a running source can change.
func (c *TCPConfig) sameLines(o *TCPConfig) bool {
	return c.Format == o.Format && c.MaxLine == o.MaxLine && c.Graphite.Equal(o.Graphite) && c.Telegraf == o.Telegraf &&
		c.Mappers.Equal(o.Mappers)
}

// LineFormat is the parser of a TCP line source.
type LineFormat uint8

const (
	FormatStatsD LineFormat = iota
	FormatGraphite
	FormatTelegraf
)

// lineDecoder is a Graphite or Telegraf decoder: a line at a time, in the
// decoders' one vocabulary.
type lineDecoder interface {
	DecodeLine(line []byte, now int64, route sample.Route) (sample.Counts, error)
}

func newLineDecoder(cfg *TCPConfig, p *Producer) lineDecoder {
	switch cfg.Format {
	case FormatGraphite:
		// Graphite's series are sent by their handles as StatsD's are
		// (newStatsdDecoder); Handles is nil with a mapper.
		d := graphite.NewDecoder(cfg.Graphite)
		d.SetCache(p.Handles())
		return d
	case FormatTelegraf:
		return telegraf.NewDecoder(cfg.Telegraf)
	}
	return nil
}

// TCPStats are the counters of a TCP source.
type TCPStats struct {
	Connections, Bytes                      uint64
	Lines                                   [statsd.NumResults]uint64
	Samples, SampledOut, NonFinite, TooLong uint64
	// Dropped samples: a shard's ring stayed full; Waits: publications
	// that found a ring full and waited.
	Dropped, Waits uint64
	// LongLines discarded for exceeding MaxLine, each counted once
	// whatever its length.
	LongLines uint64
	// CutLines: last lines without their newline on a connection closed
	// other than by its sender's end of stream (the source stopping or
	// replaced, a reset): the rest of the line was still to come, so
	// they are dropped, not decoded.
	CutLines uint64
	// Handles: StatsD samples, of Samples, sent by their series' handle
	// (the slots' series caches, Producer.Handles); CacheClears: times a
	// slot's cache was full and was cleared.
	Handles, CacheClears uint64
}

// Counters of a TCP slot, by index.
const (
	tcpConnections = iota
	tcpBytes
	tcpLongLines
	tcpCutLines
	tcpSamples
	tcpSampledOut
	tcpNonFinite
	tcpTooLong
	tcpDropped
	tcpWaits
	tcpHandles
	tcpCacheClears
	tcpLines
	tcpCounters = tcpLines + int(statsd.NumResults)
)

// DefaultTCPMaxWait is how long a TCP source waits, by default, for a shard
// to make room in its full ring before it drops a batch (TCPConfig.MaxWait).
// It is ten times and more what a shard's longest pauses take (growing its
// series tables at millions of series: some hundreds of milliseconds), and
// well under what a sender on a blocked socket, or a stop (which gives the
// event loops 10 s), tolerates.
const DefaultTCPMaxWait = 5 * time.Second

// TCPSource serves lines (StatsD, Graphite, Telegraf) over TCP on gnet
// event loops. Every read event borrows one of Loops producer slots (so no
// ring ever has two writers at once), decodes the complete lines buffered
// on the connection into the slot's per-shard batches, publishes them and
// returns the slot. A partial line stays buffered until its newline
// arrives, or is decoded when the connection closes; a line over MaxLine is
// discarded (frame).
//
// TCP pushes back instead of dropping: a read event that finds a shard's
// ring full waits for room, up to MaxWait (Producer.MaxWait). Meanwhile
// its event loop reads nothing, so the connections it serves fill their
// socket buffers and TCP's flow control stops their senders; lines are
// never read faster than the shards take them. The loop's other
// connections wait too: their lines go to every shard (series are routed
// by hash), so they could not get past the full ring either, and the
// other loops read on with their own slots and rings. Past MaxWait the
// shard is taken to be stuck, not slow: the batch is dropped and counted
// (mad_source_ring_dropped_samples_total), and so is every batch for that
// shard, without waiting, until its ring has room again, so that one stuck
// shard does not wedge the loop.
//
// Whoever takes a slot from slots owns its decoder, producer and counters
// until it puts it back. Taking every slot (OnTick, Retarget, Stop) is done
// under allMu, so that two such callers never each hold part of the slots
// and wait for the rest.
type TCPSource struct {
	gnet.BuiltinEventEngine
	cfg     TCPConfig
	slots   chan *tcpSlot
	all     []*tcpSlot
	allMu   sync.Mutex
	stopped bool // under allMu
	// stopping: Stop has begun; the connections gnet closes from then on
	// are drained of what their sockets still hold (drainKernel).
	stopping atomic.Bool
	stop     sync.Once
	stopErr  error
	eng      gnet.Engine
	addr     *net.TCPAddr
	bad      throttle.Throttle // bad-line logs, across the slots
	boot     chan error
	done     chan error
	// ticked is closed by the first OnTick, once every loop listens;
	// listeners are duplicates of their listening sockets (claimListeners),
	// drained and closed when gnet.Run returns.
	ticked    chan struct{}
	tickOnce  sync.Once
	listeners []int
	// lnMu guards listeners and ended: gnet.Run returned (stopped, or on
	// its own), and listeners were drained and closed.
	lnMu  sync.Mutex
	ended bool
	// lastTrim is when OnTick last trimmed the producers (ms; under allMu).
	lastTrim int64
}

type tcpSlot struct {
	dec    *statsd.Decoder
	decCfg statsd.Config
	// lines decodes Graphite or Telegraf lines (nil for StatsD), with its
	// counts and the last line refused.
	lines     lineDecoder
	lineStats statsd.Stats // of the Graphite or Telegraf lines, as the StatsD decoder counts
	lastBad   []byte
	lastErr   string // why lastBad was refused (decoders reuse their errors)
	prod      *Producer
	// route is prod.Route, bound once: a method value passed to an
	// interface method escapes, and would be allocated per line.
	route sample.Route
	c     *counters
}

// takeAll takes every slot, waiting for those in use (a read event holds
// one only while it decodes and publishes), and returns a function that
// puts them back. Under allMu.
func (s *TCPSource) takeAll() (putBack func()) {
	for range s.all {
		<-s.slots
	}
	return func() {
		for _, sl := range s.all {
			s.slots <- sl
		}
	}
}

// ListenTCP starts serving; lanes[i] are slot i's rings (one per loop).
func ListenTCP(cfg TCPConfig, lanes []Lanes) (*TCPSource, error) {
	cfg.EnsureDefaults()
	if len(lanes) != cfg.Loops {
		return nil, fmt.Errorf("tcp source %s: %d lanes for %d loops", cfg.Name, len(lanes), cfg.Loops)
	}
	// Port 0: a placeholder listener in the same SO_REUSEPORT group picks
	// the port, so that every event loop's listener shares it (each would
	// get a port of its own), and Addr tells it. It is closed once gnet
	// listens; nobody can have connected to a port not yet known.
	addr, placeholder, err := resolvePort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("tcp source %s: cannot listen on %s: %w", cfg.Name, cfg.Addr, err)
	}
	closePlaceholder := func() {
		if placeholder != nil {
			placeholder.Close()
			placeholder = nil
		}
	}
	defer closePlaceholder()
	s := &TCPSource{cfg: cfg, addr: addr, slots: make(chan *tcpSlot, cfg.Loops), boot: make(chan error, 1), done: make(chan error, 1),
		ticked: make(chan struct{})}
	for i := range lanes {
		prod := newProducer(lanes[i], cfg.Mappers)
		prod.SizeNew = true
		sl := &tcpSlot{dec: newStatsdDecoder(cfg.Decoder, prod), decCfg: cfg.Decoder, prod: prod, c: newCounters(tcpCounters),
			lines: newLineDecoder(&cfg, prod)}
		sl.prod.MaxWait, sl.prod.SkipStuck = cfg.MaxWait, true
		sl.route = sl.prod.Route
		s.all = append(s.all, sl)
		s.slots <- sl
	}
	listenMu.Lock()
	defer listenMu.Unlock()
	go func() {
		err := gnet.Run(s, "tcp://"+addr.String(),
			gnet.WithMulticore(cfg.Loops > 1), gnet.WithNumEventLoop(cfg.Loops),
			gnet.WithReusePort(true), gnet.WithTicker(true),
			gnet.WithLogger(gnetLogger{cfg.Log}), gnet.WithLogLevel(logging.WarnLevel))
		select {
		case s.boot <- err: // failed before booting
		default:
		}
		// The loops are done, stopped or on their own: the listening
		// sockets the source holds are drained and closed now, so that
		// none stays listening with nobody to accept.
		s.lnMu.Lock()
		ls := s.listeners
		s.listeners, s.ended = nil, true
		s.lnMu.Unlock()
		s.drainBacklog(ls)
		s.done <- err
	}()
	if err := <-s.boot; err != nil {
		return nil, fmt.Errorf("tcp source %s: cannot listen on %s: %w", cfg.Name, cfg.Addr, err)
	}
	select {
	case <-s.ticked: // every loop listens (gnet starts its ticker after them)
	case err := <-s.done:
		if err == nil {
			err = errors.New("the event loops stopped before they listened")
		}
		return nil, fmt.Errorf("tcp source %s: cannot listen on %s: %w", cfg.Name, cfg.Addr, err)
	}
	// The placeholder listens at the address too: it goes first.
	closePlaceholder()
	ls, cerr := claimListeners(addr, min(cfg.Loops, 256)) // tcp_backlog_linux.go; gnet runs at most 256 loops
	if errors.Is(cerr, errNoFds) {
		cfg.Log.Warn("tcp source without a drain of its backlog at the stop", "source", cfg.Name, "err", cerr)
		cerr = nil
	}
	s.lnMu.Lock()
	ended := s.ended
	if cerr == nil && !ended {
		s.listeners = ls
	}
	s.lnMu.Unlock()
	if cerr == nil && !ended {
		return s, nil
	}
	releaseListenersLocked(ls)
	if !ended {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.eng.Stop(ctx)
	}
	if err := <-s.done; cerr == nil {
		cerr = fmt.Errorf("the event loops stopped: %v", err)
	}
	return nil, fmt.Errorf("tcp source %s: cannot listen on %s: %w", cfg.Name, cfg.Addr, cerr)
}

// resolvePort returns addr resolved, with the port chosen by a placeholder
// listener (returned, to be closed by the caller) when addr's port is 0.
// The placeholder listens on the family of addr's host, as gnet will.
func resolvePort(addr string) (*net.TCPAddr, net.Listener, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if a.Port != 0 {
		return a, nil, nil
	}
	network := "tcp6"
	if a.IP == nil || a.IP.To4() != nil {
		network = "tcp4"
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, nil, err
	}
	a.Port = l.Addr().(*net.TCPAddr).Port
	return a, l, nil
}

// Start does nothing: the event loops serve from ListenTCP on.
func (s *TCPSource) Start() {}

// Addr returns the address the source listens on (with port 0, the port
// chosen).
func (s *TCPSource) Addr() net.Addr { return s.addr }

// Key is "tcp " and the bound address.
func (s *TCPSource) Key() string { return "tcp " + s.addr.String() }

// OnBoot records the engine.
func (s *TCPSource) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	s.boot <- nil
	return gnet.None
}

// OnTick publishes every slot's counters, so that they are current while
// connections are idle, and every trimEvery trims the slots' producers
// (Producer.Trim: an idle one lets go of what a burst left allocated).
func (s *TCPSource) OnTick() (time.Duration, gnet.Action) {
	s.tickOnce.Do(func() { close(s.ticked) })
	s.allMu.Lock()
	defer s.allMu.Unlock()
	defer s.takeAll()()
	now := nowMillis()
	trim := now-s.lastTrim >= trimEvery.Milliseconds()
	if trim {
		s.lastTrim = now
	}
	for _, sl := range s.all {
		if trim {
			sl.prod.Trim()
		}
		s.account(sl, now, true)
	}
	return 100 * time.Millisecond, gnet.None
}

// Loops returns the number of event loops: data-plane goroutines, each
// busy while its connections send.
func (s *TCPSource) Loops() int { return s.cfg.Loops }

// Retargetable reports whether cfg is a TCPConfig for the same listener
// (address, loops) that reads lines alike: only its StatsD decoder options
// may differ.
func (s *TCPSource) Retargetable(cfg SourceConfig) bool {
	c, ok := cfg.(*TCPConfig)
	if !ok {
		return false
	}
	n := *c
	n.EnsureDefaults()
	return (n.Addr == s.cfg.Addr || n.Addr == s.addr.String()) && n.Loops == s.cfg.Loops && n.sameLines(&s.cfg)
}

// Retarget switches the source to new lanes, lanes[i] for slot i, and to
// the decoder configuration of cfg (Retargetable), without touching its
// listener or its connections. It takes every slot (waiting for the read
// events using them), publishes what each slot had decoded to the old
// lanes, points its producer at the new ones and puts the slots back: when
// Retarget returns, every sample decoded before went to the old lanes and
// every sample decoded after goes to the new ones. The old lanes' shards
// must keep running until Retarget returns; then the old lanes have no
// producer any more and may be detached. A decoder whose configuration
// changes is replaced; counters stay cumulative.
//
// Safe from any goroutine; it fails after Stop, for a configuration that is
// not Retargetable, and when len(lanes) is not the number of loops.
func (s *TCPSource) Retarget(cfg SourceConfig, lanes []Lanes) error {
	if !s.Retargetable(cfg) {
		return fmt.Errorf("tcp source %s: cannot take %s in place", s.cfg.Name, cfg.SourceKey())
	}
	dec := cfg.(*TCPConfig).Decoder
	if len(lanes) != len(s.all) {
		return fmt.Errorf("tcp source %s: %d lanes for %d loops", s.cfg.Name, len(lanes), len(s.all))
	}
	s.allMu.Lock()
	defer s.allMu.Unlock()
	if s.stopped {
		return fmt.Errorf("tcp source %s: retarget after stop", s.cfg.Name)
	}
	defer s.takeAll()()
	now := nowMillis()
	for i, sl := range s.all {
		sl.prod.Retarget(lanes[i])
		if dec != sl.decCfg {
			d := newStatsdDecoder(dec, sl.prod)
			d.Stats = sl.dec.Stats
			sl.dec, sl.decCfg = d, dec
		}
		s.account(sl, now, true)
	}
	return nil
}

// gnetLogger sends gnet's log to slog (never to standard output, where
// mad may be writing JSON lines); gnet's informational chatter is dropped.
type gnetLogger struct{ log *slog.Logger }

func (g gnetLogger) Debugf(string, ...any) {}
func (g gnetLogger) Infof(string, ...any)  {}
func (g gnetLogger) Warnf(f string, a ...any) {
	g.log.Warn(fmt.Sprintf(f, a...), "component", "gnet")
}
func (g gnetLogger) Errorf(f string, a ...any) {
	g.log.Error(fmt.Sprintf(f, a...), "component", "gnet")
}
func (g gnetLogger) Fatalf(f string, a ...any) {
	g.log.Error(fmt.Sprintf(f, a...), "component", "gnet")
}

// OnOpen counts the connection.
func (s *TCPSource) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	sl := <-s.slots
	sl.c.vals[tcpConnections]++
	s.slots <- sl
	return nil, gnet.None
}

// OnTraffic decodes every complete line buffered on c.
func (s *TCPSource) OnTraffic(c gnet.Conn) gnet.Action {
	s.consume(c, tcpOpen)
	return gnet.None
}

// OnClose decodes what is left on c: a last line without its newline is
// whole if the sender ended its stream (gnet's read found EOF), and cut
// otherwise (a reset): dropped and counted. A connection the source's stop
// closes is first drained of what its socket still holds (drainKernel).
func (s *TCPSource) OnClose(c gnet.Conn, err error) gnet.Action {
	switch {
	case errors.Is(err, io.EOF):
		s.consume(c, tcpEnded)
	case err == nil && s.stopping.Load():
		s.drainKernel(c)
	default:
		s.consume(c, tcpCut)
	}
	return gnet.None
}

// drainChunk is what drainKernel reads at a time.
const drainChunk = 64 << 10

// drainKernel decodes, when the source stops, what gnet holds of c and what
// c's socket still holds: bytes the kernel has acknowledged to the sender,
// which gnet, reading a connection a buffer per event and stopping its loop
// between two events, would close unread (drainSocket). gnet calls OnClose
// before it closes the socket.
func (s *TCPSource) drainKernel(c gnet.Conn) {
	held, _ := c.Peek(-1)
	sl := <-s.slots
	defer func() { s.slots <- sl }()
	s.drainSocket(sl, c, c.Fd(), held)
}

// drainSocket decodes what a connection's socket fd holds, after held (what
// was read of it before), when the source's loops end: it reads until the
// socket has nothing more, or as much as its receive buffer holds (what a
// sender still sending adds while it drains is cut there), then ends the
// connection as OnClose does: a last line without its newline is whole if
// the sender had ended its stream, cut otherwise. fd is non-blocking; lc
// holds the connection's framing state.
func (s *TCPSource) drainSocket(sl *tcpSlot, lc lineCtx, fd int, held []byte) {
	buf := slices.Grow(slices.Clone(held), drainChunk)
	limit, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil || limit <= 0 {
		limit = 8 << 20
	}
	closing := tcpCut
	var decoded int64
	for read := 0; read < limit; {
		buf = slices.Grow(buf, drainChunk)
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			if n == 0 && err == nil {
				closing = tcpEnded // the sender's end of stream
			}
			break
		}
		buf, read = buf[:len(buf)+n], read+n
		done, at := s.frame(sl, lc, buf, tcpOpen)
		sl.c.vals[tcpBytes] += uint64(done)
		buf = buf[:copy(buf, buf[done:])]
		decoded = max(decoded, at)
	}
	done, at := s.frame(sl, lc, buf, closing)
	sl.c.vals[tcpBytes] += uint64(done)
	if decoded = max(decoded, at); decoded != 0 {
		sl.prod.Flush()
		sl.prod.Step()
		s.account(sl, decoded, false)
	}
}

// tcpEnd is how consume finds a connection.
type tcpEnd uint8

const (
	tcpOpen  tcpEnd = iota // more may come
	tcpEnded               // its sender ended the stream: what is buffered is all
	tcpCut                 // closed otherwise: a line without its newline is cut
)

func (s *TCPSource) consume(c gnet.Conn, closing tcpEnd) {
	buf, err := c.Peek(-1)
	if err != nil || len(buf) == 0 {
		return
	}
	sl := <-s.slots
	defer func() { s.slots <- sl }()
	n, decoded := s.frame(sl, c, buf, closing)
	if n > 0 { // Discard(0) would discard everything
		sl.c.vals[tcpBytes] += uint64(n)
		c.Discard(n)
	}
	if decoded != 0 {
		sl.prod.Flush()
		sl.prod.Step()
		s.account(sl, decoded, false)
	}
}

// lineState is a connection's framing state, kept as its gnet context:
// nil, or skippingLine in the middle of an over-long line, already counted,
// whose bytes are discarded up to and including its newline.
type lineState uint8

const skippingLine lineState = 1

// lineCtx keeps a connection's framing state: a gnet.Conn, or a connection
// the source accepts itself at its stop (backlogConn).
type lineCtx interface {
	Context() any
	SetContext(any)
}

// frame is the line framing of every TCP source (MAD-SPEC §3.3: lines end
// in '\n'): it decodes the whole lines of buf, what c has buffered, and
// returns how many bytes of buf are done with (decoded or discarded; the
// rest, a partial last line, stays buffered), and the time it decoded at
// (0 if it decoded nothing).
//
// A line is over-long when more than MaxLine bytes precede its newline. It
// is discarded whole, through its newline, and counted once in LongLines,
// however the stream is cut into reads: when its newline is buffered, it
// is skipped at once; when more than MaxLine bytes of it are buffered
// without one, they are discarded and c is marked (skippingLine) to discard
// what follows up to the newline. So a connection never holds more than
// MaxLine bytes of a line, and no part of a long line is decoded as a line
// of its own. When c's sender ended its stream, its last line without a
// newline is decoded if it is not over-long; when c was closed otherwise
// (tcpCut), that line is cut: dropped and counted (cutLine).
//
// Finding long lines costs nothing while the complete lines buffered fit in
// MaxLine+1 bytes; past that, one backward search per MaxLine bytes, which
// stops at the last newline before the limit (shortLines).
func (s *TCPSource) frame(sl *tcpSlot, c lineCtx, buf []byte, closing tcpEnd) (done int, decoded int64) {
	maxLine := s.cfg.MaxLine
	at := 0
	if c.Context() == skippingLine {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return len(buf), 0
		}
		c.SetContext(nil)
		at = i + 1
	}
	// Whole lines are buf[at:end]; buf[end:] is a partial last line.
	end := max(at, bytes.LastIndexByte(buf, '\n')+1)
	keepBad := false
	for at < end {
		if run := at + shortLines(buf[at:end], maxLine); run > at {
			if decoded == 0 {
				decoded = nowMillis()
				keepBad = s.bad.Due(time.UnixMilli(decoded))
			}
			sl.decode(buf[at:run], decoded, keepBad)
			at = run
		}
		if at < end {
			// buf[at:] starts a long line: its newline is past the limit.
			s.longLine(sl, buf[at:at+maxLine])
			at += maxLine + 1
			at += bytes.IndexByte(buf[at:end], '\n') + 1
		}
	}
	switch partial := len(buf) - end; {
	case partial > maxLine:
		s.longLine(sl, buf[end:end+maxLine])
		if closing == tcpOpen {
			c.SetContext(skippingLine)
		}
		return len(buf), decoded
	case closing == tcpCut && partial > 0:
		s.cutLine(sl, buf[end:])
		return len(buf), decoded
	case closing == tcpEnded && partial > 0:
		if decoded == 0 {
			decoded = nowMillis()
			keepBad = s.bad.Due(time.UnixMilli(decoded))
		}
		sl.decode(buf[end:], decoded, keepBad)
		return len(buf), decoded
	}
	return end, decoded
}

// cutLine counts the last line of a connection closed before its newline
// came (tcpCut), and logs it (its start) if a log line is due.
func (s *TCPSource) cutLine(sl *tcpSlot, start []byte) {
	v := sl.c.vals
	v[tcpCutLines]++
	if now := time.Now(); s.bad.Due(now) {
		if ok, _ := s.bad.Allow(now); ok {
			s.cfg.Log.Warn("line cut by the connection's close discarded", "source", s.cfg.Name,
				"start", string(start[:min(len(start), 64)]), "count", v[tcpCutLines])
		}
	}
}

// longLine counts a line discarded for its length, and logs it (its start)
// if a log line is due.
func (s *TCPSource) longLine(sl *tcpSlot, start []byte) {
	v := sl.c.vals
	v[tcpLongLines]++
	if now := time.Now(); s.bad.Due(now) {
		if ok, _ := s.bad.Allow(now); ok {
			s.cfg.Log.Warn("line over the limit discarded", "source", s.cfg.Name, "limit", s.cfg.MaxLine,
				"start", string(start[:min(len(start), 64)]), "count", v[tcpLongLines])
		}
	}
}

// shortLines returns the length of the longest prefix of b (whole lines, as
// b ends in '\n') made of lines of at most maxLine bytes before their
// newline. It looks only at the maxLine+1 bytes from each line start it
// jumps to, from their end backwards: a newline among them ends a short
// line, and every line before that newline is shorter still.
func shortLines(b []byte, maxLine int) int {
	p := 0
	for len(b)-p > maxLine+1 {
		i := bytes.LastIndexByte(b[p:p+maxLine+1], '\n')
		if i < 0 {
			return p
		}
		p += i + 1
	}
	return len(b)
}

// decode decodes whole lines (a last one may lack its newline) in the
// slot's format. With keepBad (a log line is due), the first Graphite or
// Telegraf line refused is kept for it.
func (sl *tcpSlot) decode(data []byte, now int64, keepBad bool) {
	if sl.lines == nil {
		sl.dec.Decode(data, now, sl.route)
		return
	}
	sl.decodeLines(data, now, keepBad)
}

// decodeLines decodes Graphite or Telegraf lines one by one (MAD-SPEC §3.3:
// split on \n only; a line that does not parse drops only itself). With
// keepBad (a log line is due), the first line refused is kept for it.
func (sl *tcpSlot) decodeLines(data []byte, now int64, keepBad bool) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line := data
		if i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		c, err := sl.lines.DecodeLine(line, now, sl.route)
		if err != nil {
			sl.lineStats.Lines[statsd.ErrSyntax]++
			if keepBad && len(sl.lastBad) == 0 {
				sl.lastBad = append(sl.lastBad[:0], line[:min(len(line), 256)]...)
				sl.lastErr = err.Error()
			}
			continue
		}
		sl.lineStats.Lines[statsd.OK]++
		sl.lineStats.Samples += uint64(c.Samples)
		sl.lineStats.Handles += uint64(c.Handles)
	}
}

func (s *TCPSource) account(sl *tcpSlot, now int64, force bool) {
	d := &sl.dec.Stats
	if sl.lines != nil {
		d = &sl.lineStats
	}
	v := sl.c.vals
	v[tcpSamples], v[tcpSampledOut], v[tcpNonFinite], v[tcpTooLong] = d.Samples, d.SampledOut, d.NonFinite, d.TooLong
	v[tcpWaits] = sl.prod.Waits
	v[tcpDropped] = sl.prod.Dropped
	v[tcpHandles], v[tcpCacheClears] = d.Handles, sl.prod.CacheClears()
	for r, n := range d.Lines {
		v[tcpLines+r] = n
	}
	sl.c.publish(now, force)
	if sl.lines == nil {
		logRefused(&s.bad, s.cfg.Log, s.cfg.Name, sl.dec, now)
		return
	}
	if len(sl.lastBad) > 0 {
		if ok, _ := s.bad.Allow(time.UnixMilli(now)); ok {
			s.cfg.Log.Warn("bad line", "source", s.cfg.Name, "line", string(sl.lastBad), "err", sl.lastErr, "count", d.Lines[statsd.ErrSyntax])
		}
		sl.lastBad = sl.lastBad[:0]
	}
}

// Stop closes the listener and the connections (decoding what they had
// buffered, and what their sockets still held), and waits for the event
// loops to finish and the connections left in the listener's backlog to be
// decoded (tcp_backlog_linux.go). Calling it again returns the first
// call's result.
func (s *TCPSource) Stop() error {
	s.stop.Do(func() { s.stopErr = s.stopOnce() })
	return s.stopErr
}

func (s *TCPSource) stopOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.stopping.Store(true)
	err := s.eng.Stop(ctx)
	if runErr := <-s.done; err == nil && runErr != nil && !errors.Is(runErr, context.Canceled) {
		err = runErr
	}
	s.allMu.Lock()
	defer s.allMu.Unlock()
	defer s.takeAll()()
	s.stopped = true
	for _, sl := range s.all {
		sl.prod.Flush()
		s.account(sl, nowMillis(), true)
	}
	return err
}

// Stats sums the counters of the slots. Safe from any goroutine.
func (s *TCPSource) Stats() TCPStats {
	var st TCPStats
	for _, sl := range s.all {
		v := sl.c.read()
		st.Connections += v[tcpConnections]
		st.Bytes += v[tcpBytes]
		st.LongLines += v[tcpLongLines]
		st.CutLines += v[tcpCutLines]
		st.Samples += v[tcpSamples]
		st.SampledOut += v[tcpSampledOut]
		st.NonFinite += v[tcpNonFinite]
		st.TooLong += v[tcpTooLong]
		st.Dropped += v[tcpDropped]
		st.Waits += v[tcpWaits]
		st.Handles += v[tcpHandles]
		st.CacheClears += v[tcpCacheClears]
		for r := range st.Lines {
			st.Lines[r] += v[tcpLines+r]
		}
	}
	return st
}

// Name returns the source's name.
func (s *TCPSource) Name() string { return s.cfg.Name }
