package graphite

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
)

// handleShards stand in for the shards behind a decoder with a series
// cache: they answer every ask with a handle of their own, good in epoch 1,
// and read the samples sent by handle back to their series keys.
type handleShards struct {
	cache *sidcache.Cache
	keys  map[uint64][]byte // by handle
	asked int               // the asks of the last decode
}

func newHandleShards() *handleShards {
	return &handleShards{cache: sidcache.New(), keys: map[uint64][]byte{}}
}

// decode decodes line with d (whose cache is h.cache), answers its asks,
// and returns the samples as decode does, each sent by handle read back
// to its key, and how many were sent by handle.
func (h *handleShards) decode(t testing.TB, d *Decoder, line []byte) ([]rec, sample.Counts, error) {
	t.Helper()
	var b sample.Batch
	b.Epoch = 1
	st, err := d.DecodeLine(line, testNow, func(uint64) *sample.Batch { return &b })
	var keyed sample.Batch
	handles := 0
	h.asked = 0
	for i := range b.Samples {
		s := &b.Samples[i]
		var key []byte
		switch {
		case s.Flags&sample.FlagHandle != 0:
			if key = h.keys[s.Hash]; key == nil {
				t.Fatalf("%q: a handle %x never given", line, s.Hash)
			}
			handles++
		case s.Flags&^sample.FlagAsk == 0:
			key = b.Key(s)
			if sample.Hash(key) != s.Hash {
				t.Fatalf("%q: key %q with hash %x", line, key, s.Hash)
			}
			if s.Flags&sample.FlagAsk != 0 {
				handle := 1<<63 | uint64(len(h.keys)+1)
				h.keys[handle] = bytes.Clone(key)
				b.Asks[s.Agg].Handle, b.Asks[s.Agg].Epoch = handle, 1
				h.asked++
			}
			// else a series too long to cache, sent by its key
		default:
			t.Fatalf("%q: a sample of flags %x", line, s.Flags)
		}
		keyed.AddValue(keyed.PutKeyBytes(key, sample.Hash(key)), s.Time, 0, s.Value, s.Unit)
	}
	h.cache.Answer(b.Asks)
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
// h's series cache: a series the cache learns asks for its handle, and
// goes by handle after that. Every time, the samples and the error are
// those of a decoder without a cache. It returns whether the line went by
// handle.
func cachedAgrees(t testing.TB, h *handleShards, d *Decoder, cfg Config, line []byte, rounds int) bool {
	t.Helper()
	want, _, werr := decode(t, NewDecoder(cfg), line)
	asked, byHandle := false, false
	for round := range rounds {
		got, st, err := h.decode(t, d, line)
		if fmt.Sprint(err) != fmt.Sprint(werr) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q, round %d: with the cache %v (%v); without %v (%v)", line, round, got, err, want, werr)
		}
		if asked && st.Handles != 1 {
			t.Fatalf("%q, round %d: %+v; want the sample by handle", line, round, st)
		}
		asked = asked || h.asked > 0
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
		h := newHandleShards()
		d := NewDecoder(cfg)
		d.SetCache(h.cache)
		byHandle := 0
		for _, line := range lines {
			if cachedAgrees(t, h, d, cfg, line, 3) {
				byHandle++
			}
		}
		// Again, every series known.
		for _, line := range lines {
			cachedAgrees(t, h, d, cfg, line, 2)
		}
		if byHandle < len(lines)/2 {
			t.Fatalf("%+v: %d lines of %d by handle", cfg, byHandle, len(lines))
		}
	}
}
