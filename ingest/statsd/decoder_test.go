package statsd

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
	"github.com/gomad/mad/internal/sidcache/sidcachetest"
)

// capture decodes into two batches (two "shards") and returns them.
func capture(d *Decoder, data string, now int64) [2]*sample.Batch {
	bs := [2]*sample.Batch{{}, {}}
	d.Decode([]byte(data), now, func(h uint64) *sample.Batch { return bs[h%2] })
	return bs
}

type decoded struct {
	kind  sample.Kind
	name  string
	dims  string
	value float64
	unit  sample.Unit
	flags uint8
	time  int64
	agg   *sample.Agg
}

func samples(t *testing.T, bs [2]*sample.Batch) []decoded {
	t.Helper()
	var out []decoded
	for _, b := range bs {
		for i := range b.Samples {
			s := &b.Samples[i]
			key := b.Key(s)
			if sample.Hash(key) != s.Hash {
				t.Fatalf("sample hash does not match its key %q", key)
			}
			pk, err := sample.ParseKey(key)
			if err != nil {
				t.Fatalf("bad key %q: %v", key, err)
			}
			var dims []string
			it := pk.DimIter()
			for dm, ok := it.Next(); ok; dm, ok = it.Next() {
				dims = append(dims, string(dm.Key)+"="+string(dm.Value))
			}
			d := decoded{kind: pk.Kind, name: string(pk.Name), dims: fmt.Sprint(dims), value: s.Value, unit: s.Unit, flags: s.Flags, time: s.Time}
			if s.Flags&sample.FlagAgg != 0 {
				a := b.Aggs[s.Agg]
				d.agg = &a
			}
			out = append(out, d)
		}
	}
	return out
}

func TestDecodeDatagram(t *testing.T) {
	d := NewDecoder(Config{})
	// Bad lines cost only themselves (MAD drops the whole datagram).
	data := "page.views:1|c\nbad line\nlat:508|ms|#host:h1,region:eu\n\nfuel:0.5|g\nlat,region=eu:2|ms|#host:h1\n_e{1,1}:a|b\nu:x|s\nn:1|c|#a:b:c\nd:7|d|T1700000000\n"
	got := samples(t, capture(d, data, 1000))
	if len(got) != 6 {
		t.Fatalf("got %d samples; want 6", len(got))
	}
	byName := map[string][]decoded{}
	for _, s := range got {
		byName[s.name] = append(byName[s.name], s)
	}
	if s := byName["page.views"][0]; s.kind != sample.KindCounter || s.value != 1 || s.time != 1000 {
		t.Errorf("page.views = %+v", s)
	}
	// ms is normalised to SECOND, as MAD does: 508 ms → 0.508 s.
	lat := byName["lat"]
	if len(lat) != 2 || lat[0].kind != sample.KindTimer || lat[0].unit != sample.Second || lat[0].value != 1e6/1e9*508 {
		t.Fatalf("lat = %+v", lat)
	}
	// Tags in either style and any order make the same series.
	if lat[0].dims != lat[1].dims || lat[0].dims != "[host=h1 region=eu]" {
		t.Errorf("lat dims %s and %s; want both [host=h1 region=eu]", lat[0].dims, lat[1].dims)
	}
	if s := byName["u"][0]; s.kind != sample.KindSet || s.flags != sample.FlagSetMember || s.value != sample.SetMember([]byte("x")) {
		t.Errorf("set = %+v", s)
	}
	if s := byName["d"][0]; s.kind != sample.KindTimer || s.time != 1700000000000 {
		t.Errorf("distribution = %+v", s)
	}
	st := d.Stats
	if st.Lines[OK] != 6 || st.Lines[ErrSyntax] != 1 || st.Lines[SkipEvent] != 1 || st.Lines[ErrTag] != 1 || st.Samples != 6 {
		t.Errorf("stats %+v", st)
	}
	if got := string(d.LastRefused(ErrTag)); got != "n:1|c|#a:b:c" {
		t.Errorf("LastRefused(ErrTag) = %q", got)
	}
}

