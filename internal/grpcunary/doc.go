// Package grpcunary serves the server side of unary gRPC calls from a
// net/http handler, over the daemon's own HTTP/2 server (h2c with prior
// knowledge, or h2 over TLS), without google.golang.org/grpc. It is what
// mad's OTLP/gRPC route (MetricsService/Export, MAD-SPEC §13.1) stands on.
//
// A call is one HTTP/2 request (PROTOCOL-HTTP2.md of grpc/grpc):
//
//	request:  POST /pkg.Service/Method
//	          content-type: application/grpc[+proto]   (415 otherwise)
//	          grpc-encoding: identity | gzip            (UNIMPLEMENTED otherwise)
//	          grpc-timeout: 1-8 digits and a unit H M S m u n
//	          body: exactly one length-prefixed message:
//
//	          +------+----------------+------------------------+
//	          | flag | length (BE u32)| message (length bytes) |
//	          +------+----------------+------------------------+
//	            1 B       4 B
//	          flag 0: as is; flag 1: compressed with grpc-encoding
//
//	success:  HEADERS :status 200, content-type: application/grpc
//	          DATA    one length-prefixed message (never compressed)
//	          HEADERS (trailers) grpc-status: 0, END_STREAM
//
//	error:    HEADERS :status 200 (or the HTTP status of a refusal),
//	          content-type, grpc-status, grpc-message (percent-encoded),
//	          grpc-status-details-bin (base64 of a google.rpc.Status),
//	          END_STREAM ("trailers-only")
//
// A handler takes a call in three steps, each answerable on its own:
//
//	call, err := grpcunary.ParseCall(r)        // headers: method, content type, HTTP/2, encoding, timeout
//	msg, err := reader.ReadMessage(r.Body, call.Encoding) // the one message, bounded, decompressed
//	grpcunary.WriteResponse(w, frame)          // or grpcunary.WriteError(w, err)
//
// The whole request is read before ReadMessage returns, so a handler can
// refuse a call (UNAVAILABLE with RetryInfo when the aggregator is
// saturated, Unavailable) before any of it is applied.
//
// Where the gRPC specification leaves a choice, grpc-go's server
// (v1.84.0, internal/transport and server.go) decides: the same status
// codes and messages, HTTP 405/415/400/505 for the refusals its ServeHTTP
// path makes, TE ignored (grpc-go's server does not require "te:
// trailers"), and the decompressed size bounded by the same maximum as the
// compressed one.
//
// Memory: a Reader owns two buffers that keep their capacity from call to
// call; the message ReadMessage returns is valid until the Reader's next
// call. A Status is immutable and may be shared by goroutines; its header
// values are encoded once, when it is made, so refusing a call with a
// prepared Status allocates nothing of ours. Nothing on the success path
// allocates (TestZeroAllocs); net/http allocates what it allocates per
// request.
package grpcunary
