//go:build !race

package clientpb

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// TestZeroAllocs: decoding a realistic 500-record body allocates nothing
// once the decoder's scratch space and the batches have grown.
func TestZeroAllocs(t *testing.T) {
	for _, c := range []struct {
		name    string
		version int
		body    []byte
	}{
		{"v3", 3, v3Body(500, false, false)},
		{"v3/metric-per-sample", 3, v3Body(500, true, false)},
		{"v3/many-hosts", 3, v3Body(500, false, true)},
		{"v2", 2, v12Body(2, 500, false)},
		{"v1", 1, v12Body(1, 500, true)},
		{"v3/duplicate-names", 3, msg(v3Body(2, false, false), v3Record(v3Samples("a", 1), v3Samples("b", 2), v3Samples("a", 3)))},
	} {
		t.Run(c.name, func(t *testing.T) {
			var batches [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &batches[h&3] }
			d := NewDecoder(Config{})
			dec := versions[c.version]
			run := func() {
				for i := range batches {
					batches[i].Reset()
				}
				if _, err := dec(d, c.body, 0, route); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				run()
			}
			if n := testing.AllocsPerRun(50, run); n != 0 {
				t.Fatalf("decoding allocated %v times per body; want 0", n)
			}
		})
	}
}
