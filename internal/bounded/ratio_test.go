package bounded

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// TestSnappyEncodersStayWithinTheBound: the densest blocks real encoders
// make (long runs of one byte, at their best) hold what they declare: the
// bound is the format's, which no encoder passes.
func TestSnappyEncodersStayWithinTheBound(t *testing.T) {
	for _, size := range []int{0, 1, 1000, 1 << 20, 16 << 20} {
		plain := bytes.Repeat([]byte{'a'}, size)
		for name, s := range map[string][]byte{"snappy": snappy.Encode(nil, plain), "s2, snappy-compatible, best": s2.EncodeSnappyBest(nil, plain)} {
			n, hdr := binary.Uvarint(s)
			if n != uint64(size) || !SnappyHolds(n, len(s)-hdr) {
				t.Errorf("%s: %d bytes (declared %d) from %d after the header, over 64 to 3", name, size, n, len(s)-hdr)
			}
		}
	}
}

// TestSnappyHoldsBound: one past the bound is not held, and no product
// wraps.
func TestSnappyHoldsBound(t *testing.T) {
	if !SnappyHolds(640, 30) || SnappyHolds(641, 30) || SnappyHolds(1, 0) || SnappyHolds(1, -1) ||
		SnappyHolds(0x5555555555555556, 1) || !SnappyHolds(0, 0) || SnappyHolds(^uint64(0), 1<<40) {
		t.Error("SnappyHolds: the bound is not 64 bytes from 3")
	}
}

// zstdCorpus returns valid zstd bodies of many encoders' settings, frame
// kinds and contents (the review's corpus, in part): each with what it
// decodes to.
func zstdCorpus(t testing.TB) (bodies [][]byte) {
	r := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	text := func(n int) []byte {
		var b []byte
		for i := 0; len(b) < n; i++ {
			b = append(b, "service.metric_"...)
			b = binary.AppendUvarint(b, uint64(i*7919%1000))
			b = append(b, ":1|c\n"...)
		}
		return b[:n]
	}
	var contents [][]byte
	for _, n := range []int{0, 1, 100, 5000, 200 << 10, 1 << 20} {
		contents = append(contents, make([]byte, n), bytes.Repeat([]byte{'x'}, n), random(n), text(n))
	}
	type opts struct {
		name string
		o    []zstd.EOption
	}
	settings := []opts{
		{"fastest", []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest)}},
		{"default", nil},
		{"better, crc", []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderCRC(true)}},
		{"best", []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedBestCompression)}},
		{"no crc", []zstd.EOption{zstd.WithEncoderCRC(false)}},
		{"single segment", []zstd.EOption{zstd.WithSingleSegment(true)}},
		{"1 KiB window", []zstd.EOption{zstd.WithWindowSize(1 << 10)}},
		{"padding", []zstd.EOption{zstd.WithEncoderPadding(4096)}},
		{"no entropy", []zstd.EOption{zstd.WithNoEntropyCompression(true)}},
		{"all literal entropy", []zstd.EOption{zstd.WithAllLitEntropyCompression(true)}},
		{"zero frames", []zstd.EOption{zstd.WithZeroFrames(true)}},
	}
	for _, st := range settings {
		enc, err := zstd.NewWriter(nil, st.o...)
		if err != nil {
			t.Fatal(st.name, err)
		}
		for _, c := range contents {
			all := enc.EncodeAll(c, nil) // declares its size
			var streamed bytes.Buffer    // does not
			enc.Reset(&streamed)
			enc.Write(c)
			enc.Close()
			bodies = append(bodies, all, streamed.Bytes(), append(bytes.Clone(all), streamed.Bytes()...))
		}
		enc.Close()
	}
	skip := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x184D2A5A), 5)
	skip = append(skip, "skip!"...)
	one := bodies[len(bodies)-1]
	bodies = append(bodies, append(bytes.Clone(skip), one...), append(bytes.Clone(one), skip...), skip)
	// Hand-made RLE frames: blocks of 128 KiB, a single segment or a
	// window, with a declared size or not.
	rle := func(blocks int, single, declare bool) []byte {
		b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
		n := uint64(blocks) << 17
		switch {
		case single:
			b = append(b, 0xE0)
			b = binary.LittleEndian.AppendUint64(b, n)
		case declare:
			b = append(b, 0xC0, 7<<3) // an 8-byte size, a 128 KiB window
			b = binary.LittleEndian.AppendUint64(b, n)
		default:
			b = append(b, 0x00, 7<<3)
		}
		for i := range blocks {
			h := uint32(1)<<1 | uint32(128<<10)<<3
			if i == blocks-1 {
				h |= 1
			}
			b = append(b, byte(h), byte(h>>8), byte(h>>16), 'r')
		}
		return b
	}
	for _, blocks := range []int{1, 2, 64} {
		bodies = append(bodies, rle(blocks, true, true), rle(blocks, false, true), rle(blocks, false, false))
	}
	return bodies
}

