//go:build linux

package ingest

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr (x/sys has no type for it).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

func setSocketOptions(c syscall.RawConn, readBuffer int) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
			return
		}
		// Past rmem_max where permitted; else as much as rmem_max allows.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, readBuffer) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, readBuffer)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func readBufferOf(c syscall.RawConn) int {
	n := 0
	c.Control(func(fd uintptr) {
		n, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return n
}

// kernelDrops reads the socket's drop counter (SO_MEMINFO, SK_MEMINFO_DROPS):
// datagrams the kernel discarded because the receive buffer was full.
func kernelDrops(c syscall.RawConn) uint64 {
	var info [unix.SK_MEMINFO_VARS]uint32
	var drops uint64
	c.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
		if e == 0 {
			drops = uint64(info[unix.SK_MEMINFO_DROPS])
		}
	})
	return drops
}

// run reads datagrams with recvmmsg, Batch at a time, into preallocated
// buffers and decodes them into the producer's per-shard batches. A batch is
// published when it is full, and every batch when the socket has nothing
// more to read, just before the loop sleeps: under load batches are large
// (few ring slots, little per-batch work), and at low rates nothing waits.
// The loop waits in Go's netpoller, so an idle loop sleeps and closing the
// socket stops it.
func (l *udpLoop) run() {
	cfg := &l.src.cfg
	msgs := make([]mmsghdr, cfg.Batch)
	iovs := make([]unix.Iovec, cfg.Batch)
	bufs := make([]byte, cfg.Batch*cfg.MaxDatagram)
	for i := range msgs {
		iovs[i].Base = &bufs[i*cfg.MaxDatagram]
		iovs[i].SetLen(cfg.MaxDatagram)
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.SetIovlen(1)
	}
	defer func() {
		l.prod.Flush()
		l.account(nowMillis(), true)
	}()
	dirty := false
	for {
		var n int
		var errno syscall.Errno
		err := l.raw.Read(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)),
				unix.MSG_DONTWAIT, 0, 0)
			n, errno = int(r), e
			if e == unix.EAGAIN || e == unix.EWOULDBLOCK {
				// About to sleep: publish everything and make the
				// counters current first.
				if dirty {
					l.prod.Flush()
					l.account(nowMillis(), true)
					dirty = false
				}
				return false
			}
			return true
		})
		if err != nil {
			return // closed
		}
		if errno != 0 {
			if errno != unix.EINTR {
				l.c.vals[udpReadErrors]++
			}
			continue
		}
		now := nowMillis()
		v := l.c.vals
		for i := 0; i < n; i++ {
			m := &msgs[i]
			size := int(m.len)
			v[udpDatagrams]++
			v[udpBytes] += uint64(size)
			if m.hdr.Flags&unix.MSG_TRUNC != 0 {
				v[udpTruncated]++
			}
			l.dec.Decode(bufs[i*cfg.MaxDatagram:i*cfg.MaxDatagram+size], now, l.prod.Route)
		}
		l.account(now, false)
		dirty = true
	}
}
