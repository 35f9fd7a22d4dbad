package ingest

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A TCP source's listener backlog at its stop. gnet listens on one socket
// per event loop (SO_REUSEPORT) and closes them when it stops; the kernel
// then resets every connection still in their backlogs, connections whose
// handshake it completed and whose bytes it acknowledged to their senders,
// but which gnet had not accepted yet (a loop waiting for room in a full
// ring accepts nothing). So a source holds duplicates of its loops'
// listening sockets, which keep them open past gnet's close: once gnet has
// stopped, it accepts what they hold and decodes each such connection as a
// stop decodes one gnet had accepted (drainSocket), then closes them. A
// connection that completes its handshake after that is reset, as at any
// listener's close.
//
// gnet hands out one of its listening sockets (Engine.Dup), not those of
// its other loops, so a source claims its sockets among the process's
// descriptors when it starts, once every loop listens: the listening TCP
// sockets bound at exactly its address, family included, that no other
// source claimed. Sources start one at a time from their gnet.Run to their
// claim (listenMu), so the sockets at an address that no source claimed
// are the starting one's, even when a reload opens a new source at the
// address of one it is about to stop (SO_REUSEPORT lets both listen), and
// a listener of another part of the process at another address of the
// same port is not taken. Only sockets are duplicated: closing a
// duplicate of a file would release the process's record locks on it.

// listenMu serializes the TCP sources' starts from gnet.Run to their
// claim, so that listeners of one address are told apart; claimed holds
// the inodes of the listening sockets a source holds.
var (
	listenMu sync.Mutex
	claimed  = map[uint64]bool{}
)

// claimListeners returns duplicates (close-on-exec, non-blocking) of the
// listening TCP sockets bound exactly at addr, as gnet binds it, that no
// other source claimed. Under listenMu, once every loop listens. Only
// socket descriptors are duplicated (closing a duplicate of a file would
// release the process's record locks on it, or flush it).
func claimListeners(addr *net.TCPAddr) []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		ino, ok := strings.CutPrefix(link, "socket:[")
		if err != nil || !ok {
			continue
		}
		want, err := strconv.ParseUint(strings.TrimSuffix(ino, "]"), 10, 64)
		if err != nil || claimed[want] {
			continue
		}
		fd, err := unix.FcntlInt(uintptr(n), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if got, ok := listensAt(fd, addr); ok && got == want && !claimed[got] && unix.SetNonblock(fd, true) == nil {
			claimed[got] = true
			fds = append(fds, fd)
			continue
		}
		unix.Close(fd)
	}
	return fds
}

// listensAt reports whether fd is a listening TCP socket bound exactly to
// addr as gnet binds it (AF_INET for an IPv4 address, AF_INET6 otherwise),
// and its inode.
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
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		if ip4 := addr.IP.To4(); ip4 != nil && sa.Port == addr.Port && net.IP(sa.Addr[:]).Equal(ip4) {
			return st.Ino, true
		}
	case *unix.SockaddrInet6:
		ip6 := addr.IP.To16()
		if addr.IP == nil {
			ip6 = net.IPv6unspecified
		}
		if addr.IP.To4() == nil && sa.Port == addr.Port && net.IP(sa.Addr[:]).Equal(ip6) {
			return st.Ino, true
		}
	}
	return 0, false
}

// maxBacklogDrain bounds the connections a stop accepts from a socket
// whose queue it cannot read: more than a listener's backlog holds
// (net.core.somaxconn is 4 096 by default).
const maxBacklogDrain = 1 << 16

// backlogConn is a connection the source accepted itself: its framing
// state.
type backlogConn struct{ ctx any }

func (c *backlogConn) Context() any     { return c.ctx }
func (c *backlogConn) SetContext(v any) { c.ctx = v }

// drainBacklog accepts the connections waiting on the listening sockets
// fds (claimListeners's, once gnet has stopped), as many as each queued
// when the drain begins (those completing their handshake since are reset
// at the close), decodes what each holds (drainSocket) and closes them,
// then closes fds.
func (s *TCPSource) drainBacklog(fds []int) {
	if len(fds) == 0 {
		return
	}
	sl := <-s.slots
	defer func() { s.slots <- sl }()
	for _, l := range fds {
		queued := maxBacklogDrain
		if ti, err := unix.GetsockoptTCPInfo(l, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			queued = int(ti.Unacked) // a listening socket's: its accept queue
		}
		for queued > 0 {
			c, _, err := unix.Accept4(l, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err == unix.EINTR {
				continue
			}
			queued--
			if err == unix.ECONNABORTED {
				continue
			}
			if err != nil {
				if err != unix.EAGAIN {
					s.cfg.Log.Warn("connections left in the listener's backlog reset", "source", s.cfg.Name, "err", err)
				}
				break
			}
			sl.c.vals[tcpConnections]++
			s.drainSocket(sl, &backlogConn{}, c, nil)
			unix.Close(c)
		}
		var st unix.Stat_t
		if unix.Fstat(l, &st) == nil {
			listenMu.Lock()
			delete(claimed, st.Ino)
			listenMu.Unlock()
		}
		unix.Close(l)
	}
}