// TestZstdMostAgreesWithTheDecoder: every valid body walks, declares no
// more than its blocks make, and decodes to at most what ZstdMost says.
func TestZstdMostAgreesWithTheDecoder(t *testing.T) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	bodies := zstdCorpus(t)
	for i, b := range bodies {
		out, err := dec.DecodeAll(b, nil)
		if err != nil {
			t.Fatalf("body %d (%d bytes) is not valid: %v", i, len(b), err)
		}
		most, lying, ok := ZstdMost(b)
		if !ok || lying || most < uint64(len(out)) {
			t.Errorf("body %d (%d bytes, decodes to %d): ZstdMost %d, lying %v, ok %v", i, len(b), len(out), most, lying, ok)
		}
	}
	t.Logf("%d bodies", len(bodies))
}

// TestZstdMostRefuses: what the walk finds lying or unreadable.
func TestZstdMostRefuses(t *testing.T) {
	header := func(fcs uint64) []byte {
		b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
		return binary.LittleEndian.AppendUint64(append(b, 0xE0), fcs)
	}
	// block appends a last block's header: its type and size, then rest.
	block := func(b []byte, typ, size uint32, rest ...byte) []byte {
		h := 1 | typ<<1 | size<<3
		return append(append(bytes.Clone(b), byte(h), byte(h>>8), byte(h>>16)), rest...)
	}
	for _, tc := range []struct {
		name        string
		body        []byte
		lying, okay bool
	}{
		{"a size no block makes", block(header(250<<20), 0, 0), true, true},
		{"a size one past an RLE block", block(header(101), 1, 100, 'r'), true, true},
		{"a size an RLE block makes", block(header(100), 1, 100, 'r'), false, true},
		{"raw blocks of none for ever", append(header(250<<20), make([]byte, 8000)...), false, false},
		{"a block past the end", block(header(5), 0, 5, 'a'), false, false},
		{"a reserved block", block(header(5), 3, 0), false, false},
		{"a reserved descriptor bit", append(binary.LittleEndian.AppendUint32(nil, 0xFD2FB528), 0xE8, 0, 0x01, 0, 0), false, false},
		{"an RLE block past its window", block(header(200<<10), 1, 200<<10, 'r'), false, false},
		{"not a frame", []byte("garbage!"), false, false},
		// 2^64-1 with a window byte: no size declared (the decoders').
		{"a size of all ones", block(append(append(binary.LittleEndian.AppendUint32(nil, 0xFD2FB528), 0xC0, 0), bytes.Repeat([]byte{0xFF}, 8)...), 0, 3, 'a', 'b', 'c'), false, true},
		{"a skippable frame past the end", append(binary.LittleEndian.AppendUint32(nil, 0x184D2A50), 9, 0, 0, 0, 'x'), false, false},
	} {
		_, lying, ok := ZstdMost(tc.body)
		if lying != tc.lying || ok != tc.okay {
			t.Errorf("%s: lying %v, ok %v; want %v, %v", tc.name, lying, ok, tc.lying, tc.okay)
		}
	}
}

// TestZstdMostAllocatesNothing: the walk reads the headers in place.
func TestZstdMostAllocatesNothing(t *testing.T) {
	bodies := zstdCorpus(t)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		ZstdMost(bodies[i%len(bodies)])
		i++
	}); n != 0 {
		t.Errorf("%.1f allocations a walk", n)
	}
}

// FuzzZstdMost: whatever the decoder accepts walks, declares no more than
// its blocks make, and decodes to at most what ZstdMost says.
func FuzzZstdMost(f *testing.F) {
	for i, b := range zstdCorpus(f) {
		if len(b) < 4096 && i%3 == 0 {
			f.Add(b)
		}
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := dec.DecodeAll(b, nil)
		most, lying, ok := ZstdMost(b)
		if err == nil && (!ok || lying || most < uint64(len(out))) {
			t.Fatalf("decoded to %d bytes; ZstdMost %d, lying %v, ok %v", len(out), most, lying, ok)
		}
	})
}
