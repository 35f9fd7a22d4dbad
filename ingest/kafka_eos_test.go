package ingest

import (
	"slices"
	"testing"
)

// TestEOSRulesSurviveATakeover: an owner that took a partition over and
// commits before reaching the end of its previous owner's rule keeps that
// rule (messages there whose bucket starts before its boundary are in the
// previous owner's committed output); rules that end at or below the
// committed offset are dropped. The metadata reads back as written.
func TestEOSRulesSurviveATakeover(t *testing.T) {
	a := []skipRule{{b: 2000, end: 500}} // A committed at 300, holding back from 300 to 500
	// B read from 300 to 400 and commits at 400 (its epoch's boundary 3000).
	b := nextRules(a, skipRule{b: 3000, end: 400}, 400)
	if want := []skipRule{{3000, 400}, {2000, 500}}; !slices.Equal(b, want) {
		t.Fatalf("rules %v, want %v", b, want)
	}
	for _, c := range []struct {
		offset, start int64
		skip          bool
	}{
		{450, 1000, true},  // in A's output
		{450, 2500, false}, // A held it back; B had not read it
		{350, 2500, true},  // in B's output
		{350, 3500, false}, // held back by B
		{600, 1000, false}, // past every rule: late data, applied
	} {
		if got := skips(b, c.offset, c.start); got != c.skip {
			t.Errorf("offset %d, start %d: skip %v, want %v", c.offset, c.start, got, c.skip)
		}
	}
	// Once a commit passes 500, A's rule goes.
	if c := nextRules(b, skipRule{b: 4000, end: 700}, 600); !slices.Equal(c, []skipRule{{4000, 700}}) {
		t.Errorf("rules %v", c)
	}
	m := eosMetadataOf(b)
	got, ok := parseEOSMetadata(m)
	if !ok || !slices.Equal(got, b) {
		t.Errorf("%q read back as %v, %v", m, got, ok)
	}
	for _, bad := range []string{"", "mad-eos", "mad-eos b=1", "mad-eos b=1 x=2", "other b=1 e=2", "mad-eos b=x e=2"} {
		if _, ok := parseEOSMetadata(bad); ok {
			t.Errorf("%q read as rules", bad)
		}
	}
}
