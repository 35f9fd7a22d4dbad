package cagg

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gomad/mad/sinks"
)

// TCPConfig configures a TCPSink. Zero values take MAD's defaults.
type TCPConfig struct {
	Name string
	// ServerAddress is the Cluster Aggregator host (required).
	ServerAddress string
	// ServerPort is its TCP port (MAD: 7065).
	ServerPort int
	// MaxQueueSize bounds the queued records; when it is full the oldest
	// is evicted and counted (MAD: 10000).
	MaxQueueSize int

	// HeartbeatInterval is the period of HeartbeatRecords while connected
	// (MAD: 15 s, not configurable).
	HeartbeatInterval time.Duration
	// ConnectTimeout bounds a connection attempt (MAD: 5 s).
	ConnectTimeout time.Duration
	// ReconnectBase is the unit of MAD's reconnect delay
	// ((int)(random·1.3^min(attempt, 20)) + 1)·ReconnectBase (MAD: 500 ms,
	// not configurable).
	ReconnectBase time.Duration
	// WriteTimeout bounds one write; a write that times out breaks the
	// connection (default 30 s).
	WriteTimeout time.Duration
	// CloseTimeout bounds how long Close flushes the queue and waits for
	// the target to read what is in flight (default 10 s).
	CloseTimeout time.Duration
	// SendBuffer is the socket send buffer (SO_SNDBUF) asked for, in bytes
	// (default 64 KiB; Linux doubles it). Bounded, the kernel holds little
	// of what the target does not take: the rest waits in the queue, where
	// it is counted and evicted (unbounded, Linux grows it to 4 MiB). A
	// connection carries at most about twice SendBuffer per round trip
	// (2.6 MB/s at 50 ms): raise it for a distant target.
	SendBuffer int
	// PeerBuffer is the most the target can hold received but not read:
	// its socket receive buffer (default 32 MiB, the largest Linux grows
	// one to by default, net.ipv4.tcp_rmem, on current kernels). A record
	// is counted sent once the connection has taken PeerBuffer bytes plus
	// twice the send buffer after it.
	PeerBuffer int
	// Log receives warnings (default slog.Default()); they are throttled.
	Log *slog.Logger
}

// TCPSink is MAD's AggregationServerSink: framed StatisticSetRecords (one
// per metric of every bucket) and a HeartbeatRecord every
// HeartbeatInterval on a TCP stream to the Cluster Aggregator.
//
// The protocol has no acknowledgement: a write returns once the kernel has
// the bytes, which may then sit in this socket's send buffer and in the
// target's receive buffer, and are lost if the connection breaks. So a
// record written is in flight (Counters.InFlight), not sent, until it is
// known read: once the connection has taken more bytes after it than the
// two buffers can hold (twice the send buffer, which is bounded, plus
// PeerBuffer), or when the target closes the connection cleanly after its
// TCP acknowledged it (a socket closed with unread data is reset, not
// closed with a FIN; Linux, through TCP_INFO). Close half-closes the
// connection and waits, up to CloseTimeout, for the target to read through
// the end and close its side. Records in flight when a connection breaks
// are counted lost (Failed), those the sink gave up waiting for at Close
// ClosedDrops: neither is known delivered, and neither is sent again (as
// in MAD, which counts them sent).
type TCPSink struct {
	front
	cfg  TCPConfig
	addr string
	conn net.Conn // current connection, for Close's abort; under mu

	stop   chan struct{} // closed by Close: flush and exit
	ctx    context.Context
	cancel context.CancelFunc // at the close deadline
	done   chan struct{}
	once   sync.Once
}

// maxWriteBatch bounds the bytes written at once.
const maxWriteBatch = 256 << 10

