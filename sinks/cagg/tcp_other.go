//go:build !linux

package cagg

import "net"

// socketSendBuffer returns 0: the kernel's figure is not read here.
func socketSendBuffer(*net.TCPConn) int { return 0 }

// ackedBytes cannot tell without Linux's TCP_INFO.
func ackedBytes(net.Conn) (uint64, bool) { return 0, false }
