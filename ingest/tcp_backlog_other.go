//go:build !linux

package ingest

import (
	"net"
	"sync"
)

var listenMu sync.Mutex

// Elsewhere than on Linux, a TCP source's stop does not drain its
// listener's backlog (tcp_backlog_linux.go): what waits there is reset.
func claimListeners(*net.TCPAddr) []int { return nil }

func (s *TCPSource) drainBacklog([]int) {}