// EnsureDefaults sets every unset option to its default (MAD's serverPort
// 7065 and maxQueueSize 10000; MAD's 15 s heartbeat).
func (c *TCPConfig) EnsureDefaults() {
	if c.ServerPort == 0 {
		c.ServerPort = 7065
	}
	if c.MaxQueueSize <= 0 {
		c.MaxQueueSize = 10000
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 15 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.ReconnectBase <= 0 {
		c.ReconnectBase = 500 * time.Millisecond
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 10 * time.Second
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = 64 << 10
	}
	if c.PeerBuffer <= 0 {
		c.PeerBuffer = 32 << 20
	}
}

// NewTCP validates cfg and starts the sink: it connects at once, and
// reconnects after failures.
func NewTCP(cfg TCPConfig) (*TCPSink, error) {
	if cfg.ServerAddress == "" {
		return nil, errors.New("cagg: serverAddress is required")
	}
	cfg.EnsureDefaults()
	if cfg.ServerPort < 0 || cfg.ServerPort > 65535 {
		return nil, errors.New("cagg: invalid serverPort")
	}
	s := &TCPSink{
		front: newFront(cfg.Name, "records", cfg.Log, cfg.MaxQueueSize, 1),
		cfg:   cfg,
		addr:  net.JoinHostPort(cfg.ServerAddress, strconv.Itoa(cfg.ServerPort)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Record serialises every metric of pd into a framed record and queues
// them. It never blocks on I/O.
func (s *TCPSink) Record(pd *sinks.PeriodicData) { s.signal(s.enqueue(pd, nil)) }

// Close writes what is queued, ends the stream and waits for the target to
// read it and close its side, all within CloseTimeout (also waiting for a
// connection); records left queued or in flight are counted as
// ClosedDrops.
func (s *TCPSink) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		close(s.stop)
		t := time.NewTimer(s.cfg.CloseTimeout)
		select {
		case <-s.done:
		case <-t.C:
			s.cancel()
			s.mu.Lock()
			if s.conn != nil {
				s.conn.Close()
			}
			s.mu.Unlock()
			<-s.done
		}
		t.Stop()
		s.cancel()
		s.mu.Lock()
		for r, ok := s.q.pop(); ok; r, ok = s.q.pop() {
			s.c.closed.Add(1)
			s.c.drop(r)
		}
		s.mu.Unlock()
	})
	return nil
}

// reconnectDelay is MAD's: ((int)(random·1.3^min(attempt, 20)) + 1)·base.
func reconnectDelay(attempt int, base time.Duration) time.Duration {
	f := rand.Float64() * math.Pow(1.3, float64(min(attempt, 20)))
	return time.Duration(int64(f)+1) * base
}

func (s *TCPSink) run() {
	defer close(s.done)
	attempt := 0
	for {
		if s.ctx.Err() != nil || s.stopping() && s.QueueLen() == 0 {
			return
		}
		d := net.Dialer{Timeout: s.cfg.ConnectTimeout, KeepAlive: 15 * time.Second}
		conn, err := d.DialContext(s.ctx, "tcp", s.addr)
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			attempt = 0
			s.c.connects.Add(1)
			s.mu.Lock()
			s.conn = conn
			s.mu.Unlock()
			err = s.serve(conn)
			s.mu.Lock()
			s.conn = nil
			s.mu.Unlock()
			conn.Close()
			if err == nil {
				return // stopping, flushed
			}
			s.log.Warn("disconnected", "cagg: connection to cluster aggregator lost", "sink", s.cfg.Name,
				"address", s.addr, "error", err)
		} else {
			s.log.Warn("connect", "cagg: cannot connect to cluster aggregator", "sink", s.cfg.Name,
				"address", s.addr, "error", err)
		}
		attempt++
		t := time.NewTimer(reconnectDelay(attempt, s.cfg.ReconnectBase))
		select {
		case <-t.C:
		case <-s.ctx.Done():
		}
		t.Stop()
	}
}

