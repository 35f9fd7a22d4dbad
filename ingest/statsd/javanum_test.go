package statsd_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomad/mad/ingest/statsd"
	"github.com/gomad/mad/internal/javanum/javanumtest"
	"github.com/gomad/mad/internal/sample"
)

// TestJavaNumbers drives the parser and the decoder through the table of
// what Java's NumberFormat answered (MAD's StatsdToRecordParser hands the
// whole value to NumberFormat.parse(String)). A value is Java's, or ErrValue
// where Java throws, but for the spellings of NaN and the infinities Java
// refuses ("Infinity", "nan", "-NaN"), read as those values; after a '+' (a
// gauge delta, which MAD refuses) the rest reads the same, unless it is
// signed again. The decoder then drops the non-finite values ("NaN", "∞",
// "1E400", "Infinity") and counts them as such.
// Values the line grammar cuts short (empty, or holding '|', '\n' or a final
// '\r') are not NumberFormat's business and are skipped.
func TestJavaNumbers(t *testing.T) {
	for _, c := range javanumtest.Cases() {
		if c.In == "" || strings.ContainsAny(c.In, "|\n") || strings.HasSuffix(c.In, "\r") {
			continue
		}
		t.Run(fmt.Sprintf("%.24q", c.In), func(t *testing.T) {
			ok, value := c.OK, c.Value()
			if v, spelled := nonFiniteSpelling(c.In); !ok && spelled {
				ok, value = true, v
			}
			same := func(v float64) bool { return c.Same(v) || !c.OK && (v == value || math.IsNaN(v) && math.IsNaN(value)) }
			var l statsd.Line
			for _, tc := range []struct {
				line     string
				ok, plus bool
			}{
				{"x:" + c.In + "|c", ok, false},
				{"x:+" + c.In + "|g", ok && !strings.HasPrefix(c.In, "-"), true},
			} {
				r := statsd.ParseLine([]byte(tc.line), &l)
				if !tc.ok && r != statsd.ErrValue || tc.ok && (r != statsd.OK || !same(l.Value) || l.Plus != tc.plus) {
					t.Fatalf("ParseLine(%.40q) = %v, value %v, plus %v; want ok %v, value %v, plus %v",
						tc.line, r, l.Value, l.Plus, tc.ok, value, tc.plus)
				}
			}
			d := statsd.NewDecoder(statsd.Config{})
			var b sample.Batch
			d.Decode([]byte("x:"+c.In+"|c\n"), 0, func(uint64) *sample.Batch { return &b })
			finite := ok && !math.IsInf(value, 0) && !math.IsNaN(value)
			switch {
			case finite && (len(b.Samples) != 1 || !c.Same(b.Samples[0].Value)):
				t.Fatalf("decoded %+v; want one sample of %v", b.Samples, value)
			case !finite && (len(b.Samples) != 0 || d.Stats.NonFinite+d.Stats.Lines[statsd.ErrValue] != 1 || ok != (d.Stats.NonFinite == 1)):
				t.Fatalf("decoded %+v, stats %+v; want it dropped as non-finite (%v) or not a number", b.Samples, d.Stats, ok)
			}
		})
	}
}

// nonFiniteSpelling: s is "nan", "inf" or "infinity" in any case after an
// optional '-', and its value.
func nonFiniteSpelling(s string) (float64, bool) {
	word, neg := strings.CutPrefix(s, "-")
	switch strings.ToLower(word) {
	case "nan":
		return math.NaN(), true
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	return 0, false
}
