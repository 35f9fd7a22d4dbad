package statsd

import (
	"math"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
)

// RateMode says what a sample rate (|@r) does.
type RateMode uint8

const (
	// RateResample is MAD's behaviour: a line with rate r is kept with
	// probability r (r = 0: never) and then counts as one sample. Unlike
	// MAD, which discards the whole datagram when it drops a line, only
	// the line is dropped.
	RateResample RateMode = iota
	// RateScale is standard StatsD behaviour: every line is kept and
	// weighted by 1/r. A counter adds value × (1/r), as Etsy StatsD does (one
	// ulp from value/r at times); a timer, histogram or
	// distribution value counts round(1/r) times. Lines with r = 0 are
	// dropped.
	RateScale
)

// Config configures a Decoder.
type Config struct {
	RateMode RateMode
	// NegativeGaugeDelta reads "-N" on a gauge as a delta, as Etsy statsd
	// does. By default, as in MAD, it is the value -N. "+N" is always a
	// delta (MAD refuses it).
	NegativeGaugeDelta bool
	// Seed seeds the re-sampling generator; 0 picks a fixed seed.
	Seed uint64
}

// Stats counts what a Decoder saw. Lines counts every non-empty line by
// result; of the OK lines, SampledOut were dropped by re-sampling, NonFinite
// had a NaN or infinite value, TooLong had a series key over 64 KiB, and
// Samples became samples.
type Stats struct {
	Lines      [NumResults]uint64
	SampledOut uint64
	NonFinite  uint64
	TooLong    uint64
	Samples    uint64
	// Handles counts the samples, of Samples, sent by their series' handle
	// (SetCache).
	Handles uint64
}

// Decoder turns StatsD datagrams into samples. It keeps scratch space and
// counters, so each ingest loop owns one per source; it is not safe for
// concurrent use.
type Decoder struct {
	cfg     Config
	line    Line
	key     []byte
	bits    []uint64 // structural bitmap of the datagram
	pos     []uint32 // and the positions of its structural bytes
	nl      []uint32 // and of its line ends
	rnd     uint64
	hist    [1]sample.HistEntry
	Stats   Stats
	lastBad [NumResults][]byte
	// keyRoute, if set, replaces the route (SetKeyRoute).
	keyRoute sample.KeyRoute
	// cache, if set, names the series of lines by their handles
	// (SetCache); tagged says whether tagged lines go through it
	// (tagRound).
	cache  *sidcache.Cache
	tagged tagRound
	// pre is what lazyTags decided of the line being decoded, for cached
	// (its state is reset for every line).
	pre lookup
	// The lines whose lookups are put off (queue): qn of them from q[qh %
	// queueLen] on.
	q      [queueLen]pending
	qh, qn uint
	ahead  bool   // lookups are put off in this Decode (sidcache.Cache.Ahead)
	data   []byte // the datagram being decoded while ahead
	// relay, while RelayKeys runs, receives each parsed line instead of
	// the route.
	relay RelayKeyFunc
}

// SetKeyRoute makes the decoder hand each sample's key to kr instead of
// writing it into the batch its route picks (kr then does both); nil
// restores the route.
func (d *Decoder) SetKeyRoute(kr sample.KeyRoute) {
	d.keyRoute = kr
	if kr != nil {
		d.cache = nil
	}
	d.setLazy()
}

// SetCache makes the decoder look the series of its lines up in c (the
// cache of the producer its route publishes through, ingest.Producer.
// Handles) by their identity (Line.Ident, Line.IdentTags), and send their
// plain samples with the series' handles once the shards have given them:
// no key built, hashed or copied. It does nothing while a key route is set
// (a rewriting source maps keys); nil stops it.
func (d *Decoder) SetCache(c *sidcache.Cache) {
	if d.keyRoute == nil {
		d.cache = c
	}
	d.setLazy()
}

