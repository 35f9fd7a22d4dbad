package bounded

// A compressed body declares the size it decodes to (gzip's trailer, a
// zstd frame's header, a snappy block's length), and a decoder sizes its
// buffer by it. A size beyond the most the body's bytes can decode to is
// not the body's: believed, a few crafted bytes would size a buffer of up
// to the limit (snappy's decoders allocate the declared length before
// reading a byte of the block), or have a corrupt body refused as too
// large. The bounds below are each format's densest encoding.
const (
	// InflateRatio: in deflate, at best each 258-byte match takes two
	// bits (a one-bit length code, a one-bit distance code): 1032 to 1
	// (zlib's technical details). A gzip member's header and trailer
	// only lower it.
	InflateRatio = 1032
	// ZstdRatio: in zstd, at best an RLE block, 4 bytes (its header and
	// the byte) for the largest block, 128 KiB.
	ZstdRatio = 128 << 10 / 4
)

// Inflates reports whether body (a gzip body) could inflate to n bytes.
func Inflates(n uint64, body []byte) bool { return n <= InflateRatio*uint64(len(body)) }

// Unzstds reports whether body (zstd frames) could decode to n bytes.
func Unzstds(n uint64, body []byte) bool { return n <= ZstdRatio*uint64(len(body)) }

// SnappyHolds reports whether a snappy block of blockLen bytes after its
// length header could decode to n bytes: an element makes at most 64
// bytes out of 3 (a copy with a 2-byte offset). It holds for snappy as
// specified, not for the S2 extensions a lenient decoder accepts.
func SnappyHolds(n uint64, blockLen int) bool { return n*3 <= uint64(max(blockLen, 0))*64 }
