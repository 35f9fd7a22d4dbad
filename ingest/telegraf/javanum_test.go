package telegraf_test

import (
	"encoding/json"
	"testing"

	"github.com/gomad/mad/ingest/telegraf"
	"github.com/gomad/mad/internal/javanum/javanumtest"
	"github.com/gomad/mad/internal/sample"
)

// TestJavaNumbers drives the decoder through the table of what Java's
// NumberFormat answered (MAD's TelegrafJsonToRecordParser hands each field's
// text to NumberFormat.parse(String)): a string field becomes a timer of
// Java's value, NaN and infinities included; where Java throws (and the
// text is not "true" or "false") the field is skipped, which leaves the
// record without metrics: a KindNone marker.
func TestJavaNumbers(t *testing.T) {
	d := telegraf.NewDecoder(telegraf.Config{})
	var b sample.Batch
	for _, c := range javanumtest.Cases() {
		text, err := json.Marshal(c.In)
		if err != nil {
			t.Fatal(err)
		}
		b.Reset()
		line := `{"name":"n","timestamp":1,"fields":{"f":` + string(text) + `}}`
		if _, err := d.DecodeLine([]byte(line), 0, func(uint64) *sample.Batch { return &b }); err != nil || len(b.Samples) != 1 {
			t.Fatalf("%.60s: got %d samples, %v; want one", line, len(b.Samples), err)
		}
		s := &b.Samples[0]
		k, err := sample.ParseKey(b.Key(s))
		if err != nil || c.OK && (k.Kind != sample.KindTimer || string(k.Name) != "n.f" || !c.Same(s.Value)) || !c.OK && k.Kind != sample.KindNone {
			t.Errorf("field %.40q: got %v %q = %v (%v); want %v (Java parsed it: %v)", c.In, k.Kind, k.Name, s.Value, err, c.Value(), c.OK)
		}
	}
}
