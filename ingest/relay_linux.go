package ingest

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relaySendBatch is the most messages one sendmmsg call sends (a message
// is a datagram, or several as one segmented message).
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
//
// Datagrams are sent with UDP segmentation offload (UDP_SEGMENT, Linux
// 4.18) where the kernel has it: consecutive datagrams to a destination
// go as one message that the kernel (or the network card) cuts into
// datagrams of the segment size, the datagram size, so that the socket
// and IP layers, netfilter and the device run once per message rather
// than once per datagram. Every datagram of such a message but its last
// must have exactly the segment size: a shorter one is padded with
// newlines (empty lines, which StatsD servers skip; the lines themselves
// are untouched). A datagram longer than the segment size (a long line
// alone) goes in a message of its own, not segmented. If the kernel
// refuses a segmented send, the sender stops segmenting.
type relayUDPSender struct {
	fd   int
	msgs []mmsghdr
	iovs []unix.Iovec
	// seg is the segment size (the destination's MaxDatagram), 0 when the
	// kernel does not segment; cmsgs holds each message's UDP_SEGMENT
	// control message, counts the datagrams of each message.
	seg    int
	cmsgs  []byte
	counts []int
	// segmented counts the segmented messages sent (for tests).
	segmented int
}

// relayMaxSegments bounds the datagrams of one segmented message (the
// kernel's UDP_MAX_SEGMENTS is 64, 128 since Linux 6.6).
const relayMaxSegments = 64

// relaySendDatagrams bounds the datagrams one sendmmsg call sends.
const relaySendDatagrams = 512

// newRelayUDPSender sends over c, segmenting at seg bytes (the
// destination's MaxDatagram; 0: not segmenting).
func newRelayUDPSender(c *net.UDPConn, seg int) (relaySender, error) {
	fd, err := detachFD(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	s := &relayUDPSender{fd: fd, msgs: make([]mmsghdr, relaySendBatch), iovs: make([]unix.Iovec, relaySendDatagrams), counts: make([]int, relaySendBatch)}
	if _, err := unix.GetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT); err == nil && seg > 0 && seg <= 0xFFFF {
		s.seg = seg
		space := unix.CmsgSpace(2)
		s.cmsgs = make([]byte, relaySendBatch*space)
		for i := range relaySendBatch {
			h := (*unix.Cmsghdr)(unsafe.Pointer(&s.cmsgs[i*space]))
			h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			h.SetLen(unix.CmsgLen(2))
			*(*uint16)(unsafe.Pointer(&s.cmsgs[i*space+unix.CmsgLen(0)])) = uint16(seg)
		}
	}
	return s, nil
}

// pack lays dgs out as messages (at most relaySendBatch, over at most
// relaySendDatagrams datagrams), padding what a segmented message needs;
// it returns the number of messages and of the datagrams in them.
func (s *relayUDPSender) pack(dgs []relayDatagram) (msgs, datagrams int) {
	dgs = dgs[:min(len(dgs), relaySendDatagrams)]
	maxSegs := 1
	if s.seg > 0 {
		maxSegs = min(relayMaxSegments, maxUDPPayload/s.seg)
	}
	space := unix.CmsgSpace(2)
	m := 0
	for i := 0; i < len(dgs) && m < relaySendBatch; m++ {
		first := i
		i++
		// Join the next datagrams while the message has room: the one
		// before each is then padded to the segment size.
		for i < len(dgs) && i-first < maxSegs && len(dgs[i-1].b) <= s.seg && len(dgs[i].b) <= s.seg {
			b := dgs[i-1].b
			for len(b) < s.seg {
				b = append(b, '\n')
			}
			dgs[i-1].b = b
			i++
		}
		for j := first; j < i; j++ {
			s.iovs[j].Base = unsafe.SliceData(dgs[j].b)
			s.iovs[j].SetLen(len(dgs[j].b))
		}
		s.msgs[m] = mmsghdr{}
		s.msgs[m].hdr.Iov = &s.iovs[first]
		s.msgs[m].hdr.SetIovlen(i - first)
		if i-first > 1 {
			s.msgs[m].hdr.Control = &s.cmsgs[m*space]
			s.msgs[m].hdr.SetControllen(space)
		}
		s.counts[m] = i - first
		datagrams = i
	}
	return m, datagrams
}

func (s *relayUDPSender) send(dgs []relayDatagram) (int, error) {
	n, used := s.pack(dgs)
	var r uintptr
	var errno syscall.Errno
	for {
		r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
		if errno != unix.EINTR {
			break
		}
	}
	clear(s.iovs[:used]) // keep no datagram reachable from here
	sent := 0
	if errno == 0 { // else r is not a count, and nothing was sent
		for _, c := range s.counts[:int(r)] {
			sent += c
			if c > 1 {
				s.segmented++
			}
		}
	}
	switch {
	case errno == unix.EAGAIN || errno == unix.EWOULDBLOCK || errno == unix.ENOBUFS:
		return 0, errRelayWouldBlock
	case errno == unix.ECONNREFUSED:
		return 0, errRelayRefusedEarlier
	case (errno == unix.EIO || errno == unix.EINVAL || errno == unix.EOPNOTSUPP || errno == unix.EMSGSIZE) && s.seg > 0 && s.counts[0] > 1:
		// The kernel (or the route's device) does not segment, or not at
		// this size: a segment larger than the route's MTU (a 1432-byte
		// datagram over a WireGuard or VXLAN link) is refused with
		// EMSGSIZE (EINVAL before Linux 5.10), where a datagram alone is
		// fragmented. Send datagram by datagram from now on (what was
		// padded stays so).
		s.seg = 0
		return 0, errRelayWouldBlock
	case errno != 0:
		return 0, errno
	}
	return sent, nil
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
