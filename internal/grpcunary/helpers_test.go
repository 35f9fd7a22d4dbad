package grpcunary

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
)

// exportMethod is the path of OTLP's metrics export call.
const exportMethod = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

// unaryServer is a handler built on the package as the OTLP source uses
// it: a pool of Readers, the call refused or taken whole, the response
// message framed in a reused buffer.
type unaryServer struct {
	maxMessage int
	// answer returns the response message for a call, or the status to
	// refuse it with; msg is valid only during the call.
	answer  func(c Call, msg []byte) ([]byte, error)
	readers sync.Pool
	frames  sync.Pool
}

func (s *unaryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call, err := ParseCall(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	rd, _ := s.readers.Get().(*Reader)
	if rd == nil {
		rd = &Reader{MaxMessage: s.maxMessage}
	}
	defer s.readers.Put(rd)
	msg, err := rd.ReadMessage(r.Body, call.Encoding)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp, err := s.answer(call, msg)
	if err != nil {
		WriteError(w, err)
		return
	}
	fb, _ := s.frames.Get().(*[]byte)
	if fb == nil {
		fb = new([]byte)
	}
	defer s.frames.Put(fb)
	b := BeginFrame((*fb)[:0])
	b = append(b, resp...)
	*fb = b
	_ = WriteResponse(w, EndFrame(b))
}

// serveH2C serves h on a loopback port as engine's server does (HTTP/1.1,
// h2c with prior knowledge, h2 by ALPN) and returns its address.
func serveH2C(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// serveTLS serves h over TLS (h2 and http/1.1 by ALPN, as engine's
// listenTLS) with a certificate made for the test, and returns the
// address and a pool that trusts the certificate.
func serveTLS(t testing.TB, h http.Handler) (string, *x509.CertPool) {
	t.Helper()
	cert, pool := testCertificate(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	srv := newHTTPServer(h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return raw.Addr().String(), pool
}

func newHTTPServer(h http.Handler) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	return &http.Server{Handler: h, Protocols: &protos, ReadHeaderTimeout: time.Minute}
}

// testCertificate returns a self-signed certificate for 127.0.0.1 and a
// pool that trusts it.
func testCertificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "grpcunary test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}

// rawCodec passes messages through grpc-go as they are: a *[]byte is the
// message's encoding. Its name makes the content type
// application/grpc+proto.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, errors.New("rawCodec: not a *[]byte")
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return errors.New("rawCodec: not a *[]byte")
	}
	*b = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// tlsConfig is a client configuration that trusts pool.
func tlsConfig(pool *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: pool} }
