package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/ingest"
	sm "github.com/gomad/mad/internal/selfmetric"
)

func (d *Daemon) listen(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	d.serve(ln)
	return nil
}

// track makes ln's connections trackedConns, which count the refusals the
// server makes without a handler.
func (d *Daemon) track(ln net.Listener) net.Listener {
	return &trackingListener{Listener: ln, refused: d.refusals()}
}

// newServer returns the control-plane server: HTTP/1.1 with keep-alive and
// HTTP/2 (cleartext with prior knowledge, as MAD's enable-http2 serves
// OTLP gRPC on 7090; over TLS by ALPN on the HTTPS port).
func (d *Daemon) newServer() *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           d,
		Protocols:         &protos,
		ReadTimeout:       d.cfg.HTTP.ReadTimeout,
		ReadHeaderTimeout: d.cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       d.cfg.HTTP.IdleTime,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
		ConnState:         connState,
		ConnContext:       connContext,
	}
}

func (d *Daemon) serve(ln net.Listener) {
	srv := d.newServer()
	d.ln, d.srv = ln, srv
	ln = d.track(ln)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server", "err", err)
		}
	}()
}

// listenTLS serves the same routes over TLS on httpsHost:httpsPort (MAD's
// enableHttps), with the PEM certificate and key of the configuration.
func (d *Daemon) listenTLS(m *config.MainSpec) error {
	cert, err := m.Certificate() // the check -check-config runs too
	if err != nil {
		return err
	}
	raw, err := net.Listen("tcp", m.HTTPSAddr())
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", m.HTTPSAddr(), err)
	}
	d.serveTLS(raw, &cert)
	return nil
}

// serveTLS serves the routes over TLS on raw with cert. The certificate is
// read at each handshake from d.tlsCert, so a reload that changes only the
// certificate or key swaps it without closing the listener.
func (d *Daemon) serveTLS(raw net.Listener, cert *tls.Certificate) {
	d.tlsCert.Store(cert)
	ln := tls.NewListener(d.track(raw), &tls.Config{NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return d.tlsCert.Load(), nil }})
	srv := d.newServer()
	d.tln, d.tsrv = ln, srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("https server", "err", err)
		}
	}()
}

// HTTPSAddr returns the TLS server's bound address, nil if it does not run.
func (d *Daemon) HTTPSAddr() net.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tln == nil {
		return nil
	}
	return d.tln.Addr()
}

// The requests refused before a source takes them: by net/http's server
// itself (a header that does not arrive in time, one it cannot parse) and
// by the routes (no such route, no source of an ingest route, a wrong
// method). What a source refuses, it counts itself
// (mad_source_request_refusals_total).
//
// net/http answers a malformed request, or drops a connection whose header
// is late, without calling any handler and without a hook that says why.
// The daemon sees it through the connections: every accepted connection
// (under TLS, the connection beneath it) is a trackedConn, to which the
// server's ConnState hook reports the connection's state and the handler
// reports that it took the current request. A read that fails on its
// deadline while the server waits for a request header (on a new
// connection, or an idle one on which part of a request arrived) is a
// header timeout; an answer the server writes for a request no handler
// took is a refusal, whose status says why. Over TLS the server's answers
// are encrypted beneath the hook: there only header timeouts (and a plain
// HTTP request sent to the HTTPS port) are seen.

// serverRefusal is why the server or the routes refused a request.
type serverRefusal uint8

const (
	// refusedHeaderTimeout: no complete request header within
	// httpReadHeaderTimeout (slowloris), or, on a new connection, no byte
	// at all (also the TLS handshake's timeout).
	refusedHeaderTimeout serverRefusal = iota
	// refusedMalformed: a 400 from the server: a request line or header it
	// cannot parse, a malformed or repeated Content-Length, a missing
	// Host, or a plain HTTP request on the HTTPS port.
	refusedMalformed
	refusedHeaderTooLarge   // 431: the header exceeds 1 MiB
	refusedTransferEncoding // 501: a Transfer-Encoding other than chunked
	refusedExpectation      // 417: an Expect other than 100-continue
	refusedVersion          // 505: an HTTP version the server does not speak
	refusedServerOther      // any other answer of the server to a request no handler took
	refusedNotFound         // 404: no such route
	refusedNoSource         // 404: an ingest route no running pipeline serves
	refusedMethodNotAllowed // 405
	numServerRefusals
)

var serverRefusalNames = [numServerRefusals]string{
	"header_timeout", "malformed", "header_too_large", "transfer_encoding", "expectation", "version",
	"server_other", "not_found", "no_source", "method_not_allowed",
}

// httpRefusals counts the refusals of the daemon's servers and routes.
type httpRefusals struct {
	n [numServerRefusals]atomic.Uint64
}

func (h *httpRefusals) add(r serverRefusal) { h.n[r].Add(1) }