func TestDecodeGaugeDeltas(t *testing.T) {
	for _, tc := range []struct {
		neg  bool
		line string
		want uint8
	}{
		{false, "g:+5|g", sample.FlagDelta},
		{false, "g:-5|g", 0}, // MAD: the value -5
		{false, "g:5|g", 0},
		{true, "g:-5|g", sample.FlagDelta}, // Etsy
		{true, "g:+5|g", sample.FlagDelta},
	} {
		got := samples(t, capture(NewDecoder(Config{NegativeGaugeDelta: tc.neg}), tc.line, 0))
		if len(got) != 1 || got[0].flags != tc.want {
			t.Errorf("%s (negative deltas %v): %+v; want flags %d", tc.line, tc.neg, got, tc.want)
		}
	}
}

func TestDecodeResampling(t *testing.T) {
	d := NewDecoder(Config{Seed: 42})
	var data bytes.Buffer
	for i := 0; i < 10000; i++ {
		data.WriteString("c:1|c|@0.25\n")
	}
	data.WriteString("never:1|c|@0\nalways:1|c|@1\n")
	got := samples(t, capture(d, data.String(), 0))
	kept := len(got) - 1
	if kept < 2300 || kept > 2700 || d.Stats.SampledOut != uint64(10000-kept+1) {
		t.Fatalf("kept %d of 10000 at rate 0.25 (sampled out %d)", kept, d.Stats.SampledOut)
	}
	for _, s := range got {
		if s.name == "never" {
			t.Fatal("a line with rate 0 was kept")
		}
	}
}

func TestDecodeScaling(t *testing.T) {
	d := NewDecoder(Config{RateMode: RateScale})
	got := samples(t, capture(d, "c:3|c|@0.1\nt:20|ms|@0.25\nh:7|h|@0.3\ng:1|g\n", 0))
	if len(got) != 4 {
		t.Fatalf("got %d samples", len(got))
	}
	for _, s := range got {
		switch s.name {
		case "c":
			if s.value != 3*(1/0.1) || s.agg != nil {
				t.Errorf("scaled counter = %+v; want value 30", s)
			}
		case "t":
			if s.agg == nil || s.agg.Count != 4 || s.agg.Min != 0.02 || s.agg.Sum != 0.08 || s.unit != sample.Second {
				t.Errorf("scaled timer = %+v %+v; want 0.02 s counted 4 times", s, s.agg)
			}
		case "h":
			if s.agg == nil || s.agg.Count != 3 { // round(1/0.3)
				t.Errorf("scaled histogram = %+v %+v; want count 3", s, s.agg)
			}
		case "g":
			if s.agg != nil || s.value != 1 {
				t.Errorf("gauge = %+v", s)
			}
		}
	}
}

// TestDecodeScalingTinyRate: a timer sampled at a rate whose inverse is
// past 2^64 counts 2^63 times (a Java long's range), not what an
// out-of-range float-to-integer conversion makes.
func TestDecodeScalingTinyRate(t *testing.T) {
	d := NewDecoder(Config{RateMode: RateScale})
	got := samples(t, capture(d, "t:1|ms|@1e-30\n", 0))
	if len(got) != 1 || got[0].agg == nil || got[0].agg.Count != 1<<63 {
		t.Fatalf("got %+v; want one timer counted 2^63 times", got)
	}
}

