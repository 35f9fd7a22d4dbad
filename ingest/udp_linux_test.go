package ingest

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A read error that persists backs the loop off up to maxReadBackoff instead
// of spinning; a good read or EINTR resets it.
func TestReadBackoff(t *testing.T) {
	var d time.Duration
	var seen []time.Duration
	for i := 0; i < 12; i++ {
		d = readBackoff(d, unix.ENOMEM)
		seen = append(seen, d)
	}
	if seen[0] != minReadBackoff || seen[1] != 2*minReadBackoff || seen[len(seen)-1] != maxReadBackoff {
		t.Fatalf("backoffs %v; want %v doubling to %v", seen, minReadBackoff, maxReadBackoff)
	}
	if readBackoff(d, 0) != 0 || readBackoff(d, unix.EINTR) != 0 {
		t.Fatal("a good read or EINTR does not reset the backoff")
	}
}