func (s *TCPSink) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// serve writes queued records and heartbeats on conn until it breaks
// (returning the error) or the sink stops with its queue flushed (nil),
// then settles the records in flight.
func (s *TCPSink) serve(conn net.Conn) error {
	f := &flight{limit: 2*s.sendBuffer(conn) + uint64(s.cfg.PeerBuffer)}
	dead := make(chan error, 1)
	go func() {
		// The Cluster Aggregator sends nothing; a read ends when the
		// connection does: io.EOF when the target closed it cleanly.
		_, err := io.Copy(io.Discard, conn)
		if err == nil {
			err = io.EOF
		}
		dead <- err
	}()
	err, peer := s.pump(conn, f, dead)
	closing := err == nil
	if closing && f.records > 0 {
		// Stopping with records in flight: end the stream and wait for
		// the target to read through its end and close its side.
		if cw, ok := conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			select {
			case peer = <-dead:
			case <-s.ctx.Done():
			}
		}
	}
	s.settle(conn, f, dead, peer, closing)
	return err
}

// pump writes queued records and heartbeats on conn until it breaks or
// the sink stops with its queue flushed (nil). peer is the reader's end,
// if pump saw it.
func (s *TCPSink) pump(conn net.Conn, f *flight, dead <-chan error) (err, peer error) {
	hb := time.NewTicker(s.cfg.HeartbeatInterval)
	defer hb.Stop()
	var buf []byte
	var batch []request
	for {
		// Flush the queue.
		for {
			buf, batch = buf[:0], batch[:0]
			s.mu.Lock()
			for len(buf) < maxWriteBatch {
				r, ok := s.q.pop()
				if !ok {
					break
				}
				buf = append(buf, r.body...)
				batch = append(batch, r)
			}
			s.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			var population uint64
			for _, r := range batch {
				population += uint64(max(r.population, 0))
			}
			// The batch is in flight from the moment it is popped: a
			// gauge never shows it neither queued nor in flight.
			s.c.inflight.Add(int64(len(batch)))
			n, err := s.write(conn, buf)
			if err != nil {
				lost := &s.c.failed
				if s.ctx.Err() != nil {
					lost = &s.c.closed
				}
				lost.Add(uint64(len(batch)))
				s.c.samplesDropped.Add(population)
				s.c.inflight.Add(-int64(len(batch)))
				return err, ended(err)
			}
			s.carried(f, n, uint64(len(batch)), population)
		}
		if s.stopping() {
			return nil, nil
		}
		select {
		case err := <-dead:
			return err, err
		case <-s.ctx.Done():
			return s.ctx.Err(), nil
		case <-s.wake:
		case <-s.stop:
		case <-hb.C:
			n, err := s.write(conn, AppendHeartbeat(buf[:0], time.Now()))
			if err != nil {
				return err, ended(err)
			}
			s.c.heartbeats.Add(1)
			s.carried(f, n, 0, 0)
		}
	}
}

// ended returns a write's error as the connection's end (pump's peer)
// when the write took the socket's error: Linux reports a reset or a
// timeout once, to the first call that asks, and the reader then sees a
// plain end of stream (read returns 0), which would pass for the target's
// clean close. A broken pipe (the stream had already ended, and the reader
// saw how), the write deadline and the sink's own close are not the
// connection's end: nil, and the reader tells.
func ended(err error) error {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// write writes b on conn within WriteTimeout and counts the write.
func (s *TCPSink) write(conn net.Conn, b []byte) (int, error) {
	if err := conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return 0, err
	}
	start := time.Now()
	n, err := conn.Write(b)
	s.c.observe(start)
	return n, err
}

// unboundedSendBuffer stands for a send buffer the sink could not bound:
// beyond what Linux grows one to by default (net.ipv4.tcp_wmem, 4 MiB).
const unboundedSendBuffer = 64 << 20

