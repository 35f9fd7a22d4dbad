// Package gunzip inflates gzip bodies with one reused decompressor whose
// answer to a body does not depend on the bodies it inflated before.
//
// klauspost/compress's inflater (v1.20.3), reused through Reset, keeps the
// Huffman tables of the last stream it read: an empty code (all lengths
// zero) returns before the tables are cleared, so a corrupt stream whose
// code-length or distance code is empty is decoded with the previous
// stream's tables, where the standard library's inflater (grpc-go's, and
// zlib) refuses it. The answer to such a body then depends on which body
// the reader inflated before, another client's perhaps, and on nothing the
// client sent. Valid streams are not affected: every code they use is
// built before it is read. (Within one stream, a later block's empty code
// likewise reads an earlier block's tables; that is the stream's own
// doing, the same on every reader, and left as klauspost decodes it.)
//
// A Reader answers a body as a primed reader would: one that has just
// inflated primer, a fixed empty stream whose last literal/length code is
// the single end-of-block code and whose last distance code is the single
// code of distance symbol 29. What an empty code finds there is always the
// same: a code-length symbol 256, which the inflater refuses, or a distance
// longer than anything a stream has written in its first 24 KiB. Priming
// costs about 3 µs (three Huffman tables built), so a Reader does not
// prime before every body: it inflates the body as it is, and only if that
// fails (corrupt, truncated, or past the limit) does it prime and inflate
// the body again, answering with the second result. A body that succeeds
// got past the gzip trailer's CRC-32 and size, which output decoded from
// another body's tables matches only by design: a valid body is inflated
// once, and a failing one at most twice.
package gunzip

import (
	"bytes"
	"errors"
	"io"

	"github.com/klauspost/compress/gzip"
)

// ErrTooLarge is the error of a body that inflates to more than the limit.
var ErrTooLarge = errors.New("gunzip: the body inflates past the limit")

// minGrow is the first capacity an output buffer grows to.
const minGrow = 4 << 10

// Reader inflates one body at a time into buffers its caller keeps. Its
// zero value is ready.
type Reader struct {
	src   bytes.Reader
	zr    gzip.Reader
	one   [1]byte // the primer's read buffer (a local would escape)
	clean bool    // zr has inflated nothing since the primer
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
	clean := r.clean
	out, err := r.inflate(dst[:0], body, limit)
	if err != nil && !clean {
		if perr := r.prime(); perr != nil {
			return out, perr
		}
		out, err = r.inflate(out[:0], body, limit)
	}
	return out, err
}

func (r *Reader) inflate(buf, body []byte, limit int) ([]byte, error) {
	r.src.Reset(body)
	if err := r.zr.Reset(&r.src); err != nil {
		return buf, err
	}
	r.clean = false
	for {
		if len(buf) > limit {
			return buf, ErrTooLarge
		}
		if len(buf) == cap(buf) {
			buf = grow(buf, limit+1)
		}
		k, err := r.zr.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+k]
		if len(buf) > limit {
			return buf, ErrTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// grow returns buf with its contents and twice its capacity (at least
// minGrow), at most most.
func grow(buf []byte, most int) []byte {
	nb := make([]byte, len(buf), min(max(2*cap(buf), minGrow), most))
	copy(nb, buf)
	return nb
}

// Release lets go of the last body.
func (r *Reader) Release() { r.src.Reset(nil) }

// prime inflates primer to its end.
func (r *Reader) prime() error {
	r.src.Reset(primer)
	if err := r.zr.Reset(&r.src); err != nil {
		return errPrimer
	}
	for {
		n, err := r.zr.Read(r.one[:])
		if n != 0 {
			return errPrimer
		}
		if err == io.EOF {
			r.clean = true
			return nil
		}
		if err != nil {
			return errPrimer
		}
	}
}

var errPrimer = errors.New("gunzip: the primer did not inflate to nothing")

// primer is a gzip member holding one final dynamic-Huffman deflate block
// (RFC 1951 §3.2.7) that encodes nothing:
//   - HLIT 0 (257 literal/length codes), HDIST 29 (30 distance codes),
//     HCLEN 14 (18 code-length code lengths);
//   - a code-length code of two 1-bit codes: symbol 1 (code 0) and symbol
//     18, "repeat a zero length 11 to 138 times" (code 1);
//   - literal/length lengths: 256 zeros (18 with 138, 18 with 118), then 1
//     for symbol 256, end of block; distance lengths: 29 zeros (18 with
//     29), then 1 for symbol 29;
//   - the data: end of block (code 0);
//
// then the CRC-32 and size of nothing (zero and zero).
var primer = buildPrimer()

func buildPrimer() []byte {
	var w bitWriter
	w.bits(1, 1)  // BFINAL
	w.bits(2, 2)  // BTYPE: dynamic Huffman
	w.bits(0, 5)  // HLIT
	w.bits(29, 5) // HDIST
	w.bits(14, 4) // HCLEN
	// Code-length code lengths in RFC 1951's order: 16 17 18 0 8 7 9 6
	// 10 5 11 4 12 3 13 2 14 1.
	for _, sym := range []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1} {
		if sym == 1 || sym == 18 {
			w.bits(1, 3)
		} else {
			w.bits(0, 3)
		}
	}
	const one, repeatZero = 0, 1 // the code-length codes (1-bit codes need no reversal)
	w.bits(repeatZero, 1)
	w.bits(138-11, 7)
	w.bits(repeatZero, 1)
	w.bits(118-11, 7)
	w.bits(one, 1) // symbol 256
	w.bits(repeatZero, 1)
	w.bits(29-11, 7)
	w.bits(one, 1) // distance symbol 29
	w.bits(0, 1)   // end of block
	deflate := w.flush()

	b := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff} // ID, CM deflate, no flags, no time, XFL 0, OS unknown
	b = append(b, deflate...)
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0) // CRC-32 of nothing, size 0
}

// bitWriter packs deflate's fields, least significant bit first.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) flush() []byte {
	if w.n > 0 {
		w.out = append(w.out, byte(w.acc))
	}
	return w.out
}
