//go:build linux

package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

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
	src, k, first := stalledSource(t, "127.0.0.1:0", lines, heldLines(held))
	defer first.Close()

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
	stopReleasing(t, src, k)
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

// TestTCPListenersFound: a source holds every event loop's listening
// socket (gnet hands out one), of its address, and none of another
// source's, whatever the address: a wildcard, IPv4, IPv6, or a second
// source at the same address and port (SO_REUSEPORT), as a reload opens
// one before it stops the other.
func TestTCPListenersFound(t *testing.T) {
	addrs := []string{"127.0.0.1:0", "0.0.0.0:0", ":0", "[::1]:0", "[::]:0"}
	var srcs []*TCPSource
	for i, addr := range addrs {
		loops := 2 + i%2
		src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: addr, Loops: loops, Log: quiet}, newLineSink(loops, 1, 1).lanes)
		if err != nil {
			if addr[0] == '[' || addr[0] == ':' { // gnet binds ":0" to [::], dual-stack
				t.Logf("no IPv6 here (%v): %s left out", err, addr)
				continue
			}
			t.Fatal(err)
		}
		defer src.Stop()
		srcs = append(srcs, src)
	}
	// A second source at the first one's address and port.
	twin, err := ListenTCP(TCPConfig{Name: "twin", Addr: srcs[0].Addr().String(), Loops: 2, Log: quiet}, newLineSink(2, 1, 1).lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer twin.Stop()
	srcs = append(srcs, twin)
	seen := map[uint64]bool{}
	for _, src := range srcs {
		if len(src.listeners) != src.cfg.Loops {
			t.Errorf("source at %s: %d listening sockets; want %d (one a loop)", src.Addr(), len(src.listeners), src.cfg.Loops)
		}
		for _, fd := range src.listeners {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				t.Fatal(err)
			}
			if seen[st.Ino] {
				t.Errorf("source at %s: a socket another source holds too", src.Addr())
			}
			seen[st.Ino] = true
			sa, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			port := 0
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				port = sa.Port
			case *unix.SockaddrInet6:
				port = sa.Port
			}
			if port != src.Addr().(*net.TCPAddr).Port {
				t.Errorf("source at %s: a listener on port %d", src.Addr(), port)
			}
		}
	}
}

// TestTCPStopLeavesAnotherSourcesBacklog: a reload that moves a TCP source
// from 0.0.0.0:p to 127.0.0.1:p opens the new source first
// (pipeline.Update: added keys open before gone ones stop; both listen, as
// gnet sets SO_REUSEPORT), then stops the old one. The old source's stop
// must drain its own listeners' backlogs only: a connection waiting in the
// new source's backlog belongs to the new source, which is running.
func TestTCPStopLeavesAnotherSourcesBacklog(t *testing.T) {
	const held, each = 30_000, 200
	const lines = held + each
	oldSink := newLineSink(1, 1, lines)
	old, err := ListenTCP(TCPConfig{Name: "old", Addr: "0.0.0.0:0", Loops: 1, Log: quiet}, oldSink.lanes)
	if err != nil {
		t.Fatal(err)
	}
	port := old.Addr().(*net.TCPAddr).Port

	// The new source, its loop held waiting for room in a full ring, so
	// that a connection stays in its listener's backlog.
	nw, k, first := stalledSource(t, fmt.Sprintf("127.0.0.1:%d", port), lines, heldLines(held))
	defer first.Close()
	c, err := net.Dial("tcp", nw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b []byte
	for i := held; i < lines; i++ {
		b = fmt.Appendf(b, "n%d:1|c\n", i)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	waitFor(t, "the kernel to acknowledge the backlog connection's bytes", func() bool { return ackedBytes(t, tc) >= len(b) })

	// The reload stops the old source.
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	oldSink.finish()
	oldStats := old.Stats()

	stopReleasing(t, nw, k)
	if oldStats.Connections != 0 || oldSink.got.Load() != 0 {
		t.Errorf("the old source (0.0.0.0:%d), stopping, took %d connections and delivered %d samples; want none: they were the new source's (127.0.0.1:%d)",
			port, oldStats.Connections, oldSink.got.Load(), port)
	}
	checkExactlyOnce(t, lines, k, oldSink)
	for i := held; i < lines; i++ {
		if k.seen[i] != 1 {
			t.Fatalf("line %d, sent to the new source, not delivered by it (to the old source's sink: %d times)", i, oldSink.seen[i])
		}
	}
}

// TestTCPStopLeavesOtherListeners: a TCP source on [::]:p (IPv6 only, as
// gnet binds "[::]") shares its port with a listener of another part of
// the process on 127.0.0.1:p (no SO_REUSEPORT needed: another family).
// The source's stop must not accept the connection waiting on that
// listener (which it does when the listener is plain TCP, as Go's are on a
// kernel without MPTCP).
func TestTCPStopLeavesOtherListeners(t *testing.T) {
	// Plain TCP: Go listens with MPTCP where the kernel has it (SO_PROTOCOL
	// 262, which listensAt passes over), with TCP elsewhere.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	k := newLineSink(1, 1, 1)
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: fmt.Sprintf("[::]:%d", port), Loops: 1, Log: quiet}, k.lanes)
	if err != nil {
		t.Skipf("cannot listen on [::]:%d beside 127.0.0.1:%d: %v", port, port, err)
	}
	waiting, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	if _, err := waiting.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	k.finish()
	// A second connection, so that Accept returns even if the first one
	// was taken.
	second, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.RemoteAddr().String() != waiting.LocalAddr().String() {
		t.Errorf("the listener on 127.0.0.1:%d accepted %s first, not %s, waiting since before the stop of the source on [::]:%d (which counted %d connections): the stop took it",
			port, a.RemoteAddr(), waiting.LocalAddr(), port, src.Stats().Connections)
	}
}

