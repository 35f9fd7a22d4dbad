//go:build !race

package otlpjson

import (
	"testing"
)

// TestZeroAllocs: a reused Transcoder, writing into a dst with room,
// allocates nothing, whatever the body holds (escapes, base64, hex ids,
// unknown fields, every type).
func TestZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"full.json", readFile(t, "full.json")},
		{"metrics.json", readFile(t, "metrics.json")},
		{"1000 points", benchRequest(t, 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr Transcoder
			dst, err := tr.Transcode(nil, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(50, func() {
				if dst, err = tr.Transcode(dst[:0], tc.body); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Fatalf("got %v allocations per call; want 0", n)
			}
		})
	}
}