// setLazy has the parser leave a line's DogStatsD tags unread
// (Line.lazy) while the cache takes tagged lines: they are read only for
// a line whose series the cache does not know (lazyTags). It is called
// when what decides it changes: the cache, the tagged round (tagRound.use
// reports a change) and RelayKeys.
func (d *Decoder) setLazy() { d.line.lazy = d.cache != nil && d.relay == nil && !d.tagged.off }

// NewDecoder returns a decoder.
func NewDecoder(cfg Config) *Decoder {
	d := &Decoder{cfg: cfg, rnd: cfg.Seed}
	if d.rnd == 0 {
		d.rnd = 0x9E3779B97F4A7C15
	}
	return d
}

// maxBadLine bounds the copy of a refused line kept for logs.
const maxBadLine = 256

// Decode decodes every line of a datagram (lines end in '\n'; empty lines
// are ignored) and appends the samples to the batches route picks. now is
// the record time in ms for lines without a timestamp. data is not retained.
func (d *Decoder) Decode(data []byte, now int64, route sample.Route) {
	d.bits = classifyInto(d.bits, data)
	d.pos = flatten(d.pos, d.bits, 0, len(data))
	d.nl = flatten(d.nl, d.bits, 1, len(data))
	if d.ahead = d.cache != nil && d.cache.Ahead(); d.ahead {
		d.data = data
	}
	pos := d.pos
	i := 0 // index of the first structural of the line
	s := 0
	plain := d.cache != nil && d.relay == nil
	for _, e := range d.nl[:len(d.nl)-1] {
		// The last entry is the sentinel: the end of the last line.
		if int(e) > s {
			// The previous line's walk may have stopped early, or read one
			// position into this line.
			for i > 0 && int(pos[i-1]) >= s {
				i--
			}
			for int(pos[i]) < s {
				i++
			}
			if plain && d.plain(data, pos[i:], s, int(e), now, route) {
				i += 2
			} else {
				i += d.decode(data, pos[i:], s, int(e), now, route)
			}
		}
		s = int(e) + 1
	}
	if d.qn > 0 {
		d.flush(route)
	}
	d.data = nil
}

// DecodeLine decodes one line (without '\n').
func (d *Decoder) DecodeLine(line []byte, now int64, route sample.Route) {
	d.bits = classifyInto(d.bits, line)
	d.pos = flatten(d.pos, d.bits, 0, len(line))
	d.ahead = false
	d.decode(line, d.pos, 0, len(line), now, route)
}

