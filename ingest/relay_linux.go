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
//
// The socket is not in Go's netpoller (detachFD), for the reason the
// loops' sockets are not (udp_linux.go): the netpoller watches a socket's
// writability edge-triggered, and a UDP socket becomes writable again
// each time the kernel frees a datagram it sent, so every datagram sent
// woke a thread sleeping in epoll for nothing (42 000 wake-ups and 45 000
// context switches a second for a relay forwarding 2.5 M lines a second
// to three destinations, most of the relay's CPU in the scheduler). The
// relay never waits for writability: a full buffer is retried at the
// loop's next Send.
type relayUDPSender struct {
	fd   int
	msgs []mmsghdr
	iovs []unix.Iovec
}

func newRelayUDPSender(c *net.UDPConn) (relaySender, error) {
	fd, err := detachFD(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &relayUDPSender{fd: fd, msgs: make([]mmsghdr, relaySendBatch), iovs: make([]unix.Iovec, relaySendBatch)}, nil
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
	var r uintptr
	var errno syscall.Errno
	for {
		r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
		if errno != unix.EINTR {
			break
		}
	}
	clear(s.iovs[:n]) // keep no datagram reachable from here
	switch {
	case errno == unix.EAGAIN || errno == unix.EWOULDBLOCK || errno == unix.ENOBUFS:
		return 0, errRelayWouldBlock
	case errno == unix.ECONNREFUSED:
		return 0, errRelayRefusedEarlier
	case errno != 0:
		return 0, errno
	}
	return int(r), nil
}

// close closes the socket; the loop that sends has returned.
func (s *relayUDPSender) close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
