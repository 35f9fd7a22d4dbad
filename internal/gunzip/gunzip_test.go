package gunzip

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/testseed"
	kgzip "github.com/klauspost/compress/gzip"
)

// gz compresses b with the standard library at level.
func gz(t testing.TB, b []byte, level int) []byte {
	var buf bytes.Buffer
	w, err := stdgzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// text returns n bytes of metric-like text, which deflates to dynamic
// Huffman blocks whose codes are long and complete.
func text(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "service.%c.latency_%d:%d|ms|#host:h%d\n", 'a'+rune(r.IntN(26)), r.IntN(300), r.IntN(100000), r.IntN(50))
	}
	return b.Bytes()[:n]
}

// member wraps a raw deflate stream in a gzip member (CRC and size of
// nothing: a stream that must fail fails before its trailer).
func member(deflate []byte) []byte {
	b := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	b = append(b, deflate...)
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0)
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

// storedThen is a gzip member of a stored block of n bytes (not final)
// followed by the raw deflate block of body (a member made by
// emptyDistanceCode or emptyCodeLengthCode): a stream that has written n
// bytes before its first dynamic block.
func storedThen(n int, body []byte) []byte {
	deflate := []byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)} // BFINAL 0, BTYPE 00, LEN, NLEN
	deflate = append(deflate, bytes.Repeat([]byte("x"), n)...)
	deflate = append(deflate, body[10:len(body)-8]...)
	return member(deflate)
}

// matchBeforeStart is a fixed-Huffman block whose first symbol is a match
// of distance 1: before the stream's start, refused by a reader that
// keeps nothing of the body before it, copied by one that keeps its
// window.
func matchBeforeStart() []byte {
	var w bitWriter
	put := func(code uint64, n uint) { // Huffman codes go most significant bit first
		var r uint64
		for i := uint(0); i < n; i++ {
			r = r<<1 | (code>>i)&1
		}
		w.bits(r, n)
	}
	w.bits(1, 1) // BFINAL
	w.bits(1, 2) // BTYPE: fixed Huffman
	put(1, 7)    // symbol 257: length 3
	put(0, 5)    // distance code 0: distance 1
	put(0, 7)    // symbol 256: end of block
	return member(w.flush())
}

// emptyCodeLengthCode is a dynamic block whose code-length code is empty
// (every code-length code length 0), followed by bytes an inflater with
// stale tables decodes as code lengths.
func emptyCodeLengthCode(tail []byte) []byte {
	var w bitWriter
	w.bits(1, 1)
	w.bits(2, 2)
	w.bits(0, 5)
	w.bits(0, 5)
	w.bits(15, 4) // 19 lengths, all 0
	for range 19 {
		w.bits(0, 3)
	}
	return member(append(w.flush(), tail...))
}

// emptyDistanceCode is a dynamic block with a complete literal/length code
// (lengths 8 and 9, fixed-like) and an empty distance code, whose data is
// a match: an inflater with stale distance tables copies from a distance
// it finds there.
func emptyDistanceCode(tail []byte) []byte {
	var w bitWriter
	w.bits(1, 1)
	w.bits(2, 2)
	w.bits(29, 5) // 286 literal/length codes
	w.bits(0, 5)  // 1 distance code
	w.bits(15, 4) // 19 code-length lengths
	// Code-length code: symbols 0, 7, 8 and 9... kept simple: symbols 0,
	// 8 and 9 with lengths 1, 2, 2 (codes 0, 10, 11).
	lens := map[int]uint64{0: 1, 8: 2, 9: 2}
	for _, sym := range []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15} {
		w.bits(lens[sym], 3)
	}
	put := func(code uint64, n uint) { // Huffman codes go most significant bit first
		var r uint64
		for i := uint(0); i < n; i++ {
			r = r<<1 | (code>>i)&1
		}
		w.bits(r, n)
	}
	// Literal/length lengths: 0-255 length 9 except 256 symbols... use
	// 0-143: 8, 144-255: 9, 256-279: 9... must be complete: 144×8 +
	// 142×9 over 2^9: 288 + 142 = 430 < 512; instead give every one of the
	// 286 symbols length 9 but 226 of them length 8: 226×2 + 60 = 512.
	for i := range 286 {
		if i < 226 {
			put(2, 2) // symbol 8
		} else {
			put(3, 2) // symbol 9
		}
	}
	put(0, 1) // distance length 0: an empty distance code
	w.bits(0, 0)
	return member(append(w.flush(), tail...))
}

