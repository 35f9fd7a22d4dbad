package grpcunary

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Code is a gRPC status code (grpc/grpc doc/statuscodes.md).
type Code uint32

// The status codes.
const (
	OK                 Code = 0
	Canceled           Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
	numCodes                = 17
)

var codeNames = [numCodes]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// String returns the code's name in the specification ("UNAVAILABLE").
func (c Code) String() string {
	if c < numCodes {
		return codeNames[c]
	}
	return "CODE(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// codeValues holds the grpc-status header value of each code, so that
// writing a status allocates nothing.
var codeValues = func() (v [numCodes][]string) {
	for c := range v {
		v[c] = []string{strconv.Itoa(c)}
	}
	return v
}()

// Detail is one google.protobuf.Any of a google.rpc.Status's details: the
// type URL ("type.googleapis.com/google.rpc.RetryInfo") and the message's
// encoding.
type Detail struct {
	TypeURL string
	Value   []byte
}

// RetryInfoTypeURL is the type URL of google.rpc.RetryInfo.
const RetryInfoTypeURL = "type.googleapis.com/google.rpc.RetryInfo"

// RetryInfo returns a google.rpc.RetryInfo detail whose retry_delay is
// delay (negative delays are 0). OTLP exporters wait at least that long
// before they retry a call that failed with it (otlpmetricgrpc's
// throttleDelay).
func RetryInfo(delay time.Duration) Detail {
	delay = max(delay, 0)
	// google.protobuf.Duration{seconds = 1 (int64), nanos = 2 (int32)}.
	var d []byte
	if s := int64(delay / time.Second); s != 0 {
		d = protowire.AppendTag(d, 1, protowire.VarintType)
		d = protowire.AppendVarint(d, uint64(s))
	}
	if n := int64(delay % time.Second); n != 0 {
		d = protowire.AppendTag(d, 2, protowire.VarintType)
		d = protowire.AppendVarint(d, uint64(n))
	}
	// RetryInfo{retry_delay = 1}.
	v := protowire.AppendTag(nil, 1, protowire.BytesType)
	v = protowire.AppendBytes(v, d)
	return Detail{TypeURL: RetryInfoTypeURL, Value: v}
}

// Status is a gRPC status: the error a handler answers a call with. It is
// immutable once made, and its header values are encoded when it is made,
// so one Status can answer any number of calls, from any goroutine,
// without allocating.
type Status struct {
	code    Code
	msg     string
	details []Detail
	http    int   // the HTTP status of the answer: 200, or a refusal's
	cause   error // what made it, if anything (Unwrap): a read error, ErrWireTooLarge

	hMessage []string // grpc-message, nil when the message is empty
	hDetails []string // grpc-status-details-bin, nil without details
}

// New returns a status with code c, message msg and details.
func New(c Code, msg string, details ...Detail) *Status {
	return newStatus(http.StatusOK, c, msg, details...)
}

// Newf returns a status with code c and a formatted message.
func Newf(c Code, format string, a ...any) *Status {
	return newStatus(http.StatusOK, c, fmt.Sprintf(format, a...))
}

// Unwrap returns what made the status, if anything: the error a body read
// returned, or ErrWireTooLarge.
func (s *Status) Unwrap() error { return s.cause }

// NewUnavailable returns UNAVAILABLE with msg and a RetryInfo of delay:
// what a call is refused with when it cannot be taken now but may be
// later (the aggregator is saturated). Make it once and reuse it.
func NewUnavailable(msg string, delay time.Duration) *Status {
	return New(Unavailable, msg, RetryInfo(delay))
}

func newStatus(httpStatus int, c Code, msg string, details ...Detail) *Status {
	if c == OK {
		panic("BUG: grpcunary: a Status is an error; OK is answered with WriteResponse")
	}
	s := &Status{code: c, msg: msg, details: details, http: httpStatus}
	if msg != "" {
		s.hMessage = []string{encodeMessage(msg)}
	}
	if len(details) > 0 {
		s.hDetails = []string{base64.RawStdEncoding.EncodeToString(s.AppendProto(nil))}
	}
	return s
}

// Code returns the status code.
func (s *Status) Code() Code { return s.code }

// Message returns the status message, as given (not percent-encoded).
func (s *Status) Message() string { return s.msg }

// Details returns the status details; the caller must not change them.
func (s *Status) Details() []Detail { return s.details }

// HTTPStatus returns the HTTP status the status is answered with: 200
// for a gRPC error, or a refusal's (405, 415, 400, 505) when the request
// was not a gRPC call this package can serve.
func (s *Status) HTTPStatus() int { return s.http }

// Error returns "grpc: CODE: message".
func (s *Status) Error() string {
	return "grpc: " + s.code.String() + ": " + s.msg
}

// AppendProto appends the google.rpc.Status encoding of s (code = 1,
// message = 2, details = 3, each a google.protobuf.Any {type_url = 1,
// value = 2}) to dst: the value of grpc-status-details-bin before base64.
func (s *Status) AppendProto(dst []byte) []byte {
	dst = protowire.AppendTag(dst, 1, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(int64(int32(s.code))))
	if s.msg != "" {
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendString(dst, s.msg)
	}
	for _, d := range s.details {
		n := protowire.SizeTag(1) + protowire.SizeBytes(len(d.TypeURL))
		if len(d.Value) > 0 {
			n += protowire.SizeTag(2) + protowire.SizeBytes(len(d.Value))
		}
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(n))
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendString(dst, d.TypeURL)
		if len(d.Value) > 0 {
			dst = protowire.AppendTag(dst, 2, protowire.BytesType)
			dst = protowire.AppendBytes(dst, d.Value)
		}
	}
	return dst
}

// encodeMessage percent-encodes msg for grpc-message as the specification
// and grpc-go's encodeGrpcMessage do: bytes of printable ASCII (0x20-0x7E)
// but '%' pass, every other byte is %XX (upper-case hex) of its UTF-8
// encoding, and invalid UTF-8 is first replaced by U+FFFD.
func encodeMessage(msg string) string {
	clean := true
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(msg)*3)
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRuneInString(msg[i:])
		var p []byte
		if r == utf8.RuneError && size == 1 {
			p = []byte(string(utf8.RuneError))
		} else {
			p = []byte(msg[i : i+size])
		}
		i += size
		for _, c := range p {
			if c >= ' ' && c <= '~' && c != '%' {
				b = append(b, c)
			} else {
				b = append(b, '%', hex[c>>4], hex[c&15])
			}
		}
	}
	return string(b)
}
