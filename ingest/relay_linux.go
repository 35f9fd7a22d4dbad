package ingest

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relaySendBatch is the most datagrams one sendmmsg call sends.
const relaySendBatch = 64

// relayUDPSender sends datagrams over a connected UDP socket with
// sendmmsg, never waiting: a full socket buffer is reported as
// errRelayWouldBlock.
type relayUDPSender struct {
	c    *net.UDPConn
	rc   syscall.RawConn
	msgs []mmsghdr
	iovs []unix.Iovec
	// The sendmmsg call as RawConn.Write runs it: made once (a closure
	// per call would allocate), with its argument and results.
	call  func(fd uintptr) bool
	n     int
	sent  int
	errno syscall.Errno
}

func newRelayUDPSender(c *net.UDPConn) (relaySender, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	s := &relayUDPSender{c: c, rc: rc, msgs: make([]mmsghdr, relaySendBatch), iovs: make([]unix.Iovec, relaySendBatch)}
	s.call = s.sendmmsg
	return s, nil
}

// sendmmsg sends s.n datagrams without waiting; it never asks the
// netpoller to wait (the loop retries at its next Send).
func (s *relayUDPSender) sendmmsg(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.msgs[0])), uintptr(s.n), unix.MSG_DONTWAIT, 0, 0)
	s.sent, s.errno = int(r), e
	return true
}

func (s *relayUDPSender) send(dgs []relayDatagram) (int, error) {
	n := min(len(dgs), relaySendBatch)
	for i, dg := range dgs[:n] {
		s.iovs[i].Base = unsafe.SliceData(dg.b)
		s.iovs[i].SetLen(len(dg.b))
		s.msgs[i] = mmsghdr{}
		s.msgs[i].hdr.Iov = &s.iovs[i]
		s.msgs[i].hdr.SetIovlen(1)
	}
	s.n = n
	err := s.rc.Write(s.call)
	sent, errno := s.sent, s.errno
	clear(s.iovs[:n]) // keep no datagram reachable from here
	switch {
	case err != nil:
		return 0, err
	case errno == unix.EAGAIN || errno == unix.EWOULDBLOCK || errno == unix.ENOBUFS:
		return 0, errRelayWouldBlock
	case errno == unix.ECONNREFUSED:
		return 0, errRelayRefusedEarlier
	case errno != 0:
		return 0, errno
	}
	return sent, nil
}

func (s *relayUDPSender) close() error { return s.c.Close() }
