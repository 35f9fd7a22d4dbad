//go:build linux

package affinity

import (
	"errors"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPin pins a thread to each CPU the process may use and reads the
// thread's affinity back; a CPU the machine does not have is refused.
func TestPin(t *testing.T) {
	for _, cpu := range CPUs() {
		got := make(chan []int)
		errc := make(chan error)
		go func() {
			defer runtime.UnlockOSThread()
			if err := Pin(cpu); err != nil {
				errc <- err
				return
			}
			got <- CPUs() // the calling thread's affinity
		}()
		select {
		case err := <-errc:
			if errors.Is(err, unix.EPERM) {
				t.Skipf("pinning not permitted here: %v", err)
			}
			t.Fatalf("Pin(%d): %v", cpu, err)
		case cpus := <-got:
			if !slices.Equal(cpus, []int{cpu}) {
				t.Fatalf("after Pin(%d) the thread may run on %v; want only %d", cpu, cpus, cpu)
			}
		}
	}
	errc := make(chan error)
	go func() {
		defer runtime.UnlockOSThread()
		errc <- Pin(1023) // beyond any CPU this machine has
	}()
	if err := <-errc; err == nil && !slices.Contains(CPUs(), 1023) {
		t.Fatal("Pin(1023) succeeded on a machine without CPU 1023")
	}
}

// TestMemory: on Linux the machine's memory is known, and the cgroup limit
// only lowers it.
func TestMemory(t *testing.T) {
	phys, ok := physicalMemory()
	if !ok || phys <= 0 {
		t.Fatalf("physicalMemory() = %d, %v; want the machine's memory", phys, ok)
	}
	if got, ok := Memory(); !ok || got <= 0 || got > phys {
		t.Fatalf("Memory() = %d, %v; want 1..%d", got, ok, phys)
	}
}
