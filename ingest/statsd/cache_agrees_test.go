package statsd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
	"github.com/gomad/mad/internal/sidcache/sidcachetest"
	"github.com/gomad/mad/internal/testseed"
)

// TestCachedDecodeAgrees: random datagrams, whose lines repeat earlier
// ones (the same text, the same series with other values and fields, the
// same name under another type or with its tags in another order), decode
// through one long-lived decoder with a series cache as through a fresh
// decoder without one: the same samples (a sample sent by handle read back
// to its key), the same counts and the same refused lines. The cache is
// answered as the shards would, up to a few datagrams late, and cleared at
// random points (answers outstanding or not); some batches are of another
// epoch than the handles'; and the decoder's tagged round is switched on
// and off in mid-run, so that tagged lines go through the cache (their
// tags read lazily) and around it in turn, the switch falling on any line;
// and the lookups of untagged lines are put off (Cache.Ahead) in some
// stretches, so that their samples are sent lines after they were read.
func TestCachedDecodeAgrees(t *testing.T) {
	seed := testseed.Seed(t)
	datagrams := short(6000, 1000)
	for ci, cfg := range agreeConfigs {
		cachedDecodeAgrees(t, rand.New(rand.NewPCG(seed, uint64(ci))), cfg, datagrams)
		if t.Failed() {
			t.Fatalf("config %+v: reproduce with %s=%d", cfg, testseed.Env, seed)
		}
	}
}

// agreeConfigs are the configurations the agreement tests decode with:
// MAD's rules, and the other sample rate and gauge modes.
var agreeConfigs = []Config{{Seed: 3}, {RateMode: RateScale, NegativeGaugeDelta: true, Seed: 5}}

// short returns n, or s with -short.
func short(n, s int) int {
	if testing.Short() {
		return s
	}
	return n
}

// heldBatch is a batch the cached decoder filled, its answers held back,
// with what a decoder without a cache made of the same datagram.
type heldBatch struct {
	n       int // the datagram's number
	data    []byte
	b       *sample.Batch
	want    []string
	handles uint64 // the samples the decoder counted as sent by handle
}

func cachedDecodeAgrees(t *testing.T, r *rand.Rand, cfg Config, datagrams int) {
	t.Helper()
	sh := sidcachetest.New()
	c := NewDecoder(cfg)
	c.SetCache(sh.Cache)
	g := &lineGen{r: r}
	var held []heldBatch
	lag := 0
	// The datagrams at whose end tagged lines went around the cache, and
	// through it; the times that changed.
	var rounds [2]int
	switches, ahead := 0, 0
	check := func(h heldBatch) {
		t.Helper()
		keys, handles, err := sh.Read(h.b)
		if err != nil {
			t.Fatalf("datagram %d %s: %v", h.n, abbrev(h.data), err)
		}
		if got := rendered(t, h.b, keys); !slices.Equal(got, h.want) {
			i := 0
			for i < min(len(got), len(h.want)) && got[i] == h.want[i] {
				i++
			}
			t.Fatalf("datagram %d %s: %d samples through the cache, %d without; sample %d:\n%s\nwithout:\n%s",
				h.n, abbrev(h.data), len(got), len(h.want), i, sampleAt(got, i), sampleAt(h.want, i))
		}
		if uint64(handles) != h.handles {
			t.Fatalf("datagram %d %s: %d samples by handle; the decoder counted %d", h.n, abbrev(h.data), handles, h.handles)
		}
	}
	for n := range datagrams {
		switch k := r.IntN(100); {
		case k < 3:
			sh.Cache.Clear() // answers outstanding are ignored
		case k < 8:
			switchRound(c, r.IntN(2) == 0)
		case k < 13:
			lag = r.IntN(4)
		case k < 18:
			// Lookups put off from the first record, or from the size
			// that these runs never reach.
			sh.Cache.SetAheadFrom(sidcache.AheadFrom * r.IntN(2))
		}
		if sh.Cache.Ahead() {
			ahead++
		}
		data := g.datagram()
		now := int64(1_700_000_000_000 + n)

		d := NewDecoder(cfg)
		var wb sample.Batch
		d.Decode(data, now, func(uint64) *sample.Batch { return &wb })
		want := rendered(t, &wb, nil)

		c.rnd = NewDecoder(cfg).rnd // the same draws as d's
		c.ClearRefused()
		before := c.Stats
		lazy := c.line.lazy
		b := &sample.Batch{Epoch: sidcachetest.Epoch}
		if r.IntN(20) == 0 {
			b.Epoch++ // the handles are not good in it: every series goes by key
		}
		c.Decode(data, now, func(uint64) *sample.Batch { return b })
		if c.line.lazy != lazy {
			switches++
		}
		rounds[btoi(c.line.lazy)]++
		st := c.Stats
		for i := range st.Lines {
			st.Lines[i] -= before.Lines[i]
		}
		st.SampledOut -= before.SampledOut
		st.NonFinite -= before.NonFinite
		st.TooLong -= before.TooLong
		st.Samples -= before.Samples
		st.Handles -= before.Handles
		if ds := d.Stats; st.Lines != ds.Lines || st.SampledOut != ds.SampledOut || st.NonFinite != ds.NonFinite ||
			st.TooLong != ds.TooLong || st.Samples != ds.Samples {
			t.Fatalf("datagram %d %s: through the cache %+v; without %+v", n, abbrev(data), st, ds)
		}
		for res := range NumResults {
			if got, want := c.LastRefused(res), d.LastRefused(res); string(got) != string(want) {
				t.Fatalf("datagram %d %s: last refused for %v %q through the cache; %q without", n, abbrev(data), res, got, want)
			}
		}
		held = append(held, heldBatch{n: n, data: data, b: b, want: want, handles: st.Handles})
		for len(held) > lag {
			check(held[0])
			held = held[1:]
		}
	}
	for _, h := range held {
		check(h)
	}
	t.Logf("%d datagrams, %d lines (by result %v): %d samples, %d by handle; tagged lines around the cache in %d datagrams, through it in %d; %d switches; lookups put off in %d datagrams",
		datagrams, g.lines, c.Stats.Lines, c.Stats.Samples, c.Stats.Handles, rounds[0], rounds[1], switches, ahead)
	if c.Stats.Handles*5 < c.Stats.Samples || rounds[0] == 0 || rounds[1] == 0 || switches < 2 || ahead < datagrams/10 || ahead > datagrams*9/10 {
		t.Fatalf("the run did not exercise the cache: %+v, rounds %v, %d switches", c.Stats, rounds, switches)
	}
}

