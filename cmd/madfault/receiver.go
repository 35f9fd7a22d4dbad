//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gomad/mad/sinks/cagg/caggtest"
)

// Receiver modes: up takes and counts records; refuse closes the port
// (connections are refused, existing ones reset), as a stopped Cluster
// Aggregator; hang accepts connections and never answers or reads, as a
// wedged one.
const (
	modeUp     = "up"
	modeRefuse = "refuse"
	modeHang   = "hang"
)

// Frame types of MAD's Cluster Aggregator protocol (MAD-SPEC §9.3).
const (
	frameHeartbeat    = 0x03
	frameStatisticSet = 0x04
)

// caReceiver is a small Cluster Aggregator on loopback: it takes MAD's
// framed records over HTTP (one per POST, as AggregationServerHttpSink
// sends them) or over a TCP stream (AggregationServerSink), checks the
// framing with caggtest and counts them.
type caReceiver struct {
	kind string // "http" or "tcp"
	addr string // bound once, reused after a refuse

	mu      sync.Mutex
	mode    string
	ln      net.Listener
	conns   map[net.Conn]bool
	changed chan struct{} // closed at every mode change
	feed    *chanListener // http: connections for the server

	records, heartbeats, bad, recordBytes atomic.Uint64
	held                                  atomic.Int64 // connections or requests waiting in a hang
}

func newReceiver(kind string) (*caReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &caReceiver{kind: kind, addr: ln.Addr().String(), mode: modeUp, ln: ln, conns: map[net.Conn]bool{}, changed: make(chan struct{})}
	if kind == "http" {
		r.feed = &chanListener{ch: make(chan net.Conn), addr: ln.Addr(), closed: make(chan struct{})}
		srv := &http.Server{Handler: r, ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				r.mu.Lock()
				delete(r.conns, c)
				r.mu.Unlock()
			}
		}}
		go srv.Serve(r.feed)
	}
	go r.accept(ln)
	return r, nil
}

// URI is where an HTTP sink posts.
func (r *caReceiver) URI() string { return "http://" + r.addr + "/metrics/v1/data/persist" }

func (r *caReceiver) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.mode == modeRefuse {
			r.mu.Unlock()
			c.Close()
			continue
		}
		r.conns[c] = true
		r.mu.Unlock()
		if r.kind == "tcp" {
			go r.serveTCP(c)
		} else {
			select {
			case r.feed.ch <- c:
			case <-r.feed.closed:
				c.Close()
			}
		}
	}
}

// setMode switches the receiver: to refuse, the port is closed and every
// connection reset; out of a hang, the hung connections are closed (the
// sinks see them fail); out of refuse, the port is bound again.
func (r *caReceiver) setMode(mode string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.mode
	if old == mode {
		return nil
	}
	r.mode = mode
	close(r.changed)
	r.changed = make(chan struct{})
	if mode == modeRefuse || old == modeHang {
		for c := range r.conns {
			c.Close()
			delete(r.conns, c)
		}
	}
	switch {
	case mode == modeRefuse:
		return r.ln.Close()
	case old == modeRefuse:
		ln, err := net.Listen("tcp", r.addr)
		if err != nil {
			return fmt.Errorf("binding %s again: %w", r.addr, err)
		}
		r.ln = ln
		go r.accept(ln)
	}
	return nil
}

// serving waits while the receiver hangs; it reports whether the
// connection may be served (false: it was closed meanwhile, or the
// receiver refuses).
func (r *caReceiver) serving() bool {
	r.mu.Lock()
	mode, changed := r.mode, r.changed
	r.mu.Unlock()
	if mode == modeHang {
		// Out of a hang every connection is closed.
		r.held.Add(1)
		<-changed
		r.held.Add(-1)
		return false
	}
	return mode == modeUp
}

func (r *caReceiver) forget(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

// count checks and counts the frames of b.
func (r *caReceiver) count(b []byte) {
	for len(b) > 0 {
		f, rest, err := caggtest.ReadFrame(b)
		if err != nil {
			r.bad.Add(1)
			return
		}
		switch f.Type {
		case frameStatisticSet:
			r.records.Add(1)
			r.recordBytes.Add(uint64(len(b) - len(rest)))
		case frameHeartbeat:
			r.heartbeats.Add(1)
		default:
			r.bad.Add(1)
		}
		b = rest
	}
}

// serveTCP reads and counts the frames of one connection while the
// receiver serves. When it stops (a hang ends, or it refuses), the whole
// frames it had already read from the connection are counted too: the
// target read them, as a Cluster Aggregator's process holds what its
// reads returned (buffered).
func (r *caReceiver) serveTCP(c net.Conn) {
	defer r.forget(c)
	br := bufio.NewReaderSize(c, 256<<10)
	var frame []byte
	for r.serving() {
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n < 5 || n > 64<<20 {
			r.bad.Add(1)
			return
		}
		frame = append(append(frame[:0], hdr[:]...), make([]byte, n-4)...)
		if _, err := io.ReadFull(br, frame[4:]); err != nil {
			return
		}
		r.count(frame)
	}
	r.buffered(br)
}

// buffered counts the whole frames br holds, reading nothing more from
// its connection.
func (r *caReceiver) buffered(br *bufio.Reader) {
	for br.Buffered() >= 4 {
		hdr, _ := br.Peek(4)
		n := int(binary.BigEndian.Uint32(hdr))
		if n < 5 || n > br.Buffered() {
			return
		}
		frame, _ := br.Peek(n)
		r.count(frame)
		br.Discard(n)
	}
}

// ServeHTTP takes one POST of records.
func (r *caReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !r.serving() {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	r.count(body)
	w.WriteHeader(http.StatusOK)
}

// close stops the receiver.
func (r *caReceiver) close() {
	r.setMode(modeRefuse)
	if r.feed != nil {
		r.feed.Close()
	}
}

// chanListener hands the connections the receiver accepted to its HTTP
// server.
type chanListener struct {
	ch     chan net.Conn
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
