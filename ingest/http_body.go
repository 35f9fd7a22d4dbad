package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gomad/mad/internal/bounded"
	"github.com/gomad/mad/internal/gunzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// How a request's body is held. A slot reads the body into its buffer (of
// the declared size, or growing by doubling) and undoes the
// Content-Encoding into another, which grows by doubling; neither passes
// the limit (plus one byte, to see that it was passed), so a request costs
// at most about twice its limits in allocations whatever it sends.
// Buffers up to httpKeepBytes stay in the slot for the next request. A
// refused request that needed more (a bomb stopped at the limit, a large
// malformed body) leaves nothing behind: its buffers, batches and the
// slot's decoders (whose scratch grows with what they decoded) are dropped,
// and the memory is given back to the operating system (giveBack), so that
// an attack's memory does not outlive it. An accepted one's are held for
// the next large request until the slot has been idle for httpHoldIdle
// (release, janitor).

// httpKeepBytes is the largest buffer a slot keeps between requests
// without holding them (release): MAD's clients send batches well below it
// (the Java client's 500 records, Prometheus' 2000 samples).
const httpKeepBytes = 1 << 20

var errTooLarge = bounded.ErrTooLarge

// gzipMinSize is the smallest gzip member: a 10-byte header, an empty
// deflate block, an 8-byte trailer.
const gzipMinSize = 20

// gzipHintRatio bounds how many times its size a gzip body's trailer may
// size its buffer: metrics inflate 5 to 30 times, and a body past it grows
// its buffer by doubling instead (deflate reaches 1032 to 1, so a trailer
// believed that far would let 170 kB ending in a newline, read as a
// trailer, size 167 MB).
const gzipHintRatio = 64

// readBody reads all of r into buf, refusing more than limit bytes
// (errTooLarge, having read limit+1). A body of declared size (its
// Content-Length; -1 if none) within the limit is read into a buffer made
// to its size at once; others grow from 64 KiB, doubling (leaving about
// their size again as garbage).
func readBody(r io.Reader, buf []byte, limit int, size int64) ([]byte, error) {
	grow := 64 << 10
	if size >= 0 && size < int64(limit) {
		grow = int(size) + 1 // room for the read that reports the end
	}
	return bounded.ReadAll(r, buf, limit, grow)
}

// isTimeout reports whether a read failed because a deadline passed (the
// server's read timeout, over HTTP/1 or HTTP/2).
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// knownEncoding reports whether mad undoes the Content-Encoding enc
// (lower-cased). MAD ignores the header (MAD-SPEC §3.1): a body in any
// other encoding is parsed as sent.
func knownEncoding(enc string) bool {
	switch enc {
	case "", "identity", "gzip", "x-gzip", "zstd", "snappy":
		return true
	}
	return false
}

// note records that the request held a buffer of n bytes.
func (sl *httpSlot) note(n int) { sl.peak = max(sl.peak, n) }

// decompress undoes a known Content-Encoding (gzip, zstd, snappy block;
// identity) into the slot's buffer, refusing more than limit bytes.
func (sl *httpSlot) decompress(enc string, body []byte, limit int) ([]byte, error) {
	switch enc {
	case "gzip", "x-gzip":
		// The last 4 bytes are the trailer's ISIZE, the size of the
		// last member modulo 2^32, if the body ends with a member. It is
		// not verified until inflated (bytes may follow the member, a
		// trailer may lie), so it only sizes the buffer, and to at most
		// gzipHintRatio times the body: a body is refused as too large
		// once it has inflated past the limit, and a few bytes never
		// size a buffer of the limit.
		if len(body) >= gzipMinSize {
			n := uint64(binary.LittleEndian.Uint32(body[len(body)-4:]))
			n = min(n, gzipHintRatio*uint64(len(body)), uint64(limit))
			if int(n) >= cap(sl.plain) {
				sl.plain = make([]byte, 0, n+1)
			}
		}
		if sl.gz == nil {
			sl.gz = new(gunzip.Reader)
		}
		out, err := sl.gz.Inflate(sl.plain, body, limit)
		sl.gz.Release()
		sl.plain = out[:0]
		sl.note(cap(out))
		switch {
		case errors.Is(err, errTooLarge):
			return out, errTooLarge
		case err != nil && strings.HasPrefix(err.Error(), "gzip: "):
			return out, err // the gzip reader's own (a header, a checksum)
		case err != nil:
			return out, fmt.Errorf("gzip: %w", err)
		}
		return out, nil
	case "zstd":
		return sl.unzstd(body, limit)
	case "snappy":
		// Snappy as specified (DecodeStrict), as remote write's own
		// blocks are read (promrw): its declared length is believed only
		// where the block could hold it, since the decoder allocates it.
		n, err := snappy.DecodedLen(body)
		if err != nil {
			return nil, fmt.Errorf("snappy: %w", err)
		}
		if n > limit {
			return nil, errTooLarge
		}
		if _, hdr := binary.Uvarint(body); !bounded.SnappyHolds(uint64(n), len(body)-hdr) {
			return nil, fmt.Errorf("snappy: the block declares %d bytes, more than its %d bytes after the length can hold", n, len(body)-hdr)
		}
		out, err := snappy.DecodeStrict(sl.plain[:cap(sl.plain)], body)
		if err != nil {
			return nil, fmt.Errorf("snappy: %w", err)
		}
		sl.plain = out[:0]
		sl.note(cap(out))
		return out, nil
	}
	if len(body) > limit {
		return nil, errTooLarge
	}
	return body, nil
}

