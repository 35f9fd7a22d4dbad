package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gomad/mad/internal/sample"
)

// v3Body is a V3 Request of one record with one metric of n samples.
func v3Body(name string, n int) []byte {
	ident := func(s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), s)
	}
	var packed []byte
	for i := 0; i < n; i++ {
		packed = protowire.AppendFixed64(packed, math.Float64bits(float64(i)))
	}
	num := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), packed)
	entry := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ident(name))
	entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), num)
	rec := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), make([]byte, 16))
	rec = protowire.AppendVarint(protowire.AppendTag(rec, 2, protowire.VarintType), uint64(time.Now().UnixMilli()))
	rec = protowire.AppendBytes(protowire.AppendTag(rec, 5, protowire.BytesType), entry)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rec)
}

func serve(s *HTTPSource, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, HTTPClientV3.Path(), bytes.NewReader(body)))
	return w
}

// TestHTTPSaturated: when a shard's ring stays full past the deadline, the
// request is answered 503 with Retry-After and nothing of it is published;
// once the shard makes room, the same request is accepted whole.
func TestHTTPSaturated(t *testing.T) {
	lanes := NewLanes(1, 1)
	// The shard is "behind": its ring is full.
	full := 0
	for lanes.To[0].Push(new(sample.Batch)) {
		full++
	}
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, Deadline: 20 * time.Millisecond}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(s, v3Body("m", 3))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("saturated: %d %q, Retry-After %q", w.Code, w.Body.String(), w.Header().Get("Retry-After"))
	}
	if st := s.Stats(); st.Saturated != 1 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
	// The shard catches up.
	for i := 0; i < full; i++ {
		if b, ok := lanes.To[0].Pop(); !ok || len(b.Samples) != 0 {
			t.Fatal("the refused request was published")
		}
	}
	w = serve(s, v3Body("m", 3))
	if w.Code != http.StatusOK {
		t.Fatalf("after room: %d %s", w.Code, w.Body.String())
	}
	b, ok := lanes.To[0].Pop()
	if !ok || b.Count() != 3 {
		t.Fatalf("published %v samples", b)
	}
	if st := s.Stats(); st.Accepted != 1 || st.Samples != 3 || st.Records != 1 {
		t.Errorf("stats %+v", st)
	}
	s.Stop()
	if w := serve(s, v3Body("m", 1)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("after Stop: %d", w.Code)
	}
}

// TestHTTPBusySlots: a request that finds every slot taken waits, and is
// answered 503 if none frees up in time.
func TestHTTPBusySlots(t *testing.T) {
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 2, Deadline: 20 * time.Millisecond}, []Lanes{NewLanes(1, 4), NewLanes(1, 4)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.slots.get(), s.slots.get()
	if w := serve(s, v3Body("m", 1)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("no slot: %d", w.Code)
	}
	s.slots.put(a)
	s.slots.put(b)
	if w := serve(s, v3Body("m", 1)); w.Code != http.StatusOK {
		t.Errorf("with a slot: %d %s", w.Code, w.Body.String())
	}
}

