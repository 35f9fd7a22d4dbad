package ingest

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A read error that persists backs the loop off up to maxReadBackoff instead
// of spinning; a good read or EINTR resets it.
func TestReadBackoff(t *testing.T) {
	var d time.Duration
	var seen []time.Duration
	for i := 0; i < 12; i++ {
		d = readBackoff(d, unix.ENOMEM)
		seen = append(seen, d)
	}
	if seen[0] != minReadBackoff || seen[1] != 2*minReadBackoff || seen[len(seen)-1] != maxReadBackoff {
		t.Fatalf("backoffs %v; want %v doubling to %v", seen, minReadBackoff, maxReadBackoff)
	}
	if readBackoff(d, 0) != 0 || readBackoff(d, unix.EINTR) != 0 {
		t.Fatal("a good read or EINTR does not reset the backoff")
	}
}

// epollTargets returns the descriptors registered in every epoll instance
// of this process (the Go netpoller's among them), from /proc/self/fdinfo.
func epollTargets(t *testing.T) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	targets := map[int]bool{}
	instances := 0
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		instances++
		for _, line := range strings.Split(string(info), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "tfd:" {
				n, err := strconv.Atoi(f[1])
				if err != nil {
					t.Fatalf("fdinfo line %q", line)
				}
				targets[n] = true
			}
		}
	}
	if instances == 0 {
		t.Fatal("no epoll instance: the netpoller is not running")
	}
	return targets
}

// TestUDPSocketsOutsideNetpoller: the loops' sockets are in no epoll
// instance (a socket in Go's netpoller wakes a thread that waits there for
// every datagram, preempting its busy loop on a shared CPU), while their
// loops receive, wait when idle, and stop: Stop wakes a loop waiting in
// poll(2), after which its socket refuses reads.
func TestUDPSocketsOutsideNetpoller(t *testing.T) {
	lanes := []Lanes{NewLanes(1, 1024), NewLanes(1, 1024)}
	src, conn := startUDP(t, UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Loops: 2, ReadBuffer: 1 << 20}, lanes)
	if _, err := conn.Write([]byte("a:1|c\n")); err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for deadline := time.Now().Add(10 * time.Second); drainLanes(lanes, keys) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the datagram never arrived")
		}
	}
	targets := epollTargets(t)
	var fds []int
	for i, l := range src.loops {
		fd := int(socketFD(t, l.raw))
		fds = append(fds, fd)
		if targets[fd] {
			t.Errorf("loop %d's socket (fd %d) is in an epoll instance", i, fd)
		}
	}
	// The loops now wait in poll(2) (the socket is empty); Stop must end
	// them.
	src.Stop()
	for i, l := range src.loops {
		if err := l.raw.Control(func(uintptr) {}); err == nil {
			t.Errorf("loop %d's socket takes Control after Stop", i)
		}
		if _, err := unix.FcntlInt(uintptr(fds[i]), unix.F_GETFD, 0); err == nil {
			// The number may have been reused by another open since, but
			// not by a socket of this source.
			if fdSocketPort(fds[i]) == src.Addr().(*net.UDPAddr).Port {
				t.Errorf("loop %d's socket (fd %d) is still open after Stop", i, fds[i])
			}
		}
	}
}

// fdSocketPort returns the local port of socket fd, or -1.
func fdSocketPort(fd int) int {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return -1
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return -1
}

