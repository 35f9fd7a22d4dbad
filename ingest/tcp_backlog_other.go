//go:build !linux

package ingest

// Elsewhere than on Linux, a TCP source's stop does not drain its
// listener's backlog (tcp_backlog_linux.go): what waits there is reset.
func (s *TCPSource) dupListeners() []int { return nil }

func (s *TCPSource) drainBacklog([]int) {}
