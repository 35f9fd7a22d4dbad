package graphite

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// BenchmarkDecodeLine: lines/s of typical Graphite traffic (1000 distinct
// lines, cycled), with and without carbon tags.
//
//	go test ./ingest/graphite -run '^$' -bench . -count 6 | benchstat -
func BenchmarkDecodeLine(b *testing.B) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		format string
	}{
		{"plain", Config{}, "servers.host-%03d.cpu.load.%d %d.%02d 1458229140"},
		{"carbon", Config{ParseCarbonTags: true, GlobalTags: [][2]string{{"service", "svc"}}},
			"servers.cpu.load;host=host-%03d;core=%d;region=us %d.%02d 1458229140"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			lines := make([][]byte, 1000)
			for i := range lines {
				lines[i] = []byte(fmt.Sprintf(tc.format, i%100, i%8, i, i%100))
			}
			d := NewDecoder(tc.cfg)
			var bs [8]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&7] }
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i&1023 == 0 {
					for j := range bs {
						bs[j].Reset()
					}
				}
				if _, err := d.DecodeLine(lines[i%len(lines)], 1, route); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
