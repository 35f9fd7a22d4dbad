//go:build linux

package ingest

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestTCPStopDrainsSocket: a TCP source's stop decodes what a connection's
// socket still holds, bytes the kernel acknowledged to the sender: gnet
// reads a connection a buffer per event and stops its loop between two
// events, and would close them unread. The loop is held waiting for room in
// a full ring while the sender's lines pile up in the socket; the source
// stops, then the shard takes batches again. Every line the kernel had
// acknowledged when the stop began is delivered, once, and the lines
// delivered are the first ones sent (the connection stays open: what was
// not acknowledged may be cut, and is then counted).
func TestTCPStopDrainsSocket(t *testing.T) {
	// What the kernel acknowledges is gnet's reads and what waits in
	// the socket (its window, 64 to 128 KiB here). Without the drain, a
	// stop loses all of the latter but one more read of 64 KiB: the test
	// shows something only when the socket took more than that.
	const enough = 2*64<<10 + 16<<10
	for range 5 {
		if stopDrains(t, enough) {
			return
		}
	}
	t.Skipf("the socket never took more than %d bytes while its reader waited: too few for the drain to show", enough)
}

// stopDrains runs TestTCPStopDrainsSocket once; it reports false, having
// checked nothing, if the kernel acknowledged fewer than enough bytes.
func stopDrains(t *testing.T, enough int) bool {
	const lines, width = 40_000, 12 // "n000000:1|c\n"
	var out []byte
	for i := range lines {
		out = fmt.Appendf(out, "n%06d:1|c\n", i)
	}
	if len(out) != lines*width {
		t.Fatalf("lines of %d bytes; want %d", len(out)/lines, width)
	}
	src, k, conn := stalledSource(t, "127.0.0.1:0", lines, out)
	defer conn.Close()
	acked := func() int { return ackedBytes(t, conn.(*net.TCPConn)) }
	for deadline := time.Now().Add(2 * time.Second); acked() < enough; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			go k.run()
			if err := src.Stop(); err != nil {
				t.Fatal(err)
			}
			k.finish()
			return false
		}
	}
	want := acked() / width // lines acknowledged whole
	stopReleasing(t, src, k)
	got := checkExactlyOnce(t, lines, k)
	for i := range got {
		if k.seen[i] != 1 {
			t.Fatalf("%d lines delivered, but not line %d: not the first ones sent", got, i)
		}
	}
	if st := src.Stats(); got < want || st.Dropped != 0 {
		t.Fatalf("%d lines delivered (%d dropped) of the %d the kernel had acknowledged when the stop began", got, st.Dropped, want)
	}
	return true
}

// stalledSource starts a TCP source of one loop at addr, feeding a
// stalledSink of ids line ids whose ring holds two batches, connects to
// it and sends out, and returns once the loop waits for room in the full
// ring: it accepts and reads nothing more until the sink runs (k.run).
func stalledSource(t *testing.T, addr string, ids int, out []byte) (*TCPSource, *lineSink, net.Conn) {
	t.Helper()
	k := stalledSink(1, 2, ids)
	waits := stepsWhileFull(k)
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: addr, Loops: 1, MaxWait: time.Hour, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	go conn.Write(out) // blocks once the windows are full; fails when the source closes
	waitFor(t, "the loop to wait for room in the full ring", func() bool { return waits.Load() >= 2 })
	return src, k, conn
}

// stopReleasing stops src, held by its stalled sink k (stalledSource), and
// lets k run once the stop has begun, then ends k.
func stopReleasing(t *testing.T, src *TCPSource, k *lineSink) {
	t.Helper()
	stopped := make(chan error, 1)
	go func() { stopped <- src.Stop() }()
	waitFor(t, "the stop to begin", src.stopping.Load)
	go k.run()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	k.finish()
}
