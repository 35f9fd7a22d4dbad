//go:build linux

package bench_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gomad/mad/internal/vmem"
)

// BenchmarkHost measures the machine the other benchmarks run on, so that
// figures from different hours can be told apart from changes in mad: this
// shared machine's speed moves from hour to hour (BENCHMARKS.md: the same
// build's pipeline at 66 and at 100 ns a line), and not all of it alike.
//
//   - chase/pages=P/size=S: the latency of one load, a random walk through
//     S bytes one cache line at a time, each load's address the value of
//     the one before (no two overlap): ns a load. 32 KiB fits the
//     first-level cache, 512 KiB the second, 16 MiB the shared third (32
//     MiB on this machine, shared with other guests), 256 MiB does not.
//     The array is a mapping of its own, on 4 KiB pages (P=4k: a walk
//     through more than the TLB covers also walks the page tables, twice
//     over in a virtual machine) or on huge pages (P=2M, as mad's records
//     and rows are: vmem).
//   - compute: a chain of dependent multiply-adds on registers, nothing from
//     memory: ns a step, the core's own speed.
//
// The pipeline's and the emitter's costs are mostly misses to the third
// level and to memory; comparing their figures across sittings takes these
// beside them, run in the same minutes on the same CPU:
//
//	taskset -c 0 ./bench.test -test.run '^$' -test.bench 'Host' -test.benchtime 20000000x
func BenchmarkHost(b *testing.B) {
	for _, c := range []struct {
		pages string
		size  int
	}{
		{"4k", 32 << 10}, {"4k", 512 << 10}, {"4k", 16 << 20}, {"4k", 256 << 20},
		{"2M", 2 << 20}, {"2M", 4 << 20}, {"2M", 8 << 20}, {"2M", 16 << 20}, {"2M", 256 << 20},
	} {
		size := c.size
		b.Run(fmt.Sprintf("chase/pages=%s/size=%s", c.pages, sizeName(size)), func(b *testing.B) {
			const line = 64 / 8 // words a cache line
			lines := size / 64
			words, free := hostArray(b, size/8, c.pages == "2M")
			defer free()
			// One cycle through every line in random order (Sattolo's
			// algorithm): each line's first word holds the next line's.
			perm := make([]uint32, lines)
			for i := range perm {
				perm[i] = uint32(i)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for i := lines - 1; i > 0; i-- {
				j := r.IntN(i)
				perm[i], perm[j] = perm[j], perm[i]
			}
			for i := range lines {
				words[int(perm[i])*line] = uint64(perm[(i+1)%lines]) * line
			}
			at := uint64(0)
			for range lines { // once round, so the walk starts warm
				at = words[at]
			}
			b.ResetTimer()
			for range b.N {
				at = words[at]
			}
			b.StopTimer()
			hostSink += at
		})
	}
	b.Run("compute", func(b *testing.B) {
		x := uint64(b.N)
		for range b.N {
			x = x*6364136223846793005 + 1442695040888963407
		}
		hostSink += x
	})
}

// hostArray returns n words in a mapping of their own, on huge pages or
// not (transparent huge pages come only where advised: the machine's
// setting is madvise), and what to call once done with them: it unmaps
// the 4 KiB pages, and keeps the huge-page mapping's Keep alive until
// then (vmem unmaps it once the Keep is unreachable).
func hostArray(b *testing.B, n int, huge bool) ([]uint64, func()) {
	if huge {
		words, k, ok := vmem.Map[uint64](n, n)
		if !ok {
			b.Skip("no mapping on this system")
		}
		return words, func() { runtime.KeepAlive(k) }
	}
	mem, err := unix.Mmap(-1, 0, n*8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		b.Skip("no mapping on this system:", err)
	}
	if err := unix.Madvise(mem, unix.MADV_NOHUGEPAGE); err != nil {
		b.Fatal(err)
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), n), func() { _ = unix.Munmap(mem) }
}

// hostSink keeps the benchmarks' results live.
var hostSink uint64

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