// relayInOrder relays n lines "<prefix>.metric_<i%97>:<i>|c" to one
// loopback destination in datagrams of at most max bytes, 20 lines a
// datagram in, sealed and sent at once (so that datagrams queue up), and
// fails unless the destination receives every line once, in order.
func relayInOrder(t *testing.T, prefix string, n, max int) ([]*net.UDPConn, []RelayDestination, *Relay, []string) {
	t.Helper()
	cs, ds := listeners(t, 1)
	r, err := NewRelay(RelayConfig{Destinations: ds, MaxDatagram: max, QueueDatagrams: 4096}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	var lines []string
	for i := range n {
		lines = append(lines, prefix+".metric_"+strconv.Itoa(i%97)+":"+strconv.Itoa(i)+"|c")
	}
	for i := 0; i < len(lines); i += 20 {
		r.Forward([]byte(strings.Join(lines[i:min(i+20, len(lines))], "\n") + "\n"))
	}
	r.Seal()
	for deadline := time.Now().Add(time.Minute); r.Pending() && time.Now().Before(deadline); {
		r.Send()
	}
	got := receive(t, cs, len(lines), max)
	if strings.Join(got[0], "\n") != strings.Join(lines, "\n") {
		t.Fatalf("received %d lines, not the %d sent in order", len(got[0]), len(lines))
	}
	return cs, ds, r, lines
}

// TestRelaySegments: datagrams queued for a destination go as segmented
// messages (UDP_SEGMENT) where the kernel has it; the destination receives
// datagrams of at most MaxDatagram bytes, every line once, byte for byte,
// padded with empty lines only.
func TestRelaySegments(t *testing.T) {
	const max = 300
	cs, ds, r, lines := relayInOrder(t, "segment", 3000, max)
	s := r.dests[0].send.(*relayUDPSender)
	if _, err := unix.GetsockoptInt(s.fd, unix.SOL_UDP, unix.UDP_SEGMENT); err != nil {
		t.Skipf("this kernel does not segment UDP: %v", err)
	}
	if s.seg != max || s.segmented == 0 {
		t.Fatalf("segment size %d, %d segmented messages; want %d and some", s.seg, s.segmented, max)
	}
	if st := r.Stats().Dests[0]; st.Lines != uint64(len(lines)) || st.Datagrams < uint64(len(lines))*20/max {
		t.Fatalf("counted %+v", st)
	}
	// segmentation = false: datagram by datagram, nothing padded.
	u, err := NewRelay(RelayConfig{Destinations: ds, MaxDatagram: max, QueueDatagrams: 4096, Unsegmented: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Forward([]byte(strings.Join(lines[:200], "\n") + "\n"))
	u.Seal()
	for u.Pending() {
		u.Send()
	}
	buf := make([]byte, 1<<16)
	read := 0
	for read < 200 {
		cs[0].SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := cs[0].Read(buf)
		if err != nil {
			t.Fatalf("%d lines of 200 received: %v", read, err)
		}
		if strings.Contains(string(buf[:n]), "\n\n") {
			t.Fatalf("an unsegmented datagram padded: %q", buf[:n])
		}
		read += strings.Count(string(buf[:n]), "\n")
	}
	if us := u.dests[0].send.(*relayUDPSender); us.seg != 0 || us.segmented != 0 {
		t.Fatalf("unsegmented sender: segment size %d, %d segmented messages", us.seg, us.segmented)
	}
}

// TestRelaySendRefused: a destination nobody listens on answers datagrams
// with ICMP port unreachable, which a later sendmmsg reports (ECONNREFUSED,
// for a datagram sent before); segmented or not, the relay retries, counts
// every line and goes on.
func TestRelaySendRefused(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close() // nobody listens there now
	for _, unsegmented := range []bool{false, true} {
		r, err := NewRelay(RelayConfig{Destinations: []RelayDestination{{Addr: addr}}, MaxDatagram: 200, Unsegmented: unsegmented}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for i := range 400 {
			lines = append(lines, "refused.metric_"+strconv.Itoa(i)+":1|c")
		}
		for round := range 20 {
			r.Forward([]byte(strings.Join(lines[(round%20)*20:(round%20)*20+20], "\n") + "\n"))
			r.Seal()
			r.Send()
			time.Sleep(time.Millisecond) // let the ICMP errors come back
		}
		r.Finish(time.Now().Add(time.Second))
		st := r.Stats().Dests[0]
		if st.Lines+st.Dropped[RelayDropSendError]+st.Dropped[RelayDropStopped] != 400 {
			t.Errorf("unsegmented %v: %+v; want the 400 lines sent or counted", unsegmented, st)
		}
		r.Close()
	}
}

// TestRelaySegmentsOverMTU: a segment larger than the route's MTU is
// refused (EMSGSIZE) where a datagram alone would be fragmented; the
// relay then stops segmenting and every line still arrives. It runs in a
// network namespace of its own (unshare -rn) whose loopback has an MTU of
// 320 bytes, for datagrams of 300 (plus 28 bytes of headers); skipped
// where user and network namespaces are not available.
func TestRelaySegmentsOverMTU(t *testing.T) {
	if os.Getenv("MAD_TEST_NETNS") == "" {
		cmd := exec.Command("unshare", "-rn", os.Args[0], "-test.run", "^TestRelaySegmentsOverMTU$", "-test.count", "1", "-test.v")
		cmd.Env = append(os.Environ(), "MAD_TEST_NETNS=1")
		out, err := cmd.CombinedOutput()
		switch {
		case bytes.Contains(out, []byte("--- PASS: TestRelaySegmentsOverMTU")):
		case bytes.Contains(out, []byte("--- SKIP")) || err != nil && !bytes.Contains(out, []byte("--- FAIL")):
			t.Skipf("no network namespace here: %v\n%s", err, out)
		default:
			t.Fatalf("in a network namespace: %v\n%s", err, out)
		}
		return
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Skip(err)
	}
	defer unix.Close(fd)
	mtu, err := unix.NewIfreq("lo")
	if err != nil {
		t.Skip(err)
	}
	mtu.SetUint32(320)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFMTU, mtu); err != nil {
		t.Skipf("setting lo's MTU: %v", err)
	}
	up, _ := unix.NewIfreq("lo")
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, up); err != nil {
		t.Skip(err)
	}
	up.SetUint16(up.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, up); err != nil {
		t.Skipf("bringing lo up: %v", err)
	}
	_, _, r, lines := relayInOrder(t, "mtu", 2000, 300)
	if st := r.Stats().Dests[0]; st.Lines != uint64(len(lines)) || st.Dropped != [numRelayDrops]uint64{} {
		t.Fatalf("counted %+v", st)
	}
	if s := r.dests[0].send.(*relayUDPSender); s.seg != 0 {
		t.Fatalf("still segmenting at %d bytes over a 320-byte MTU", s.seg)
	}
}

// TestUDPReadErrorsReported: a failed read is counted where the stats read
// it (the loop publishes it, as it does its datagrams) and logged; it was
// counted in the loop's own words only, so a socket that kept failing
// showed none on /metrics.
func TestUDPReadErrorsReported(t *testing.T) {
	var logs bytes.Buffer
	src, err := ListenUDP(UDPConfig{Name: "statsd", Addr: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(&logs, nil))}, []Lanes{NewLanes(1, 64)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	l := src.loops[0] // not started: the test is the loop
	l.mu.Lock()
	l.process(0, unix.ENOMEM)
	l.mu.Unlock()
	if st := src.Stats(); st.ReadErrors != 1 {
		t.Fatalf("ReadErrors = %d after a failed read; want 1", st.ReadErrors)
	}
	if !strings.Contains(logs.String(), "udp read failed") || !strings.Contains(logs.String(), "cannot allocate memory") {
		t.Fatalf("the failed read was not logged: %q", logs.String())
	}
}
