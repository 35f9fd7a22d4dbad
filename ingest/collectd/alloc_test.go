package collectd

import (
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// TestZeroAllocs: once the parser's cache, the scratch space and the
// batches have grown, a Decoder allocates nothing per call, whatever the
// number of records (per call, not per record: the whole body is parsed in
// one call).
func TestZeroAllocs(t *testing.T) {
	for name, body := range map[string][]byte{
		"testParse":           readVector(t, "testParse.json"),
		"testParseNullValues": readVector(t, "testParseNullValues.json"),
		"multi-value, meta, coercions, Infinity (slow path)": []byte("[" +
			vl(map[string]any{"values": "[1,null,Infinity]", "dstypes": `["derive","gauge","gauge"]`, "dsnames": `["rx","value","tx"]`, "meta": `{"a":true,"b":[1,2.5]}`}) + "," +
			vl(map[string]any{"host": "12", "values": `["1.5"]`}) + "," + vl(map[string]any{"values": "[]", "dstypes": "[]", "dsnames": "[]"}) + "]"),
		"synthetic": synthBody(200),
	} {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(Config{})
			var bs [4]sample.Batch
			route := func(h uint64) *sample.Batch { return &bs[h&3] }
			run := func() {
				for i := range bs {
					bs[i].Reset()
				}
				if _, err := d.Decode(body, testHeaders, 0, route); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				run()
			}
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Fatalf("got %v allocations per request; want 0", n)
			}
		})
	}
}
