package prefetch

import (
	"testing"
	"unsafe"
)

// The hints must be harmless on any address, mapped or not.
func TestLineIsHarmless(t *testing.T) {
	b := make([]uint64, 1024)
	Line(uintptr(unsafe.Pointer(&b[0])))
	Lines2(uintptr(unsafe.Pointer(&b[512])), uintptr(unsafe.Pointer(&b[1023])))
	Line(0)
	Lines2(0, ^uintptr(0))
	for i, v := range b {
		if v != 0 {
			t.Fatalf("b[%d] = %d after prefetching", i, v)
		}
	}
}

func BenchmarkLine(b *testing.B) {
	x := make([]uint64, 8)
	p := uintptr(unsafe.Pointer(&x[0]))
	for range b.N {
		Line(p)
	}
}
