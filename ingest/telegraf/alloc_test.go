package telegraf

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// TestZeroAllocs: once the parser, the scratch space and the batches have
// grown, a Decoder allocates nothing per accepted line.
func TestZeroAllocs(t *testing.T) {
	for name, text := range map[string]string{
		"testParse":     string(readVector(t, "testParse.json")),
		"testBatch":     string(readVector(t, "testBatch.json")),
		"testBlankName": string(readVector(t, "testBlankName.json")),
		"coercions":     `{"name":7,"timestamp":"12","fields":{"a":"1,234.5E1","b":true,"c":"x","a":2},"tags":{"n":1,"k":"v","k":"w"}}`,
		"no fields":     `{"name":"n","timestamp":1.5,"tags":{"host":"h"}}`,
	} {
		line := []byte(text)
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(Config{TimestampUnit: "NANOSECONDS"})
			var bs [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&3] }
			run := func() {
				for i := range bs {
					bs[i].Reset()
				}
				if _, err := d.DecodeLine(line, 1, route); err != nil {
					t.Fatal(err)
				}
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
