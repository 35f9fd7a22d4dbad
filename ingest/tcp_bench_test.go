package ingest

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// chunkConn is a gnet.Conn holding one buffered chunk, for driving
// TCPSource.consume without a socket: Peek, Discard and the context, the
// methods consume uses; any other method panics (nil embedded interface).
type chunkConn struct {
	gnet.Conn
	buf []byte
	off int
	ctx any
}

func (c *chunkConn) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(c.buf)-c.off {
		n = len(c.buf) - c.off
	}
	return c.buf[c.off : c.off+n], nil
}

// Discard discards n bytes, or all of them if n <= 0, as gnet does.
func (c *chunkConn) Discard(n int) (int, error) {
	if n <= 0 || n > len(c.buf)-c.off {
		n = len(c.buf) - c.off
	}
	c.off += n
	return n, nil
}

func (c *chunkConn) Context() any     { return c.ctx }
func (c *chunkConn) SetContext(v any) { c.ctx = v }

// benchLines returns whole lines of format (a fmt format of one int) making
// up size bytes at most, and their number.
func benchLines(format string, size int) ([]byte, int) {
	var data []byte
	n := 0
	for i := 0; ; i++ {
		l := fmt.Appendf(nil, format, i%1000)
		if len(data)+len(l) > size {
			return data, n
		}
		data = append(data, l...)
		n++
	}
}

// BenchmarkTCPConsume measures the TCP source's read-event handling without
// the network: one op is one chunk of whole lines, as a read event finds it
// buffered on a connection, framed, decoded and published to 2 shard rings,
// which this goroutine drains. The 128 KiB chunks are larger than the
// default line limit (64 KiB), as a connection's buffer gets under load.
//
//	go test ./ingest -run '^$' -bench TCPConsume -count 6 | benchstat -
func BenchmarkTCPConsume(b *testing.B) {
	for _, tc := range []struct {
		name, format string
		f            LineFormat
		size         int
	}{
		{"statsd/16KiB", "bench.metric.%d:1|c|#host:web-042\n", FormatStatsD, 16 << 10},
		{"statsd/128KiB", "bench.metric.%d:1|c|#host:web-042\n", FormatStatsD, 128 << 10},
		{"graphite/16KiB", "servers.host-042.cpu.load.%d 12.5 1458229140\n", FormatGraphite, 16 << 10},
		{"graphite/128KiB", "servers.host-042.cpu.load.%d 12.5 1458229140\n", FormatGraphite, 128 << 10},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data, lines := benchLines(tc.format, tc.size)
			lanes := []Lanes{NewLanes(2, 1024)}
			src, err := ListenTCP(TCPConfig{Name: "bench", Addr: "127.0.0.1:0", Format: tc.f, Log: quiet}, lanes)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Stop()
			c := &chunkConn{buf: data}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.off = 0
				src.consume(c, tcpOpen)
				if countLanes(lanes) != lines {
					b.Fatalf("stats %+v", src.Stats())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
		})
	}
}

// BenchmarkTCPLoopback measures a TCP source's throughput over loopback: one
// connection writes b.N chunks of 20 StatsD counter lines; the gnet loop
// reads, frames, decodes and publishes them to 2 shard rings, which this
// goroutine drains.
func BenchmarkTCPLoopback(b *testing.B) {
	const lines = 20
	var payload []byte
	for i := range lines {
		payload = fmt.Appendf(payload, "bench.metric.%d:%d|c|#host:h%d\n", i, i, i%4)
	}
	lanes := []Lanes{NewLanes(2, 1024)}
	src, err := ListenTCP(TCPConfig{Name: "bench", Addr: "127.0.0.1:0", Log: quiet}, lanes)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Stop()
	conn, err := net.Dial("tcp", src.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	// Writes of 64 payloads at a time.
	var burst []byte
	for range 64 {
		burst = append(burst, payload...)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		for done := 0; done < b.N; {
			k := min(b.N-done, 64)
			if _, err := conn.Write(burst[:k*len(payload)]); err != nil {
				errc <- err
				return
			}
			done += k
		}
		errc <- nil
	}()
	deadline := time.Now().Add(60 * time.Second)
	for got := 0; got < b.N*lines; {
		if n := countLanes(lanes); n > 0 {
			got += n
			continue
		}
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d samples; stats %+v", got, b.N*lines, src.Stats())
		}
		runtime.Gosched()
	}
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}

// feed appends p to what is buffered, as gnet keeps what a read event did
// not discard and appends the next read to it.
func (c *chunkConn) feed(p []byte) {
	c.buf = append(c.buf[:copy(c.buf, c.buf[c.off:])], p...)
	c.off = 0
}

// BenchmarkShortLines: what the framing adds to a read event of 128 KiB of
// whole lines (past the default 64 KiB line limit, so shortLines searches),
// to compare with BenchmarkTCPConsume/statsd/128KiB.
func BenchmarkShortLines(b *testing.B) {
	data, _ := benchLines("bench.metric.%d:1|c|#host:web-042\n", 128<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for range b.N {
		if shortLines(data, 64<<10) != len(data) {
			b.Fatal("a long line in short lines")
		}
	}
}
