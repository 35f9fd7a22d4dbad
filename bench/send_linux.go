//go:build linux

package bench

import (
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// SendUDP sends count datagrams to addr, round-robin over the payloads and
// over sockets connected from distinct source ports (so that SO_REUSEPORT
// spreads them), 64 per sendmmsg call, as fast as the kernel takes them.
func SendUDP(addr string, sockets int, p *Payloads, count int) error {
	var fds []int
	for i := 0; i < max(sockets, 1); i++ {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		f, err := c.(*net.UDPConn).File()
		c.Close()
		if err != nil {
			return err
		}
		defer f.Close()
		fds = append(fds, int(f.Fd()))
	}
	const batch = 64
	msgs := make([]mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	next := 0
	for sent, sock := 0, 0; sent < count; sock = (sock + 1) % len(fds) {
		n := min(batch, count-sent)
		for i := 0; i < n; i++ {
			d := p.Datagrams[(next+i)%len(p.Datagrams)]
			iovs[i].Base = &d[0]
			iovs[i].SetLen(len(d))
			msgs[i].hdr.Iov = &iovs[i]
			msgs[i].hdr.SetIovlen(1)
		}
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fds[sock]), uintptr(unsafe.Pointer(&msgs[0])), uintptr(n), 0, 0, 0)
		if e != 0 {
			if e == unix.EAGAIN || e == unix.ENOBUFS || e == unix.EINTR {
				continue
			}
			return fmt.Errorf("sendmmsg: %w", e)
		}
		sent += int(r)
		next += int(r)
	}
	return nil
}
