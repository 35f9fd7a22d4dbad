//go:build linux

package vmem

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

func mappedNow() int64 { m, _ := Stats(); return m }

// waitUnmapped collects garbage until the mappings come down to want bytes
// (cleanups run on their own goroutine after a collection finds their
// Keep unreachable). Only this package's tests map anything in its test
// binary.
func waitUnmapped(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for mappedNow() != want {
		if time.Now().After(deadline) {
			t.Fatalf("mapped %d bytes; want %d once the Keeps are gone", mappedNow(), want)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

func TestReserveCostsWhatIsWritten(t *testing.T) {
	waitUnmapped(t, 0) // what earlier tests left, once collected
	base := mappedNow()
	_, res0 := Stats()
	const n = 1 << 27 // 1 GiB of uint64s
	s, k, ok := Reserve[uint64](n)
	if !ok {
		t.Skip("no mapping here:", "Reserve refused")
	}
	if len(s) != n || mappedNow()-base != n*8 {
		t.Fatalf("len %d, mapped %d", len(s), mappedNow()-base)
	}
	for i := 0; i < 1<<16; i++ { // 512 KiB written: one huge page resident
		if s[i] != 0 {
			t.Fatalf("s[%d] = %d: not zeroed", i, s[i])
		}
		s[i] = uint64(i)
	}
	_, res := Stats()
	if got := res - res0; got < 512<<10 || got > 2<<20 {
		t.Fatalf("resident %d bytes after writing 512 KiB", got)
	}
	runtime.KeepAlive(k)
	s, k = nil, nil
	waitUnmapped(t, base)
}

func TestMapGrowKeepsContents(t *testing.T) {
	waitUnmapped(t, 0)
	base := mappedNow()
	s, k, ok := Map[uint32](3, 1000)
	if !ok {
		t.Skip("no mapping here")
	}
	if len(s) != 3 || cap(s) < 1000 {
		t.Fatalf("Map = len %d cap %d", len(s), cap(s))
	}
	copy(s, []uint32{7, 8, 9})
	for _, c := range []int{5000, 1 << 20, 5 << 20} {
		g, ok := Grow(s, k, c)
		if !ok {
			t.Fatalf("Grow to %d refused", c)
		}
		if len(g) != 3 || cap(g) < c || g[0] != 7 || g[1] != 8 || g[2] != 9 {
			t.Fatalf("Grow to %d = len %d cap %d %v", c, len(g), cap(g), g[:3])
		}
		if tail := g[3:cap(g)]; tail[0] != 0 || tail[len(tail)-1] != 0 {
			t.Fatalf("Grow to %d: the new room is not zeroed", c)
		}
		g = g[:cap(g)]
		g[len(g)-1] = 1 // the whole capacity is writable
		g[len(g)-1] = 0
		s = g[:3]
	}
	if same, ok := Grow(s, k, 10); !ok || &same[0] != &s[0] {
		t.Fatal("Grow within the capacity moved the array")
	}
	if got := mappedNow() - base; got != int64(roundUp(5<<20*4)) {
		t.Fatalf("mapped %d bytes; want %d", got, roundUp(5<<20*4))
	}
	runtime.KeepAlive(k)
	s, k = nil, nil
	waitUnmapped(t, base)
}

func TestGrowWithinThePageSlack(t *testing.T) {
	small, k, ok := Map[uint32](3, 1000) // 4000 bytes in a 4096-byte page
	if !ok {
		t.Skip("no mapping here")
	}
	g, ok := Grow(small, k, 1020)
	if !ok || len(g) != 3 || cap(g) < 1020 || &g[0] != &small[0] {
		t.Fatalf("Grow within the page's slack: ok %v len %d cap %d, moved %v", ok, len(g), cap(g), &g[0] != &small[0])
	}
	runtime.KeepAlive(k)
}

// TestMappingsInHugePages: a mapping of a huge page or more starts at an
// address aligned to one, whatever its length, and its length is a whole
// number of huge pages (which Linux since 6.7 also aligns when mremap
// moves it), so that every extent of it can be a huge page. A 3 MiB
// mapping used to be placed anywhere and written on 4 KiB pages.
func TestMappingsInHugePages(t *testing.T) {
	type row24 struct{ a, b, c uint64 }
	for _, c := range []int{131_072, 174_763, 87_382} { // 3 MiB, 4 MiB and 8 bytes, 2 MiB and 16 bytes
		s, k, ok := Map[row24](0, c)
		if !ok {
			t.Skip("no mapping here")
		}
		if a := uintptr(unsafe.Pointer(unsafe.SliceData(s))); a%hugeSize != 0 || k.r.size%hugeSize != 0 || cap(s) != int(k.r.size/24) {
			t.Errorf("Map of %d rows of 24 bytes: at %#x, %d bytes, cap %d", c, a, k.r.size, cap(s))
		}
		g, ok := Grow(s, k, 3*c)
		if !ok || k.r.size%hugeSize != 0 || cap(g) != int(k.r.size/24) {
			t.Errorf("Grow to %d rows: ok %v, %d bytes, cap %d", 3*c, ok, k.r.size, cap(g))
		}
		runtime.KeepAlive(k)
	}
	small, k, ok := Map[uint64](0, 100)
	if ok && k.r.size != pageSize {
		t.Errorf("a mapping under a huge page takes %d bytes; want a page", k.r.size)
	}
	runtime.KeepAlive(small)
}

func TestTooLargeRefused(t *testing.T) {
	const huge = int(^uint(0) >> 4) // elements of 32 bytes: more bytes than an address space has
	if _, _, ok := Reserve[[32]byte](huge); ok {
		t.Fatal("Reserve of more than the address space succeeded")
	}
	if _, _, ok := Map[[32]byte](0, huge); ok {
		t.Fatal("Map of more than the address space succeeded")
	}
}

func TestReleaseGivesWholeExtentsBack(t *testing.T) {
	const n = 4 * ReleaseUnit / 8 // 8 MiB of uint64s
	s, k, ok := Reserve[uint64](n)
	if !ok {
		t.Skip("no mapping here:", "Reserve refused")
	}
	for i := range s {
		s[i] = uint64(i) + 1
	}
	_, res0 := Stats()
	// From the middle of the first extent to the middle of the last: the
	// two whole extents between are given back, nothing else.
	lo, hi := n/8, n-n/8
	if got := Release(s, k, lo, hi); got < 2*ReleaseUnit || got > 3*ReleaseUnit {
		t.Fatalf("released %d bytes of [%d, %d); want 2 or 3 extents", got, lo, hi)
	}
	_, res1 := Stats()
	if res0-res1 < 2*ReleaseUnit {
		t.Fatalf("resident went from %d to %d bytes: not two extents less", res0, res1)
	}
	zeros := 0
	for i, v := range s {
		switch {
		case v == 0:
			zeros++
			if i < lo || i >= hi {
				t.Fatalf("s[%d] zeroed, outside the range released", i)
			}
		case v != uint64(i)+1:
			t.Fatalf("s[%d] = %d", i, v)
		}
	}
	if zeros*8 < 2*ReleaseUnit {
		t.Fatalf("%d elements read zero; want two extents' worth", zeros)
	}
	if got := Release(s, k, 5, 6); got != 0 {
		t.Fatalf("released %d bytes of one element", got)
	}
	runtime.KeepAlive(k)
}
