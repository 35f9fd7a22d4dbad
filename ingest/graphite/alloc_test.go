package graphite

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// TestZeroAllocs: once its scratch space and the batches have grown, a
// Decoder allocates nothing per line, accepted or refused.
func TestZeroAllocs(t *testing.T) {
	cfg := Config{ParseCarbonTags: true, GlobalTags: [][2]string{{"service", "svc"}, {"cluster", "c"}}}
	for name, text := range map[string]string{
		"vector":         string(readVector(t, "testParseSingleLineWithLineEnding")),
		"carbon vector":  string(readVector(t, "testParseCarbonTags")),
		"no timestamp":   "servers.host-1.cpu.load 0.75\r",
		"slow number":    "a 1,234,567.891011121314E-2 1458229140",
		"refused":        "a  1",
		"refused number": "a abc",
	} {
		line := []byte(text)
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(cfg)
			var bs [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&3] }
			run := func() {
				for i := range bs {
					bs[i].Reset()
				}
				_, _ = d.DecodeLine(line, 1, route)
			}
			for range 3 {
				run()
			}
			if n := testing.AllocsPerRun(1000, run); n != 0 {
				t.Fatalf("got %v allocations per line; want 0", n)
			}
		})
	}
}