// sendBuffer bounds conn's send buffer at SendBuffer and returns what the
// socket holds at most: the kernel's figure where it tells (Linux doubles
// what was asked for), else twice what was asked for.
func (s *TCPSink) sendBuffer(conn net.Conn) uint64 {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return unboundedSendBuffer
	}
	if err := tc.SetWriteBuffer(s.cfg.SendBuffer); err != nil {
		s.log.Warn("sndbuf", "cagg: cannot bound the socket send buffer", "sink", s.cfg.Name, "error", err)
		return unboundedSendBuffer
	}
	if n := socketSendBuffer(tc); n > 0 {
		return uint64(n)
	}
	return 2 * uint64(s.cfg.SendBuffer)
}

// flight is a connection's records in flight: written, and not yet known
// read by the target.
type flight struct {
	written uint64 // bytes the connection took
	limit   uint64 // bytes after a record that prove it read
	records uint64 // in batches
	batches []flown
	head    int // batches[head:] are in flight, oldest first
}

// flown is a batch of records written at once.
type flown struct {
	end                 uint64 // offset just past its last byte
	records, population uint64
}

// maxFlown bounds the batches a flight remembers; past it a batch joins
// the newest, whose records are then known read with the later end.
const maxFlown = 4096

// carried accounts n bytes the connection took, carrying records (of
// population samples), and counts as sent the records now known read.
func (s *TCPSink) carried(f *flight, n int, records, population uint64) {
	f.written += uint64(n)
	if records > 0 {
		f.records += records
		if len(f.batches)-f.head >= maxFlown {
			b := &f.batches[len(f.batches)-1]
			b.end, b.records, b.population = f.written, b.records+records, b.population+population
		} else {
			f.batches = append(f.batches, flown{end: f.written, records: records, population: population})
		}
	}
	if f.written >= f.limit {
		s.confirm(f, f.written-f.limit)
	}
}

// confirm counts as sent the records of the batches that end at or before
// offset.
func (s *TCPSink) confirm(f *flight, offset uint64) {
	for f.head < len(f.batches) && f.batches[f.head].end <= offset {
		b := f.batches[f.head]
		f.head++
		f.records -= b.records
		s.c.sent.Add(b.records)
		s.c.samplesSent.Add(b.population)
		s.c.inflight.Add(-int64(b.records))
	}
	switch {
	case f.head == len(f.batches):
		f.batches, f.head = f.batches[:0], 0
	case f.head > len(f.batches)/2:
		f.batches = f.batches[:copy(f.batches, f.batches[f.head:])]
		f.head = 0
	}
}

// settle counts the records still in flight when conn ends; peer is the
// reader's end, if known. If the target closed its side cleanly (io.EOF),
// it had read everything its TCP acknowledged: sent. The rest is lost:
// failed, or left at close if Close gave up waiting.
func (s *TCPSink) settle(conn net.Conn, f *flight, dead <-chan error, peer error, closing bool) {
	acked, known := ackedBytes(conn) // before Close, while the socket is there
	conn.Close()
	if peer == nil {
		peer = <-dead // the reader ends with the connection
	}
	if peer == io.EOF && f.records > 0 {
		if !known && closing {
			// No TCP_INFO: the target's close, answering the end of the
			// stream, stands for its acknowledgement.
			acked, known = f.written, true
		}
		if known {
			s.confirm(f, acked)
		}
	}
	if f.records == 0 {
		return
	}
	lost, what := &s.c.failed, "failed"
	if s.ctx.Err() != nil {
		lost, what = &s.c.closed, "left at close"
	}
	var population uint64
	for _, b := range f.batches[f.head:] {
		population += b.population
	}
	lost.Add(f.records)
	s.c.samplesDropped.Add(population)
	s.c.inflight.Add(-int64(f.records))
	s.log.Warn("lost", "cagg: records in flight when the connection ended are not known read, counted "+what,
		"sink", s.cfg.Name, "address", s.addr, "records", f.records, "error", peer)
	f.batches, f.head, f.records = f.batches[:0], 0, 0
}
