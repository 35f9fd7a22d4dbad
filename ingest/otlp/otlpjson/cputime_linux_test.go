//go:build linux

package otlpjson

import "golang.org/x/sys/unix"

// processCPU returns the CPU time the process has used, user and system,
// in nanoseconds: the benchmark's own and its garbage collection's (which
// runs on other threads), and nothing of the other processes that share a
// loaded machine.
func processCPU() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
