package graphite

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache/sidcachetest"
	"github.com/gomad/mad/internal/testseed"
)

// TestCachedDecodeAgrees: random lines, whose name fields mostly repeat
// earlier ones (carbon tags good and bad, global tags they override,
// invalid UTF-8, names too long to cache or for any key) with other values
// and timestamps, good and bad, decode through one long-lived decoder with
// a series cache as through a fresh decoder without one: the same samples
// (a sample sent by handle read back to its key) and the same errors, for
// several configurations. The lines are decoded in chunks into one batch,
// as a TCP event loop decodes what a read brought; the cache is answered as
// the shards would, up to a few chunks late, and cleared at random points;
// some batches are of another epoch than the handles'.
func TestCachedDecodeAgrees(t *testing.T) {
	seed := testseed.Seed(t)
	chunks := 1500
	if testing.Short() {
		chunks = 300
	}
	global := [][2]string{{"service", "svc"}, {"cluster", "c1"}, {"cluster", "c2"}}
	for ci, cfg := range []Config{
		{}, {ParseCarbonTags: true}, {GlobalTags: global}, {GlobalTags: global, ParseCarbonTags: true},
		{GlobalTags: [][2]string{{"k", "g"}}, ParseCarbonTags: true},
	} {
		cachedDecodeAgrees(t, rand.New(rand.NewPCG(seed, uint64(ci))), cfg, chunks)
		if t.Failed() {
			t.Fatalf("config %+v: reproduce with %s=%d", cfg, testseed.Env, seed)
		}
	}
}

// heldChunk is a batch the cached decoder filled, its answers held back,
// with what a decoder without a cache made of the same lines.
type heldChunk struct {
	n       int // the chunk's number
	lines   [][]byte
	b       *sample.Batch
	want    []rec
	handles int // the samples the decoder counted as sent by handle
}

func cachedDecodeAgrees(t *testing.T, r *rand.Rand, cfg Config, chunks int) {
	t.Helper()
	sh := sidcachetest.New()
	c := NewDecoder(cfg)
	c.SetCache(sh.Cache)
	g := &nameGen{r: r}
	var held []heldChunk
	lag := 0
	var lines, samples, handles int
	check := func(h heldChunk) {
		t.Helper()
		keys, n, err := sh.Read(h.b)
		if err != nil {
			t.Fatalf("chunk %d %s: %v", h.n, abbrev(h.lines...), err)
		}
		var keyed sample.Batch
		for i, key := range keys {
			s := &h.b.Samples[i]
			if s.Flags&^(sample.FlagAsk|sample.FlagHandle) != 0 {
				t.Fatalf("chunk %d %s: a sample of flags %x", h.n, abbrev(h.lines...), s.Flags)
			}
			keyed.AddValue(keyed.PutKeyBytes(key, sample.Hash(key)), s.Time, 0, s.Value, s.Unit)
		}
		if got := recsOf(t, &keyed); fmt.Sprint(got) != fmt.Sprint(h.want) {
			i := 0
			for i < min(len(got), len(h.want)) && got[i].String() == h.want[i].String() {
				i++
			}
			t.Fatalf("chunk %d %s: %d samples through the cache, %d without; sample %d: %v; without %v",
				h.n, abbrev(h.lines...), len(got), len(h.want), i, recAt(got, i), recAt(h.want, i))
		}
		if n != h.handles {
			t.Fatalf("chunk %d %s: %d samples by handle; the decoder counted %d", h.n, abbrev(h.lines...), n, h.handles)
		}
	}
	for n := range chunks {
		switch k := r.IntN(100); {
		case k < 3:
			sh.Cache.Clear() // answers outstanding are ignored
		case k < 8:
			lag = r.IntN(4)
		}
		h := heldChunk{n: n, b: &sample.Batch{Epoch: sidcachetest.Epoch}}
		if r.IntN(20) == 0 {
			h.b.Epoch++ // the handles are not good in it: every series goes by key
		}
		for range 1 + r.IntN(20) {
			line := g.line()
			h.lines = append(h.lines, line)
			w, _, werr := decode(t, NewDecoder(cfg), line)
			h.want = append(h.want, w...)
			before := len(h.b.Samples)
			st, err := c.DecodeLine(line, testNow, func(uint64) *sample.Batch { return h.b })
			if fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Fatalf("chunk %d, line %s: through the cache %v; without %v", n, abbrev(line), abbrev([]byte(fmt.Sprint(err))), abbrev([]byte(fmt.Sprint(werr))))
			}
			if st.Samples != len(h.b.Samples)-before || st.Records != st.Samples || st.Samples != len(w) {
				t.Fatalf("chunk %d, line %s: counts %+v for %d samples; %d without the cache", n, abbrev(line), st, len(h.b.Samples)-before, len(w))
			}
			h.handles += st.Handles
			lines++
			samples += st.Samples
		}
		handles += h.handles
		held = append(held, h)
		for len(held) > lag {
			check(held[0])
			held = held[1:]
		}
	}
	for _, h := range held {
		check(h)
	}
	t.Logf("%+v: %d lines, %d samples, %d by handle", cfg, lines, samples, handles)
	if handles*3 < samples {
		t.Fatalf("%+v: %d samples, %d by handle: the run did not exercise the cache", cfg, samples, handles)
	}
}

