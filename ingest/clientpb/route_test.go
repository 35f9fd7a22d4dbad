package clientpb

import (
	"fmt"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// producer is a Route like ingest.Producer's: a batch per shard, published
// once it holds max samples, and published batches come back reset and are
// reused (often the very pointer just published). What was published is
// kept as outs for checking.
type producer struct {
	t    testing.TB
	max  int
	cur  []*sample.Batch
	free []*sample.Batch
	got  []out
}

func newProducer(t testing.TB, shards, max int) *producer {
	p := &producer{t: t, max: max}
	for range shards {
		p.cur = append(p.cur, new(sample.Batch))
	}
	return p
}

func (p *producer) route(h uint64) *sample.Batch {
	i := int(h % uint64(len(p.cur)))
	if b := p.cur[i]; len(b.Samples) >= p.max {
		p.publish(i)
	}
	return p.cur[i]
}

func (p *producer) publish(i int) {
	b := p.cur[i]
	p.got = append(p.got, outs(p.t, b)...)
	b.Reset()
	p.free = append(p.free, b)
	// Hand back the most recently freed batch: the same pointer.
	p.cur[i] = p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
}

func (p *producer) flush() []out {
	for i, b := range p.cur {
		if len(b.Samples) > 0 {
			p.publish(i)
		}
	}
	return p.got
}

// TestRoutePublishes: with batches published and reused while a body is
// decoded (and across bodies), every sample keeps a valid key and each
// series its samples in order, as with one batch: shared KeyRefs are never
// used after their batch was reset.
func TestRoutePublishes(t *testing.T) {
	bodies := []struct {
		version int
		body    []byte
	}{
		{3, v3Body(200, false, false)},
		{3, v3Body(200, true, true)},
		{3, v3Record(v3Samples("big", make([]float64, 1500)...), v3Stats("big", v3Hist(1, 2, 3)))},
		{2, v12Body(2, 200, false)},
		{1, v12Body(1, 200, true)},
	}
	for _, max := range []int{1, 3, 7, 1024} {
		d := NewDecoder(Config{})
		for round := range 2 {
			for i, c := range bodies {
				t.Run(fmt.Sprintf("max%d/round%d/body%d", max, round, i), func(t *testing.T) {
					want, _, err := collect(t, c.version, c.body)
					if err != nil {
						t.Fatal(err)
					}
					p := newProducer(t, 3, max)
					if _, err := versions[c.version](d, c.body, 0, p.route); err != nil {
						t.Fatal(err)
					}
					got := p.flush()
					if !sameSeries(got, want) {
						t.Fatalf("published samples differ from one batch's")
					}
				})
			}
		}
	}
}

// sameSeries reports whether a and b hold the same samples per series, in
// the same order within each series.
func sameSeries(a, b []out) bool {
	group := func(os []out) map[string][]out {
		m := map[string][]out{}
		for _, o := range os {
			k := fmt.Sprintf("%d/%q/%s", o.kind, o.name, o.dims)
			m[k] = append(m[k], o)
		}
		return m
	}
	ga, gb := group(a), group(b)
	if len(ga) != len(gb) {
		return false
	}
	for k, x := range ga {
		if !sameOuts(x, gb[k]) {
			return false
		}
	}
	return true
}
