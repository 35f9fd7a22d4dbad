package cagg

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
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
	// CloseTimeout bounds how long Close flushes the queue (default 10 s).
	CloseTimeout time.Duration
	// Log receives warnings (default slog.Default()); they are throttled.
	Log *slog.Logger
}

// TCPSink is MAD's AggregationServerSink: framed StatisticSetRecords (one
// per metric of every bucket) and a HeartbeatRecord every
// HeartbeatInterval on a TCP stream to the Cluster Aggregator.
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

// Close writes what is queued, waiting at most CloseTimeout (also for a
// connection), then closes the connection; records left are counted as
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
// (returning the error) or the sink stops with its queue flushed (nil).
func (s *TCPSink) serve(conn net.Conn) error {
	dead := make(chan error, 1)
	go func() {
		// The Cluster Aggregator sends nothing; a read ends when the
		// connection does.
		_, err := io.Copy(io.Discard, conn)
		if err == nil {
			err = io.EOF
		}
		dead <- err
	}()
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
			if err := s.write(conn, buf); err != nil {
				for _, r := range batch {
					s.c.failed.Add(1)
					s.c.drop(r)
				}
				return err
			}
			for _, r := range batch {
				s.c.sent.Add(1)
				s.c.samplesSent.Add(uint64(max(r.population, 0)))
			}
		}
		if s.stopping() {
			return nil
		}
		select {
		case err := <-dead:
			return err
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-s.wake:
		case <-s.stop:
		case <-hb.C:
			if err := s.write(conn, AppendHeartbeat(buf[:0], time.Now())); err != nil {
				return err
			}
			s.c.heartbeats.Add(1)
		}
	}
}

func (s *TCPSink) write(conn net.Conn, b []byte) error {
	if err := conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return err
	}
	_, err := conn.Write(b)
	return err
}
