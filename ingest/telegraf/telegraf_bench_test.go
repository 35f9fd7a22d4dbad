package telegraf

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// BenchmarkDecodeLine: lines/s of Telegraf socket_writer JSON (1000
// distinct lines of a cpu-like metric with 5 fields and 4 tags, cycled).
//
//	go test ./ingest/telegraf -run '^$' -bench . -count 6 | benchstat -
func BenchmarkDecodeLine(b *testing.B) {
	lines := make([][]byte, 1000)
	for i := range lines {
		lines[i] = []byte(fmt.Sprintf(`{"fields":{"usage_idle":%d.5,"usage_system":%d.25,"usage_user":%d,"usage_iowait":0,"usage_steal":0.1},"name":"cpu","tags":{"cpu":"cpu%d","host":"host-%03d","service":"telegraf","cluster":"local"},"timestamp":%d}`,
			i%100, i%7, i%13, i%8, i%100, 1458229140000000000+int64(i)))
	}
	d := NewDecoder(Config{TimestampUnit: "NANOSECONDS"})
	var bs [8]sample.Batch
	route := func(h uint64) *sample.Batch { return &bs[h&7] }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i&255 == 0 {
			for j := range bs {
				bs[j].Reset()
			}
		}
		if _, err := d.DecodeLine(lines[i%len(lines)], 1, route); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
