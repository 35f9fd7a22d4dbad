//go:build !linux

package affinity

import (
	"runtime"
	"testing"
)

// TestPin: elsewhere than on Linux, pinning is refused with a reason and
// the goroutine stays locked to its thread.
func TestPin(t *testing.T) {
	errc := make(chan error)
	go func() {
		defer runtime.UnlockOSThread()
		errc <- Pin(0)
	}()
	if err := <-errc; err == nil {
		t.Fatal("Pin succeeded on a platform without thread affinity")
	}
}