// decode decodes the line data[s:e], given the structural positions of data
// from the line's first on; it returns how many of them the parser read.
func (d *Decoder) decode(data []byte, pos []uint32, s, e int, now int64, route sample.Route) int {
	l := &d.line
	r, n := parse(data, pos, s, e, l)
	line := data[s:e]
	if d.relay != nil {
		d.relayLine(line, r)
		return n
	}
	d.pre.state = 0
	if l.tagsAt != 0 { // the DogStatsD tags left unread (setLazy)
		if d.qn > 0 { // lazyTags may look the line up
			d.flush(route)
		}
		r = d.lazyTags(r, data, pos, s, l)
	}
	d.Stats.Lines[r]++
	if r != OK {
		if r >= ErrSyntax {
			d.lastBad[r] = append(d.lastBad[r][:0], line[:min(len(line), maxBadLine)]...)
		}
		return n
	}
	weight := 1.0
	if l.HasRate && l.Rate != 1 {
		switch {
		case l.Rate == 0:
			d.Stats.SampledOut++
			return n
		case d.cfg.RateMode == RateScale:
			weight = 1 / l.Rate
		case d.random() > l.Rate:
			// MAD: Random.nextDouble() > rate drops the line.
			d.Stats.SampledOut++
			return n
		}
	}
	kind := kindOf(l.Type)
	var flags uint8
	unit := sample.UnitNone
	v := l.Value
	switch l.Type {
	case TypeCounter, TypeMeter:
		v *= weight
	case TypeGauge:
		if l.Plus || (l.Signed && d.cfg.NegativeGaugeDelta) {
			flags = sample.FlagDelta
		}
	case TypeTimer:
		v, unit = sample.Normalize(v, sample.Millisecond)
	case TypeSet:
		flags = sample.FlagSetMember
		v = sample.SetMember(l.Raw)
	}
	if flags&sample.FlagSetMember == 0 && v-v != 0 {
		d.Stats.NonFinite++
		return n
	}
	t := now
	if l.Timestamp > 0 {
		t = l.Timestamp * 1000
	}
	if d.cache != nil && !d.aggregated(l, kind) && d.cached(kind, l, s, t, v, unit, flags, route) {
		return n
	}
	if d.qn > 0 {
		d.flush(route)
	}
	if l.tagsAt != 0 && d.readTags(data, pos, s, l) != OK {
		return n
	}
	key, err := sample.AppendKeySpans(d.key[:0], kind, l.Name, l.Src, l.Tags)
	d.key = key
	if err != nil {
		d.Stats.TooLong++
		return n
	}
	h := sample.Hash(key)
	d.Stats.Samples++
	var b *sample.Batch
	var k sample.KeyRef
	if d.keyRoute != nil {
		var ok bool
		if b, k, ok = d.keyRoute(key, h); !ok {
			return n // dropped by a rewriting source, which counts it
		}
	} else {
		b = route(h)
		k = b.PutKeyBytes(key, h)
	}
	if !d.aggregated(l, kind) {
		b.AddSample(k, t, 0, v, unit, flags)
		return n
	}
	// A scaled timer value counts n times, at most 2^63 (a Java long's
	// range; beyond it a uint64 conversion would be undefined).
	times := min(max(1, math.Round(weight)), 1<<63)
	d.hist[0] = sample.HistEntry{Value: v, Count: uint64(times)}
	b.AddAgg(k, t, 0, sample.Agg{Min: v, Max: v, Sum: v * times, Count: times,
		Has: sample.HasMin | sample.HasMax | sample.HasSum | sample.HasCount | sample.HasHist}, d.hist[:], unit)
	return n
}

// plain decodes the line data[s:e], given the positions of the
// structural bytes from its first on, if it is plain: name:value|type and
// nothing else (no field, no '\r'), the name at most maxQueued bytes,
// without '=' and ',' (no Influx tags) and not starting with '_' (events
// and service checks), the value without a sign, and the type one of c,
// g, h, m, d and ms. It reports false, having done nothing, for any other
// line, which decode then reads: what plain does for a line is what
// decode does for it (TestCachedDecodeAgrees, FuzzDecode), without the
// Line it fills, and in a fifth fewer instructions a line (BENCHMARKS.md,
// "Plain lines"). The decoder has a cache and no relay.
func (d *Decoder) plain(data []byte, pos []uint32, s, e int, now int64, route sample.Route) bool {
	if len(pos) < 2 {
		return false
	}
	c, p := int(pos[0]), int(pos[1])
	if p >= e || data[c] != ':' || data[p] != '|' || c == s || data[s] == '_' {
		return false
	}
	// The type's one or two letters after the second structural byte, a
	// '|', leave no room for another structural byte, a field or a '\r'.
	typ := typeOf(data[p+1 : e])
	if typ == 0 || typ == TypeSet {
		return false
	}
	raw := data[c+1 : p]
	if !unsigned(raw) {
		return false
	}
	v, n := javanum.Parse(raw)
	if n == 0 { // (an empty value too)
		return false
	}
	unit := sample.UnitNone
	if typ == TypeTimer {
		v, unit = sample.Normalize(v, sample.Millisecond)
	}
	if v-v != 0 {
		return false
	}
	name := data[s:c]
	if len(name) > maxQueued {
		// A name this long may be too long to cache; and from here on
		// plain changes what it touches (the queue, the cache).
		return false
	}
	kind := kindOf(typ)
	rh := sidcache.Hash(uint8(kind), name, nil)
	if d.ahead {
		d.Stats.Lines[OK]++
		d.queue(pending{rh: rh, t: now, v: v, at: uint32(s), n: uint16(len(name)), u: unit, kind: kind}, route)
		return true
	}
	if d.qn > 0 {
		d.flush(route)
	}
	i := d.cache.Find(uint8(kind), name, nil, rh)
	if i < 0 {
		// (A name of maxQueued bytes or fewer is always short enough to
		// cache: the insertion cannot fail.)
		i = d.insert(kind, name, data[s:e], nil, name, nil, rh)
	}
	d.Stats.Lines[OK]++
	d.send(i, now, v, unit, 0, route)
	return true
}

