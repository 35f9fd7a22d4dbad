package ingest

import "net/http"

// HTTPRefusal is why an HTTP source refused a request. Each is counted
// (mad_source_request_refusals_total, by reason) and answered with its
// status and a message.
type HTTPRefusal uint8

const (
	// RefusedContentLength: the declared Content-Length exceeds MaxBody;
	// refused before the body is read (413).
	RefusedContentLength HTTPRefusal = iota
	// RefusedBodyTooLarge: the body grew past MaxBody while being read (413).
	RefusedBodyTooLarge
	// RefusedDecompressedTooLarge: the body exceeds MaxDecompressed once
	// its Content-Encoding is undone (413).
	RefusedDecompressedTooLarge
	// RefusedDecoderLimit: the decoder's own limit (MaxRecords; a client
	// protocol body over 2 GiB) (413).
	RefusedDecoderLimit
	// RefusedBodyTimeout: the body did not arrive within the server's read
	// timeout (408): a slow or stalled client.
	RefusedBodyTimeout
	// RefusedBodyUnreadable: the body could not be read: the client
	// closed the connection early, or its chunked framing is broken (400).
	RefusedBodyUnreadable
	// RefusedBadEncoding: the body is not valid gzip, zstd or snappy as
	// its Content-Encoding says (400).
	RefusedBadEncoding
	// RefusedMalformed: the decoder refused the body (MAD's
	// ParsingException, 400).
	RefusedMalformed
	// RefusedMADFails: a body on which MAD fails otherwise (500).
	RefusedMADFails
	// RefusedNoSlot: every producer slot stayed busy for the deadline (503).
	RefusedNoSlot
	// RefusedShardsBehind: the shards' rings stayed full for the deadline,
	// or the shards did not take the slot's previous large request in time
	// (settle) (503).
	RefusedShardsBehind
	// RefusedStopping: the source is stopping (503).
	RefusedStopping
	// RefusedContentType: an OTLP request whose Content-Type the route
	// does not take (415).
	RefusedContentType
	// RefusedBadFraming: a gRPC request that is not one length-prefixed
	// message (gRPC INTERNAL; 400).
	RefusedBadFraming
	// RefusedUnsupportedEncoding: a gRPC message compressed with an
	// encoding mad does not decode (gRPC UNIMPLEMENTED; 400).
	RefusedUnsupportedEncoding
	// RefusedUnknownMethod: a call on the OTLP source's own gRPC port of a
	// method it does not serve (gRPC UNIMPLEMENTED; 404).
	RefusedUnknownMethod
	// RefusedClientGone: the client left before its request was taken:
	// while it waited for a slot or for the shards, or while its gRPC
	// message was read; nothing of it is published. No answer reaches it;
	// the status (nginx's 499) is for the log.
	RefusedClientGone
	// RefusedHTTPVersion: a gRPC call over HTTP/1 on MAD's route (HTTP
	// 505; gRPC UNIMPLEMENTED).
	RefusedHTTPVersion
	NumHTTPRefusals
)

var httpRefusalNames = [NumHTTPRefusals]string{
	"content_length", "body_too_large", "decompressed_too_large", "decoder_limit", "body_timeout",
	"body_unreadable", "bad_encoding", "malformed", "mad_fails", "no_slot", "shards_behind", "stopping",
	"content_type", "bad_framing", "unsupported_encoding", "unknown_method", "client_gone", "http_version",
}

// String is the reason's label value.
func (r HTTPRefusal) String() string { return httpRefusalNames[r] }

// Status is the HTTP status the refusal is answered with.
func (r HTTPRefusal) Status() int {
	switch r {
	case RefusedContentLength, RefusedBodyTooLarge, RefusedDecompressedTooLarge, RefusedDecoderLimit:
		return http.StatusRequestEntityTooLarge
	case RefusedBodyTimeout:
		return http.StatusRequestTimeout
	case RefusedMADFails:
		return http.StatusInternalServerError
	case RefusedNoSlot, RefusedShardsBehind, RefusedStopping:
		return http.StatusServiceUnavailable
	case RefusedContentType:
		return http.StatusUnsupportedMediaType
	case RefusedUnknownMethod:
		return http.StatusNotFound
	case RefusedClientGone:
		return statusClientClosed
	case RefusedHTTPVersion:
		return http.StatusHTTPVersionNotSupported
	}
	return http.StatusBadRequest
}

// statusClientClosed is nginx's 499, "client closed request": the status
// a request whose client left is logged with (no answer is sent).
const statusClientClosed = 499

// gRPC status codes (google.golang.org/grpc/codes), as OTLP/gRPC answers.
const (
	grpcOK                = 0
	grpcCanceled          = 1
	grpcDeadlineExceeded  = 4
	grpcInvalidArgument   = 3
	grpcResourceExhausted = 8
	grpcUnimplemented     = 12
	grpcInternal          = 13
	grpcUnavailable       = 14
)

// GRPCCode is the gRPC status a refusal is answered with on the OTLP/gRPC
// route: a body MAD cannot parse is INVALID_ARGUMENT (not retried, as
// OTLP says of bad data), one on which MAD's parser throws otherwise
// INTERNAL (what pekko-grpc answers for it), a limit RESOURCE_EXHAUSTED
// without retry information (not retried: the same request would be
// refused again), saturation UNAVAILABLE with retry information (retried
// after it).
func (r HTTPRefusal) GRPCCode() int {
	switch r {
	case RefusedContentLength, RefusedBodyTooLarge, RefusedDecompressedTooLarge, RefusedDecoderLimit:
		return grpcResourceExhausted
	case RefusedBodyTimeout:
		return grpcDeadlineExceeded
	case RefusedMalformed:
		return grpcInvalidArgument
	case RefusedNoSlot, RefusedShardsBehind, RefusedStopping:
		return grpcUnavailable
	case RefusedUnsupportedEncoding, RefusedUnknownMethod, RefusedHTTPVersion:
		return grpcUnimplemented
	case RefusedClientGone:
		return grpcCanceled
	}
	return grpcInternal
}

// bodyLeft reports whether the refusal leaves an unread or broken body on
// the connection: an HTTP/1 connection is then closed after the answer
// instead of being drained for reuse, so the answer goes out at once and a
// client that keeps sending holds nothing.
func (r HTTPRefusal) bodyLeft() bool {
	switch r {
	case RefusedContentLength, RefusedBodyTooLarge, RefusedBodyTimeout, RefusedBodyUnreadable:
		return true
	}
	return false
}