// routed counts what the routes answered a request with, if a refusal.
func (h *httpRefusals) routed(path string, status int) {
	switch status {
	case http.StatusNotFound:
		if slices.ContainsFunc(ingest.HTTPKinds(), func(k ingest.HTTPKind) bool { return k.Path() == path }) {
			h.add(refusedNoSource)
		} else {
			h.add(refusedNotFound)
		}
	case http.StatusMethodNotAllowed:
		h.add(refusedMethodNotAllowed)
	}
}

// answered counts an answer the server wrote for a request no handler
// took, by its status (the three digits of its status line).
func (h *httpRefusals) answered(status []byte) {
	switch string(status) {
	case "400":
		h.add(refusedMalformed)
	case "431":
		h.add(refusedHeaderTooLarge)
	case "501":
		h.add(refusedTransferEncoding)
	case "417":
		h.add(refusedExpectation)
	case "505":
		h.add(refusedVersion)
	default:
		h.add(refusedServerOther)
	}
}

// Report reports the counters.
func (h *httpRefusals) Report(emit func(sm.Value)) {
	for r := range h.n {
		emit(sm.Value{Name: "mad_http_refusals_total", Kind: sm.Counter, Labels: []string{"reason", serverRefusalNames[r]}, V: float64(h.n[r].Load()),
			Help: "HTTP requests refused before a source took them, by reason: header_timeout (slowloris), malformed (a 400 of the server: request line, header, Content-Length), header_too_large, transfer_encoding, expectation, version, server_other, not_found, no_source (an ingest route without a running source), method_not_allowed."})
	}
}

// trackingListener makes every accepted connection a trackedConn.
type trackingListener struct {
	net.Listener
	refused *httpRefusals
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &trackedConn{Conn: c, refused: l.refused}, nil
}

// trackedConn is a server connection that notices refusals the server
// makes without a handler.
type trackedConn struct {
	net.Conn
	refused *httpRefusals
	state   atomic.Uint32 // the last http.ConnState reported
	routed  atomic.Bool   // a handler took the current request
	// Since the connection last went idle: whether bytes arrived, and how
	// many read deadlines the server set (the first is the keep-alive
	// wait's, a second one the next request header's).
	pending   atomic.Bool
	deadlines atomic.Int32
	abort     atomic.Bool // the read deadline was set in the past: the server interrupting its own read
	timedOut  atomic.Bool // a header timeout was counted
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.pending.Load() {
		c.pending.Store(true)
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !c.routed.Load() && !c.abort.Load() && c.waitsForHeader() &&
		c.timedOut.CompareAndSwap(false, true) {
		c.refused.add(refusedHeaderTimeout)
	}
	return n, err
}

// waitsForHeader reports whether the server is reading a request header:
// on a new connection, or on an idle one once the next request began
// (bytes of it arrived, or the server set the header's deadline). Idle
// otherwise, the server waits for a next request, and its deadline is
// the keep-alive timeout: no refusal.
func (c *trackedConn) waitsForHeader() bool {
	switch http.ConnState(c.state.Load()) {
	case http.StateNew:
		return true
	case http.StateIdle:
		return c.pending.Load() || c.deadlines.Load() > 1
	}
	return false
}

func (c *trackedConn) Write(p []byte) (int, error) {
	// The server's own answers start a write with a status line; a
	// handler's come only after it took the request. A header that timed
	// out may still be answered (400, for a partial line): counted once.
	if len(p) >= 12 && !c.routed.Load() && !c.timedOut.Load() && string(p[:7]) == "HTTP/1." && p[8] == ' ' {
		c.refused.answered(p[9:12])
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.readDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *trackedConn) SetDeadline(t time.Time) error {
	c.readDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *trackedConn) readDeadline(t time.Time) {
	c.abort.Store(!t.IsZero() && !t.After(time.Now()))
	c.deadlines.Add(1)
}

// CloseWrite half-closes a TCP connection: the server does so before
// closing a connection whose request body it did not read, so that the
// client gets the answer instead of a reset.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// trackedOf returns the trackedConn of a server connection (beneath TLS,
// or beneath the stand-in *tls.Conn net/http makes for h2c), nil if it is
// none.
func trackedOf(c net.Conn) *trackedConn {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if u, ok := c.(interface{ UnencryptedNetConn() net.Conn }); ok {
		c = u.UnencryptedNetConn()
	}
	tc, _ := c.(*trackedConn)
	return tc
}

// connState is the server's ConnState hook.
func connState(c net.Conn, s http.ConnState) {
	tc := trackedOf(c)
	if tc == nil {
		return
	}
	if s == http.StateIdle {
		tc.routed.Store(false)
		tc.pending.Store(false)
		tc.deadlines.Store(0)
	}
	tc.state.Store(uint32(s))
}

type trackedKey struct{}

// connContext is the server's ConnContext hook: requests carry their
// connection, so that the handler can say it took them (markRouted).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc := trackedOf(c); tc != nil {
		return context.WithValue(ctx, trackedKey{}, tc)
	}
	return ctx
}

// markRouted records that a handler took r.
func markRouted(r *http.Request) {
	if tc, ok := r.Context().Value(trackedKey{}).(*trackedConn); ok && !tc.routed.Load() {
		tc.routed.Store(true)
	}
}