// TestDecodeRefusals: NumberFormat reads "NaN", "-∞" and "1E400" (MAD
// would record them); mad drops non-finite values and counts them. It
// counts as non-finite too the spellings clients use that NumberFormat
// refuses ("Infinity", "-inf", "nan", "+Inf" as a gauge delta; MAD refuses
// them as values). "+1" and "+inf" on a counter, and "infx", are no
// numbers.
func TestDecodeRefusals(t *testing.T) {
	d := NewDecoder(Config{})
	long := "n:1|c|#k:" + string(bytes.Repeat([]byte("v"), sample.MaxKeyLen))
	got := samples(t, capture(d, "a:1E400|c\nb:NaN|c\nc:-\u221e|ms\nd:+1|c\n"+long+"\n"+
		"e:Infinity|c\nf:-inf|ms\ng:nan|h\nh:+Inf|g\ni:-NaN|g\nj:+inf|c\nk:infx|c\n", 0))
	if len(got) != 0 || d.Stats.NonFinite != 8 || d.Stats.Lines[ErrValue] != 3 || d.Stats.TooLong != 1 || d.Stats.Lines[OK] != 9 {
		t.Fatalf("samples %d, stats %+v", len(got), d.Stats)
	}
}

func TestDecodeAllocs(t *testing.T) {
	for _, cached := range []bool{false, true} {
		d := NewDecoder(Config{})
		var b sample.Batch
		if cached { // series by their handles once answered
			b.Epoch = 1
			d.SetCache(sidcache.New())
		}
		// The last two values take javanum's slow path.
		data := []byte("a.b.c:1|c\napi.latency:12.5|ms|@0.5|#host:h1,endpoint:/users,region:eu\nn,a=1,b=2:3|g\nu:x|s\n" +
			"s:1,234.5678901234567E-2|c\ng:+\u0661\u0662|g\n")
		route := func(uint64) *sample.Batch { return &b }
		for i := range 10 {
			b.Reset()
			d.Decode(data, 0, route)
			if cached && i == 0 {
				for j := range b.Asks {
					b.Asks[j].Handle, b.Asks[j].Epoch = 1<<63|uint64(j), 1
				}
				d.cache.Answer(b.Asks)
			}
		}
		if n := testing.AllocsPerRun(1000, func() {
			b.Reset()
			d.Decode(data, 0, route)
		}); n != 0 {
			t.Fatalf("Decode (cached: %v) allocated %v times per datagram; want 0", cached, n)
		}
		if cached && d.Stats.Handles == 0 {
			t.Fatal("no sample by its handle")
		}
	}
}

func TestRandomIsUniform(t *testing.T) {
	d := NewDecoder(Config{Seed: 7})
	var sum float64
	for range 100000 {
		r := d.random()
		if r < 0 || r >= 1 {
			t.Fatalf("random() = %v", r)
		}
		sum += r
	}
	if mean := sum / 100000; math.Abs(mean-0.5) > 0.01 {
		t.Fatalf("mean %v; want ~0.5", mean)
	}
}

func TestClearRefused(t *testing.T) {
	d := NewDecoder(Config{})
	var b sample.Batch
	d.Decode([]byte("bad line\n"), 0, func(uint64) *sample.Batch { return &b })
	if len(d.LastRefused(ErrSyntax)) == 0 {
		t.Fatal("no refused line kept")
	}
	d.ClearRefused()
	for r := ErrSyntax; r < NumResults; r++ {
		if len(d.LastRefused(r)) != 0 {
			t.Errorf("%v kept after ClearRefused", r)
		}
	}
}

// TestTagRound: tagged lines stop going through the cache after a round
// in which fewer than half were found, bypass it tagRest rounds, and try
// again; a round in which half or more were found keeps them going.
func TestTagRound(t *testing.T) {
	var r tagRound
	round := func(found func(i int) bool) (used int) {
		for i := range tagWindow {
			if r.use() {
				used++
				if found(i) {
					r.hit()
				}
			}
		}
		return used
	}
	half := func(i int) bool { return i%2 == 1 }
	few := func(i int) bool { return i%3 == 1 }
	// Each round's share decides the next round.
	if round(half) != tagWindow || round(few) != tagWindow {
		t.Fatal("stopped after a round with half found")
	}
	for n := range tagRest {
		if used := round(half); used != 0 {
			t.Fatalf("rest round %d after a round with a third found used the cache %d times", n, used)
		}
	}
	if round(half) != tagWindow || round(few) != tagWindow {
		t.Fatal("did not try again after resting, or stopped after a good round")
	}
	if round(half) != 0 {
		t.Fatal("did not stop again")
	}
}

