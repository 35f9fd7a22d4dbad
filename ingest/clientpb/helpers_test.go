package clientpb

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// out is one routed sample in readable form.
type out struct {
	kind  sample.Kind
	name  string
	dims  string // "k=v,k=v" in canonical order
	value float64
	unit  sample.Unit
	time  int64
	req   int64
	agg   bool
	min   float64
	max   float64
	sum   float64
	count float64
	has   uint8
	hist  []sample.HistEntry
}

func (o out) String() string {
	s := fmt.Sprintf("%s %q {%s} t=%d req=%d", o.kind, o.name, o.dims, o.time, o.req)
	if o.agg {
		return s + fmt.Sprintf(" agg{min=%v max=%v sum=%v count=%v has=%#x hist=%v}", o.min, o.max, o.sum, o.count, o.has, o.hist)
	}
	return s + fmt.Sprintf(" %v %s", o.value, o.unit)
}

// decodeFn is one of the decoder's three methods.
type decodeFn func(d *Decoder, body []byte, now int64, route sample.Route) (sample.Counts, error)

var versions = map[int]decodeFn{
	1: (*Decoder).DecodeV1,
	2: (*Decoder).DecodeV2,
	3: (*Decoder).DecodeV3,
}

// collect decodes body into one batch and checks every key.
func collect(t testing.TB, version int, body []byte) ([]out, Stats, error) {
	t.Helper()
	var b sample.Batch
	d := NewDecoder(Config{})
	c, err := versions[version](d, body, 1_000_000, func(uint64) *sample.Batch { return &b })
	if c != d.Stats().Counts {
		t.Fatalf("a Decode call returned %+v; Stats says %+v", c, d.Stats().Counts)
	}
	return outs(t, &b), d.Stats(), err
}

func outs(t testing.TB, b *sample.Batch) []out {
	t.Helper()
	var res []out
	for i := range b.Samples {
		s := &b.Samples[i]
		key := b.Key(s)
		if sample.Hash(key) != s.Hash {
			t.Fatalf("sample %d: hash does not match key %q", i, key)
		}
		pk, err := sample.ParseKey(key)
		if err != nil {
			t.Fatalf("sample %d: ParseKey(%q): %v", i, key, err)
		}
		var dims []string
		it := pk.DimIter()
		for dm, ok := it.Next(); ok; dm, ok = it.Next() {
			dims = append(dims, string(dm.Key)+"="+string(dm.Value))
		}
		o := out{kind: pk.Kind, name: string(pk.Name), dims: strings.Join(dims, ","),
			value: s.Value, unit: s.Unit, time: s.Time, req: s.ReqTime}
		if s.Flags&sample.FlagAgg != 0 {
			a := b.Aggs[s.Agg]
			o.agg, o.min, o.max, o.sum, o.count, o.has = true, a.Min, a.Max, a.Sum, a.Count, a.Has
			o.hist = append([]sample.HistEntry(nil), b.HistOf(&a)...)
			o.value = 0
		} else if s.Flags == sample.FlagRun {
			// A run: each of its values a sample of its own.
			vals := b.ValsOf(s)
			if len(vals) < 2 {
				t.Fatalf("sample %d: a run of %d values", i, len(vals))
			}
			for _, v := range vals {
				o.value = v
				res = append(res, o)
			}
			continue
		} else if s.Flags != 0 {
			t.Fatalf("sample %d: flags %#x", i, s.Flags)
		}
		res = append(res, o)
	}
	return res
}

func vector(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/mad/parsers", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b)
}

// batch1 routes everything to one batch.
type batch1 struct{ b sample.Batch }

func (b *batch1) route(uint64) *sample.Batch { return &b.b }
