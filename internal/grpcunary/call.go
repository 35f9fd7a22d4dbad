package grpcunary

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// Encoding is the compression of a request's message (grpc-encoding).
type Encoding uint8

// The encodings a Reader decompresses.
const (
	Identity Encoding = iota // no grpc-encoding, or "identity"
	Gzip                     // "gzip"
)

// AcceptEncoding is the grpc-accept-encoding this package answers with:
// the encodings it reads.
const AcceptEncoding = "identity,gzip"

// Call is what a request's headers say about a call.
type Call struct {
	// Encoding is the compression of the request message.
	Encoding Encoding
	// Timeout is the client's grpc-timeout; HasTimeout says whether it sent
	// one.
	Timeout    time.Duration
	HasTimeout bool
	// Deadline is when ParseCall saw the request plus Timeout (the zero
	// time without one): the client gives up on the call then, and a
	// handler need not work past it.
	Deadline time.Time
}

// The canonical header keys this package reads, so that reading them
// allocates nothing.
const (
	hdrContentType    = "Content-Type"
	hdrGrpcEncoding   = "Grpc-Encoding"
	hdrGrpcTimeout    = "Grpc-Timeout"
	hdrGrpcAcceptEnc  = "Grpc-Accept-Encoding"
	hdrGrpcStatus     = "Grpc-Status"
	hdrGrpcMessage    = "Grpc-Message"
	hdrGrpcDetailsBin = "Grpc-Status-Details-Bin"
)

// ParseCall checks that r is a gRPC call this package serves and returns
// what its headers say. The checks and their answers are grpc-go's
// ServeHTTP's, in its order:
//   - a method other than POST: HTTP 405 (Allow: POST), INTERNAL;
//   - a content type other than application/grpc, application/grpc+proto
//     or application/grpc;params: HTTP 415, INVALID_ARGUMENT (grpc-go
//     takes any +subtype and decodes it as proto, "to fail in future
//     releases"; mad reads only protobuf, so it refuses the others now);
//   - HTTP/1: HTTP 505 ("gRPC requires HTTP/2"), UNIMPLEMENTED;
//   - a malformed grpc-timeout: HTTP 400, INTERNAL;
//   - a grpc-encoding other than identity and gzip: UNIMPLEMENTED, with
//     grpc-accept-encoding (WriteError writes it on every error).
//
// The error is a *Status; answer it with WriteError. TE is not read:
// grpc-go's server does not require "te: trailers" either.
func ParseCall(r *http.Request) (Call, error) {
	var c Call
	if r.Method != http.MethodPost {
		return c, errMethod
	}
	ct := r.Header[hdrContentType]
	if len(ct) == 0 || !validContentType(ct[0]) {
		v := ""
		if len(ct) > 0 {
			v = ct[0]
		}
		return c, newStatus(http.StatusUnsupportedMediaType, InvalidArgument, "invalid gRPC request content-type "+quote(v))
	}
	if r.ProtoMajor != 2 {
		return c, errHTTP1
	}
	if v := r.Header[hdrGrpcTimeout]; len(v) > 0 {
		d, ok := ParseTimeout(v[0])
		if !ok {
			return c, newStatus(http.StatusBadRequest, Internal, "malformed grpc-timeout: "+quote(v[0]))
		}
		c.Timeout, c.HasTimeout = d, true
		c.Deadline = time.Now().Add(d)
	}
	if v := r.Header[hdrGrpcEncoding]; len(v) > 0 {
		switch v[0] {
		case "", "identity":
		case "gzip":
			c.Encoding = Gzip
		default:
			return c, Newf(Unimplemented, "grpc: Decompressor is not installed for grpc-encoding %q", v[0])
		}
	}
	return c, nil
}

var (
	errMethod = newStatus(http.StatusMethodNotAllowed, Internal, "invalid gRPC request method: want POST")
	errHTTP1  = newStatus(http.StatusHTTPVersionNotSupported, Unimplemented, "gRPC requires HTTP/2")
)

// validContentType reports whether v is application/grpc, optionally
// followed by "+proto" or by ";" and parameters (ASCII case aside, as
// media types are).
func validContentType(v string) bool {
	const base = "application/grpc"
	if len(v) < len(base) || !strings.EqualFold(v[:len(base)], base) {
		return false
	}
	rest := v[len(base):]
	if rest == "" || rest[0] == ';' {
		return true
	}
	if rest[0] != '+' {
		return false
	}
	sub := rest[1:]
	if i := strings.IndexByte(sub, ';'); i >= 0 {
		sub = sub[:i]
	}
	return strings.EqualFold(sub, "proto")
}

// quote returns v in double quotes with bytes outside printable ASCII
// escaped, for messages that repeat what a client sent.
func quote(v string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(v)+2)
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= ' ' && c <= '~':
			b = append(b, c)
		default:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		}
	}
	return string(append(b, '"'))
}

// ParseTimeout parses a grpc-timeout value: 1 to 8 ASCII digits and a
// unit, H (hours), M (minutes), S (seconds), m (milliseconds), u
// (microseconds) or n (nanoseconds). Hours past what a time.Duration
// holds are clamped to its maximum, as grpc-go does.
func ParseTimeout(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 9 {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	var n int64
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	// n < 10^8; only hours can pass math.MaxInt64 nanoseconds.
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64, true
	}
	return time.Duration(n) * unit, true
}
