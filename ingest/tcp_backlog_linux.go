package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
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
// listening sockets, which keep them open past gnet's close: once gnet.Run
// has returned (the source stopping, or gnet stopping on its own, as when
// an accept fails), it accepts what they queued and decodes each such
// connection as a stop decodes one gnet had accepted (drainSocket), then
// closes them, so that none stays listening with nobody to accept. A
// connection that completes its handshake after that is reset, as at any
// listener's close.
//
// gnet hands out one of its listening sockets (Engine.Dup), not those of
// its other loops, so a source claims its sockets among the process's
// descriptors when it starts, once every loop listens: the listening TCP
// sockets bound at exactly its address, family included, that no other
// source claimed, one a loop, or the source does not start. Sources start
// one at a time from their gnet.Run to their claim, and a socket's claim
// is released with its last descriptor (listenMu), so the sockets at an
// address that no source claimed are the starting one's, even when a
// reload opens a new source at the address of one it is about to stop
// (SO_REUSEPORT lets both listen), and a listener of another part of the
// process at another address of the same port is not taken. Only sockets
// are duplicated: closing a duplicate of a file would release the
// process's record locks on it. Where the process's descriptors cannot be
// listed (no /proc), no source claims and none drains its backlog.

// listenMu serializes the TCP sources' starts from gnet.Run to their
// claim, so that listeners of one address are told apart; claimed holds
// the inodes of the listening sockets a source holds.
var (
	listenMu sync.Mutex
	claimed  = map[uint64]bool{}
)

// claimListeners returns duplicates (close-on-exec, non-blocking) of the
// listening TCP sockets bound exactly at addr, as gnet binds it, that no
// other source claimed: loops of them, one per event loop, or an error (and
// none claimed). Under listenMu, once every loop listens. Only socket
// descriptors are duplicated (closing a duplicate of a file would release
// the process's record locks on it, or flush it).
func claimListeners(addr *net.TCPAddr, loops int) ([]int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%w: %w", errNoFds, err)
	case err != nil:
		return nil, err // out of descriptors, say: as a duplicate failing
	}
	var fds []int
	var inos []uint64
	fail := func(err error) ([]int, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, err
	}
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
		if err != nil || claimed[want] || slices.Contains(inos, want) {
			continue // (the number of a descriptor listed may be a duplicate's since)
		}
		fd, err := unix.FcntlInt(uintptr(n), unix.F_DUPFD_CLOEXEC, 0)
		if err == unix.EBADF {
			continue // closed since
		}
		if err != nil {
			return fail(err)
		}
		if got, ok := listensAt(fd, addr); ok && got == want { // want is unclaimed (above)
			if err := unix.SetNonblock(fd, true); err != nil {
				unix.Close(fd)
				return fail(err)
			}
			fds, inos = append(fds, fd), append(inos, got)
			continue
		}
		unix.Close(fd)
	}
	if len(fds) != loops {
		return fail(fmt.Errorf("%d listening sockets found at %s for %d event loops", len(fds), addr, loops))
	}
	for _, ino := range inos {
		claimed[ino] = true
	}
	return fds, nil
}

// errNoFds is claimListeners's error when the process's descriptors
// cannot be listed (no /proc): no source can claim, so each runs without
// (ListenTCP says so), and none takes another's.
var errNoFds = errors.New("cannot list the process's descriptors: the listener's backlog is not drained at the stop")

// releaseListenersLocked closes listening sockets claimListeners returned
// and releases their claims, under listenMu: a socket's claim goes with
// its last descriptor, so that no source starting meanwhile finds it open
// and unclaimed.
func releaseListenersLocked(fds []int) {
	for _, l := range fds {
		var st unix.Stat_t
		ok := unix.Fstat(l, &st) == nil
		unix.Close(l)
		if ok {
			delete(claimed, st.Ino)
		}
	}
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
		listenMu.Lock()
		releaseListenersLocked([]int{l})
		listenMu.Unlock()
		if afterRelease != nil {
			afterRelease()
		}
	}
}

// afterRelease, set by tests, runs in drainBacklog once a listener's claim
// is released.
var afterRelease func()
