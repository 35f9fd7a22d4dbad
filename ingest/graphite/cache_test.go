package graphite

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache/sidcachetest"
)

// cachedDecode decodes line with d, whose cache is sh's, as decode does;
// sh answers its asks, and each sample sent by handle is read back to its
// key. It also returns how many samples went by handle.
func cachedDecode(t testing.TB, sh *sidcachetest.Shards, d *Decoder, line []byte) ([]rec, sample.Counts, error) {
	t.Helper()
	var b sample.Batch
	b.Epoch = sidcachetest.Epoch
	st, err := d.DecodeLine(line, testNow, func(uint64) *sample.Batch { return &b })
	keys, handles, rerr := sh.Read(&b)
	if rerr != nil {
		t.Fatalf("%q: %v", line, rerr)
	}
	var keyed sample.Batch
	for i, key := range keys {
		s := &b.Samples[i]
		if s.Flags&^(sample.FlagAsk|sample.FlagHandle) != 0 {
			t.Fatalf("%q: a sample of flags %x", line, s.Flags)
		}
		keyed.AddValue(keyed.PutKeyBytes(key, sample.Hash(key)), s.Time, 0, s.Value, s.Unit)
	}
	got := recsOf(t, &keyed)
	if err != nil && len(got) != 0 {
		t.Fatalf("error %v with %d samples routed", err, len(got))
	}
	if st.Samples != len(got) || st.Records != st.Samples || st.Handles != handles {
		t.Fatalf("stats %+v for %d samples, %d by handle", st, len(got), handles)
	}
	return got, st, err
}

// cachedAgrees decodes line a few times with d, a decoder of cfg through
// sh's series cache: a series the cache learns asks for its handle, and
// goes by handle after that. Every time, the samples and the error are
// those of a decoder without a cache. It returns whether the line went by
// handle.
func cachedAgrees(t testing.TB, sh *sidcachetest.Shards, d *Decoder, cfg Config, line []byte, rounds int) bool {
	t.Helper()
	want, _, werr := decode(t, NewDecoder(cfg), line)
	asked, byHandle := false, false
	for round := range rounds {
		got, st, err := cachedDecode(t, sh, d, line)
		if fmt.Sprint(err) != fmt.Sprint(werr) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q, round %d: with the cache %v (%v); without %v (%v)", line, round, got, err, want, werr)
		}
		if asked && st.Handles != 1 {
			t.Fatalf("%q, round %d: %+v; want the sample by handle", line, round, st)
		}
		asked = asked || sh.Asks > 0
		byHandle = byHandle || st.Handles > 0
	}
	return byHandle
}

// TestCacheAgrees: every line of the rule table and MAD's vectors decodes
// through a series cache as without one, by handle once the cache has one,
// with decoders of carbon tags and global tags in every combination,
// one cache and decoder each for all the lines (their series side by side,
// and lines whose names differ only in their tags).
func TestCacheAgrees(t *testing.T) {
	lines := seedLines(t)
	for _, s := range []string{
		"a;k=v 1", "a;k=w 2", "a;w=1;k=v 3", "a;k=v;w=1 4", "a 5", "a;k=v 1 10", "a;k=v abc",
	} {
		lines = append(lines, []byte(s))
	}
	for _, cfg := range []Config{
		{}, {ParseCarbonTags: true},
		{GlobalTags: [][2]string{{"service", "svc"}, {"k", "g"}}},
		{GlobalTags: [][2]string{{"service", "svc"}, {"k", "g"}}, ParseCarbonTags: true},
	} {
		sh := sidcachetest.New()
		d := NewDecoder(cfg)
		d.SetCache(sh.Cache)
		byHandle := 0
		for _, line := range lines {
			if cachedAgrees(t, sh, d, cfg, line, 3) {
				byHandle++
			}
		}
		// Again, every series known.
		for _, line := range lines {
			cachedAgrees(t, sh, d, cfg, line, 2)
		}
		if byHandle < len(lines)/2 {
			t.Fatalf("%+v: %d lines of %d by handle", cfg, byHandle, len(lines))
		}
	}
}
