//go:build linux

package ingest

import (
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A loop's socket is not in Go's netpoller. A socket there wakes a thread
// that waits in epoll for every datagram that arrives, although its loop,
// busy reading, is not waiting for it: with more Ps than busy goroutines
// (the daemon keeps spare Ps for the control plane, engine/procs.go) an
// idle P's thread sleeps in epoll, and on a shared CPU each arrival then
// preempted the loop to wake that thread for nothing (22 000 switches a
// second on one CPU under S1's load, a fifth of the CPU). The loop reads
// with recvmmsg without waiting and, when the socket is empty, waits in
// poll(2) on its own locked thread, which only that loop's thread sleeps
// in.

// pollConn is a socket descriptor outside the netpoller, as a
// syscall.RawConn: Read waits in poll(2). Close is in two steps: shutdown
// wakes a waiting Read and makes it return, close releases the descriptor
// once nothing uses it.
type pollConn struct {
	fd      int
	closing atomic.Bool
	wait    int // the next wait's bound in ms, -1: pollWait (setWait)
}

var errClosedConn = errors.New("udp: socket closed")

// openLoopSocket takes a bound socket (UDP or unixgram) out of the
// netpoller: it duplicates the descriptor and closes conn (which removes
// conn's descriptor from the netpoller); the duplicate is the same socket.
func openLoopSocket(conn net.PacketConn) (loopSocket, error) {
	fd, err := detachFD(conn)
	if err != nil {
		return nil, err
	}
	return &pollConn{fd: fd, wait: -1}, nil
}

// detachFD takes a socket out of the netpoller: it returns a duplicate of
// conn's descriptor (the same socket) and closes conn, which removes its
// descriptor from the netpoller. On error conn is left open.
func detachFD(conn net.PacketConn) (int, error) {
	raw, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := raw.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	conn.Close()
	return fd, nil
}

// pollWait bounds a wait in poll(2), so that a loop notices a close even
// if the shutdown that should wake it did not.
const pollWait = 500 // ms

func (c *pollConn) Control(f func(fd uintptr)) error {
	if c.closing.Load() {
		return errClosedConn
	}
	f(uintptr(c.fd))
	return nil
}

func (c *pollConn) Read(f func(fd uintptr) bool) error {
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
	for {
		if c.closing.Load() {
			return errClosedConn
		}
		if f(uintptr(c.fd)) {
			return nil
		}
		// poll(2) blocks holding this goroutine's P until sysmon takes it
		// back (20 µs to 10 ms): let what is runnable run first, so that a
		// process with no spare P (GOMAXPROCS=1) does not wait for it.
		runtime.Gosched()
		wait := pollWait
		if c.wait >= 0 {
			wait = min(wait, c.wait)
		}
		if _, err := unix.Poll(fds, wait); err != nil && err != unix.EINTR {
			return err
		}
	}
}

func (c *pollConn) Write(func(fd uintptr) bool) error { return errors.ErrUnsupported }

// setWait bounds the next waits in Read (by the goroutine that reads).
func (c *pollConn) setWait(ms int) { c.wait = ms }

// shutdown makes Read and Control fail from now on and wakes a Read that
// waits in poll(2).
func (c *pollConn) shutdown() {
	if !c.closing.Swap(true) {
		unix.Shutdown(c.fd, unix.SHUT_RDWR) // an unconnected socket says ENOTCONN, and wakes its readers
	}
}

// close releases the descriptor; call it once no Read or Control runs.
func (c *pollConn) close() {
	c.shutdown()
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

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

// refuseNew attaches a socket filter that refuses every datagram: from now
// on the kernel drops what arrives (counting it in SK_MEMINFO_DROPS, which
// KernelDrops reports), while what is already queued stays readable. A
// Unix socket is shut down for reading instead: there the filter's drops
// are neither counted nor told to the sender, while after shutdown a sender
// gets EPIPE (what is queued stays readable too).
func refuseNew(c syscall.RawConn) error {
	prog := [1]unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	var serr error
	err := c.Control(func(fd uintptr) {
		if d, _ := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); d == unix.AF_UNIX {
			serr = unix.Shutdown(int(fd), unix.SHUT_RD)
			return
		}
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	})
	if err != nil {
		return err
	}
	return serr
}

// udpRecv holds a loop's recvmmsg headers and receive buffers.
type udpRecv struct {
	msgs    []mmsghdr
	iovs    []unix.Iovec
	bufs    []byte
	maxSize int
}

func newUDPRecv(cfg *UDPConfig) udpRecv {
	r := udpRecv{
		msgs:    make([]mmsghdr, cfg.Batch),
		iovs:    make([]unix.Iovec, cfg.Batch),
		bufs:    make([]byte, cfg.Batch*cfg.MaxDatagram),
		maxSize: cfg.MaxDatagram,
	}
	for i := range r.msgs {
		r.iovs[i].Base = &r.bufs[i*cfg.MaxDatagram]
		r.iovs[i].SetLen(cfg.MaxDatagram)
		r.msgs[i].hdr.Iov = &r.iovs[i]
		r.msgs[i].hdr.SetIovlen(1)
	}
	return r
}

// recvmmsg reads up to Batch datagrams from fd without waiting.
func (r *udpRecv) recvmmsg(fd uintptr) (int, syscall.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(len(r.msgs)),
		unix.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

func wouldBlock(e syscall.Errno) bool { return e == unix.EAGAIN || e == unix.EWOULDBLOCK }

// run reads datagrams with recvmmsg, Batch at a time, into preallocated
// buffers and decodes them into the producer's per-shard batches. A batch is
// published when it is full, and every batch when the socket has nothing
// more to read, just before the loop sleeps: under load batches are large
// (few ring slots, little per-batch work), and at low rates nothing waits.
// The loop waits in Go's netpoller, so an idle loop sleeps and closing the
// socket stops it. It holds l.mu from each read to the end of its
// processing, and not while it waits (see udpLoop).
func (l *udpLoop) run() {
	defer func() {
		l.mu.Lock()
		l.flush()
		l.relayFinish()
		l.mu.Unlock()
	}()
	var n int
	var errno syscall.Errno
	// One closure for the loop's life: raw.Read's argument escapes.
	read := func(fd uintptr) bool {
		l.mu.Lock()
		n, errno = l.recv.recvmmsg(fd)
		if wouldBlock(errno) {
			// About to sleep: publish everything and make the counters
			// current first; a relay sends what is due and wakes when the
			// rest will be.
			if l.dirty {
				l.flush()
			}
			if l.relay != nil {
				now := nowMillis()
				l.relaySend(now, false)
				l.raw.setWait(l.relayWait(now))
			}
			l.mu.Unlock()
			return false
		}
		return true // l.mu stays held until the datagrams are processed
	}
	// A read error other than EINTR (counted by process) is retried after
	// a pause that doubles up to maxReadBackoff while errors persist, so a
	// socket that keeps failing costs neither a core nor the error counter's
	// meaning.
	var backoff time.Duration
	for {
		if err := l.raw.Read(read); err != nil {
			return // closed
		}
		l.process(n, errno)
		l.mu.Unlock()
		if backoff = readBackoff(backoff, errno); backoff > 0 {
			time.Sleep(backoff)
		}
	}
}

// readBackoff returns the pause after a read that ended with errno, given
// the previous pause.
func readBackoff(prev time.Duration, errno syscall.Errno) time.Duration {
	if errno == 0 || errno == unix.EINTR {
		return 0
	}
	return min(max(2*prev, minReadBackoff), maxReadBackoff)
}

const (
	minReadBackoff = time.Millisecond
	maxReadBackoff = 100 * time.Millisecond
)

// process decodes the n datagrams a recvmmsg call returned (or counts its
// error). Under mu.
func (l *udpLoop) process(n int, errno syscall.Errno) {
	v := l.c.vals
	if errno != 0 {
		if errno != unix.EINTR {
			// Counted where the stats read it, and logged (throttled).
			v[udpReadErrors]++
			now := nowMillis()
			l.account(now, false)
			l.dirty = true
			if t := time.UnixMilli(now); l.src.bad.Due(t) {
				if ok, _ := l.src.bad.Allow(t); ok {
					l.src.cfg.Log.Warn("udp read failed", "source", l.src.cfg.Name, "error", errno.Error(), "count", v[udpReadErrors])
				}
			}
		}
		return
	}
	now := nowMillis()
	r := &l.recv
	for i := 0; i < n; i++ {
		m := &r.msgs[i]
		size := int(m.len)
		v[udpDatagrams]++
		v[udpBytes] += uint64(size)
		trunc := m.hdr.Flags&unix.MSG_TRUNC != 0
		if trunc {
			v[udpTruncated]++
		}
		l.decode(wholeLines(r.bufs[i*r.maxSize:i*r.maxSize+size], trunc), now)
	}
	l.account(now, false)
	l.dirty = true
	l.prod.Step()
	l.relaySend(now, false)
}

// minTruesize bounds from below the receive-buffer memory the kernel charges
// for one queued datagram (its sk_buff truesize: payload plus some 500 bytes
// of metadata), so that a buffer of b bytes holds at most b/minTruesize
// datagrams.
const minTruesize = 256

// drain reads what the socket holds without waiting, decodes and publishes
// it: until the socket is empty, or at most as many datagrams as its receive
// buffer could hold when the drain began (a bound for a sender faster than
// the drain if new datagrams are still admitted). Under mu.
func (l *udpLoop) drain() {
	limit := max(l.src.ReadBuffer, 1<<20) / minTruesize
	var n int
	var errno syscall.Errno
	read := func(fd uintptr) { n, errno = l.recv.recvmmsg(fd) }
	for got := 0; got < limit; {
		if l.raw.Control(read) != nil || wouldBlock(errno) {
			break
		}
		l.process(n, errno)
		if errno == 0 {
			got += n
		} else if errno != unix.EINTR {
			break
		}
	}
	l.flush()
	l.relayFinish()
}
