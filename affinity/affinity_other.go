//go:build !linux

package affinity

import (
	"errors"
	"runtime"
)

// CPUs returns the CPUs this process may run on.
func CPUs() []int { return allCPUs() }

// Pin locks the calling goroutine to its OS thread; binding it to a CPU is not
// supported on this platform.
func Pin(cpu int) error {
	runtime.LockOSThread()
	return errors.New("pinning threads to CPUs is not supported on this platform")
}

// physicalMemory is unknown on this platform.
func physicalMemory() (int64, bool) { return 0, false }
