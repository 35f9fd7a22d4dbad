package statsd

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
	"github.com/gomad/mad/internal/sidcache/sidcachetest"
)

// seedLines has every line shape the decoder knows.
var seedLines = []string{
	"a.b.c:1|c", "fuel.level:0.5|g", "g:+5|g", "g:-5|g", "song.length:240|h|@0.5", "t:12|ms",
	"m:3|m", "d:7|d|@0.2", "users.uniques:1234|s", "x:1,234.5E2|c", "x:12abc|c",
	"users.online:1|c|#country:china", "users.online,service=statsd:1|c",
	"n,a=1,b=2:1|c|#c:3|@0.5", "n:1|c|@0.5|#a:b|c:abc123|T1656581400",
	"_e{5,4}:title|text|#a:b", "_sc|svc.up|0|#a:b", "_e{a}:1|c", "_e{:2|ms", "a:1@c", "a:1:ms", "a@1|c", "a=1|g",
	"users.online:1|c|#country:china,anotherTag", "n,a=1:1|c|#a:2", "x:1|q", ":1|c", "n:1|c\r",
	"x:Infinity|c", "g:+inf|g", "x:-NaN|ms",
}

// FuzzDecode: the decoder never panics on any datagram; it accounts for
// every non-empty line; every sample it emits has a canonical key whose hash
// matches, a known unit, and a finite value unless it is a set member. A
// decoder with a series cache (one for every input, answered as the shards
// would), decoding the datagram twice, the second time with its untagged
// lines' lookups put off (Cache.Ahead), gives the same counts and the same
// samples, by key or by handle, each time.
//
//	go test ./ingest/statsd -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, l := range seedLines {
		f.Add([]byte(l))
	}
	f.Add([]byte(string(bytes.Join([][]byte{[]byte(seedLines[0]), []byte(seedLines[11]), []byte(seedLines[16])}, []byte("\n")))))
	f.Add([]byte("a:1|c|#x:1,y:2\na:2|c|#x:1,y:2|@0.5\na:3|c|#x:1,x:2\na:4|c|#x:1,y:2|@x\nt:5|ms|#x:1|@0.5\na:5|c|#x|@x\na:6|c|#x:1|#y:2\nt:7|ms|#x:1\nt:8|ms|#x:1|@0.5"))
	cfgs := []Config{{}, {RateMode: RateScale, NegativeGaugeDelta: true}}
	var shards [2]*sidcachetest.Shards
	var cached [2]*Decoder
	for i, cfg := range cfgs {
		shards[i], cached[i] = sidcachetest.New(), NewDecoder(cfg)
		cached[i].SetCache(shards[i].Cache)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for ci, cfg := range cfgs {
			d := NewDecoder(cfg)
			var b sample.Batch
			d.Decode(data, 1000, func(uint64) *sample.Batch { return &b })
			want := rendered(t, &b, nil)
			shards[ci].Bound(1 << 16) // over a long run
			for round := range 2 {
				c := cached[ci]
				c.tagged = tagRound{} // tagged lines through the cache, their tags read lazily
				shards[ci].Cache.SetAheadFrom(sidcache.AheadFrom * (1 - round))
				before := c.Stats
				c.rnd = NewDecoder(cfg).rnd // the same draws as d's
				var cb sample.Batch
				cb.Epoch = sidcachetest.Epoch
				c.Decode(data, 1000, func(uint64) *sample.Batch { return &cb })
				keys, _, err := shards[ci].Read(&cb)
				if err != nil {
					t.Fatal(err)
				}
				got := rendered(t, &cb, keys)
				st := c.Stats
				for r := range st.Lines {
					st.Lines[r] -= before.Lines[r]
				}
				st.SampledOut, st.NonFinite, st.TooLong, st.Samples = st.SampledOut-before.SampledOut, st.NonFinite-before.NonFinite,
					st.TooLong-before.TooLong, st.Samples-before.Samples
				if st.Lines != d.Stats.Lines || st.SampledOut != d.Stats.SampledOut || st.NonFinite != d.Stats.NonFinite ||
					st.TooLong != d.Stats.TooLong || st.Samples != d.Stats.Samples || !slices.Equal(got, want) {
					t.Fatalf("round %d, through the cache: %+v\n%q\nwithout: %+v\n%q", round, st, got, d.Stats, want)
				}
			}
			nonEmpty := 0
			for _, l := range bytes.Split(data, []byte("\n")) {
				if len(l) > 0 {
					nonEmpty++
				}
			}
			var lines uint64
			for _, n := range d.Stats.Lines {
				lines += n
			}
			if lines != uint64(nonEmpty) {
				t.Fatalf("counted %d lines; the datagram has %d", lines, nonEmpty)
			}
			if uint64(len(b.Samples)) != d.Stats.Samples || d.Stats.Samples+d.Stats.SampledOut+d.Stats.NonFinite+d.Stats.TooLong != d.Stats.Lines[OK] {
				t.Fatalf("accounting: %d samples, stats %+v", len(b.Samples), d.Stats)
			}
			for i := range b.Samples {
				s := &b.Samples[i]
				key := b.Key(s)
				if _, err := sample.ParseKey(key); err != nil || sample.Hash(key) != s.Hash {
					t.Fatalf("bad sample key %q (%v)", key, err)
				}
				if !s.Unit.Valid() || (s.Flags&sample.FlagSetMember == 0 && s.Flags&sample.FlagAgg == 0 && s.Value-s.Value != 0) {
					t.Fatalf("bad sample %+v", s)
				}
			}
		}
	})
}

// rendered renders the samples of b, each with its key (keys[i] if given,
// else b's), as decoders' tests compare them.
func rendered(t *testing.T, b *sample.Batch, keys [][]byte) []string {
	t.Helper()
	var out []string
	for i := range b.Samples {
		s := b.Samples[i]
		key := b.Key(&s)
		if keys != nil {
			key = keys[i]
		}
		agg := ""
		if s.Flags&sample.FlagAgg != 0 {
			agg = fmt.Sprintf("%+v", b.Aggs[s.Agg])
		}
		s.Flags &^= sample.FlagAsk | sample.FlagHandle
		out = append(out, fmt.Sprintf("%q %v %v %v %v %v %s", key, s.Time, math.Float64bits(s.Value), s.ReqTime, s.Unit, s.Flags, agg))
	}
	return out
}
