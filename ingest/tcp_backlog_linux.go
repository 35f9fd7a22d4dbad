package ingest

import (
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// A TCP source's listener backlog at its stop. gnet listens on one socket
// per event loop (SO_REUSEPORT) and closes them when it stops; the kernel
// then resets every connection still in their backlogs, connections whose
// handshake it completed and whose bytes it acknowledged to their senders,
// but which gnet had not accepted yet (a loop waiting for room in a full
// ring accepts nothing). So before gnet stops, the source duplicates its
// listening sockets (gnet does not hand out those of its loops: they are
// found among the process's descriptors by their address), which keeps
// them open past gnet's close; once gnet has stopped, it accepts what they
// hold and decodes each such connection as a stop decodes one gnet had
// accepted (drainSocket), then closes them. A connection that completes
// its handshake after that is reset, as at any listener's close.

// maxBacklogDrain bounds the connections a stop accepts from one socket:
// more than a listener's backlog holds (net.core.somaxconn is 4 096 by
// default), so that clients connecting all along cannot hold the stop.
const maxBacklogDrain = 1 << 16

// dupListeners returns duplicates of the listening TCP sockets of the
// source's address, one a socket (however many descriptors the process
// has of it), each close-on-exec and non-blocking.
func (s *TCPSource) dupListeners() []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	seen := map[uint64]bool{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// The checks are made on the duplicate: the descriptor number may
		// have been closed and reused meanwhile, the duplicate may not.
		fd, err := unix.FcntlInt(uintptr(n), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if ino, ok := listensAt(fd, s.addr); ok && !seen[ino] {
			seen[ino] = true
			if unix.SetNonblock(fd, true) == nil {
				fds = append(fds, fd)
				continue
			}
		}
		unix.Close(fd)
	}
	return fds
}

// listensAt reports whether fd is a listening TCP socket bound to addr's
// port and address (any address when addr's is unspecified), and its inode.
func listensAt(fd int, addr *net.TCPAddr) (uint64, bool) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return 0, false
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		return 0, false
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || v != unix.IPPROTO_TCP {
		return 0, false
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, false
	}
	var ip net.IP
	var port int
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ip, port = sa.Addr[:], sa.Port
	case *unix.SockaddrInet6:
		ip, port = sa.Addr[:], sa.Port
	default:
		return 0, false
	}
	if port != addr.Port || addr.IP != nil && !addr.IP.IsUnspecified() && !addr.IP.Equal(ip) {
		return 0, false
	}
	return st.Ino, true
}

// backlogConn is a connection the source accepted itself: its framing
// state.
type backlogConn struct{ ctx any }

func (c *backlogConn) Context() any     { return c.ctx }
func (c *backlogConn) SetContext(v any) { c.ctx = v }

// drainBacklog accepts the connections waiting on the listening sockets
// fds (dupListeners's, once gnet has stopped), decodes what each holds
// (drainSocket) and closes them, then closes fds.
func (s *TCPSource) drainBacklog(fds []int) {
	if len(fds) == 0 {
		return
	}
	sl := <-s.slots
	defer func() { s.slots <- sl }()
	for _, l := range fds {
		for range maxBacklogDrain {
			c, _, err := unix.Accept4(l, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			if err != nil {
				break // EAGAIN: the backlog is empty
			}
			sl.c.vals[tcpConnections]++
			s.drainSocket(sl, &backlogConn{}, c, nil)
			unix.Close(c)
		}
		unix.Close(l)
	}
}
