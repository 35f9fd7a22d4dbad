package bounded

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// TestEncodersStayWithinTheRatios: the densest bodies real encoders make
// (long runs of one byte, at their best level) are believed: the bounds are
// the formats', which no encoder passes, and not too tight for them.
func TestEncodersStayWithinTheRatios(t *testing.T) {
	for _, size := range []int{1, 1000, 1 << 20, 16 << 20} {
		plain := bytes.Repeat([]byte{'a'}, size)
		var std, kp bytes.Buffer
		w, _ := gzip.NewWriterLevel(&std, gzip.BestCompression)
		w.Write(plain)
		w.Close()
		kw, _ := kgzip.NewWriterLevel(&kp, kgzip.BestCompression)
		kw.Write(plain)
		kw.Close()
		for name, body := range map[string][]byte{"compress/gzip": std.Bytes(), "klauspost gzip": kp.Bytes()} {
			if !Inflates(uint64(size), body) {
				t.Errorf("%s: %d bytes from %d, over %d to 1", name, size, len(body), InflateRatio)
			}
		}
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		if err != nil {
			t.Fatal(err)
		}
		if z := enc.EncodeAll(plain, nil); !Unzstds(uint64(size), z) {
			t.Errorf("zstd: %d bytes from %d, over %d to 1", size, len(z), ZstdRatio)
		}
		enc.Close()
		for name, s := range map[string][]byte{"snappy": snappy.Encode(nil, plain), "snappy (s2, snappy-compatible, best)": s2.EncodeSnappyBest(nil, plain)} {
			n, hdr := binary.Uvarint(s)
			if n != uint64(size) || !SnappyHolds(n, len(s)-hdr) {
				t.Errorf("%s: %d bytes (declared %d) from %d after the header, over 64 to 3", name, size, n, len(s)-hdr)
			}
		}
	}
}

// TestRatiosRefuseWhatNoBodyHolds: a declared size one past the bound is
// not believed.
func TestRatiosRefuseWhatNoBodyHolds(t *testing.T) {
	body := make([]byte, 30)
	if !Inflates(InflateRatio*30, body) || Inflates(InflateRatio*30+1, body) {
		t.Error("Inflates: the bound is not 1032 a byte")
	}
	if !Unzstds(ZstdRatio*30, body) || Unzstds(ZstdRatio*30+1, body) {
		t.Error("Unzstds: the bound is not 32768 a byte")
	}
	if !SnappyHolds(640, 30) || SnappyHolds(641, 30) || SnappyHolds(1, 0) || SnappyHolds(1, -1) {
		t.Error("SnappyHolds: the bound is not 64 bytes from 3")
	}
}
