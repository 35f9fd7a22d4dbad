package statsd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache/sidcachetest"
	"github.com/gomad/mad/internal/testseed"
)

// pubRoute is a route that publishes its batch every every samples, as a
// producer does when a batch is full: the shards' stand-in reads it (its
// answers go into the cache in the middle of a Decode) and a new batch is
// taken. Without shards it only renders the samples.
type pubRoute struct {
	sh    *sidcachetest.Shards
	b     *sample.Batch
	out   []string
	every int
	n     int
	t     *testing.T
	epoch uint32
}

func (p *pubRoute) route(uint64) *sample.Batch {
	p.n++
	if p.every > 0 && p.n%p.every == 0 {
		p.publish()
	}
	return p.b
}

func (p *pubRoute) publish() {
	if p.sh != nil {
		keys, _, err := p.sh.Read(p.b)
		if err != nil {
			p.t.Fatal(err)
		}
		p.out = append(p.out, rendered(p.t, p.b, keys)...)
	} else {
		p.out = append(p.out, rendered(p.t, p.b, nil)...)
	}
	p.b = &sample.Batch{Epoch: p.epoch}
}

// queueLine makes a random line for TestQueueAgrees: names about
// maxQueued bytes long, names with '=' or a leading '_' or a space, Influx
// and DogStatsD tags, rates, bad and non-finite values, a trailing '\r'.
func queueLine(r *rand.Rand) string {
	names := []string{"a", "b", "c.d", "e=f", "=g", "_h", "i j", strings.Repeat("L", 3999), strings.Repeat("M", 4000), strings.Repeat("N", 4001), strings.Repeat("O", 4093), strings.Repeat("P", 4100)}
	name := names[r.IntN(len(names))]
	if r.IntN(8) == 0 {
		name += ",k=v"
	}
	typ := []string{"c", "g", "ms", "h", "s", "d", "m"}[r.IntN(7)]
	val := []string{"1", "-2", "+3", "NaN", "x", "0.5"}[r.IntN(6)]
	l := name + ":" + val + "|" + typ
	switch r.IntN(6) {
	case 0:
		l += "|@0.5"
	case 1:
		l += "|#t:" + fmt.Sprint(r.IntN(3))
	case 2:
		l += "|@0"
	}
	if r.IntN(10) == 0 {
		l += "\r"
	}
	return l
}

// TestQueueAgrees: with every untagged line's lookup put off (the cache
// ahead from its first record), random datagrams decode through the cache
// as without one, sample for sample in order, while the batches are
// published every few samples (answers taken in the middle of a Decode)
// and the cache is cleared at random.
func TestQueueAgrees(t *testing.T) {
	seed := testseed.Seed(t)
	datagrams := short(1500, 500)
	for ci, cfg := range agreeConfigs {
		r := rand.New(rand.NewPCG(seed, uint64(ci)))
		sh := sidcachetest.New()
		sh.Cache.SetAheadFrom(0)
		c := NewDecoder(cfg)
		c.SetCache(sh.Cache)
		for n := range datagrams {
			var lines []string
			for range 1 + r.IntN(40) {
				lines = append(lines, queueLine(r))
			}
			data := []byte(strings.Join(lines, "\n"))
			every := 1 + r.IntN(10)
			d := NewDecoder(cfg)
			want := &pubRoute{b: &sample.Batch{}, every: every, t: t}
			d.Decode(data, 5, want.route)
			want.publish()
			c.rnd = NewDecoder(cfg).rnd
			got := &pubRoute{sh: sh, b: &sample.Batch{Epoch: sidcachetest.Epoch}, every: every, t: t, epoch: sidcachetest.Epoch}
			c.Decode(data, 5, got.route)
			got.publish()
			if !slices.Equal(got.out, want.out) {
				t.Fatalf("datagram %d %s:\n%q\nwithout the cache:\n%q\n(reproduce with %s=%d)", n, abbrev(data), got.out, want.out, testseed.Env, seed)
			}
			if r.IntN(50) == 0 {
				sh.Cache.Clear()
			}
		}
	}
}

// TestQueueEmptied: a Decode leaves no line queued and keeps no reference
// to its datagram; the next Decode's route gets none of the last one's
// samples; DecodeLine, RelayKeys and empty datagrams on a decoder that
// puts lookups off.
func TestQueueEmptied(t *testing.T) {
	sh := sidcachetest.New()
	sh.Cache.SetAheadFrom(0)
	c := NewDecoder(Config{})
	c.SetCache(sh.Cache)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("n%d:%d|c", i%5, i))
	}
	data := []byte(strings.Join(lines, "\n"))
	var b1, b2 sample.Batch
	c.Decode(data, 1, func(uint64) *sample.Batch { return &b1 })
	if c.qn != 0 || c.data != nil || len(b1.Samples) != 20 {
		t.Fatalf("after Decode: qn %d, data %v, %d samples", c.qn, c.data != nil, len(b1.Samples))
	}
	c.Decode([]byte("x:1|c"), 1, func(uint64) *sample.Batch { return &b2 })
	if len(b1.Samples) != 20 || len(b2.Samples) != 1 {
		t.Fatalf("routes mixed: %d %d", len(b1.Samples), len(b2.Samples))
	}
	// DecodeLine on an ahead decoder.
	c.DecodeLine([]byte("y:2|c"), 1, func(uint64) *sample.Batch { return &b2 })
	if len(b2.Samples) != 2 || c.qn != 0 {
		t.Fatalf("DecodeLine: %d samples, qn %d", len(b2.Samples), c.qn)
	}
	// RelayKeys on an ahead decoder with a cache.
	n := 0
	c.RelayKeys(data, func(line []byte, r Result, h uint64) { n++ })
	if n != 20 || c.qn != 0 || c.data != nil {
		t.Fatalf("relay: %d lines, qn %d", n, c.qn)
	}
	// Empty datagram, and one of only newlines.
	c.Decode(nil, 1, nil)
	c.Decode([]byte("\n\n"), 1, nil)
}