// lookup is what lazyTags decided of a line: with state looked, it looked
// the line up in the cache, which found record i (-1 if none) by its
// identity's hash rh; with bypass, the tagged round has the line go around
// the cache.
type lookup struct {
	i     int
	rh    uint64
	state uint8
}

const (
	looked = 1 + iota
	bypass
)

// kindOf returns the kind of series a line of type t belongs to.
func kindOf(t Type) sample.Kind { return kindsOf[t&7] }

// kindsOf are the kinds of the types, which are at most 7.
var _ [7 - TypeDistribution]struct{}

var kindsOf = [8]sample.Kind{
	TypeCounter: sample.KindCounter, TypeMeter: sample.KindCounter,
	TypeGauge: sample.KindGauge,
	TypeTimer: sample.KindTimer, TypeHistogram: sample.KindTimer, TypeDistribution: sample.KindTimer,
	TypeSet: sample.KindSet,
}

// lazyTags finishes parsing line l, whose DogStatsD tags parse left unread
// (Line.lazy), given parse's result r. A line refused for a later field is
// refused for its tags instead if they are bad, as when read in place. An
// accepted line that goes through the cache is looked up there (counted
// in the tagged round): one found needs no tags, since its identity's text
// was read and accepted with its series. Any other line's tags are read
// now, and may refuse it.
func (d *Decoder) lazyTags(r Result, data []byte, pos []uint32, s int, l *Line) Result {
	if r == OK && !d.aggregated(l, kindOf(l.Type)) { // a line that reaches the cache
		if d.useRound() {
			kind := uint8(kindOf(l.Type))
			d.pre = lookup{i: -1, rh: sidcache.Hash(kind, l.Ident, l.IdentTags), state: looked}
			if d.pre.i = d.cache.Find(kind, l.Ident, l.IdentTags, d.pre.rh); d.pre.i >= 0 {
				d.tagged.hit()
				return OK
			}
		} else {
			d.pre.state = bypass
		}
	}
	if rt := l.readTags(data, pos, s); rt != OK {
		d.pre.state = 0
		return rt
	}
	return r
}

// aggregated reports whether an accepted line of kind becomes an
// aggregate, not a plain sample (and so never goes through the cache): a
// timer whose sample rate scales it (RateScale) counts its value
// round(1/rate) times.
func (d *Decoder) aggregated(l *Line, kind sample.Kind) bool {
	return kind == sample.KindTimer && l.HasRate && l.Rate != 1 && l.Rate != 0 && d.cfg.RateMode == RateScale
}

// useRound counts a tagged line in the round (tagRound.use), keeps the
// parser's laziness in step with the round, and reports whether the line
// goes through the cache.
func (d *Decoder) useRound() bool {
	on := d.tagged.use()
	if on != d.line.lazy {
		d.setLazy()
	}
	return on
}

// readTags reads the tags that lazyTags left unread when it found the line
// in the cache, for a path that needs them after all (none does: the lines
// lazyTags looks up are the lines that reach the cache). Reading them
// cannot fail, the same text having been accepted before; if it did, the
// line is counted as refused.
func (d *Decoder) readTags(data []byte, pos []uint32, s int, l *Line) Result {
	r := l.readTags(data, pos, s)
	if r != OK {
		d.Stats.Lines[OK]--
		d.Stats.Lines[r]++
	}
	return r
}