// unzstd decodes every frame of body. The decoder writes only within the
// buffer it is given (WithDecodeAllCapLimit): left to grow the output
// itself it reallocates it for each frame, which makes a body of many tiny
// frames cost time quadratic in its decoded size (a 1 MiB body, half an
// hour). Here a buffer too small is doubled, and decoding starts over: at
// most about twice the work and the memory of what the body can decode to.
//
// That is bounded before decoding (bounded.ZstdMost): by the limit, and by
// what the frames' blocks can make, read from their headers. The decoder
// wants a buffer as large as a frame declares before it reads the frame's
// blocks, so a frame header of a few bytes declaring 250 MB had the buffer
// doubled to the limit, 512 MB allocated, before the frame was found
// corrupt; a frame declaring more than its blocks make is now refused
// first. The buffer a slot kept is used only up to the bound, so that a
// body's answer never depends on the requests before it.
func (sl *httpSlot) unzstd(body []byte, limit int) ([]byte, error) {
	if sl.zs == nil {
		var err error
		sl.zs, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)),
			zstd.WithDecodeAllCapLimit(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
	}
	// bound: the most the body decodes to, from its frames' and blocks'
	// headers. A body whose headers do not walk (one runs past the end,
	// or holds a reserved value, or bytes follow that are no frame) is
	// one the decoder refuses too, after it has sized a buffer by a
	// frame's declared size; it is refused here first.
	bound, lies, ok := bounded.ZstdMost(body)
	switch {
	case !ok:
		return nil, fmt.Errorf("zstd: a frame or block header runs past the body's %d bytes or is not valid", len(body))
	case lies:
		return nil, fmt.Errorf("zstd: the frames declare more than their %d bytes can hold", len(body))
	}
	most := min(uint64(limit), bound) + 1 // the buffer's largest
	kept := sl.plain[:0]
	buf := kept
	if uint64(cap(buf)) > most {
		buf = buf[:0:most]
	}
	// The first frame's declared size, which its blocks can make (the
	// walk), refuses the body or sizes the buffer; a body that declares
	// none starts from 16 times its size (metrics compress about 10
	// times), not from the smallest buffer, to spare it restarts.
	var h zstd.Header
	if h.Decode(body) == nil && h.HasFCS && (h.SingleSegment || h.FrameContentSize != 1<<64-1) {
		switch {
		case h.FrameContentSize > uint64(limit):
			return nil, errTooLarge
		case int(h.FrameContentSize) >= cap(buf):
			buf = make([]byte, 0, h.FrameContentSize+1)
		}
	} else if guess := min(most, max(64<<10, 16*uint64(len(body)))); uint64(cap(buf)) < guess {
		buf = make([]byte, 0, guess)
	}
	for {
		sl.note(cap(buf))
		out, err := sl.zs.DecodeAll(body, buf[:0])
		if err == nil {
			sl.plain = out[:0]
			if cap(out) > 0 && cap(out) < cap(kept) && &out[:1][0] == &kept[:1][0] {
				sl.plain = kept // the kept buffer, whole again
			}
			return out, nil
		}
		// A buffer too small is not always reported as such: for a frame
		// that declares no size, the decoder's sequence execution says
		// "output bigger than max block size" (in v1.20.3, in its
		// generic and assembly paths alike; streamed bodies of 200 kB
		// and more were refused). That error, below the bound, decodes
		// the body again into a larger buffer; any other is final at
		// once, so that a corrupt body costs no buffers it cannot fill
		// (TestUnzstdStreamedBodies holds the wording).
		switch small := errors.Is(err, zstd.ErrDecoderSizeExceeded) || strings.HasPrefix(err.Error(), "output bigger than max block size"); {
		case !small:
			return nil, fmt.Errorf("zstd: %w", err)
		case uint64(cap(buf)) < most:
		case bound > uint64(limit):
			return nil, errTooLarge
		default:
			return nil, fmt.Errorf("zstd: the body decodes to more than its headers allow (%d bytes)", bound)
		}
		buf = make([]byte, 0, min(max(2*uint64(cap(buf)), 64<<10), most))
	}
}

