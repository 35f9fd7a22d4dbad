package ring

import (
	"runtime"
	"testing"
)

// BenchmarkSPSC: items per second across two goroutines, one at a time and
// in batches of 64.
func BenchmarkSPSC(b *testing.B) {
	for _, batch := range []int{1, 64} {
		name := map[int]string{1: "batch=1", 64: "batch=64"}[batch]
		b.Run(name, func(b *testing.B) {
			r := NewSPSC[uint64](1024)
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]uint64, batch)
				for got := 0; got < b.N; {
					n := r.PopN(buf)
					if n == 0 {
						runtime.Gosched()
					}
					got += n
				}
			}()
			buf := make([]uint64, batch)
			b.ReportAllocs()
			for sent := 0; sent < b.N; {
				n := r.PushN(buf[:min(batch, b.N-sent)])
				if n == 0 {
					runtime.Gosched()
				}
				sent += n
			}
			<-done
		})
	}
}