// tagRound decides whether tagged lines go through the cache. A tagged
// line's identity is its tags' text as written, so a series whose clients
// write its tags in varying orders has many (up to 720 for six tags), and
// such lines would fill the cache with identities seldom seen again, each
// paying a lookup, an insertion and an ask for nothing. So tagged lines go
// through the cache for a round of tagWindow tagged lines, and go on doing
// so while at least half of a round's were found there; else they bypass
// it (no lookup) for tagRest rounds, then try a round again.
type tagRound struct {
	off         bool
	lines, hits uint32
	rest        uint32 // rounds left to bypass the cache
}

const (
	tagWindow = 1 << 16
	tagRest   = 63
)

// use counts a tagged line and reports whether it goes through the cache.
func (r *tagRound) use() bool {
	if r.lines == tagWindow { // a round is over: decide the next
		if r.off {
			r.rest--
			r.off = r.rest > 0
		} else {
			r.off, r.rest = r.hits*2 < r.lines, tagRest
		}
		r.lines, r.hits = 0, 0
	}
	r.lines++
	return !r.off
}

// hit counts a tagged line found in the cache.
func (r *tagRound) hit() { r.hits++ }

// cached routes a plain sample of line l through the cache, which knows a
// series by its kind and the line's text of its name and tags (Line.Ident,
// Line.IdentTags): with its series' handle if the cache has one good in
// the batch's epoch, else with its key, asking for the handle. It reports
// false, having done nothing, if the series cannot be cached (its key is
// too long: the caller refuses it; or too long to cache). The line starts
// at s in the datagram. An untagged line's lookup may be put off (queue):
// its sample is then sent some lines later.
func (d *Decoder) cached(kind sample.Kind, l *Line, s int, t int64, v float64, u sample.Unit, flags uint8, route sample.Route) bool {
	c := d.cache
	var i int
	var rh uint64
	if d.pre.state != 0 {
		if d.pre.state == bypass {
			return false
		}
		i, rh = d.pre.i, d.pre.rh
	} else {
		// (A line whose tags lazyTags read has state looked or bypass.)
		tagged := len(l.Tags) > 0
		if tagged && !d.useRound() {
			return false
		}
		rh = sidcache.Hash(uint8(kind), l.Ident, l.IdentTags)
		if d.ahead && !tagged && l.IdentTags == nil && len(l.Ident) == len(l.Name) && len(l.Ident) <= maxQueued {
			// (The identity, the name, is the line's first bytes.)
			d.queue(pending{rh: rh, t: t, v: v, at: uint32(s), n: uint16(len(l.Ident)), u: u, flags: flags, kind: kind}, route)
			return true
		}
		if d.qn > 0 {
			d.flush(route)
		}
		i = c.Find(uint8(kind), l.Ident, l.IdentTags, rh)
		if i >= 0 && tagged {
			d.tagged.hit()
		}
	}
	if i < 0 {
		if i = d.insert(kind, l.Name, l.Src, l.Tags, l.Ident, l.IdentTags, rh); i < 0 {
			return false
		}
	}
	d.send(i, t, v, u, flags, route)
	return true
}

// insert builds the key of a series of kind the cache does not know (its
// name, and its tags as spans of src) and caches the series under its
// identity (ident, identTags, of hash rh). It returns the record, or -1 if
// the key is too long, or too long to cache.
func (d *Decoder) insert(kind sample.Kind, name, src []byte, tags []sample.Span, ident, identTags []byte, rh uint64) int {
	key, err := sample.AppendKeySpans(d.key[:0], kind, name, src, tags)
	d.key = key
	if err != nil {
		return -1
	}
	// An untagged key ends in its dimensions' count, 0: the identity, the
	// name, is in it.
	return d.cache.Insert(uint8(kind), ident, identTags, rh, key, len(key)-len(ident)-1, sample.Hash(key))
}

