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

// TestPrimerIsEmpty: the primer is a valid gzip member of nothing, to the
// standard library's inflater too.
func TestPrimerIsEmpty(t *testing.T) {
	zr, err := stdgzip.NewReader(bytes.NewReader(primer))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil || len(out) != 0 {
		t.Fatalf("primer: %q, %v", out, err)
	}
}

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

// answer is what r says of body: its bytes or its error.
func answer(r *Reader, body []byte) string {
	out, err := r.Inflate(nil, body, 1<<20)
	if err != nil {
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
	out, err := io.ReadAll(io.LimitReader(&zr, 1<<20+1))
	if err != nil {
		return fmt.Sprintf("error %v", err)
	}
	return fmt.Sprintf("%x", out)
}

// TestIsolation: a body's answer (its bytes or its error) after any other
// body is the answer of a Reader that never inflated anything, for valid
// bodies and for corrupt ones with empty codes. A bare klauspost reader
// answers some of the corrupt ones by what it read before: if it stops
// doing so, upstream fixed its tables and the primer can go.
func TestIsolation(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 1))
	var befores, bodies [][]byte
	for _, n := range []int{0, 1, 100, 3000, 70000} {
		for _, level := range []int{stdgzip.HuffmanOnly, stdgzip.BestSpeed, stdgzip.DefaultCompression, stdgzip.BestCompression} {
			befores = append(befores, gz(t, text(r, n), level))
		}
	}
	bodies = append(bodies, befores...)
	for range 20 {
		tail := make([]byte, 1+r.IntN(64))
		for i := range tail {
			tail[i] = byte(r.Uint32())
		}
		bodies = append(bodies, emptyCodeLengthCode(tail), emptyDistanceCode(tail))
	}
	bareDiffers := 0
	for i, b := range bodies {
		want := answer(new(Reader), b)
		bareFresh := bareAnswer(nil, b)
		for j, before := range befores {
			var rd Reader
			answer(&rd, before)
			if got := answer(&rd, b); got != want {
				t.Fatalf("body %d after body %d: got %.200s; want %.200s", i, j, got, want)
			}
			if bareAnswer(before, b) != bareFresh {
				bareDiffers++
			}
		}
	}
	if bareDiffers == 0 {
		t.Fatal("a reused klauspost reader answered every body as a new one: the primer may no longer be needed")
	}
	t.Logf("a bare reused reader answered %d of %d pairs differently", bareDiffers, len(bodies)*len(befores))
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

// FuzzIsolation: body b's answer after body a is its answer from a new
// Reader.
func FuzzIsolation(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 1))
	valid := gz(f, text(r, 5000), stdgzip.DefaultCompression)
	f.Add(valid, emptyCodeLengthCode([]byte("\x00\xff\x12\x34")))
	f.Add(valid, emptyDistanceCode([]byte("\x00\xff\x12\x34")))
	f.Add([]byte{}, valid)
	var rd Reader
	f.Fuzz(func(t *testing.T, a, b []byte) {
		want := answer(new(Reader), b)
		answer(&rd, a)
		if got := answer(&rd, b); got != want {
			t.Fatalf("body %x after %x: got %.200s; want %.200s", b, a, got, want)
		}
	})
}

// TestZeroAllocs: inflating a body into a buffer large enough allocates
// nothing.
func TestZeroAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	body := gz(t, text(r, 3000), stdgzip.DefaultCompression)
	var rd Reader
	buf := make([]byte, 0, 4000)
	run := func() {
		out, err := rd.Inflate(buf, body, 3000)
		if len(out) != 3000 || err != nil {
			t.Fatal(len(out), err)
		}
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("%v allocations per body", a)
	}
}

// BenchmarkInflate: a Reader against a bare reused klauspost reader (what
// the Reader costs on valid bodies), and the primer alone.
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
	b.Run("primer", func(b *testing.B) {
		var rd Reader
		for b.Loop() {
			rd.prime()
		}
	})
}