const limit = 1 << 20

// answer is what r says of body: its bytes or its error.
func answer(r *Reader, body []byte) string {
	out, err := r.Inflate(nil, body, limit)
	if err != nil {
		return fmt.Sprintf("error %v", err)
	}
	return fmt.Sprintf("%x", out)
}

// refAnswer is what a new standard-library reader says of body, read to
// its end or past the limit.
func refAnswer(body []byte) string {
	zr, err := stdgzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return fmt.Sprintf("error %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	switch {
	case len(out) > limit:
		return fmt.Sprintf("error %v", ErrTooLarge)
	case err != nil:
		return fmt.Sprintf("error %v", err)
	}
	// ReadAll stops at the limit without an error: read on, to see the
	// end of the stream (the trailer's checks).
	if _, err := zr.Read(make([]byte, 1)); err != io.EOF {
		return fmt.Sprintf("error %v", err)
	}
	return fmt.Sprintf("%x", out)
}

// bareAnswer is what a klauspost gzip reader says of body after it read
// before (nil: a new reader).
func bareAnswer(before, body []byte) string {
	var zr kgzip.Reader
	if before != nil {
		if zr.Reset(bytes.NewReader(before)) == nil {
			io.Copy(io.Discard, &zr)
		}
	}
	if err := zr.Reset(bytes.NewReader(body)); err != nil {
		return fmt.Sprintf("error %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(&zr, limit+1))
	if err != nil {
		return fmt.Sprintf("error %v", err)
	}
	return fmt.Sprintf("%x", out)
}

// TestIsolation: a body's answer (its bytes or its error) after any other
// bodies, valid or failing, is that of a new standard-library reader, for
// valid bodies and for corrupt ones with empty codes, after a first block
// or not. A reused klauspost reader answers some of the corrupt ones by
// what it read before; if it stops doing so, upstream fixed its tables and
// mad could inflate with it again.
func TestIsolation(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	var valid, bodies [][]byte
	for _, n := range []int{0, 1, 100, 3000, 70000} {
		for _, level := range []int{stdgzip.HuffmanOnly, stdgzip.BestSpeed, stdgzip.DefaultCompression, stdgzip.BestCompression} {
			valid = append(valid, gz(t, text(r, n), level))
		}
	}
	bodies = append(bodies, valid...)
	for range 20 {
		tail := make([]byte, 1+r.IntN(64))
		for i := range tail {
			tail[i] = byte(r.Uint32())
		}
		dist := emptyDistanceCode(tail)
		bodies = append(bodies, emptyCodeLengthCode(tail), dist, storedThen(25000, dist), storedThen(33000%65536, dist))
	}
	bodies = append(bodies, matchBeforeStart())
	var failing [][]byte
	for _, b := range bodies {
		if want := refAnswer(b); len(want) > 5 && want[:5] == "error" {
			failing = append(failing, b)
		}
	}
	if len(failing) < 60 {
		t.Fatalf("%d of the corrupt bodies fail; want them to", len(failing))
	}
	bareDiffers := 0
	for i, b := range bodies {
		want := refAnswer(b)
		if got := answer(new(Reader), b); got != want {
			t.Fatalf("body %d, new Reader: got %.200s; want %.200s", i, got, want)
		}
		for j, before := range valid {
			// A valid body before it, and a failing body, then a valid
			// one, before it.
			var rd, rd2 Reader
			answer(&rd, before)
			answer(&rd2, failing[j%len(failing)])
			answer(&rd2, before)
			if got := answer(&rd, b); got != want {
				t.Fatalf("body %d after body %d: got %.200s; want %.200s", i, j, got, want)
			}
			if got := answer(&rd2, b); got != want {
				t.Fatalf("body %d after a failing body and body %d: got %.200s; want %.200s", i, j, got, want)
			}
			if bareAnswer(before, b) != bareAnswer(nil, b) {
				bareDiffers++
			}
		}
	}
	if bareDiffers == 0 {
		t.Fatal("a reused klauspost reader answered every body as a new one: upstream may have fixed its tables")
	}
	t.Logf("a bare reused klauspost reader answered %d of %d pairs differently", bareDiffers, len(bodies)*len(valid))
}

// TestAnswers: valid bodies, several members, the limit, and bodies that
// are not gzip, against the standard library.
func TestAnswers(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 2))
	plain := text(r, 10000)
	body := gz(t, plain, stdgzip.DefaultCompression)
	var rd Reader
	for _, tc := range []struct {
		name  string
		body  []byte
		limit int
		want  []byte
		err   error
	}{
		{"valid", body, 10000, plain, nil},
		{"two members", append(append([]byte{}, body...), gz(t, []byte("more"), 1)...), 10004, append(append([]byte{}, plain...), "more"...), nil},
		{"one past the limit", body, 9999, nil, ErrTooLarge},
		{"truncated", body[:len(body)-3], 10000, nil, io.ErrUnexpectedEOF},
		{"bad checksum", append(append([]byte{}, body[:len(body)-8]...), 1, 2, 3, 4, 0x10, 0x27, 0, 0), 10000, nil, kgzip.ErrChecksum},
		{"not gzip", []byte("hello, world"), 100, nil, kgzip.ErrHeader},
		{"empty", nil, 100, nil, io.EOF},
	} {
		out, err := rd.Inflate(nil, tc.body, tc.limit)
		if !errors.Is(err, tc.err) || (err == nil && !bytes.Equal(out, tc.want)) {
			t.Errorf("%s: got %d bytes, %v; want %d bytes, %v", tc.name, len(out), err, len(tc.want), tc.err)
		}
		if errors.Is(err, ErrTooLarge) && len(out) != tc.limit+1 {
			t.Errorf("%s: inflated %d bytes before refusing; want limit+1 = %d", tc.name, len(out), tc.limit+1)
		}
	}
}

