package ingest

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A TCP destination of a relaying source is one connection, shared by the
// source's loops through a bounded queue (a channel of packed chunks) and
// written by a goroutine of its own, so that a loop never waits on it. The
// destination is up while connected: the loops route around it as soon as
// a write fails or the connection cannot be made, and back once it is
// made again. Lines are forwarded byte for byte, each ending in '\n', in
// the chunks the loops packed.

// relayChunk is a packed run of lines.
type relayChunk struct {
	b     []byte
	lines int
}

// relayTCP is a TCP destination's writer.
type relayTCP struct {
	addr    string
	up      *atomic.Bool
	timeout time.Duration
	ch      chan relayChunk
	free    chan []byte
	quit    chan struct{}
	done    chan struct{}
	log     *slog.Logger
	source  string
	// lost counts the lines of chunks a failed write lost; lines, chunks
	// and bytes what was written (a destination's mad_relay_*_total: a
	// chunk counts once it is written, not when a loop queues it).
	lost                 atomic.Uint64
	lines, chunks, bytes atomic.Uint64
	stopOnce             sync.Once
	// conn is the connection being written (stop sets a deadline on it so
	// that a stuck destination cannot hold the stop).
	conn atomic.Pointer[net.TCPConn]
}

const (
	relayTCPBackoffMin = 50 * time.Millisecond
	relayTCPBackoffMax = 5 * time.Second
)

// startRelayTCP starts the writer of a TCP destination; queue bounds its
// chunks in flight. It tries to connect once before it returns, so that a
// destination that is there is up from the start.
func startRelayTCP(addr string, queue int, up *atomic.Bool, timeout time.Duration, log *slog.Logger, source string) *relayTCP {
	w := &relayTCP{addr: addr, up: up, timeout: timeout, ch: make(chan relayChunk, queue), free: make(chan []byte, queue),
		quit: make(chan struct{}), done: make(chan struct{}), log: log, source: source}
	var conn *net.TCPConn
	if c, err := net.DialTimeout("tcp", addr, timeout); err == nil {
		conn = c.(*net.TCPConn)
		w.conn.Store(conn)
	}
	up.Store(conn != nil)
	go w.run(conn)
	return w
}

// run writes the chunks the loops queue, without a deadline: a destination
// that stops reading holds its writer, its queue fills and the loops count
// what it refuses (queue_full); a deadline would cut a line in two.
func (w *relayTCP) run(conn *net.TCPConn) {
	defer close(w.done)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := relayTCPBackoffMin
	for {
		if conn == nil {
			c, err := net.DialTimeout("tcp", w.addr, w.timeout)
			if err != nil {
				select {
				case <-w.quit:
					w.dropQueued()
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, relayTCPBackoffMax)
				continue
			}
			conn, backoff = c.(*net.TCPConn), relayTCPBackoffMin
			w.conn.Store(conn)
			w.up.Store(true)
			w.log.Info("relay destination connected", "source", w.source, "destination", "tcp://"+w.addr)
		}
		select {
		case <-w.quit: // the loops have sent their last chunks: write what is queued
			for {
				select {
				case c := <-w.ch:
					if conn != nil && !w.write(conn, c) {
						conn.Close()
						conn = nil
						w.conn.Store(nil)
					} else if conn == nil {
						w.lost.Add(uint64(c.lines))
					}
				default:
					return
				}
			}
		case c := <-w.ch:
			if !w.write(conn, c) {
				conn.Close()
				conn = nil
				w.conn.Store(nil)
				w.up.Store(false)
				w.log.Warn("relay destination down: its series go to the others", "source", w.source, "destination", "tcp://"+w.addr)
			}
		}
	}
}

// write writes a chunk whole, or counts its lines as lost; it gives the
// buffer back either way.
func (w *relayTCP) write(conn net.Conn, c relayChunk) bool {
	_, err := conn.Write(c.b)
	if err != nil {
		w.lost.Add(uint64(c.lines))
	} else {
		w.lines.Add(uint64(c.lines))
		w.chunks.Add(1)
		w.bytes.Add(uint64(len(c.b)))
	}
	select {
	case w.free <- c.b[:0]:
	default:
	}
	return err == nil
}

// dropQueued counts what is queued as lost (the writer stops unconnected).
func (w *relayTCP) dropQueued() {
	for {
		select {
		case c := <-w.ch:
			w.lost.Add(uint64(c.lines))
		default:
			return
		}
	}
}

// stop writes what is queued (each write bounded by the timeout) and
// closes the connection; call it once no loop sends any more.
func (w *relayTCP) stop() {
	w.stopOnce.Do(func() {
		close(w.quit)
		if c := w.conn.Load(); c != nil { // what is queued gets this long
			c.SetWriteDeadline(time.Now().Add(w.timeout))
		}
	})
	<-w.done
}

// relayTCPSender is a loop's side of a TCP destination: it hands chunks to
// the writer's queue without waiting.
type relayTCPSender struct{ w *relayTCP }

func (s relayTCPSender) send(dgs []relayDatagram) (int, error) {
	for i, dg := range dgs {
		var b []byte
		select {
		case b = <-s.w.free:
		default:
		}
		select {
		case s.w.ch <- relayChunk{b: append(b, dg.b...), lines: dg.lines}:
		default:
			return i, errRelayWouldBlock
		}
	}
	return len(dgs), nil
}

func (s relayTCPSender) close() error { return nil } // the source stops the writer
