//go:build !linux

package ingest

import (
	"errors"
	"net"
	"sync"
)

var listenMu sync.Mutex

// Elsewhere than on Linux, a TCP source's stop does not drain its
// listener's backlog (tcp_backlog_linux.go): what waits there is reset.
func claimListeners(*net.TCPAddr, int) ([]int, error) { return nil, nil }

func releaseListenersLocked([]int) {}

// errNoFds is not returned here: claimListeners claims nothing and says
// nothing.
var errNoFds = errors.New("cannot list the process's descriptors")

func (s *TCPSource) drainBacklog([]int) {}
