package ingest

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// FuzzUnzstd holds the HTTP source's zstd decoding (its walk of the
// headers, its buffers bounded and grown, a slot's kept buffer) to the
// decoder left to grow its own output, with the same bounds (memory and
// window: the limit): a body the decoder decodes is decoded to the same
// bytes, by a new slot and by one that kept a buffer; one it refuses is
// refused. (Both zstd defects of the nineteenth sitting fail it: bodies of
// no declared size refused when decoded into a small buffer, and a size of
// all ones taken for a size.)
func FuzzUnzstd(f *testing.F) {
	const limit = 16 << 20 // past the encoders' usual window (8 MiB), which the limit bounds
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	text := eightLetters(rand.New(rand.NewPCG(1, 2)), 200<<10)
	rle := append(binary.LittleEndian.AppendUint32(nil, 0xFD2FB528), 0x00, 7<<3)
	h := uint32(1) | 1<<1 | 1000<<3 // the last block: RLE, 1 000 bytes
	rle = append(rle, byte(h), byte(h>>8), byte(h>>16), 'r')
	f.Add(enc.EncodeAll([]byte("hello"), nil), uint32(0))
	f.Add(enc.EncodeAll(text[:5000], nil), uint32(100))
	f.Add(zstdStream(enc, text), uint32(64<<10))
	f.Add(append(enc.EncodeAll(text[:300], nil), rle...), uint32(1))
	f.Add(zstdHeader(1<<30), uint32(0))
	enc.Close()
	ref, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(limit))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, kept uint32) {
		want, werr := ref.DecodeAll(body, nil)
		fresh, kepto := new(httpSlot), new(httpSlot)
		kepto.plain = make([]byte, 0, kept%(4<<20))
		for name, sl := range map[string]*httpSlot{"a new slot": fresh, "a slot that kept a buffer": kepto} {
			got, err := sl.decompress("zstd", body, limit)
			switch {
			case werr != nil:
				if err == nil {
					t.Fatalf("%s decoded what the decoder refuses (%v): %d bytes", name, werr, len(got))
				}
			case err != nil || !bytes.Equal(got, want):
				t.Fatalf("%s: %d bytes, %v; the decoder: %d bytes", name, len(got), err, len(want))
			}
		}
	})
}