func TestReadBodyLimit(t *testing.T) {
	for _, limit := range []int{4096, 200_000} {
		for _, n := range []int{0, 1, 100, limit, limit + 1, 3 * limit} {
			b, err := readBody(bytes.NewReader(make([]byte, n)), nil, limit, -1)
			if n <= limit && (err != nil || len(b) != n) {
				t.Errorf("%d bytes: %d, %v", n, len(b), err)
			}
			if n > limit && err != errTooLarge {
				t.Errorf("%d bytes over the limit: %v", n, err)
			}
			if cap(b) > limit+1 {
				t.Errorf("%d bytes, limit %d: the buffer grew to %d", n, limit, cap(b))
			}
		}
	}
	if _, err := readBody(io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{}), nil, 100, -1); err == nil || err == errTooLarge {
		t.Errorf("read error: %v", err)
	}
	// A declared size within the limit: one buffer of that size, whole.
	const limit = 1 << 20
	for _, n := range []int{0, 1, 300_000, limit - 1} {
		b, err := readBody(bytes.NewReader(make([]byte, n)), nil, limit, int64(n))
		if err != nil || len(b) != n || cap(b) != n+1 {
			t.Errorf("declared %d: %d bytes in %d, %v; want one buffer of %d", n, len(b), cap(b), err, n+1)
		}
	}
	// A size declared wrong (net/http holds a body to its Content-Length;
	// readBody does not rely on it): still every byte, within the limit.
	for _, c := range []struct{ n, declared int }{{5000, 10}, {10, 5000}, {limit + 7, 100}} {
		b, err := readBody(bytes.NewReader(make([]byte, c.n)), nil, limit, int64(c.declared))
		switch {
		case c.n > limit:
			if err != errTooLarge || cap(b) > limit+1 {
				t.Errorf("%d bytes declared %d: %v, a buffer of %d", c.n, c.declared, err, cap(b))
			}
		case err != nil || len(b) != c.n:
			t.Errorf("%d bytes declared %d: %d bytes, %v", c.n, c.declared, len(b), err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestHeaderDims: X-TAG-* headers, any case, become lower-cased dimensions.
func TestHeaderDims(t *testing.T) {
	h := http.Header{}
	h.Set("X-Tag-Service", "MyService")
	h["x-tag-Cluster"] = []string{"MyCluster"}
	h.Set("X-Other", "no")
	h.Add("X-Tag-Zone", "first")
	h.Add("X-Tag-Zone", "last")
	dims := headerDims(nil, h)
	got := map[string]string{}
	for _, d := range dims {
		got[string(d.Key)] = string(d.Value)
	}
	if len(got) != 3 || got["service"] != "MyService" || got["cluster"] != "MyCluster" || got["zone"] != "last" {
		t.Errorf("dims %v", got)
	}
}

// TestProducerDropsHugeReturnedBatches: a batch that grew past MaxRetained
// is not reused when the shard gives it back.
func TestProducerDropsHugeReturnedBatches(t *testing.T) {
	l := NewLanes(1, 4)
	p := NewProducer(l)
	p.MaxRetained = 8
	huge := &sample.Batch{Samples: make([]sample.Sample, 0, 100)}
	small := &sample.Batch{Samples: make([]sample.Sample, 0, 8)}
	l.Back[0].Push(huge)
	l.Back[0].Push(small)
	if b := p.fresh(0); b != small {
		t.Errorf("fresh returned a batch of capacity %d, want the small one", cap(b.Samples))
	}
	if b := p.fresh(0); b == huge || b == small {
		t.Error("fresh reused a batch it should have dropped or already handed out")
	}
}

// zstdFrames is n frames of size zeros each, concatenated.
func zstdFrames(t *testing.T, n, size int) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return bytes.Repeat(enc.EncodeAll(make([]byte, size), nil), n)
}

// TestUnzstdManyFrames: a body of many tiny zstd frames is decoded, or
// refused at the limit, in time linear in what it decodes to. (Left to
// grow its output itself, the decoder reallocates it for every frame: the
// 16 MiB of this bomb took minutes.) The bound of 60 s is on a failure,
// not a measure: it takes well under a second.
func TestUnzstdManyFrames(t *testing.T) {
	const limit = 16 << 20
	bomb := zstdFrames(t, 32<<10, 1<<10) // 32 MiB from 16 bytes a frame
	done := make(chan error, 1)
	go func() {
		_, err := new(httpSlot).decompress("zstd", bomb, limit)
		done <- err
	}()
	select {
	case err := <-done:
		if err != errTooLarge {
			t.Errorf("bomb of tiny frames: %v; want errTooLarge", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a bomb of tiny zstd frames still decoding after 60 s")
	}
	// Within the limit, every frame is decoded.
	sl := new(httpSlot)
	for _, tc := range []struct{ frames, size int }{{1, 100}, {3, 1 << 20}, {1000, 1 << 10}, {1, limit}, {16, 1 << 20}} {
		out, err := sl.decompress("zstd", zstdFrames(t, tc.frames, tc.size), limit)
		if err != nil || len(out) != tc.frames*tc.size {
			t.Errorf("%d frames of %d bytes: %d bytes, %v", tc.frames, tc.size, len(out), err)
		}
	}
	if _, err := sl.decompress("zstd", zstdFrames(t, 1, limit+1), limit); err != errTooLarge {
		t.Errorf("one frame over the limit: %v; want errTooLarge", err)
	}
}

// TestHTTPSlotKeepsOnlySmallBuffers: a slot keeps its buffers and decoders
// for the next request while they are small, and a request that needed
// more (a large valid body, or a bomb refused at the limit) leaves nothing
// of them behind, nor a reference to its body.
func TestHTTPSlotKeepsOnlySmallBuffers(t *testing.T) {
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, MaxDecompressed: 8 << 20}, []Lanes{NewLanes(1, 4)})
	if err != nil {
		t.Fatal(err)
	}
	sl := s.all[0]
	drain := func() {
		for {
			b, ok := sl.prod.lanes.To[0].Pop()
			if !ok {
				return
			}
			b.Reset()
			sl.prod.lanes.Back[0].Push(b)
		}
	}
	post := func(enc string, body []byte) int {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, HTTPClientV3.Path(), bytes.NewReader(body))
		r.Header.Set("Content-Encoding", enc)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		drain()
		return w.Code
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	kept := func() bool { return sl.plain != nil && sl.gz != nil && sl.pb != nil }
	if code := post("gzip", gz(v3Body("m", 10))); code != http.StatusOK || !kept() {
		t.Fatalf("small request: %d; buffers and decoders kept: %v", code, kept())
	}
	for _, tc := range []struct {
		name, enc string
		body      []byte
		code      int
	}{
		{"large valid body", "", v3Body("m", 200_000), http.StatusOK},
		{"gzip bomb", "gzip", bytes.Repeat(gz(make([]byte, 1<<20)), 64), http.StatusRequestEntityTooLarge},
		{"zstd bomb", "zstd", zstdFrames(t, 64, 1<<20), http.StatusRequestEntityTooLarge},
	} {
		if code := post("gzip", gz(v3Body("m", 10))); code != http.StatusOK || !kept() {
			t.Fatalf("%s: small request before: %d", tc.name, code)
		}
		if code := post(tc.enc, tc.body); code != tc.code {
			t.Fatalf("%s: %d; want %d", tc.name, code, tc.code)
		}
		if tc.code == http.StatusOK {
			// Accepted: kept for the next large request until the slot
			// has been idle for httpHoldIdle.
			if !sl.held || cap(sl.body) < len(tc.body) || sl.pb == nil || sl.prod.lanes.Back[0].Len() == 0 {
				t.Fatalf("%s: held %v, body %d bytes, decoder %v, %d batches back", tc.name, sl.held, cap(sl.body), sl.pb != nil, sl.prod.lanes.Back[0].Len())
			}
			if !s.sweep(time.Now()) || !sl.held {
				t.Fatalf("%s: let go of before the slot was idle", tc.name)
			}
			if !s.sweep(time.Now().Add(httpHoldIdle)) || sl.held {
				t.Fatalf("%s: still held once idle", tc.name)
			}
		}
		if n := sl.prod.PendingBytes(); n > 4<<10 || sl.prod.lanes.Back[0].Len() != 0 {
			t.Errorf("%s: %d bytes of batches kept, %d batches back", tc.name, n, sl.prod.lanes.Back[0].Len())
		}
		if cap(sl.body) != 0 || cap(sl.plain) != 0 || sl.zs != nil || sl.pb != nil || sl.gz != nil {
			t.Errorf("%s: the slot kept body %d, plain %d bytes, zstd %v, decoder %v, gzip %v",
				tc.name, cap(sl.body), cap(sl.plain), sl.zs != nil, sl.pb != nil, sl.gz != nil)
		}
	}
	if st := s.Stats(); st.Refusals[RefusedDecompressedTooLarge] != 2 || st.Accepted != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestGzipTrailer: a gzip body's last 4 bytes, its trailer's size if it
// ends with a member, only size its buffer, to at most gzipHintRatio times
// the body: a member within the limit inflates into one buffer of its size;
// a body is refused as too large only once it has inflated past the limit,
// whatever its trailer says; bytes after the last member, short or long,
// are refused as gzip's error, without a buffer they would size.
func TestGzipTrailer(t *testing.T) {
	const limit = 1 << 20
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	withSize := func(b []byte, n uint32) []byte {
		b = bytes.Clone(b)
		binary.LittleEndian.PutUint32(b[len(b)-4:], n)
		return b
	}
	// Text that inflates about 10 times, as metrics do.
	text := func(n int) []byte {
		var b []byte
		for i := 0; len(b) < n; i++ {
			b = fmt.Appendf(b, "service.metric_%05d:%d|c|#host:h%03d\n", i*7919%100000, i%1000, i%97)
		}
		return b[:n]
	}
	allocs := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	sl := new(httpSlot)
	out, err := sl.decompress("gzip", gz(text(300_000)), limit)
	if err != nil || len(out) != 300_000 || cap(out) != 300_001 {
		t.Errorf("within the limit: %d bytes in %d, %v; want 300000 in one buffer of 300001", len(out), cap(out), err)
	}
	if out, err := new(httpSlot).decompress("gzip", gz(make([]byte, 300_000)), limit); err != nil || len(out) != 300_000 {
		t.Errorf("zeros, past the hint's ratio: %d bytes, %v", len(out), err)
	}
	// Not valid, with a trailer over the limit: gzip's error, not 413.
	corrupt := withSize(bytes.Repeat([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 100), limit+1)
	if _, err := new(httpSlot).decompress("gzip", corrupt, limit); err == nil || err == errTooLarge {
		t.Errorf("a corrupt body whose trailer is over the limit: %v; want gzip's error", err)
	}
	// Bytes after the last member, after a short member and a long one
	// (whose 1032-to-1 bound would have believed them): gzip's error.
	for _, size := range []int{1, 250_000} {
		for _, tail := range []string{"GARBAGE", "\n", "\xff\xff\xff\xff", "and some garbage"} {
			body := append(gz(text(size)), tail...)
			var out []byte
			var err error
			n := allocs(func() { out, err = new(httpSlot).decompress("gzip", body, 256<<20) })
			if err == nil || err == errTooLarge || n > uint64(gzipHintRatio*len(body)+size)+64<<10 {
				t.Errorf("%q after a member of %d bytes: %v, %d bytes allocated (%d kept); want gzip's error and at most %d times the body",
					tail, size, err, n, cap(out), gzipHintRatio)
			}
		}
	}
	// Over the limit, truthful or lying: refused once inflated past it,
	// in a buffer of the limit at most.
	for name, body := range map[string][]byte{
		"a dense member":      gz(make([]byte, 4*limit)),
		"a trailer that lies": withSize(gz(make([]byte, 2*limit)), 100),
	} {
		if out, err := new(httpSlot).decompress("gzip", body, limit); err != errTooLarge || cap(out) > limit+1 {
			t.Errorf("%s over the limit: %d bytes in %d, %v; want errTooLarge within %d", name, len(out), cap(out), err, limit+1)
		}
	}
}

// TestDeclaredSizesNotBelievedBeyondTheBody: a body of a few bytes that
// declares a size it cannot decode to (in a gzip trailer, a zstd frame
// header, a snappy block's length) is refused for what it is, a format
// error, without a buffer of that size: snappy's decoder allocated the
// declared length first (250 MB for 6 bytes), zstd's buffer was doubled
// to the limit (512 MB). (A snappy block declaring more than the limit
// is refused as too large first, as remote write's blocks are.)
func TestDeclaredSizesNotBelievedBeyondTheBody(t *testing.T) {
	const limit = 256 << 20
	// A frame of no declared size whose window is 128 MiB (window
	// descriptor: exponent 17), then the same block header.
	zstdWindow := append(binary.LittleEndian.AppendUint32(nil, 0xFD2FB528), 0x00, 17<<3, 0x01, 0x00, 0x40)
	fakeBlocks := append(binary.LittleEndian.AppendUint32(nil, 0xFD2FB528), 0x00, 7<<3)
	for i := range 200 {
		h := uint32(2)<<1 | 2<<3 // compressed, 2 bytes
		if i == 199 {
			h |= 1
		}
		fakeBlocks = append(fakeBlocks, byte(h), byte(h>>8), byte(h>>16), 0xAB, 0xCD)
	}
	gzipTrailer := func(isize uint32) []byte {
		b := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0, 0, 0, 0}
		return binary.LittleEndian.AppendUint32(b, isize)
	}
	for _, tc := range []struct {
		name, enc string
		body      []byte
	}{
		{"snappy under the limit", "snappy", append(binary.AppendUvarint(nil, 250<<20), 0x00, 'x')},
		{"zstd under the limit", "zstd", zstdHeader(250 << 20)},
		{"zstd over the limit", "zstd", zstdHeader(limit + 1)},
		{"zstd, a large window", "zstd", zstdWindow},
		{"zstd, a valid frame then a lying one", "zstd", append(zstdFrames(t, 1, 1000), zstdHeader(250<<20)...)},
		// The review's: a frame of 8 KiB of random bytes, then a header
		// declaring 250 MB (within 32 768 times the body); a header
		// declaring 250 MB, then 8 000 zero bytes (raw blocks of none).
		{"zstd, 8 KiB of a frame then a lying one", "zstd", append(zstdOf(t, randomBytes(8<<10)), zstdHeader(250<<20)...)},
		{"zstd, a lying frame then zeros", "zstd", append(zstdHeader(250 << 20)[:13], make([]byte, 8000)...)},
		// Compressed blocks that are not, in a frame of no declared
		// size: 128 KiB a block to the walk, refused at the first.
		{"zstd, compressed blocks that are not", "zstd", fakeBlocks},
		{"gzip under the limit", "gzip", gzipTrailer(250 << 20)},
		{"gzip over the limit", "gzip", gzipTrailer(limit + 1)},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, err := new(httpSlot).decompress(tc.enc, tc.body, limit)
		runtime.ReadMemStats(&after)
		if err == nil || errors.Is(err, errTooLarge) {
			t.Errorf("%s (%d bytes): %v; want the format's error", tc.name, len(tc.body), err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 || cap(out) > 64<<10 {
			t.Errorf("%s: %d bytes allocated, a buffer of %d", tc.name, n, cap(out))
		}
	}
}

// TestZstdAnswerNotTheSlots: a zstd body is answered the same by a new
// slot and by one whose kept buffer an earlier request grew past the
// limit (the review's case: a valid frame, then a header declaring more
// than the limit and than the body holds).
func TestZstdAnswerNotTheSlots(t *testing.T) {
	const limit = 4 << 20
	body := append(zstdOf(t, []byte("hello")), zstdHeader(8<<20)...)
	_, fresh := new(httpSlot).decompress("zstd", body, limit)
	warm := new(httpSlot)
	if out, err := warm.decompress("zstd", zstdOf(t, make([]byte, limit)), limit); err != nil || len(out) != limit {
		t.Fatal(len(out), err)
	}
	_, again := warm.decompress("zstd", body, limit)
	if fresh == nil || again == nil || fresh.Error() != again.Error() {
		t.Errorf("a new slot: %v; a slot that kept %d bytes: %v", fresh, cap(warm.plain), again)
	}
	if out, err := warm.decompress("zstd", zstdOf(t, []byte("again")), limit); err != nil || string(out) != "again" || cap(warm.plain) < limit {
		t.Errorf("after: %q, %v; the kept buffer %d bytes", out, err, cap(warm.plain))
	}
}

// TestUnzstdStreamedBodies: valid zstd bodies, whose frames declare their
// size or not (a stream's, as zstd.Writer and the zstd command write them),
// decode whole in a new slot and in slots that kept buffers of any size.
// (The decoder reports a buffer too small for a frame of no declared size
// as "output bigger than max block size": streamed bodies of 200 kB and
// more were refused.)
func TestUnzstdStreamedBodies(t *testing.T) {
	const limit = 16 << 20
	r := rand.New(rand.NewPCG(1, 2))
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBestCompression} {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1000, 70 << 10, 200 << 10, 1 << 20, 3 << 20} {
			p := eightLetters(r, n)
			streamed := zstdStream(enc, p)
			for name, body := range map[string][]byte{
				"streamed":                streamed,
				"declared":                enc.EncodeAll(p, nil),
				"declared, then streamed": append(enc.EncodeAll(p[:n/2], nil), streamed...),
			} {
				for _, kept := range []int{0, 1, 100, 4 << 10, 64 << 10, 100 << 10, 300 << 10, 1 << 20, 2 << 20} {
					sl := new(httpSlot)
					if kept > 0 {
						sl.plain = make([]byte, 0, kept)
					}
					out, err := sl.decompress("zstd", body, limit)
					if err != nil || len(out) < n || !bytes.Equal(out[len(out)-n:], p) {
						t.Errorf("level %v, %d bytes, %s, a kept buffer of %d: %d bytes, %v", lvl, n, name, kept, len(out), err)
					}
				}
			}
		}
		enc.Close()
	}
	// A size of 2^64-1 in a frame with a window byte is no size declared,
	// as the decoders read it.
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0xC0, 0x00)
	b = append(b, bytes.Repeat([]byte{0xFF}, 8)...)
	b = append(b, 0x01|3<<3, 0, 0)
	b = append(b, "ab\n"...)
	for name, body := range map[string][]byte{"alone": b, "after a frame": append(zstdOf(t, []byte("hello\n")), b...)} {
		if out, err := new(httpSlot).decompress("zstd", body, limit); err != nil || !bytes.HasSuffix(out, []byte("ab\n")) {
			t.Errorf("a size of all ones, %s: %q, %v", name, out, err)
		}
	}
}

// zstdHeader is the header of a zstd frame of a single segment declaring
// fcs bytes, then the header of a last raw block of none.
func zstdHeader(fcs uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0xE0)
	b = binary.LittleEndian.AppendUint64(b, fcs)
	return append(b, 0x01, 0x00, 0x00)
}

// zstdOf is b as one zstd frame.
func zstdOf(t *testing.T, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// eightLetters is n of the letters a to h at random: text whose zstd
// stream, decoded into a buffer too small, gets the decoder's "output
// bigger than max block size".
func eightLetters(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefgh"[r.IntN(8)]
	}
	return b
}

// zstdStream is p as enc writes it as a stream: frames that declare no
// size, as zstd.Writer and the zstd command write them.
func zstdStream(enc *zstd.Encoder, p []byte) []byte {
	var b bytes.Buffer
	enc.Reset(&b)
	enc.Write(p)
	enc.Close()
	return b.Bytes()
}

// randomBytes is n bytes that do not compress.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestGzipBytesAfterTheMember: a gzip body followed by bytes that are not
// another member is refused as malformed (400, the inflater's word), not
// as too large for what its last 4 bytes would say as a trailer.
func TestGzipBytesAfterTheMember(t *testing.T) {
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1}, []Lanes{NewLanes(1, 4)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(v3Body("m", 10))
	w.Close()
	r := httptest.NewRequest(http.MethodPost, HTTPClientV3.Path(), bytes.NewReader(append(buf.Bytes(), "and some garbage"...)))
	r.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Body.String(), "gzip: invalid header") {
		t.Fatalf("%d %q; want 400 naming gzip's invalid header", rec.Code, rec.Body.String())
	}
	if st := s.Stats(); st.Refusals[RefusedDecompressedTooLarge] != 0 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestHTTPRefusedRequestDropsGrownBatches: a body under httpKeepBytes that
// decodes into batches past it and is then refused (malformed at its end)
// leaves no grown batches in the slot.
func TestHTTPRefusedRequestDropsGrownBatches(t *testing.T) {
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1}, []Lanes{NewLanes(1, 4)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var body []byte
	for i := 0; len(body) < httpKeepBytes*15/16; i++ {
		body = append(body, v3Body(fmt.Sprintf("metric.%07d", i), 1)...)
	}
	body = append(body, 0x0a, 0x7f) // a record whose length runs past the end
	if w := serve(s, body); w.Code != http.StatusBadRequest {
		t.Fatalf("%d %s; want 400", w.Code, w.Body.String())
	}
	sl := s.all[0]
	if n := sl.prod.PendingBytes(); n > 4<<10 || sl.held {
		t.Errorf("a refused request of %d bytes left %d bytes of batches (held %v)", len(body), n, sl.held)
	}
}

// TestHTTPRequestExpandingPastTheBoundRefused: a request whose samples
// take more than maxRequestSampleBytes once decoded is answered 413, its
// decoding stopped on the way (the bounded route's message), and nothing
// of it is published (a batch's 32-bit offsets would wrap past 4 GiB); a
// smaller one is accepted.
func TestHTTPRequestExpandingPastTheBoundRefused(t *testing.T) {
	defer func(old int64) { maxRequestSampleBytes = old }(maxRequestSampleBytes)
	maxRequestSampleBytes = 64 << 10
	lanes := NewLanes(1, 4)
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var body []byte
	for i := range 2000 {
		body = append(body, v3Body(fmt.Sprintf("metric.%07d", i), 4)...)
	}
	w := serve(s, body)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "decodes into more than") {
		t.Fatalf("%d %s; want 413", w.Code, w.Body.String())
	}
	if b, ok := lanes.To[0].Pop(); ok {
		t.Fatalf("a refused request published %d samples", b.Count())
	}
	if w := serve(s, v3Body("small", 4)); w.Code != http.StatusOK {
		t.Fatalf("%d %s; want 200", w.Code, w.Body.String())
	}
	if b, ok := lanes.To[0].Pop(); !ok || b.Count() != 4 {
		t.Fatalf("the small request: published %v", ok)
	}
}

