//go:build !linux

package sdnotify

// monotonicUsec is unknown where systemd does not run: MONOTONIC_USEC is
// left out.
func monotonicUsec() (uint64, bool) { return 0, false }
