//go:build !linux

package ingest

import "syscall"

func setSocketOptions(c syscall.RawConn, readBuffer int) error {
	var serr error
	c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, readBuffer)
	})
	return serr
}

func readBufferOf(c syscall.RawConn) int { return 0 }

func kernelDrops(c syscall.RawConn) uint64 { return 0 }

// run is the portable loop: one datagram per read (no recvmmsg), and no
// SO_REUSEPORT (set Loops to 1).
func (l *udpLoop) run() {
	buf := make([]byte, l.src.cfg.MaxDatagram)
	defer func() {
		l.prod.Flush()
		l.account(nowMillis(), true)
	}()
	for {
		n, _, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		v := l.c.vals
		v[udpDatagrams]++
		v[udpBytes] += uint64(n)
		now := nowMillis()
		l.dec.Decode(buf[:n], now, l.prod.Route)
		l.prod.Flush()
		l.account(now, false)
	}
}
