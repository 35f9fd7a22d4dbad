//go:build linux

package clientpb

import "golang.org/x/sys/unix"

// threadCPU returns the CPU time of the calling OS thread in nanoseconds
// (the goal is stated in samples per CPU-second; on a shared machine wall
// time also counts the time other processes run).
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
