package graphite_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/graphite"
	"github.com/gomad/mad/internal/javanum/javanumtest"
	"github.com/gomad/mad/internal/sample"
)

// TestJavaNumbers drives the decoder through the table of what Java's
// NumberFormat answered (MAD's GraphitePlaintextToRecordParser hands the
// VALUE group to NumberFormat.parse(String)): a line makes one gauge of
// Java's value, NaN and infinities included, and is refused as "not a
// number" where Java throws. Values the line grammar splits (empty, or
// holding ' ' or '\n') are not NumberFormat's business and are skipped.
func TestJavaNumbers(t *testing.T) {
	d := graphite.NewDecoder(graphite.Config{})
	var b sample.Batch
	route := func(uint64) *sample.Batch { return &b }
	for _, c := range javanumtest.Cases() {
		if c.In == "" || strings.ContainsAny(c.In, " \n") {
			continue
		}
		b.Reset()
		_, err := d.DecodeLine([]byte("a "+c.In+" 10"), 0, route)
		got := fmt.Sprint(err)
		if err == nil && len(b.Samples) == 1 {
			got = fmt.Sprint(b.Samples[0].Value)
		}
		if c.OK && (err != nil || len(b.Samples) != 1 || !c.Same(b.Samples[0].Value)) ||
			!c.OK && (err == nil || !strings.Contains(err.Error(), "not a number")) {
			t.Errorf("value %.40q: got %s; want %v (Java parsed it: %v)", c.In, got, c.Value(), c.OK)
		}
	}
}
