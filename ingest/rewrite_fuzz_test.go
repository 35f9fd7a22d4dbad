package ingest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/transform"
)

// FuzzRewriterCache: a MappingSource's cached mapper, its cache bounded
// to a few series, or to 64 bytes to 4 KiB of records (their 8-byte
// alignment included), so that it clears again and again, gives every sample
// the outputs, in order, and counts the drops that its rules give applied
// to the sample directly (transform.Mapping, keys made one by one): a name
// two replacements give, twice; a name no rule maps, unchanged; an output
// whose key would pass the limit, left out and counted; a series all of
// whose outputs would, dropped and counted once a sample.
func FuzzRewriterCache(f *testing.F) {
	f.Add([]byte("a.b\x00cpu/0/cpu/idle\x00a.b\x00bigname-over-thirty-three-bytes-long\x00hugeish\x00drop.me\x00x"), uint8(2))
	f.Add([]byte("cpu/12/cpu/wait\x00cpu/12/cpu/wait\x00cpu/3/cpu/\x00.\x00"), uint8(0))
	rules := []MappingRule{
		{Pattern: `^cpu/(\d+)/cpu/(.*)`, Replacements: []string{"cpu/$2", "cpu/by_core/$1/$2", "cpu/$2"}},
		{Pattern: `\.`, Replacements: []string{"/"}},
		{Pattern: `^big.*`, Replacements: []string{strings.Repeat("$0", 2000), "$0"}},
		{Pattern: `^huge.*`, Replacements: []string{strings.Repeat("$0", 20000)}},
		{Pattern: `^drop`, Replacements: nil},
	}
	tr := make([]transform.MappingRule, len(rules))
	for i, r := range rules {
		tr[i] = transform.MappingRule(r)
	}
	direct, err := transform.CompileMapping(tr)
	if err != nil {
		f.Fatal(err)
	}
	kinds := []sample.Kind{sample.KindCounter, sample.KindGauge, sample.KindTimer}
	f.Fuzz(func(t *testing.T, data []byte, bound uint8) {
		spec, err := NewMappingSpec("m", rules)
		if err != nil {
			t.Fatal(err)
		}
		spec.MaxSeries = int(bound%4) + 1
		if b := bound >> 2 & 7; b < 7 {
			spec.MaxBytes = 64 << b
		}
		m := spec.NewMapper()
		var src, dst sample.Batch
		var want []string
		var wantDropped uint64
		var sc transform.Scratch
		for i, name := range bytes.Split(data, []byte{0}) {
			if i == 64 {
				break
			}
			kind := kinds[i%len(kinds)]
			dims := []sample.Dim{{Key: []byte("host"), Value: []byte{'h', '0' + byte(i%2)}}}
			ref, err := src.PutKey(kind, name, dims)
			if err != nil {
				continue // not a name a decoder would give
			}
			src.AddValue(ref, 1000, 0, float64(i), sample.UnitNone)
			kept, lost := 0, uint64(0)
			direct.Apply(&sc, name, dims, func(out []byte, d []sample.Dim) {
				key, err := sample.AppendKey(nil, kind, out, d)
				if err != nil {
					lost++
					return
				}
				want = append(want, string(key))
				kept++
			})
			if kept == 0 && lost > 0 {
				wantDropped++
			} else {
				wantDropped += lost
			}
		}
		m.Map(&src, func(uint64) *sample.Batch { return &dst })
		if len(dst.Samples) != len(want) {
			t.Fatalf("%d outputs; want %d", len(dst.Samples), len(want))
		}
		for i := range dst.Samples {
			s := &dst.Samples[i]
			if k := dst.Key(s); string(k) != want[i] || s.Hash != sample.Hash(k) {
				t.Fatalf("output %d: key %q (hash %x); want %q", i, k, s.Hash, want[i])
			}
		}
		if d := spec.Stats().Dropped.Load(); d != wantDropped {
			t.Fatalf("%d counted dropped; want %d", d, wantDropped)
		}
	})
}