// abbrev quotes a datagram for a message, each line longer than 200
// bytes cut in the middle.
func abbrev(data []byte) string {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if len(l) > 200 {
			lines[i] = fmt.Sprintf("%s…(%d bytes)…%s", l[:100], len(l), l[len(l)-50:])
		}
	}
	return fmt.Sprintf("%q", strings.Join(lines, "\n"))
}

// sampleAt returns samples[i], if any.
func sampleAt(samples []string, i int) string {
	if i < len(samples) {
		return samples[i]
	}
	return "(none)"
}

// btoi is 1 for true.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// switchRound ends d's tagged round at its next tagged line, which decides
// the next one: tagged lines then go through the cache (on) or around it,
// as after a round in which many, or few, were found there.
func switchRound(d *Decoder, on bool) {
	d.tagged.lines = tagWindow
	if on {
		d.tagged.off, d.tagged.rest = true, 1 // the last round of rest
	} else {
		d.tagged.off, d.tagged.hits = false, 0
	}
}

// lineGen makes random StatsD lines, repeating earlier ones.
type lineGen struct {
	r     *rand.Rand
	seen  []genLine // the lines made, the latest last
	lines int
}

// genLine is a line's series as written: its name and Influx tags, its
// type and its DogStatsD tags' entries (nil: no tags field).
type genLine struct {
	ident, typ string
	tags       []string
}

// The parts of lines, good and bad: a bad one is picked one time in 16.
var (
	genNames = [2][]string{{"a", "b.c", "svc.latency", "n=1", "a=b=c", "=lead", "x#y", "tag#", "bad\xff", "\xc3", "é.ü", "sp ace", "_z"},
		{"x@y", "", "a|b"}}
	genInflux = [2][]string{{"k=v", "dc=d1", "dc=d2", "host=h1", "host=h2", "k="}, {"k", "k=v=w", "=v", ""}}
	genDog    = [2][]string{{"host:h1", "host:h2", "env:prod", "env:dev", "a:b", "k:v", "k:w", "dc:d1", "x:1@2", "y:=#", "k:"},
		{"a:b:c", "nocolon", "", ":v", "host::"}}
	genTypes  = [2][]string{{"c", "c", "g", "g", "g", "ms", "ms", "h", "m", "s", "s", "d"}, {"q", "", "cc"}}
	genValues = [2][]string{{"1", "2", "7", "-3", "+4", "0.5", "1E3", "1,234.5", "-0", "12abc", "\u0661\u0662"},
		{"NaN", "Infinity", "-inf", "x", "", "+x"}}
	genMembers = []string{"m1", "m2", "m3", "", "x y", "\xff"}
	genRates   = [2][]string{{"0", "1", "0.5", "0.5", "0.25", "1.0", "1e-30"}, {"2", "-0.5", "x", "", "0.5.5"}}
	genOther   = []string{"c:abc", "c:", "c", "T1656581400", "T", "Tx", "T-1", "", "zz", "@0.5", "#k:v"}
	// genSkips are lines written whole: events and service checks, and
	// lines whose type follows a structural byte other than '|'.
	genSkips = []string{"_e{5,4}:title|text|#a:b", "_e{1,1}:a|b", "_sc|svc.up|0|#a:b", "_sc|x|1", "_e", "_s:1|c", "_e{a}:1|c", "_e{:2|ms",
		"a:1@c", "a:1:ms", "b.c:1=g", "a:1,h", "a:2@d", "a@1|c", "a=1|g", "a|1|ms", "a,1|c"}
)

