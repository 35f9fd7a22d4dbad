package ingest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"
)

// countLanes plays the shards: it pops every batch and returns how many
// samples they held.
func countLanes(lanes []Lanes) int {
	n := 0
	for _, l := range lanes {
		for i, r := range l.To {
			for b, ok := r.Pop(); ok; b, ok = r.Pop() {
				n += len(b.Samples)
				b.Reset()
				l.Back[i].Push(b)
			}
		}
	}
	return n
}

// BenchmarkUDPLoopback measures a UDP loop's throughput over loopback: one
// op is one datagram of 20 counter lines read by recvmmsg, decoded and
// published to 2 shard rings, which this goroutine drains. Datagrams are
// queued in the socket buffer, bursts of up to 10000, before the loop starts
// (untimed), so the timed part is the loop reading a full buffer, as under
// load, not the sender nor wake-up latencies.
func BenchmarkUDPLoopback(b *testing.B) {
	const lines, burst = 20, 10000
	var payload []byte
	for i := range lines {
		payload = fmt.Appendf(payload, "bench.metric.%d:%d|c|#host:h%d\n", i, i, i%4)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.StopTimer()
	for done := 0; done < b.N; {
		k := min(b.N-done, burst)
		lanes := []Lanes{NewLanes(2, 1024)}
		src, err := ListenUDP(UDPConfig{Name: "bench", Addr: "127.0.0.1:0", ReadBuffer: 16 << 20, Log: log}, lanes)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := net.Dial("udp", src.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		for range k {
			if _, err := conn.Write(payload); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		src.Start()
		deadline := time.Now().Add(30 * time.Second)
		for got := 0; got < k*lines; {
			if n := countLanes(lanes); n > 0 {
				got += n
				continue
			}
			if time.Now().After(deadline) {
				b.Fatalf("received %d of %d samples; stats %+v", got, k*lines, src.Stats())
			}
			runtime.Gosched()
		}
		b.StopTimer()
		src.Stop()
		conn.Close()
		done += k
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}
