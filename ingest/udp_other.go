//go:build !linux

package ingest

import (
	"net"
	"syscall"
)

// netSocket is the portable loop's socket: the loop reads conn itself
// (a *net.UDPConn or a *net.UnixConn).
type netSocket struct {
	syscall.RawConn
	conn net.PacketConn
}

func openLoopSocket(conn net.PacketConn) (loopSocket, error) {
	raw, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil, err
	}
	return &netSocket{RawConn: raw, conn: conn}, nil
}

func (s *netSocket) shutdown() { s.conn.Close() }
func (s *netSocket) close()    { s.conn.Close() }

// setWait does nothing: the portable loop sends a relay's datagrams after
// every read instead (run).
func (s *netSocket) setWait(int) {}

func setSocketOptions(c syscall.RawConn, readBuffer int) error {
	var serr error
	c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, readBuffer)
	})
	return serr
}

func readBufferOf(c syscall.RawConn) int { return 0 }

func kernelDrops(c syscall.RawConn) uint64 { return 0 }

func refuseNew(c syscall.RawConn) error { return nil }

// udpRecv is the portable loop's receive buffer.
type udpRecv struct{ buf []byte }

func newUDPRecv(cfg *UDPConfig) udpRecv { return udpRecv{buf: make([]byte, cfg.MaxDatagram)} }

// run is the portable loop: one datagram per read (no recvmmsg), and no
// SO_REUSEPORT (set Loops to 1). It holds l.mu while it decodes and
// publishes a datagram.
func (l *udpLoop) run() {
	defer func() {
		l.mu.Lock()
		l.flush()
		l.relayFinish()
		l.mu.Unlock()
	}()
	for {
		n, flags, err := readMsg(l.raw.(*netSocket).conn, l.recv.buf)
		if err != nil {
			return
		}
		l.mu.Lock()
		v := l.c.vals
		v[udpDatagrams]++
		v[udpBytes] += uint64(n)
		trunc := flags&syscall.MSG_TRUNC != 0
		if trunc {
			v[udpTruncated]++
		}
		now := nowMillis()
		l.decode(wholeLines(l.recv.buf[:n], trunc), now)
		l.relaySend(now, true) // it cannot wait with a timeout: nothing waits
		l.prod.Flush()
		l.prod.Step()
		l.account(now, false)
		l.mu.Unlock()
	}
}

// readMsg reads one datagram from a UDP or unixgram socket into b.
func readMsg(conn net.PacketConn, b []byte) (n, flags int, err error) {
	if u, ok := conn.(*net.UnixConn); ok {
		n, _, flags, _, err = u.ReadMsgUnix(b, nil)
	} else {
		n, _, flags, _, err = conn.(*net.UDPConn).ReadMsgUDP(b, nil)
	}
	return n, flags, err
}

// drain only publishes: the portable loop cannot read without waiting, so
// what is left in the socket buffer is lost at close. Under mu.
func (l *udpLoop) drain() { l.flush() }