// release ends a request on the slot: the decoders let go of the body.
// If the request held more than httpKeepBytes anywhere, its buffers,
// decoders and batches are kept for the next requests when it was
// accepted (a client that sends large requests keeps sending them: made
// anew each time, with their doublings, they were several times the
// request in garbage), until the slot has been idle for httpHoldIdle
// (dropHeld, by the source's janitor); a refused one (a bomb, a body too
// large or malformed) has them dropped and the memory given back at once.
func (sl *httpSlot) release(accepted bool) {
	// The batches too: a refused request's, discarded, keep what they grew
	// to (an accepted one's were noted before they were published).
	sl.note(sl.prod.PendingBytes())
	if sl.peak <= httpKeepBytes && !sl.held {
		return
	}
	peak := sl.peak
	sl.peak = 0
	sl.lastUse = time.Now()
	if accepted {
		sl.held = true
		if peak > sl.heldMax {
			// Grown: what the growth left (the smaller buffers, their
			// doublings) is garbage that nothing collects while the
			// requests that follow allocate nothing.
			sl.heldMax = peak
			giveBack()
		}
		return
	}
	sl.dropHeld()
}

// httpHoldIdle is how long a slot that holds a large request's memory
// stays idle before the janitor lets go of it.
const httpHoldIdle = time.Second

// dropHeld lets go of the slot's buffers, decoders and batches and gives
// the memory back.
func (sl *httpSlot) dropHeld() {
	sl.held, sl.heldMax = false, 0
	sl.body, sl.plain = nil, nil
	sl.dropDecoders()
	sl.prod.DropBatches()
	giveBack()
}

// janitor lets go of the memory of slots that hold a large request's and
// have been idle for httpHoldIdle (sweep, every trimEvery), until stop is
// closed or the slots are.
func (s *HTTPSource) janitor(stop <-chan struct{}) {
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if !s.sweep(now) {
				return
			}
		}
	}
}

// sweep borrows the slots that are free (a request never waits for it: it
// holds them only to look) and drops the memory of those that hold a large
// request's and have been idle for httpHoldIdle at now. It returns false
// once the slots are closed (the source stopped).
func (s *HTTPSource) sweep(now time.Time) bool {
	taken := make([]*httpSlot, 0, len(s.all))
	defer func() {
		for _, sl := range taken {
			s.slots.put(sl)
		}
	}()
	for range s.all {
		select {
		case _, ok := <-s.slots.tokens:
			if !ok {
				return false
			}
			taken = append(taken, s.slots.claim(-1))
		default:
			return true
		}
		if sl := taken[len(taken)-1]; sl.held && now.Sub(sl.lastUse) >= httpHoldIdle {
			sl.dropHeld()
		}
	}
	return true
}

// dropDecoders drops the slot's decoders; the next request makes new ones.
func (sl *httpSlot) dropDecoders() {
	if sl.zs != nil {
		sl.zs.Close()
	}
	sl.zs, sl.gz = nil, nil
	sl.pb, sl.collectd, sl.prom, sl.otlp, sl.grpc, sl.json = nil, nil, nil, nil, nil, nil
	sl.jsonPB = nil
}

// giveBack returns the heap's free memory to the operating system
// (debug.FreeOSMemory: a GC, then every free page released), in the
// background and at most once a second: after a large request its
// buffers are garbage, but without it the runtime would keep their pages
// until the next GC cycle, which an idle daemon reaches only every two
// minutes, and then release them gradually. The operation is
// process-wide, hence one worker for the process.
func giveBack() {
	giveBackOnce.Do(func() {
		giveBackKick = make(chan struct{}, 1)
		go func() {
			for range giveBackKick {
				debug.FreeOSMemory()
				time.Sleep(time.Second)
			}
		}()
	})
	select {
	case giveBackKick <- struct{}{}:
	default: // one is pending: it will cover this request too
	}
}

var (
	giveBackOnce sync.Once
	giveBackKick chan struct{}
)
