package cagg

import (
	"net"

	"golang.org/x/sys/unix"
)

// socketSendBuffer returns the send buffer of c's socket (SO_SNDBUF, in
// bytes: what Linux accounts, twice what was asked for), or 0.
func socketSendBuffer(c *net.TCPConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n, gerr := 0, error(nil)
	if err := raw.Control(func(fd uintptr) { n, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF) }); err != nil || gerr != nil {
		return 0
	}
	return max(n, 0)
}

// ackedBytes returns how many bytes of the stream conn's peer acknowledged
// (TCP_INFO's tcpi_bytes_acked, Linux 4.1, which counts the SYN too), and
// whether it could tell.
func ackedBytes(conn net.Conn) (uint64, bool) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var gerr error
	if err := raw.Control(func(fd uintptr) { info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || gerr != nil {
		return 0, false
	}
	return max(info.Bytes_acked, 1) - 1, true
}
