//go:build linux

package ingest

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	k := stalledSink(1, 2, lines)
	waits := stepsWhileFull(k)
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Loops: 1, MaxWait: time.Hour, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []byte
	for i := range lines {
		out = fmt.Appendf(out, "n%06d:1|c\n", i)
	}
	if len(out) != lines*width {
		t.Fatalf("lines of %d bytes; want %d", len(out)/lines, width)
	}
	go conn.Write(out) // blocks once the windows are full; fails when the source closes
	waitFor(t, "the loop to wait for room in the full ring", func() bool { return waits.Load() >= 2 })
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	acked := func() (n int) {
		raw.Control(func(fd uintptr) {
			if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil && ti.Bytes_acked > 0 {
				n = int(ti.Bytes_acked - 1) // the SYN counts one
			}
		})
		return n
	}
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
	stopped := make(chan error, 1)
	go func() { stopped <- src.Stop() }()
	waitFor(t, "the stop to begin", src.stopping.Load)
	go k.run()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	k.finish()
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

// TestTCPStopDrainsBacklog: a TCP source's stop decodes what was sent on
// the connections still in its listener's backlog, which the kernel had
// accepted (and whose bytes it had acknowledged) but gnet never did: gnet's
// closing the listener would reset them with what they sent. The loop is
// held waiting for room in a full ring, so it accepts nothing, while three
// more clients connect and send: one ends its stream after a last line
// without its newline (decoded whole), one stays open after whole lines,
// one stays open in the middle of a line (cut, and counted).
func TestTCPStopDrainsBacklog(t *testing.T) {
	const held, each = 30_000, 200
	const lines = held + 3*each
	k := stalledSink(1, 2, lines)
	waits := stepsWhileFull(k)
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Loops: 1, MaxWait: time.Hour, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	first, err := net.Dial("tcp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	var out []byte
	for i := range held {
		out = fmt.Appendf(out, "n%d:1|c\n", i)
	}
	go first.Write(out) // blocks once the windows are full; fails when the source closes
	waitFor(t, "the loop to wait for room in the full ring", func() bool { return waits.Load() >= 2 })

	// The backlog: the loop, waiting, accepts none of these.
	var backlog []*net.TCPConn
	for j := range 3 {
		c, err := net.Dial("tcp", src.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var b []byte
		for i := held + j*each; i < held+(j+1)*each; i++ {
			b = fmt.Appendf(b, "n%d:1|c\n", i)
		}
		switch j {
		case 0:
			b = b[:len(b)-1] // its last line without a newline, then the end of its stream
		case 2:
			b = append(b, "n0:1"...) // a line still to be finished: cut
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if j == 0 {
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
		}
		tc := c.(*net.TCPConn)
		backlog = append(backlog, tc)
		waitFor(t, "the kernel to acknowledge a backlog connection's bytes", func() bool { return ackedBytes(t, tc) >= len(b) })
	}
	stopped := make(chan error, 1)
	go func() { stopped <- src.Stop() }()
	waitFor(t, "the stop to begin", src.stopping.Load)
	go k.run()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	k.finish()
	checkExactlyOnce(t, lines, k)
	for i := held; i < lines; i++ {
		if k.seen[i] != 1 {
			t.Fatalf("line %d, sent on a connection in the backlog, not delivered", i)
		}
	}
	st := src.Stats()
	if st.Connections != 4 || st.CutLines < 1 || st.Dropped != 0 {
		t.Fatalf("stats %+v; want 4 connections, the backlog's last one's line cut, nothing dropped", st)
	}
	runtime.KeepAlive(backlog)
}

// ackedBytes returns the bytes of c's stream its peer acknowledged.
func ackedBytes(t *testing.T, c *net.TCPConn) (n int) {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	raw.Control(func(fd uintptr) {
		if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil && ti.Bytes_acked > 0 {
			n = int(ti.Bytes_acked - 1) // the SYN counts one
		}
	})
	return n
}

// TestTCPListenersFound: a stop finds every event loop's listening socket
// of its source (gnet hands out one), and none of another source's.
func TestTCPListenersFound(t *testing.T) {
	var srcs []*TCPSource
	for _, loops := range []int{3, 2} {
		src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Loops: loops, Log: quiet}, newLineSink(loops, 1, 1).lanes)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Stop()
		srcs = append(srcs, src)
	}
	for i, want := range []int{3, 2} {
		// ListenTCP returns once gnet has booted, before every loop
		// listens.
		var fds []int
		waitFor(t, "every loop to listen", func() bool {
			for _, fd := range fds {
				unix.Close(fd)
			}
			fds = srcs[i].dupListeners()
			return len(fds) >= want
		})
		for _, fd := range fds {
			sa, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			if port := sa.(*unix.SockaddrInet4).Port; port != srcs[i].Addr().(*net.TCPAddr).Port {
				t.Errorf("source %d: a listener on port %d; want %s", i, port, srcs[i].Addr())
			}
			unix.Close(fd)
		}
		if len(fds) != want {
			t.Errorf("source %d: %d listening sockets found; want %d (one a loop)", i, len(fds), want)
		}
	}
}