// TestInjectExpandingPastTheBoundStopped: Inject's fill (the daemon's own
// metrics) routes through the same bound, through a mapper too: a fill
// that would route 100 MB of keys is stopped near the bound with the
// bound's error, nothing is published, the slot lets go of what it grew,
// and the next Inject is accepted.
func TestInjectExpandingPastTheBoundStopped(t *testing.T) {
	defer func(old int64) { maxRequestSampleBytes = old }(maxRequestSampleBytes)
	maxRequestSampleBytes = 1 << 20
	for _, mapped := range []bool{false, true} {
		cfg := HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1}
		if mapped {
			cfg.Mappers = []MapperSpec{&TimeStampingSpec{}}
		}
		lanes := NewLanes(1, 4)
		s, err := NewHTTPSource(cfg, []Lanes{lanes})
		if err != nil {
			t.Fatal(err)
		}
		key := append([]byte{byte(sample.KindCounter)}, strings.Repeat("k", 1000)...)
		routed := 0
		err = s.Inject(func(route sample.Route) (sample.Counts, error) {
			for i := range 100_000 {
				key[1] = byte(i)
				h := sample.Hash(key)
				b := route(h)
				b.AddValue(b.PutKeyBytes(key, h), 1, 0, 1, sample.UnitNone)
				routed++
			}
			return sample.Counts{Samples: routed}, nil
		})
		if !errors.Is(err, errExpands) || !strings.Contains(err.Error(), "decodes into more than") {
			t.Errorf("mapped %v: Inject: %v; want the bound's error", mapped, err)
		}
		if most := int(maxRequestSampleBytes/1000) + 2*expandCheckEvery; routed > most {
			t.Errorf("mapped %v: %d samples routed before the stop; want at most %d", mapped, routed, most)
		}
		if b, ok := lanes.To[0].Pop(); ok {
			t.Errorf("mapped %v: a stopped Inject published %d samples", mapped, b.Count())
		}
		sl := s.slots.get()
		if n := sl.prod.PendingBytes(); n > httpKeepBytes {
			t.Errorf("mapped %v: the slot kept %d bytes of batches after the stop", mapped, n)
		}
		s.slots.put(sl)
		err = s.Inject(func(route sample.Route) (sample.Counts, error) {
			h := sample.Hash(key)
			b := route(h)
			b.AddValue(b.PutKeyBytes(key, h), 1, 0, 1, sample.UnitNone)
			return sample.Counts{Samples: 1}, nil
		})
		if err != nil {
			t.Errorf("mapped %v: the next Inject: %v", mapped, err)
		}
		s.Stop()
	}
}

