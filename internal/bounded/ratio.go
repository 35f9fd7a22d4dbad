package bounded

// A compressed body declares the size it decodes to (a snappy block's
// length, a zstd frame's header: ZstdMost), and a decoder sizes its buffer
// by it. A size beyond the most the body's bytes can decode to is not the
// body's: believed, a few crafted bytes would size a buffer of up to the
// limit (snappy's decoders allocate the declared length before reading a
// byte of the block), or have a corrupt body refused as too large.

// SnappyHolds reports whether a snappy block of blockLen bytes after its
// length header could decode to n bytes: an element makes at most 64
// bytes out of 3 (a copy with a 2-byte offset). It holds for snappy as
// specified, not for the S2 extensions a lenient decoder accepts.
func SnappyHolds(n uint64, blockLen int) bool { return blockLen >= 0 && n <= uint64(blockLen)*64/3 }