// abbrev quotes lines for a message, each longer than 200 bytes cut in
// the middle.
func abbrev(lines ...[]byte) string {
	var out []string
	for _, l := range lines {
		s := string(l)
		if len(s) > 200 {
			s = fmt.Sprintf("%s…(%d bytes)…%s", s[:100], len(s), s[len(s)-50:])
		}
		out = append(out, fmt.Sprintf("%q", s))
	}
	return strings.Join(out, " ")
}

// recAt returns recs[i], if any.
func recAt(recs []rec, i int) string {
	if i < len(recs) {
		return recs[i].String()
	}
	return "(none)"
}

// nameGen makes random Graphite lines, whose name fields mostly repeat
// earlier ones.
type nameGen struct {
	r    *rand.Rand
	seen []string
}

// The parts of lines, good and bad: a bad one is picked one time in 16.
var (
	genNames = [2][]string{{"a", "a.b", "foo.bar", "x=y", "é.ü", "a\tb", "a=", "#"}, {"bad\xff", "\xc3", "", ";", ";;;"}}
	genTags  = [2][]string{{"k=v", "k=w", "host=h1", "host=h2", "env=e1", "service=s2", "cluster=c3", "z=\xc3\xa9"},
		{"k==", "=v", "k", "", "k=v=w", "x==y", "p=q=", "k=\xff", "="}}
	genValues = [2][]string{{"1", "1.5", "-7.25", "-0", "1,234.5", "1.5E3", "1.5e3", "12abc", "NaN", "-\u221e", "\u0661\u0662", "1E400"},
		{"abc", "+1", "nan", "", "-"}}
	genStamps = [2][]string{{"", "", "", " 10", " 0010", " 0", " 99999999999999999999", " 9223372036854776"},
		{" -10", " 10x", " 10.5", "  10", " 10 11", " "}}
	genEnds = []string{"", "", "", "", "\r", " \t\r\n\f\v", " ", "\t"}
)

func (g *nameGen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// part picks a good part, or a bad one at times.
func (g *nameGen) part(s [2][]string) []byte {
	bad := 0
	if g.r.IntN(16) == 0 {
		bad = 1
	}
	return []byte(g.pick(s[bad]))
}

// line returns a line: mostly of a name field seen before.
func (g *nameGen) line() []byte {
	r := g.r
	var name string
	if r.IntN(100) < 65 && len(g.seen) > 0 {
		name = g.seen[len(g.seen)-1-r.IntN(min(len(g.seen), 200))]
	} else {
		name = g.name()
		g.seen = append(g.seen, name)
		if len(g.seen) > 1000 {
			g.seen = append(g.seen[:0], g.seen[len(g.seen)-200:]...)
		}
	}
	line := append([]byte(name), ' ')
	line = append(line, g.part(genValues)...)
	line = append(line, g.part(genStamps)...)
	return append(line, g.pick(genEnds)...)
}

// name returns a new name field: a name with carbon tags at times.
func (g *nameGen) name() string {
	r := g.r
	var b strings.Builder
	switch k := r.IntN(300); {
	case k == 0: // not cacheable: longer than 4 KiB
		b.WriteString(strings.Repeat("L", 4080+r.IntN(30)))
	case k == 1: // a key too long for any series
		b.WriteString(strings.Repeat("T", sample.MaxKeyLen))
	default:
		b.Write(g.part(genNames))
		if r.IntN(3) == 0 {
			b.WriteString(g.pick(genNames[0][:3]))
		}
	}
	if r.IntN(2) == 0 {
		for range 1 + r.IntN(4) {
			b.WriteByte(';')
			b.Write(g.part(genTags))
		}
		if r.IntN(20) == 0 {
			b.WriteByte(';')
		}
	}
	return b.String()
}