// TestHTTPClientGoneWhileWaitingCounted: a client that leaves while its
// request waits for a slot is counted (client_gone), not lost from the
// counts, and nothing else is.
func TestHTTPClientGoneWhileWaitingCounted(t *testing.T) {
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, Log: slog.New(slog.DiscardHandler)}, []Lanes{NewLanes(1, 4)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	sl := s.slots.get() // every slot busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client has left
	r := httptest.NewRequest(http.MethodPost, HTTPClientV3.Path(), bytes.NewReader(v3Body("m", 1))).WithContext(ctx)
	s.ServeHTTP(httptest.NewRecorder(), r)
	s.slots.put(sl)
	for why := range NumHTTPRefusals {
		want := uint64(0)
		if why == RefusedClientGone {
			want = 1
		}
		if got := s.refusals[why].Load(); got != want {
			t.Errorf("%s: %d refusals; want %d", why, got, want)
		}
	}
	if st := s.Stats(); st.Gone != 1 || st.Failed != 0 || st.BadRequest != 0 {
		t.Errorf("by answer: %+v; want one gone", st)
	}
}

// TestHTTPLargeRequestsFillOneSetOfBatches: once the shard gives back the
// batch of a slot's large request, the slot's next request decodes into
// that batch (grown to the size of a large request) rather than into a
// second one growing beside it; a batch the shard keeps is waited for a
// bounded time, then forgotten, so that the requests after it wait for
// nothing; a client that leaves while its request waits for the batches is
// refused as gone.
func TestHTTPLargeRequestsFillOneSetOfBatches(t *testing.T) {
	lanes := NewLanes(1, 4)
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, Deadline: time.Minute}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	// The janitor would let go of the slot's batches after a second idle
	// (a slow run under the race detector): stop it.
	close(s.stopJanitor)
	s.stopJanitor = make(chan struct{})
	// take applies what the ring holds as a shard would, giving the
	// batches back if back is set, and returns the batches it took.
	take := func(back bool) []*sample.Batch {
		var got []*sample.Batch
		for b, ok := lanes.To[0].Pop(); ok; b, ok = lanes.To[0].Pop() {
			got = append(got, b)
			b.Reset()
			if back {
				lanes.Back[0].Push(b)
			}
		}
		return got
	}
	large := func() {
		t.Helper()
		if w := serve(s, v3Body("m", 200_000)); w.Code != http.StatusOK {
			t.Fatalf("large: %d %s", w.Code, w.Body.String())
		}
	}
	large()
	first := take(true)
	if len(first) != 1 {
		t.Fatalf("took %d batches of a large request, want 1", len(first))
	}
	for i := range 3 {
		large()
		got := take(true)
		if len(got) != 1 || got[0] != first[0] {
			t.Fatalf("large request %d was published in %d batches, not in the first one's (%p): %p", i+2, len(got), first[0], got)
		}
	}
	// A batch the shard keeps: the next large request goes on with another
	// batch once the wait for it runs out, and forgets it.
	large()
	if kept := take(false); len(kept) != 1 {
		t.Fatalf("took %d batches, want 1", len(kept))
	}
	large()
	second := take(true)
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("after a batch kept by the shard: %d batches, the kept one again: %v", len(second), len(second) == 1 && second[0] == first[0])
	}
	sl := s.slots.get()
	returned := sl.prod.Returned()
	s.slots.put(sl)
	if !returned {
		t.Fatal("the slot still counts the batch the shard kept as out: every large request would wait for it")
	}
	large()
	if got := take(true); len(got) != 1 || got[0] != second[0] {
		t.Fatalf("after the kept batch was forgotten: %d batches, not the one given back", len(got))
	}
	// A client gone while its request waits for the batches to come back
	// (the shard took them and keeps them) is refused as gone before its
	// body is decoded (a malformed one here: decoding it would answer 400),
	// and nothing of its request is published.
	large()
	if kept := take(false); len(kept) != 1 {
		t.Fatalf("took %d batches, want 1", len(kept))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, HTTPClientV3.Path(), bytes.NewReader([]byte{0xff, 0xff, 0xff})).WithContext(ctx))
	if n := lanes.To[0].Len(); n != 0 {
		t.Fatalf("%d batches published for a client gone", n)
	}
	if st := s.Stats(); st.Accepted != 8 || st.Saturated != 0 || st.Gone != 1 || st.BadRequest != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestHTTPRequestAfterALargeOneWaitsUntilItIsTaken: after a request whose
