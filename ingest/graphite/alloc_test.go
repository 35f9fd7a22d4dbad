package graphite

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
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
		for _, cached := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cache=%v", name, cached), func(t *testing.T) {
				d := NewDecoder(cfg)
				var bs [4]sample.Batch
				var c *sidcache.Cache
				if cached { // its series by handle, answered as a shard would
					c = sidcache.New()
					d.SetCache(c)
					for i := range bs {
						bs[i].Epoch = 1
					}
				}
				route := func(h uint64) *sample.Batch { return &bs[h&3] }
				run := func() {
					for i := range bs {
						for j := range bs[i].Asks {
							bs[i].Asks[j].Handle, bs[i].Asks[j].Epoch = 1<<63|1, 1
						}
						if c != nil {
							c.Answer(bs[i].Asks)
						}
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
				if st, err := d.DecodeLine(line, 1, route); cached && err == nil && st.Handles != 1 {
					t.Fatalf("%+v; want the sample by handle", st)
				}
			})
		}
	}
}
