package bounded

import "encoding/binary"

// ZstdMost walks the frames of body and the headers of their blocks (RFC
// 8878) without decoding them. most is the most the frames can decode to:
// a raw or RLE block its size, a compressed block its frame's
// Block_Maximum_Size (the decoder refuses more), a frame that declares its
// content size no more than that, a skippable frame nothing. lying reports
// a frame whose declared content size is more than its blocks can make.
// ok is false when the walk meets what it does not read (a truncated
// header, a reserved field, bytes that are no frame): no valid body, as
// the decoder reads them (FuzzZstdMost holds the walk to it); then most
// and lying tell nothing.
func ZstdMost(body []byte) (most uint64, lying, ok bool) {
	const (
		frameMagic    = 0xFD2FB528
		skippableMask = 0xFFFFFFF0
		skippable     = 0x184D2A50
		maxBlock      = 128 << 10
	)
	for len(body) > 0 {
		if len(body) < 4 {
			return 0, false, false
		}
		magic := binary.LittleEndian.Uint32(body)
		body = body[4:]
		if magic&skippableMask == skippable {
			if len(body) < 4 {
				return 0, false, false
			}
			n := uint64(binary.LittleEndian.Uint32(body))
			if n > uint64(len(body)-4) {
				return 0, false, false
			}
			body = body[4+n:]
			continue
		}
		if magic != frameMagic || len(body) < 1 {
			return 0, false, false
		}
		desc := body[0]
		body = body[1:]
		if desc&0x08 != 0 { // reserved bit
			return 0, false, false
		}
		single := desc&0x20 != 0
		fcsLen := [4]int{0, 2, 4, 8}[desc>>6]
		if fcsLen == 0 && single {
			fcsLen = 1
		}
		dictLen := [4]int{0, 1, 2, 4}[desc&3]
		window := uint64(0)
		if !single {
			if len(body) < 1 {
				return 0, false, false
			}
			exp, mant := uint64(body[0]>>3), uint64(body[0]&7)
			base := uint64(1) << (10 + exp)
			window = base + base/8*mant
			body = body[1:]
		}
		if len(body) < dictLen+fcsLen {
			return 0, false, false
		}
		body = body[dictLen:]
		var fcs uint64
		switch fcsLen {
		case 1:
			fcs = uint64(body[0])
		case 2:
			fcs = uint64(binary.LittleEndian.Uint16(body)) + 256
		case 4:
			fcs = uint64(binary.LittleEndian.Uint32(body))
		case 8:
			fcs = binary.LittleEndian.Uint64(body)
		}
		body = body[fcsLen:]
		if fcsLen == 8 && fcs == 1<<64-1 && !single {
			fcsLen = 0 // the decoders read it as no size declared
		}
		if single {
			window = fcs
		}
		blockMax := min(window, maxBlock)
		var made uint64 // the most the frame's blocks make
		for last := false; !last; {
			if len(body) < 3 {
				return 0, false, false
			}
			h := uint32(body[0]) | uint32(body[1])<<8 | uint32(body[2])<<16
			body = body[3:]
			last = h&1 != 0
			size := uint64(h >> 3)
			switch h >> 1 & 3 {
			case 0: // raw: size bytes, as they are
				if size > blockMax || size > uint64(len(body)) {
					return 0, false, false
				}
				body = body[size:]
				made += size
			case 1: // RLE: one byte, size times
				if size > blockMax || len(body) < 1 {
					return 0, false, false
				}
				body = body[1:]
				made += size
			case 2: // compressed: size bytes, at most a block
				if size > uint64(len(body)) {
					return 0, false, false
				}
				body = body[size:]
				made += blockMax
			default:
				return 0, false, false
			}
		}
		if desc&0x04 != 0 { // the content checksum
			if len(body) < 4 {
				return 0, false, false
			}
			body = body[4:]
		}
		if fcsLen > 0 {
			lying = lying || fcs > made
			made = min(made, fcs) // a frame makes what it declares
		}
		most += made
	}
	return most, lying, true
}