// batches held more than httpKeepBytes, the slot's next request decodes
// nothing until the shards have taken them; past its deadline it is
// refused (503) with nothing published, and once the shard has taken them
// it is accepted. After small requests nothing waits.
func TestHTTPRequestAfterALargeOneWaitsUntilItIsTaken(t *testing.T) {
	lanes := NewLanes(1, 4)
	s, err := NewHTTPSource(HTTPConfig{Name: "v3", Kind: HTTPClientV3, Slots: 1, Deadline: 100 * time.Millisecond}, []Lanes{lanes})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	take := func() int {
		n := 0
		for b, ok := lanes.To[0].Pop(); ok; b, ok = lanes.To[0].Pop() {
			n += b.Count()
			b.Reset()
			lanes.Back[0].Push(b)
		}
		return n
	}
	// Small requests, nobody taking them: no wait.
	for range 2 {
		if w := serve(s, v3Body("m", 3)); w.Code != http.StatusOK {
			t.Fatalf("small: %d %s", w.Code, w.Body.String())
		}
	}
	if n := take(); n != 6 {
		t.Fatalf("took %d samples of the small requests, want 6", n)
	}
	// A large request (1.6 MB of values) is answered at once.
	if w := serve(s, v3Body("m", 200_000)); w.Code != http.StatusOK {
		t.Fatalf("large: %d %s", w.Code, w.Body.String())
	}
	// The next one waits for it to be taken, and is refused at its deadline.
	if w := serve(s, v3Body("m", 3)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("after a large request not taken: %d %s, want 503", w.Code, w.Body.String())
	}
	if n := lanes.To[0].Len(); n != 1 {
		t.Fatalf("%d batches in the ring, want the large request's alone", n)
	}
	if n := take(); n != 200_000 {
		t.Fatalf("took %d samples, want the large request's 200000", n)
	}
	if w := serve(s, v3Body("m", 3)); w.Code != http.StatusOK {
		t.Fatalf("once taken: %d %s", w.Code, w.Body.String())
	}
	if n := take(); n != 3 {
		t.Fatalf("took %d samples, want 3", n)
	}
	// The slot's batches grew for the large request: what small requests
	// publish is what decides, not what the batches hold room for.
	for i := range 3 {
		if w := serve(s, v3Body("m", 3)); w.Code != http.StatusOK {
			t.Fatalf("small request %d in the grown batches: %d %s", i, w.Code, w.Body.String())
		}
	}
	if n := take(); n != 9 {
		t.Fatalf("took %d samples, want 9", n)
	}
	// A client that leaves while its request waits is counted as gone,
	// and nothing of its request is published.
	if w := serve(s, v3Body("m", 200_000)); w.Code != http.StatusOK {
		t.Fatalf("large: %d", w.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, HTTPClientV3.Path(), bytes.NewReader(v3Body("m", 3))).WithContext(ctx))
	if n := take(); n != 200_000 {
		t.Fatalf("took %d samples, want the large request's 200000 alone", n)
	}
	if st := s.Stats(); st.Saturated != 1 || st.Gone != 1 || st.Accepted != 8 {
		t.Errorf("stats %+v", st)
	}
}
