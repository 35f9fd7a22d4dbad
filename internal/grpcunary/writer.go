package grpcunary

import (
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"strconv"
)

// Shared header values: net/http reads them and never changes them, so
// answering a call puts no new slice in the header map.
var (
	valContentType    = []string{"application/grpc"}
	valAcceptEncoding = []string{AcceptEncoding}
	valAllowPost      = []string{http.MethodPost}
	valTrailerStatus  = []string{hdrGrpcStatus}
	valTextPlain      = []string{"text/plain; charset=utf-8"}
)

// BeginFrame appends the 5-byte prefix of a message to dst, to be
// completed by EndFrame once the message is appended after it:
//
//	start := len(buf)
//	buf = grpcunary.BeginFrame(buf)
//	buf = appendResponse(buf) // the message's encoding
//	grpcunary.EndFrame(buf[start:])
func BeginFrame(dst []byte) []byte {
	return append(dst, 0, 0, 0, 0, 0)
}

// EndFrame writes into frame's prefix (flag 0, not compressed) the length
// of the message that follows it, and returns frame.
func EndFrame(frame []byte) []byte {
	if len(frame) < HeaderLen || len(frame)-HeaderLen > math.MaxUint32 {
		panic("BUG: grpcunary: EndFrame of " + strconv.Itoa(len(frame)) + " bytes, not a frame begun by BeginFrame")
	}
	frame[0] = 0
	binary.BigEndian.PutUint32(frame[1:HeaderLen], uint32(len(frame)-HeaderLen))
	return frame
}

// WriteResponse answers a call with success: the response headers, frame
// (one message as BeginFrame and EndFrame make it) and the trailer
// grpc-status: 0. It returns what writing the frame returned (the client
// may be gone). net/http sends the headers and a frame of up to 4 KiB
// when the handler returns, a larger one as its buffer fills, and the
// trailer last.
func WriteResponse(w http.ResponseWriter, frame []byte) error {
	if len(frame) < HeaderLen || int(binary.BigEndian.Uint32(frame[1:HeaderLen])) != len(frame)-HeaderLen {
		panic("BUG: grpcunary: WriteResponse of a frame EndFrame did not complete")
	}
	h := w.Header()
	h["Date"] = nil // gRPC has no use for it; net/http formats it per response otherwise
	h[hdrContentType] = valContentType
	h["Trailer"] = valTrailerStatus
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(frame)
	h[hdrGrpcStatus] = codeValues[OK]
	return err
}

// WriteError answers a call with err, trailers-only: one HEADERS frame
// that ends the stream, with grpc-status, grpc-message (percent-encoded)
// and grpc-status-details-bin (base64 of the google.rpc.Status, unpadded),
// and grpc-accept-encoding. Its HTTP status is 200, or a refusal's (405
// with Allow: POST, 415, 400, 505) for what ParseCall refuses. An err that
// is not a *Status is answered as UNKNOWN with err's text, as grpc-go
// answers a handler's plain error. WriteError must come before anything
// else is written.
func WriteError(w http.ResponseWriter, err error) {
	var s *Status
	if !errors.As(err, &s) {
		s = New(Unknown, err.Error())
	}
	h := w.Header()
	h["Date"] = nil
	h[hdrContentType] = valContentType
	if s.code < numCodes {
		h[hdrGrpcStatus] = codeValues[s.code]
	} else {
		h[hdrGrpcStatus] = []string{strconv.FormatUint(uint64(s.code), 10)}
	}
	if s.hMessage != nil {
		h[hdrGrpcMessage] = s.hMessage
	}
	if s.hDetails != nil {
		h[hdrGrpcDetailsBin] = s.hDetails
	}
	h[hdrGrpcAcceptEnc] = valAcceptEncoding
	switch s.http {
	case http.StatusOK:
		w.WriteHeader(http.StatusOK)
	case http.StatusHTTPVersionNotSupported:
		// An HTTP/1 client is no gRPC client: it gets a page it can read.
		h[hdrContentType] = valTextPlain
		w.WriteHeader(s.http)
		_, _ = w.Write([]byte(s.msg + "\n"))
	case http.StatusMethodNotAllowed:
		h["Allow"] = valAllowPost
		w.WriteHeader(s.http)
	default:
		w.WriteHeader(s.http)
	}
}
