// Package gunzip inflates gzip bodies (HTTP's Content-Encoding, gRPC's
// grpc-encoding) with one reused reader, bounded by a limit, so that a
// body's answer never depends on the bodies the reader inflated before.
//
// It inflates with the standard library's compress/gzip, grpc-go's own,
// so that mad answers a gRPC call's compressed message as grpc-go does,
// and not with klauspost/compress, which is about 1.3× faster but whose
// reader, reused through Reset (v1.20.3), keeps the Huffman tables of the
// last stream it read: building an empty code (every length zero) returns
// before the tables are cleared, so a corrupt stream whose code-length or
// distance code is empty is decoded with the previous stream's tables,
// where a new reader (and the standard library's, and zlib) refuses it.
// Its answer then depends on another client's body: refused as corrupt,
// refused as too large, or accepted, and a client that crafts the trailer
// learns, by being accepted, what the previous body's code was. A new
// klauspost reader per body would cost three times the inflation of a
// 2 KB body (its 32 KiB window allocated and cleared); priming the reader
// with a fixed stream leaves fixed tables behind, which accept what a new
// reader refuses. The standard library's reader clears its tables for
// every code it builds; it allocates a few small tables per
// dynamic-Huffman block (those of codes longer than 9 bits).
package gunzip

import (
	"bytes"
	"compress/gzip"

	"github.com/gomad/mad/internal/bounded"
)

// ErrTooLarge is the error of a body that inflates to more than the limit
// (bounded.ErrTooLarge).
var ErrTooLarge = bounded.ErrTooLarge

// minGrow is the first capacity an output buffer grows to.
const minGrow = 4 << 10

// Reader inflates one body at a time into buffers its caller keeps. Its
// zero value is ready.
type Reader struct {
	src bytes.Reader
	zr  gzip.Reader
}

// Inflate appends to dst[:0] body inflated (a gzip body: one member or
// several), at most limit bytes. A body that inflates past limit is
// refused with ErrTooLarge, having inflated limit+1 bytes; past the limit
// the size is the answer, whatever follows. Other errors are the gzip
// reader's (a header, a checksum, a corrupt stream, io.ErrUnexpectedEOF;
// io.EOF for an empty body). dst grows by doubling, from 4 KiB, up to
// limit+1; the buffer is returned with every answer, for the caller to
// keep.
func (r *Reader) Inflate(dst, body []byte, limit int) ([]byte, error) {
	r.src.Reset(body)
	if err := r.zr.Reset(&r.src); err != nil {
		return dst[:0], err
	}
	return bounded.ReadAll(&r.zr, dst, limit, minGrow)
}

// Release lets go of the last body.
func (r *Reader) Release() { r.src.Reset(nil) }
