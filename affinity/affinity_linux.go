//go:build linux

package affinity

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// CPUs returns the CPUs this process may run on, in increasing order.
func CPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return allCPUs()
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) == 0 {
		return allCPUs()
	}
	return cpus
}

// Pin locks the calling goroutine to its OS thread and binds the thread to
// cpu. If binding is not permitted the goroutine stays locked to its thread,
// unpinned, and the error says why.
func Pin(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("cannot pin thread to CPU %d: %w", cpu, err)
	}
	return nil
}

// physicalMemory returns the machine's memory (sysinfo's totalram).
func physicalMemory() (int64, bool) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 0, false
	}
	return int64(si.Totalram) * int64(max(si.Unit, 1)), true
}
