package grpcunary

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/gomad/mad/internal/gunzip"
)

// DefaultMaxMessage is the largest message a Reader takes when its
// MaxMessage is 0: grpc-go's default (4 MiB).
const DefaultMaxMessage = 4 << 20

// HeaderLen is the length of a message's prefix: a flag byte and a 4-byte
// big-endian length.
const HeaderLen = 5

// minGrow is the first size a buffer grows to when a message does not fit.
const minGrow = 4 << 10

// Reader reads the one request message of unary calls into buffers it
// reuses from call to call. A Reader serves one call at a time; pool them
// for concurrent calls. Its zero value is ready, with DefaultMaxMessage.
type Reader struct {
	// MaxMessage bounds the message, as sent (compressed) and once
	// decompressed; 0 means DefaultMaxMessage. MaxWire, if set, bounds it
	// as sent instead.
	MaxMessage, MaxWire int

	hdr  [HeaderLen]byte
	wire []byte // the message as sent
	msg  []byte // the message decompressed
	gz   gunzip.Reader
}

// The errors of a request whose body is not exactly one well-formed
// message. Each is grpc-go's answer (v1.84.0, server side of a unary call:
// recvMsg, checkRecvPayload, serverStream.RecvMsg).
var (
	errNoMessage    = New(Internal, "grpc: cardinality violation: received no request message from non-client-streaming RPC")
	errTwoMessages  = New(Internal, "grpc: cardinality violation: received multiple request messages for non-client-streaming RPC")
	errTruncated    = New(Internal, "unexpected EOF")
	errFlagIdentity = New(Internal, "grpc: compressed flag set with identity or empty encoding")
)

// ReadMessage reads body, which must hold exactly one message (enc is the
// call's grpc-encoding), and returns the message, decompressed. It reads
// body to its end before it returns, so a call is refused or taken whole.
// The message is valid until the Reader's next ReadMessage.
//
// Errors, each a *Status (answer them with WriteError):
//   - a message longer than MaxMessage as sent (if compressed: than
//     MaxWire, if set; if not: than either): RESOURCE_EXHAUSTED, before
//     anything of it is read or allocated ("grpc: received message larger
//     than max (%d vs. %d)");
//   - a compressed message that inflates past MaxMessage:
//     RESOURCE_EXHAUSTED, having inflated at most MaxMessage+1 bytes;
//   - no message, a second one, a truncated one or stray bytes after it,
//     an unknown flag, a compressed flag without an encoding, a corrupt
//     gzip stream: INTERNAL (five bytes after the message are a second
//     message, refused unread; grpc-go reads that one's prefix and may
//     answer RESOURCE_EXHAUSTED or "unexpected EOF" for it instead);
//   - a body that cannot be read (the client reset the stream, a read
//     deadline passed): UNAVAILABLE.
//
// Buffers grow as the message arrives, never to a length only announced:
// a client that announces MaxMessage and sends less makes the Reader
// allocate at most twice what it sent.
func (rd *Reader) ReadMessage(body io.Reader, enc Encoding) ([]byte, error) {
	limit := rd.MaxMessage
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	if _, err := io.ReadFull(body, rd.hdr[:]); err != nil {
		switch err {
		case io.EOF:
			return nil, errNoMessage
		case io.ErrUnexpectedEOF:
			return nil, errTruncated
		}
		return nil, readError(err)
	}
	flag := rd.hdr[0]
	n := binary.BigEndian.Uint32(rd.hdr[1:])
	if rd.MaxWire > 0 && uint64(n) > uint64(rd.MaxWire) {
		st := Newf(ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, rd.MaxWire)
		st.cause = ErrWireTooLarge
		return nil, st
	}
	// Without MaxWire the limit bounds the message as sent; a plain one is
	// its decompressed self.
	if (rd.MaxWire <= 0 || flag == 0) && uint64(n) > uint64(limit) {
		return nil, Newf(ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, limit)
	}
	switch {
	case flag == 1 && enc == Identity:
		return nil, errFlagIdentity
	case flag > 1:
		return nil, Newf(Internal, "grpc: received unexpected payload format %d", flag)
	}
	var err error
	rd.wire, err = readN(body, rd.wire[:0], int(n))
	if err != nil {
		return nil, err
	}
	// Exactly one message: what follows must be the end of the body.
	switch k, err := io.ReadFull(body, rd.hdr[:]); {
	case err == io.EOF:
	case err == io.ErrUnexpectedEOF:
		return nil, errTruncated
	case err != nil:
		return nil, readError(err)
	case k == HeaderLen:
		return nil, errTwoMessages
	}
	if flag == 0 {
		return rd.wire, nil
	}
	return rd.gunzip(limit)
}

// readN appends exactly n bytes of r to buf[:0], growing buf (doubling,
// from minGrow) only as data arrives.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = grow(buf, n)
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
		if err != nil {
			if len(buf) == n {
				break
			}
			if err == io.EOF {
				return buf, errTruncated
			}
			return buf, readError(err)
		}
	}
	return buf, nil
}

// grow returns buf with its contents and a capacity of twice its length
// (at least minGrow), at most limit.
func grow(buf []byte, limit int) []byte {
	c := min(max(2*cap(buf), minGrow), limit)
	nb := make([]byte, len(buf), c)
	copy(nb, buf)
	return nb
}

// gunzip inflates rd.wire into rd.msg, at most limit+1 bytes of it.
func (rd *Reader) gunzip(limit int) ([]byte, error) {
	msg, err := rd.gz.Inflate(rd.msg, rd.wire, limit)
	rd.msg = msg
	rd.gz.Release()
	switch {
	case errors.Is(err, gunzip.ErrTooLarge):
		return nil, Newf(ResourceExhausted, "grpc: received message after decompression larger than max %d", limit)
	case err != nil:
		return nil, gzipError(err)
	}
	return msg, nil
}

func gzipError(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return Newf(Internal, "grpc: failed to decompress the received message: %v", err)
}

// readError is the answer to a body that could not be read: the stream
// was reset or the connection failed (grpc-go's mapRecvMsgError makes
// such errors UNAVAILABLE). The client rarely reads it.
func readError(err error) error {
	st := Newf(Unavailable, "grpc: cannot read the request: %v", err)
	st.cause = err
	return st
}

// ErrWireTooLarge is what a RESOURCE_EXHAUSTED of a message too long as
// sent wraps (one that inflates too long does not).
var ErrWireTooLarge = errors.New("grpc: message longer than the limit as sent")

// Retained returns the bytes the Reader's buffers hold, so that a pool
// can drop a Reader that grew for a rare large message.
func (rd *Reader) Retained() int { return cap(rd.wire) + cap(rd.msg) }

// WireLen returns the length of the last message read as it came: its
// prefix and its bytes, compressed or not.
func (rd *Reader) WireLen() int { return HeaderLen + len(rd.wire) }