// TestTCPStopKeepsRecordLocks: a TCP source looks for its listening
// sockets among the process's descriptors; closing a duplicate of a file's
// descriptor would release the process's POSIX record locks on it
// (fcntl(2)), as the first version, which duplicated every descriptor,
// did. A lock another part of the process holds must survive the source's
// start and stop.
func TestTCPStopKeepsRecordLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	// Another open file description sees the lock (an OFD lock query
	// conflicts with the process's record locks).
	probe, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	held := func() bool {
		q := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0}
		if err := unix.FcntlFlock(probe.Fd(), unix.F_OFD_GETLK, &q); err != nil {
			t.Fatal(err)
		}
		return q.Type != unix.F_UNLCK
	}
	if !held() {
		t.Fatal("the record lock is not seen")
	}
	k := newLineSink(1, 1, 1)
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Loops: 1, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	k.finish()
	if !held() {
		t.Error("the process's record lock on a file was released by a TCP source's stop")
	}
}

// exhaustFDs fills every free descriptor below a lowered RLIMIT_NOFILE
// with /dev/null, so that the next descriptor the process creates fails
// with EMFILE, but spare; the returned function gives them back.
func exhaustFDs(t *testing.T, limit uint64, spare int) (restore func()) {
	t.Helper()
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	lim := saved
	lim.Cur = min(limit, saved.Max)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
	var fill []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if err != unix.EMFILE {
				t.Fatal(err)
			}
			break
		}
		fill = append(fill, fd)
	}
	if len(fill) < spare {
		for _, fd := range fill {
			unix.Close(fd)
		}
		unix.Setrlimit(unix.RLIMIT_NOFILE, &saved)
		t.Skipf("%d descriptors free under the limit of %d; %d wanted", len(fill), lim.Cur, spare)
	}
	for range spare { // the lowest free descriptors are taken first: any will do
		unix.Close(fill[len(fill)-1])
		fill = fill[:len(fill)-1]
	}
	return func() {
		for _, fd := range fill {
			unix.Close(fd)
		}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTCPEngineDeathClosesListeners: gnet's engine can stop on its own,
// without Stop: an event loop that fails (accept(2) failing with EMFILE is
// fatal to gnet: ErrAcceptSocket) shuts the whole engine down and closes
// its listening sockets. The source's duplicates must not keep them
// listening: nobody accepts on them any more, so clients would be queued,
// their bytes acknowledged and never read, until a Stop that nothing
// calls, instead of being refused (as before 51c0e06).
func TestTCPEngineDeathClosesListeners(t *testing.T) {
	k := newLineSink(1, 1, 1)
	src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Loops: 1, Log: quiet}, k.lanes)
	if err != nil {
		t.Fatal(err)
	}
	defer k.finish()
	defer src.Stop()
	port := src.Addr().(*net.TCPAddr).Port
	client, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(client)

	// gnet's accept of this connection fails with EMFILE: its loop
	// exits, and the engine shuts down and returns from gnet.Run.
	restore := exhaustFDs(t, 1024, 0)
	err = unix.Connect(client, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	if err != nil {
		restore()
		t.Fatal(err)
	}
	waitFor(t, "gnet.Run to return on its own", func() bool { return len(src.done) == 1 })
	restore()

	c, err := net.Dial("tcp", src.Addr().String())
	if err == nil {
		c.Close()
		open := 0
		for _, fd := range src.listeners {
			if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v == 1 {
				open++
			}
		}
		t.Fatalf("gnet's engine stopped on its own, yet a connection to %s was accepted: the source still holds %d listening sockets nobody serves", src.Addr(), open)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatal(err)
	}
}

