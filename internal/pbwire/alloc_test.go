//go:build !race

package pbwire

import (
	"testing"
)

// TestZeroAllocs: reading a message, with its sub-messages, strings and
// packed values (into grown slices), allocates nothing.
func TestZeroAllocs(t *testing.T) {
	b := benchMessage(50)
	ds := make([]float64, 0, 1024)
	vs := make([]uint64, 0, 1024)
	var sum uint64
	read := func() {
		sum += walkReader(b, ds[:0], vs[:0], false)
		sum += walkReader(b, ds[:0], vs[:0], true)
		sum += walkLoop(b)
	}
	read()
	if n := testing.AllocsPerRun(100, read); n != 0 {
		t.Fatalf("got %v allocations per read; want 0", n)
	}
	if sum == 0 {
		t.Fatal("nothing read")
	}
}
