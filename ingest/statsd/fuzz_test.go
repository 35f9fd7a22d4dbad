package statsd

import (
	"bytes"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// seedLines has every line shape the decoder knows.
var seedLines = []string{
	"a.b.c:1|c", "fuel.level:0.5|g", "g:+5|g", "g:-5|g", "song.length:240|h|@0.5", "t:12|ms",
	"m:3|m", "d:7|d|@0.2", "users.uniques:1234|s", "x:1,234.5E2|c", "x:12abc|c",
	"users.online:1|c|#country:china", "users.online,service=statsd:1|c",
	"n,a=1,b=2:1|c|#c:3|@0.5", "n:1|c|@0.5|#a:b|c:abc123|T1656581400",
	"_e{5,4}:title|text|#a:b", "_sc|svc.up|0|#a:b",
	"users.online:1|c|#country:china,anotherTag", "n,a=1:1|c|#a:2", "x:1|q", ":1|c", "n:1|c\r",
	"x:Infinity|c", "g:+inf|g", "x:-NaN|ms",
}

// FuzzDecode: the decoder never panics on any datagram; it accounts for
// every non-empty line; every sample it emits has a canonical key whose hash
// matches, a known unit, and a finite value unless it is a set member.
//
//	go test ./ingest/statsd -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, l := range seedLines {
		f.Add([]byte(l))
	}
	f.Add([]byte(string(bytes.Join([][]byte{[]byte(seedLines[0]), []byte(seedLines[11]), []byte(seedLines[16])}, []byte("\n")))))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cfg := range []Config{{}, {RateMode: RateScale, NegativeGaugeDelta: true}} {
			d := NewDecoder(cfg)
			var b sample.Batch
			d.Decode(data, 1000, func(uint64) *sample.Batch { return &b })
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