// TestTCPClaimAllOrNothing: a source claims every loop's listening socket
// or fails. Here the process runs out of descriptors between gnet's start
// and the claim, which has room for one duplicate: a source started with
// one (as it did at b37d858) would leave the other socket, serving and
// unclaimed, to the next source started at the address, whose stop would
// drain it (and which, once the first source stops, keeps it listening
// with nobody accepting).
func TestTCPClaimAllOrNothing(t *testing.T) {
	// A port of its own, but given: with port 0 the placeholder that picks
	// it frees a descriptor just before the claim.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ka := newLineSink(2, 1, 1)
	defer ka.finish()
	// With one descriptor free more each time: too few for gnet to start,
	// then enough for it and for some of the claim's duplicates, which is
	// where a partial claim would succeed.
	for spare := 1; spare <= 32; spare++ {
		restore := exhaustFDs(t, 1024, spare)
		a, err := ListenTCP(TCPConfig{Name: "a", Addr: addr, Loops: 2, Log: quiet}, ka.lanes)
		restore()
		switch {
		case err != nil && strings.Contains(err.Error(), "listening sockets found"):
			return // refused, holding none: what the test wants
		case err != nil:
			continue // gnet itself could not start
		}
		defer a.Stop()
		if len(a.listeners) != 2 {
			t.Fatalf("source a: ListenTCP succeeded holding %d listening sockets of its 2 loops", len(a.listeners))
		}
		kb := newLineSink(1, 1, 1)
		defer kb.finish()
		b, err := ListenTCP(TCPConfig{Name: "b", Addr: a.Addr().String(), Loops: 1, Log: quiet}, kb.lanes)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Stop()
		if len(b.listeners) != 1 {
			t.Errorf("source b (1 loop) at %s claimed %d listening sockets: source a's among them", a.Addr(), len(b.listeners))
		}
		t.Fatalf("with %d descriptors free, source a started and claimed both its sockets; with one fewer gnet could not start: no partial claim was tried", spare)
	}
	t.Fatal("source a never started")
}

// TestTCPStopReleasesClosedListeners: a stopping source releases each of
// its listening sockets' claims; a source starting at the same address
// must not find the socket still open and unclaimed in between, or it
// holds a socket that no loop serves (connections queued to it hang until
// its own stop).
func TestTCPStopReleasesClosedListeners(t *testing.T) {
	kx := newLineSink(1, 1, 1)
	x, err := ListenTCP(TCPConfig{Name: "x", Addr: "127.0.0.1:0", Loops: 1, Log: quiet}, kx.lanes)
	if err != nil {
		t.Fatal(err)
	}
	ky := newLineSink(1, 1, 1)
	defer ky.finish()
	var y *TCPSource
	var yErr error
	afterRelease = func() {
		afterRelease = nil
		y, yErr = ListenTCP(TCPConfig{Name: "y", Addr: x.Addr().String(), Loops: 1, Log: quiet}, ky.lanes)
	}
	defer func() { afterRelease = nil }()
	if err := x.Stop(); err != nil {
		t.Fatal(err)
	}
	kx.finish()
	if y == nil && yErr == nil {
		t.Fatal("the hook did not run")
	}
	if yErr != nil {
		t.Fatal(yErr)
	}
	defer y.Stop()
	if len(y.listeners) != 1 {
		t.Errorf("source y (1 loop), started while x stopped, holds %d listening sockets: x's among them", len(y.listeners))
	}
}

// heldLines returns the lines "n<i>:1|c" for i below n.
func heldLines(n int) []byte {
	var out []byte
	for i := range n {
		out = fmt.Appendf(out, "n%d:1|c\n", i)
	}
	return out
}