// send sends a sample of the cache's record i: by the series' handle if
// it has one good in the batch's epoch, else by its key, asking for the
// handle.
func (d *Decoder) send(i int, t int64, v float64, u sample.Unit, flags uint8, route sample.Route) {
	// Cache.Send's body, written out here (inlined into cached and
	// lookup): the call of Send cost 1-2 % a line (BENCHMARKS.md,
	// "Graphite lines by their handles").
	c := d.cache
	sl := c.Record(i)
	d.Stats.Samples++
	b := route(sl.Hash) // may take answers into the cache: sl stays where it is
	if sl.Handle != 0 && sl.Epoch == b.Epoch {
		b.AddHandle(sl.Handle, t, v, u, flags)
		d.Stats.Handles++
		return
	}
	b.AddAsking(b.PutKeyBytes(c.Key(i), sl.Hash), t, v, u, flags, c.Ticket(i))
}

// Once the series cache holds sidcache.AheadFrom bytes of records
// (Cache.Ahead, checked once a datagram), a line's lookup reads its index
// slot and then its record from the shared cache or memory: two dependent
// misses a line. Decode then puts the lookups of untagged lines off by
// queueLen lines: a line's index slot is hinted when it is queued, its
// record recordAhead lines before it is looked up, so both are in the
// core's cache by then. The queue is emptied, in order, before any other
// line's sample is sent (samples keep the lines' order) or any other line
// is looked up (a lookup's record is good until the next insertion), and
// at the end of each Decode. DecodeLine queues nothing.
const (
	queueLen    = 8
	recordAhead = 4
	// maxQueued bounds a queued identity so that its key is short enough
	// to cache: a queued line's insertion cannot fail.
	maxQueued = 4000
)

// pending is a queued line: an untagged line of kind whose identity is
// its name, data[at:at+n] of the datagram being decoded, of hash rh, and
// its sample. It holds no pointer, so queueing it is plain stores.
type pending struct {
	rh    uint64
	t     int64
	v     float64
	at    uint32
	n     uint16
	u     sample.Unit
	flags uint8
	kind  sample.Kind
}

// queue queues p, hinting its index slot and the record of the line
// queued recordAhead lines before, and sends the oldest line's sample if
// the queue is full. It is not inlined, so that cached still is, into
// decode: the lines below AheadFrom pay no call for them.
//
//go:noinline
func (d *Decoder) queue(p pending, route sample.Route) {
	if d.qn == queueLen {
		d.lookup(&d.q[d.qh%queueLen], route)
		d.qh++
		d.qn--
	}
	r := p.rh // no line that far back: a second hint of p's slot
	if d.qn >= recordAhead {
		r = d.q[(d.qh+d.qn-recordAhead)%queueLen].rh
	}
	d.cache.Hint(p.rh, r)
	d.q[(d.qh+d.qn)%queueLen] = p
	d.qn++
}

// flush sends the queued lines' samples, in order.
//
//go:noinline
func (d *Decoder) flush(route sample.Route) {
	for ; d.qn > 0; d.qn-- {
		d.lookup(&d.q[d.qh%queueLen], route)
		d.qh++
	}
	d.qh = 0
}

// lookup looks a queued line up, inserts its series if the cache does not
// know it, and sends its sample.
func (d *Decoder) lookup(p *pending, route sample.Route) {
	c := d.cache
	ident := d.data[p.at : p.at+uint32(p.n)]
	i := c.Find(uint8(p.kind), ident, nil, p.rh)
	if i < 0 {
		i = d.insert(p.kind, ident, nil, nil, ident, nil, p.rh) // cannot fail: at most maxQueued bytes
	}
	d.send(i, p.t, p.v, p.u, p.flags, route)
}

// LastRefused returns the last line refused for reason r (at most 256
// bytes), for a throttled log line; nil if none. The slice is reused.
func (d *Decoder) LastRefused(r Result) []byte {
	if r >= NumResults {
		return nil
	}
	return d.lastBad[r]
}

// ClearRefused forgets the refused lines kept for logs, so that a line is
// logged once, not at every report.
func (d *Decoder) ClearRefused() {
	for r := range d.lastBad {
		d.lastBad[r] = d.lastBad[r][:0]
	}
}

// random returns a uniform float64 in [0, 1) (xorshift64*).
func (d *Decoder) random() float64 {
	x := d.rnd
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	d.rnd = x
	return float64((x*0x2545F4914F6CDD1D)>>11) / (1 << 53)
}
