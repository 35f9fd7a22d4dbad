package statsd

import (
	"bytes"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// BenchmarkDecodeLine: one line from bytes to a sample in a batch, including
// the canonical key and its hash (the budgets: 50 ns for a plain
// counter, 90 ns for a timer with three tags and a sample rate). Lines are
// decoded from a 1400-byte datagram of identical lines.
func BenchmarkDecodeLine(b *testing.B) {
	// With MAD's re-sampling (the default) half the rate-0.5 lines are
	// dropped after parsing; with scaling every line becomes a sample.
	for _, tc := range []struct {
		name, line string
		mode       RateMode
	}{
		{"counter", "a.b.c:1|c", RateResample},
		{"timer-3tags-rate", "api.request.latency:12.5|ms|@0.5|#host:web-042,endpoint:/v1/users,region:eu-west-1", RateResample},
		{"timer-3tags-rate-scaled", "api.request.latency:12.5|ms|@0.5|#host:web-042,endpoint:/v1/users,region:eu-west-1", RateScale},
		{"timer-3tags", "api.request.latency:12.5|ms|#host:web-042,endpoint:/v1/users,region:eu-west-1", RateResample},
		{"dogstatsd-gauge", "system.load:0.73|g|#host:web-042,env:prod", RateResample},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var buf bytes.Buffer
			for buf.Len()+len(tc.line)+1 <= 1400 {
				buf.WriteString(tc.line)
				buf.WriteByte('\n')
			}
			data := buf.Bytes()
			lines := bytes.Count(data, []byte("\n"))
			d := NewDecoder(Config{Seed: 1, RateMode: tc.mode})
			var bt sample.Batch
			route := func(uint64) *sample.Batch { return &bt }
			b.SetBytes(int64(len(data)) / int64(lines))
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += lines {
				bt.Reset()
				d.Decode(data, 0, route)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/line")
		})
	}
}

// BenchmarkParseLine: the parser alone.
func BenchmarkParseLine(b *testing.B) {
	for _, tc := range []struct{ name, line string }{
		{"counter", "a.b.c:1|c"},
		{"timer-3tags-rate", "api.request.latency:12.5|ms|@0.5|#host:web-042,endpoint:/v1/users,region:eu-west-1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			line := []byte(tc.line)
			var l Line
			b.ReportAllocs()
			for range b.N {
				ParseLine(line, &l)
			}
		})
	}
}
