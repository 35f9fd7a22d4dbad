package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/gomad/mad/engine/config"
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
	}
}

func (d *Daemon) serve(ln net.Listener) {
	srv := d.newServer()
	d.ln, d.srv = ln, srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server", "err", err)
		}
	}()
}

// listenTLS serves the same routes over TLS on httpsHost:httpsPort (MAD's
// enableHttps), with the PEM certificate and key of the configuration.
func (d *Daemon) listenTLS(m *config.MainSpec) error {
	cert, err := tls.LoadX509KeyPair(m.HTTPSCertificate, m.HTTPSKeyPath)
	if err != nil {
		return fmt.Errorf("enableHttps: cannot load httpsCertificatePath %s and httpsKeyPath %s: %w", m.HTTPSCertificate, m.HTTPSKeyPath, err)
	}
	addr := m.HTTPSAddr()
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	srv := d.newServer()
	d.tln, d.tsrv = ln, srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("https server", "err", err)
		}
	}()
	return nil
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