// FuzzIsolation: body b's answer after body a is that of a new
// standard-library reader.
func FuzzIsolation(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 1))
	valid := gz(f, text(r, 5000), stdgzip.DefaultCompression)
	f.Add(valid, emptyCodeLengthCode([]byte("\x00\xff\x12\x34")))
	f.Add(valid, emptyDistanceCode([]byte("\x00\xff\x12\x34")))
	f.Add([]byte{}, valid)
	var rd Reader
	f.Fuzz(func(t *testing.T, a, b []byte) {
		want := refAnswer(b)
		answer(&rd, a)
		if got := answer(&rd, b); got != want {
			t.Fatalf("body %x after %x: got %.200s; want %.200s", b, a, got, want)
		}
	})
}

// BenchmarkInflate: a Reader (the standard library's inflater) against a
// bare reused klauspost reader, on valid bodies.
func BenchmarkInflate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 4))
	for _, n := range []int{2000, 64000} {
		plain := text(r, n)
		body := gz(b, plain, stdgzip.DefaultCompression)
		buf := make([]byte, 0, n+1)
		b.Run(fmt.Sprintf("Reader/%d", n), func(b *testing.B) {
			var rd Reader
			b.SetBytes(int64(n))
			for b.Loop() {
				rd.Inflate(buf, body, n)
			}
		})
		b.Run(fmt.Sprintf("bare/%d", n), func(b *testing.B) {
			var src bytes.Reader
			var zr kgzip.Reader
			b.SetBytes(int64(n))
			for b.Loop() {
				src.Reset(body)
				zr.Reset(&src)
				io.ReadFull(&zr, buf[:n])
			}
		})
	}
}
