//go:build !race

package ingest

import (
	"strings"
	"testing"
)

// TestTCPConsumeZeroAllocs: once batches and scratch space have grown, a
// read event allocates nothing, in every format, with an over-long line
// among the lines and a partial one at the end.
func TestTCPConsumeZeroAllocs(t *testing.T) {
	long := strings.Repeat("x", 100) + "\n"
	for _, tc := range []struct {
		name, line string
		f          LineFormat
	}{
		{"statsd", "bench.metric:1|c|#host:web-042\n", FormatStatsD},
		{"graphite", "servers.host-042.cpu.load 12.5 1458229140\n", FormatGraphite},
		{"telegraf", `{"name":"n","timestamp":1,"fields":{"f":2},"tags":{"host":"h"}}` + "\n", FormatTelegraf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lanes := []Lanes{NewLanes(2, 1024)}
			src, err := ListenTCP(TCPConfig{Name: "tcp", Addr: "127.0.0.1:0", Format: tc.f, MaxLine: 80, Log: quiet}, lanes)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Stop()
			chunk := strings.Repeat(tc.line, 20) + long + strings.Repeat(tc.line, 20) + tc.line[:10]
			c := &chunkConn{buf: []byte(chunk)}
			run := func() {
				c.off = 0
				src.consume(c, tcpOpen)
				if n := countLanes(lanes); n != 40 {
					t.Fatalf("%d samples; want 40 (stats %+v)", n, src.Stats())
				}
			}
			for range 3 {
				run()
			}
			if n := testing.AllocsPerRun(1000, run); n != 0 {
				t.Fatalf("got %v allocations per read event; want 0", n)
			}
		})
	}
}
