package ingest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/sample"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// lineSink plays the shards of one set of lanes on its own goroutine: it
// counts every sample by the number in its name ("n<id>").
type lineSink struct {
	lanes []Lanes
	seen  []uint32 // by id; the sink's own until done is closed
	bad   int      // samples with an unexpected name
	got   atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

func newLineSink(loops, shards, ids int) *lineSink {
	k := &lineSink{seen: make([]uint32, ids), stop: make(chan struct{}), done: make(chan struct{})}
	for range loops {
		k.lanes = append(k.lanes, NewLanes(shards, 1024))
	}
	go k.run()
	return k
}

func (k *lineSink) run() {
	defer close(k.done)
	for {
		if k.drain() > 0 {
			continue
		}
		select {
		case <-k.stop:
			// Everything was published before stop was closed.
			k.drain()
			return
		default:
			time.Sleep(20 * time.Microsecond)
		}
	}
}

func (k *lineSink) drain() int {
	n := 0
	for _, l := range k.lanes {
		for i, r := range l.To {
			for b, ok := r.Pop(); ok; b, ok = r.Pop() {
				for j := range b.Samples {
					pk, err := sample.ParseKey(b.Key(&b.Samples[j]))
					id := 0
					if err == nil && len(pk.Name) > 1 && pk.Name[0] == 'n' {
						id, err = strconv.Atoi(string(pk.Name[1:]))
					}
					if err != nil || id < 0 || id >= len(k.seen) {
						k.bad++
						continue
					}
					k.seen[id]++
				}
				n += len(b.Samples)
				b.Reset()
				l.Back[i].Push(b)
			}
		}
	}
	k.got.Add(int64(n))
	return n
}

// finish stops the sink (its producers must have published everything).
func (k *lineSink) finish() {
	close(k.stop)
	<-k.done
}

// checkExactlyOnce verifies that the sinks together saw every id below sent
// at most once, and returns how many they saw.
func checkExactlyOnce(t *testing.T, sent int, sinks ...*lineSink) int {
	t.Helper()
	total := 0
	for id := 0; id < sent; id++ {
		c := 0
		for _, k := range sinks {
			c += int(k.seen[id])
		}
		if c > 1 {
			t.Fatalf("line %d received %d times", id, c)
		}
		total += c
	}
	for _, k := range sinks {
		if k.bad != 0 {
			t.Fatalf("%d unexpected samples", k.bad)
		}
	}
	return total
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// retarget calls do(i) for i < n, in lock step with senders that count the
// chunks they sent in chunks and wait for retargets to reach a chunk's
// number before sending it: retarget i waits for chunk i-1 to be sent, and
// chunk i for retarget i-1 to be done, so that each retarget overlaps the
// sending of a chunk and consecutive chunks go mostly to alternate lanes,
// without relying on timing.
func retarget(t *testing.T, n int, chunks *atomic.Int64, sendersDone <-chan struct{}, retargets *atomic.Int64, do func(i int) error) {
	t.Helper()
	for i := range n {
		waitFor(t, "the senders", func() bool {
			select {
			case <-sendersDone:
				return true
			default:
				return chunks.Load() >= int64(i)
			}
		})
		if err := do(i); err != nil {
			t.Fatal(err)
		}
		retargets.Add(1)
	}
}

func socketFD(t *testing.T, raw syscall.RawConn) uintptr {
	t.Helper()
	var fd uintptr
	if err := raw.Control(func(f uintptr) { fd = f }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestUDPRetarget: senders keep sending numbered lines while the source is
// switched back and forth between two sets of lanes (with different shard
// counts and decoder configurations). Every line is received exactly once
// on one of them or counted as dropped by the kernel, and the sockets are
// never rebound.
func TestUDPRetarget(t *testing.T) {
	const loops, perDatagram, chunks, perChunk, window = 2, 5, 200, 20, 64
	const datagrams = chunks * perChunk
	const lines = datagrams * perDatagram
	a, b := newLineSink(loops, 3, lines), newLineSink(loops, 2, lines)
	decA, decB := statsd.Config{}, statsd.Config{RateMode: statsd.RateScale}
	cfg := UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Loops: loops, ReadBuffer: 8 << 20, Decoder: decA, Log: quiet}
	with := func(dec statsd.Config) *UDPConfig {
		c := cfg
		c.Decoder = dec
		return &c
	}
	src, err := ListenUDP(cfg, a.lanes)
	if err != nil {
		t.Fatal(err)
	}
	addr := src.Addr().String()
	var fds []uintptr
	for _, l := range src.loops {
		fds = append(fds, socketFD(t, l.raw))
	}
	src.Start()

	var retargets, chunksSent atomic.Int64
	senderDone := make(chan struct{})
	var sendErr error
	go func() {
		defer close(senderDone)
		// Several sending sockets, so that SO_REUSEPORT spreads them over
		// both loops.
		var conns []net.Conn
		for range 4 {
			c, err := net.Dial("udp", addr)
			if err != nil {
				sendErr = err
				return
			}
			defer c.Close()
			conns = append(conns, c)
		}
		id := 0
		buf := make([]byte, 0, 256)
		for chunk := range chunks {
			// Interleave deterministically with the retargeting: each
			// chunk is sent after at least chunk retargets.
			for retargets.Load() < int64(chunk) {
				time.Sleep(20 * time.Microsecond)
			}
			for d := range perChunk {
				// Keep at most window datagrams in flight, so that the
				// socket buffer does not overflow (drops would still be
				// accounted for, but prove less).
				for {
					st := src.Stats()
					inFlight := id - int(a.got.Load()+b.got.Load()) - perDatagram*int(st.KernelDrops)
					if inFlight < window*perDatagram {
						break
					}
					time.Sleep(20 * time.Microsecond)
				}
				buf = buf[:0]
				for range perDatagram {
					buf = fmt.Appendf(buf, "n%d:1|c\n", id)
					id++
				}
				if _, err := conns[(chunk+d)%len(conns)].Write(buf); err != nil {
					sendErr = err
					return
				}
			}
			chunksSent.Add(1)
		}
	}()

	sinks := [2]*lineSink{a, b}
	decs := [2]statsd.Config{decA, decB}
	const n = chunks
	retarget(t, n, &chunksSent, senderDone, &retargets, func(i int) error {
		return src.Retarget(with(decs[(i+1)%2]), sinks[(i+1)%2].lanes)
	})
	<-senderDone
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	if err := src.Retarget(with(decA), a.lanes[:1]); err == nil {
		t.Fatal("Retarget with the wrong number of lanes succeeded")
	}
	other := with(decA)
	other.Loops = 1
	if src.Retargetable(other) || src.Retarget(other, a.lanes[:1]) == nil {
		t.Fatal("a configuration with another number of loops was taken in place")
	}
	waitFor(t, "every line", func() bool {
		return int(a.got.Load()+b.got.Load())+perDatagram*int(src.Stats().KernelDrops) == lines
	})
	for i, l := range src.loops {
		if fd := socketFD(t, l.raw); fd != fds[i] || src.Addr().String() != addr {
			t.Fatalf("socket %d changed: fd %d → %d, address %s → %s", i, fds[i], fd, addr, src.Addr())
		}
	}
	src.Stop()
	a.finish()
	b.finish()
	st := src.Stats()
	got := checkExactlyOnce(t, lines, a, b)
	if got+perDatagram*int(st.KernelDrops) != lines || st.Dropped != 0 {
		t.Fatalf("received %d lines, kernel dropped %d datagrams (of %d lines), shard rings dropped %d; sent %d",
			got, st.KernelDrops, perDatagram, st.Dropped, lines)
	}
	// Counters stayed cumulative across producers and decoders.
	if st.Samples != uint64(got) || st.Lines[statsd.OK] != uint64(got) || st.Datagrams != uint64(datagrams)-st.KernelDrops {
		t.Fatalf("stats %+v; want %d samples", st, got)
	}
	if a.got.Load() == 0 || b.got.Load() == 0 {
		t.Fatalf("one set of lanes received nothing: %d, %d", a.got.Load(), b.got.Load())
	}
	if err := src.Retarget(with(decA), a.lanes); err == nil {
		t.Fatal("Retarget after Stop succeeded")
	}
	t.Logf("%d retargets; %d lines on A, %d on B, %d datagrams dropped by the kernel", n, a.got.Load(), b.got.Load(), st.KernelDrops)
}

// TestUDPStopDrainsSocketBuffer: datagrams queued in the socket while no
// loop reads (the source was never started) are published by Stop.
func TestUDPStopDrainsSocketBuffer(t *testing.T) {
	const datagrams = 50
	k := newLineSink(1, 2, datagrams)
	src, err := ListenUDP(UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", ReadBuffer: 4 << 20, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range datagrams {
		fmt.Fprintf(conn, "n%d:1|c", i)
	}
	src.Stop()
	k.finish()
	st := src.Stats()
	got := checkExactlyOnce(t, datagrams, k)
	// Without the drain nothing at all would have been read. A datagram the
	// kernel had not queued yet when Stop began would be refused by the
	// filter and counted as a kernel drop.
	if got+int(st.KernelDrops) != datagrams || got == 0 || st.Datagrams != uint64(got) {
		t.Fatalf("published %d of %d datagrams, kernel drops %d; stats %+v", got, datagrams, st.KernelDrops, st)
	}
}

// TestUDPStopWithBusySender: a sender that never stops cannot keep Stop
// from returning, and nothing is counted twice.
func TestUDPStopWithBusySender(t *testing.T) {
	const max = 1 << 20
	k := newLineSink(1, 2, max)
	src, conn := startUDP(t, UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", ReadBuffer: 1 << 20, Log: quiet}, k.lanes)
	quit := make(chan struct{})
	var sent atomic.Int64
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		buf := make([]byte, 0, 32)
		for i := 0; i < max; i++ {
			select {
			case <-quit:
				return
			default:
			}
			buf = fmt.Appendf(buf[:0], "n%d:1|c", i)
			conn.Write(buf) // errors (refused once closed) are expected
			sent.Add(1)
		}
	}()
	waitFor(t, "traffic", func() bool { return k.got.Load() > 1000 })
	src.Stop()
	close(quit)
	<-senderDone
	k.finish()
	st := src.Stats()
	got := checkExactlyOnce(t, max, k)
	if got+int(st.KernelDrops) > int(sent.Load()) || st.Datagrams != uint64(got) {
		t.Fatalf("received %d, kernel drops %d, sent %d; stats %+v", got, st.KernelDrops, sent.Load(), st)
	}
}

// TestTCPRetarget: like TestUDPRetarget over TCP, where nothing may be
// lost: every line is received exactly once.
func TestTCPRetarget(t *testing.T) {
	const loops, conns, chunks, perChunk, window = 2, 3, 200, 100, 2000
	const lines = chunks * perChunk
	a, b := newLineSink(loops, 3, lines), newLineSink(loops, 2, lines)
	decA, decB := statsd.Config{}, statsd.Config{RateMode: statsd.RateScale}
	cfg := TCPConfig{Name: "statsd-tcp", Addr: "127.0.0.1:0", Loops: loops, Decoder: decA, Log: quiet}
	with := func(dec statsd.Config) *TCPConfig {
		c := cfg
		c.Decoder = dec
		return &c
	}
	src, err := ListenTCP(cfg, a.lanes)
	if err != nil {
		t.Fatal(err)
	}
	addr := src.Addr().String()
	var retargets, chunksSent, sent atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			buf := make([]byte, 0, 64*perChunk)
			// Connection c sends chunks c, c+conns, ...; a chunk ends in a
			// partial line completed by the next write.
			for chunk := c; chunk < chunks; chunk += conns {
				for retargets.Load() < int64(chunk) {
					time.Sleep(20 * time.Microsecond)
				}
				for sent.Load()-a.got.Load()-b.got.Load() > window {
					time.Sleep(20 * time.Microsecond)
				}
				for i := chunk * perChunk; i < (chunk+1)*perChunk; i++ {
					buf = fmt.Appendf(buf, "n%d:1|c\n", i)
				}
				cut := len(buf) - 3
				if _, err := conn.Write(buf[:cut]); err != nil {
					errs <- err
					return
				}
				sent.Add(perChunk)
				chunksSent.Add(1)
				buf = append(buf[:0], buf[cut:]...)
			}
			if _, err := conn.Write(buf); err != nil {
				errs <- err
			}
		})
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	sinks := [2]*lineSink{a, b}
	decs := [2]statsd.Config{decA, decB}
	const n = chunks
	retarget(t, n, &chunksSent, sendersDone, &retargets, func(i int) error {
		if i%10 >= 8 {
			// Two retargets in ten wait until chunk i (sent under the lanes
			// retarget i-1 chose: a for an even i, b for an odd one) has
			// been read, but for a partial line a connection: so both sets
			// receive lines whatever the scheduling (a starved source used
			// to read every chunk under one of them), and the other
			// retargets overlap the sending.
			waitFor(t, "chunk "+strconv.Itoa(i)+" read", func() bool {
				select {
				case <-sendersDone: // a sender failed: its error is reported below
					return true
				default:
				}
				return chunksSent.Load() > int64(i) && a.got.Load()+b.got.Load() >= int64((i+1)*perChunk-conns)
			})
		}
		return src.Retarget(with(decs[(i+1)%2]), sinks[(i+1)%2].lanes)
	})
	<-sendersDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "every line", func() bool { return int(a.got.Load()+b.got.Load()) == lines })
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	a.finish()
	b.finish()
	st := src.Stats()
	if got := checkExactlyOnce(t, lines, a, b); got != lines || st.Samples != lines || st.Lines[statsd.OK] != lines || st.Dropped != 0 {
		t.Fatalf("received %d of %d lines; stats %+v", got, lines, st)
	}
	if a.got.Load() == 0 || b.got.Load() == 0 {
		t.Fatalf("one set of lanes received nothing: %d, %d", a.got.Load(), b.got.Load())
	}
	if err := src.Retarget(with(decA), a.lanes); err == nil {
		t.Fatal("Retarget after Stop succeeded")
	}
	graphite := with(decA)
	graphite.Format = FormatGraphite
	if src.Retargetable(graphite) {
		t.Fatal("a Graphite configuration is retargetable onto a StatsD source")
	}
	t.Logf("%d retargets; %d lines on A, %d on B", n, a.got.Load(), b.got.Load())
}