// TestPlainLines: through a series cache, a plain line (Decoder.plain) is
// decoded without the parser, which leaves the decoder's Line as the last
// other line left it, and any other line is parsed; with the lookups put
// off too. (What plain makes of a line is TestCachedDecodeAgrees'.)
func TestPlainLines(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		sh := sidcachetest.New()
		if ahead {
			sh.Cache.SetAheadFrom(0)
		}
		d := NewDecoder(Config{})
		d.SetCache(sh.Cache)
		var b sample.Batch
		route := func(uint64) *sample.Batch { return &b }
		for _, tc := range []struct {
			line  string
			plain bool
		}{
			{"a.b:1|c", true}, {"t:2.5|ms", true}, {"g:3|g", true}, {"h:4|h", true}, {"m:5|m", true}, {"d:6|d", true},
			{"x#y z:1e3|c", true}, {"a:12abc|c", true}, {"a.b:1|c", true},
			{"g:-3|g", false}, {"g:+3|g", false}, {"s:x|s", false}, {"a:1|c|@0.5", false}, {"a:1|c|#k:v", false},
			{"a,k=v:1|c", false}, {"a:1|c\r", false}, {"_x:1|c", false}, {"a:NaN|c", false}, {"a:1E400|c", false},
			{"x", false}, {"a:1|q", false}, {"a:1|ms|T12", false}, {"a=b:1|c", false}, {"a@1|c", false}, {":1|c", false},
			{"a:|c", false},
		} {
			d.line.Src = nil
			d.Decode([]byte(tc.line), 1000, route)
			if parsed := d.line.Src != nil; parsed == tc.plain {
				t.Errorf("ahead %v: %q parsed: %v", ahead, tc.line, parsed)
			}
		}
		if d.Stats.Lines[OK] != 21 || d.Stats.NonFinite != 2 || len(b.Samples) != 19 {
			t.Errorf("ahead %v: %d lines read, %d samples: %+v", ahead, d.Stats.Lines[OK], len(b.Samples), d.Stats)
		}
	}
}

// TestPlainLongNameChangesNothing: a plain line whose name is too long
// to queue is left to decode before plain has touched anything, with the
// lookups put off and lines queued (found by a review: plain emptied the
// queue and then reported false).
func TestPlainLongNameChangesNothing(t *testing.T) {
	for _, n := range []int{maxQueued + 1, 4095, 5000} {
		sh := sidcachetest.New()
		sh.Cache.SetAheadFrom(0)
		d := NewDecoder(Config{})
		d.SetCache(sh.Cache)
		long := strings.Repeat("R", n) + ":1|c"
		data := []byte("a:1|c\nb:1|c\nc:1|c\nd:1|c\n" + long)
		var b sample.Batch
		route := func(uint64) *sample.Batch { return &b }
		d.bits = classifyInto(d.bits, data)
		d.pos = flatten(d.pos, d.bits, 0, len(data))
		d.ahead, d.data = d.cache.Ahead(), data
		for l, s := 0, 0; l < 4; l, s = l+1, s+6 {
			if !d.plain(data, d.pos[2*l:], s, s+5, 1000, route) {
				t.Fatalf("line %d not plain", l)
			}
		}
		qn, st, cached := d.qn, d.Stats, sh.Cache.Len()
		if d.plain(data, d.pos[8:], 24, len(data), 1000, route) {
			t.Fatalf("a name of %d bytes taken as plain", n)
		}
		if d.qn != qn || d.Stats != st || sh.Cache.Len() != cached || len(b.Samples) != 0 {
			t.Errorf("name of %d bytes: plain reported false having changed the decoder: queue %d -> %d lines, stats %+v -> %+v, %d -> %d series cached, %d samples",
				n, qn, d.qn, st, d.Stats, cached, sh.Cache.Len(), len(b.Samples))
		}
	}
}
