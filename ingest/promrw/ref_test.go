package promrw

import (
	"testing"

	"github.com/gomad/mad/ingest/promrw/promrwref"
	"github.com/gomad/mad/internal/sample"
)

// The fuzzers and the rule tests hold the streaming, byte-level Decoder to
// the reference transliteration of MAD's parser, promrwref.

// refDecode decodes body with the reference and reads its samples back.
func refDecode(t testing.TB, body []byte, version int, cfg Config) ([]rec, error) {
	t.Helper()
	var b sample.Batch
	c, err := promrwref.Decode(body, version, promrwref.Config{InterpretUnits: cfg.InterpretUnits,
		ReservedNameWhitelist: cfg.ReservedNameWhitelist, MaxDecompressed: cfg.MaxDecompressed}, &b)
	recs := recsOf(t, &b) // checks keys, hashes, kind and flags
	if c.Records != len(recs) || c.Samples != len(recs) {
		t.Fatalf("the reference counted %+v for %d samples", c, len(recs))
	}
	return recs, err
}

// refSeries parses a message of version with the reference into the test
// encoder's series (2.0's label references unresolved).
func refSeries(t testing.TB, msg []byte, version int) []ts {
	t.Helper()
	series, _, err := promrwref.Parse(msg, version)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]ts, 0, len(series))
	for _, s := range series {
		var x ts
		for _, l := range s.Labels {
			x.labels = append(x.labels, lbl{l.Name, l.Value})
		}
		for _, p := range s.Samples {
			x.samples = append(x.samples, smp{p.V, p.T})
		}
		out = append(out, x)
	}
	return out
}
