package promrw

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// TestZeroAllocs: once its scratch space and the batches have grown, a
// Decoder allocates nothing per call, whatever the number of records (the
// limit is per call, not per record: the whole request is decoded in one
// call).
func TestZeroAllocs(t *testing.T) {
	bodies := map[string]struct {
		body    []byte
		version int
	}{
		"live1":         {readVector(t, "testLivePrometheus1"), 1},
		"live2":         {readVector(t, "testLivePrometheus2"), 1},
		"synthetic-v1":  {snap(encV1(synth(10000, 1)...)), 1},
		"synthetic-v2":  {snap(encV2(synth(10000, 1)...)), 2},
		"multi-v1":      {snap(encV1(synth(500, 4)...)), 1},
		"refused-empty": {readVector(t, "testParseEmpty"), 1},
	}
	for name, tc := range bodies {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(Config{InterpretUnits: true, ReservedNameWhitelist: []string{"container_network_transmit_packets_total"}})
			var bs [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&3] }
			run := func() {
				for i := range bs {
					bs[i].Reset()
				}
				var err error
				if tc.version == 2 {
					_, err = d.DecodeV2(tc.body, 0, route)
				} else {
					_, err = d.Decode(tc.body, 0, route)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				run()
			}
			if n := testing.AllocsPerRun(50, run); n != 0 {
				t.Fatalf("got %v allocations per request; want 0", n)
			}
		})
	}
}