func (g *lineGen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// part picks a good part, or a bad one at times.
func (g *lineGen) part(s [2][]string) string { return g.pick(s[btoi(g.r.IntN(16) == 0)]) }

// datagram returns 1 to 30 lines, with empty lines at times.
func (g *lineGen) datagram() []byte {
	var d []byte
	for i, n := 0, 1+g.r.IntN(30); i < n; i++ {
		if i > 0 {
			d = append(d, '\n')
			if g.r.IntN(30) == 0 {
				d = append(d, '\n')
			}
		}
		d = append(d, g.line()...)
		g.lines++
	}
	if g.r.IntN(4) == 0 {
		d = append(d, '\n')
	}
	return d
}

// line returns a line: mostly of a series seen before.
func (g *lineGen) line() string {
	r := g.r
	if r.IntN(40) == 0 {
		return g.pick(genSkips)
	}
	var l genLine
	switch k := r.IntN(100); {
	case k < 60 && len(g.seen) > 0:
		l = g.seen[len(g.seen)-1-r.IntN(min(len(g.seen), 200))]
		switch r.IntN(20) {
		case 0: // another type
			l.typ = g.part(genTypes)
		case 1: // the tags in another order
			l.tags = slices.Clone(l.tags)
			r.Shuffle(len(l.tags), func(i, j int) { l.tags[i], l.tags[j] = l.tags[j], l.tags[i] })
		}
	default:
		l = g.newLine()
	}
	g.seen = append(g.seen, l)
	if len(g.seen) > 1000 {
		g.seen = append(g.seen[:0], g.seen[len(g.seen)-200:]...)
	}
	return g.text(l)
}

// newLine returns a series as written.
func (g *lineGen) newLine() genLine {
	r := g.r
	var b strings.Builder
	switch k := r.IntN(200); {
	case k == 0: // not cacheable: longer than 4 KiB
		b.WriteString(strings.Repeat("L", 4080+r.IntN(30)))
	case k == 1: // a key too long for any series
		b.WriteString(strings.Repeat("T", sample.MaxKeyLen))
	default:
		b.WriteString(g.part(genNames))
		if r.IntN(3) == 0 {
			b.WriteString(g.pick(genNames[0][:3]))
		}
	}
	if r.IntN(4) == 0 {
		for range 1 + r.IntN(3) {
			b.WriteString(",")
			b.WriteString(g.part(genInflux))
		}
	}
	l := genLine{ident: b.String(), typ: g.part(genTypes)}
	if r.IntN(2) == 0 {
		// Entries of distinct keys mostly; a duplicate at times, in
		// either style.
		l.tags = []string{}
		keys := map[string]bool{}
		for range r.IntN(5) {
			e := g.part(genDog)
			if k, _, _ := strings.Cut(e, ":"); keys[k] && r.IntN(8) != 0 {
				continue
			} else {
				keys[k] = true
			}
			l.tags = append(l.tags, e)
		}
		if r.IntN(100) == 0 {
			l.tags = append(l.tags, "big:"+strings.Repeat("v", 4000+r.IntN(200)))
		}
	}
	return l
}

// text writes line l with a value and fields (rate, tags, container,
// timestamp, junk) in any order, and a '\r' at times.
func (g *lineGen) text(l genLine) string {
	r := g.r
	var b strings.Builder
	b.WriteString(l.ident)
	b.WriteByte(':')
	if l.typ == "s" && r.IntN(4) != 0 {
		b.WriteString(g.pick(genMembers))
	} else {
		b.WriteString(g.part(genValues))
	}
	b.WriteByte('|')
	b.WriteString(l.typ)
	var fields []string
	if l.tags != nil {
		fields = append(fields, "#"+strings.Join(l.tags, ","))
		if r.IntN(40) == 0 {
			fields = append(fields, "#second:tags")
		}
	}
	if k := r.IntN(12); k == 0 || k < 4 && strings.Contains("c ms h d", l.typ) {
		fields = append(fields, "@"+g.part(genRates))
	}
	if r.IntN(10) == 0 {
		fields = append(fields, g.pick(genOther))
	}
	r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	for _, f := range fields {
		b.WriteByte('|')
		b.WriteString(f)
	}
	if r.IntN(15) == 0 {
		b.WriteByte('\r')
	}
	return b.String()
}
