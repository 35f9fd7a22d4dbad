//go:build !race

package gunzip

import (
	stdgzip "compress/gzip"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gomad/mad/internal/testseed"
)

// TestAllocs: inflating a body into a buffer large enough allocates only
// the standard library's tables of long codes, a few small ones per
// dynamic block: neither the window nor the output is allocated again.
func TestAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	body := gz(t, text(r, 3000), stdgzip.DefaultCompression)
	var rd Reader
	buf := make([]byte, 0, 4000)
	run := func() {
		out, err := rd.Inflate(buf, body, 3000)
		if len(out) != 3000 || err != nil {
			t.Fatal(len(out), err)
		}
	}
	run()
	const n = 200
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range n {
		run()
	}
	runtime.ReadMemStats(&m1)
	allocs, bytes := float64(m1.Mallocs-m0.Mallocs)/n, float64(m1.TotalAlloc-m0.TotalAlloc)/n
	if allocs > 16 || bytes > 8<<10 {
		t.Fatalf("%v allocations, %v bytes per body; want at most 16 and 8 KiB (a new reader's window is 32 KiB)", allocs, bytes)
	}
	t.Logf("%v allocations, %v bytes per body", allocs, bytes)
}
