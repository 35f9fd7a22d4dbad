package otlp

import (
	"bytes"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// A point's dimensions are its attributes merged over its resource's
// (attrs.go), encoded once as a section (AppendKeySpans(KindNone, "")):
// every key of the point is kind, name and that section. Points of one
// request repeat few attribute sets (each metric's points share them with
// the other metrics'), so the section of an attribute set is cached by the
// set's wire bytes: a point whose attribute fields are byte for byte those
// of a cached point of the same resource has its section without reading
// them again (the same bytes validate and read the same).

// attrRun locates a point's attribute fields: the wire bytes [s, e) of
// every one (tags included), if they are contiguous.
type attrRun struct {
	s, e   int
	n      int
	broken bool // attribute fields with other fields between them
}

// note records an attribute field that starts at at and ends at end.
func (a *attrRun) note(at, end int) {
	if a.n == 0 {
		a.s = at
	} else if at != a.e {
		a.broken = true
	}
	a.e = end
	a.n++
}

// The cache outlives requests: an exporter sends the same resources and
// attribute sets every interval. An entry is keyed by the resource (an id
// from resTable: its attribute fields' bytes, compared exactly) and the
// point's attribute bytes (compared exactly); it is found by their hash in
// a set of cacheWays slots, the least recently used replaced. The arena
// holding entries' bytes is bounded: when it is full every entry is dropped
// (a generation) and it starts over. The cache grows with what its clients
// send: each time the arena fills or the entries fill half the slots, the
// slots and the arena double, up to
// cacheSetsMax sets and cacheArenaTop bytes (about 22 MiB a decoder: 5.5
// MiB of slots and a 16 MiB arena, which holds some 35 000 entries of an
// SDK's attribute sets), so that an exporter's streams (thousands a
// resource, tens of thousands in all) stay cached instead of evicting one
// another on every request (BENCHMARKS.md, OpenTelemetry: the section
// cache). A decoder whose clients send fewer streams stays small.
const (
	cacheWays     = 8
	cacheSetsMin  = 512  // 4096 slots
	cacheSetsMax  = 8192 // 65 536 slots
	cacheArenaMin = 1 << 20
	cacheArenaTop = 16 << 20
	maxResources  = 1024
)

type sectionCache struct {
	slots    []cacheSlot // sets of cacheWays
	hashes   []uint64    // the slots' hashes, apart: a set's are one cache line
	arena    []byte
	arenaMax int
	full     bool // an entry did not fit in the arena
	live     int  // entries of this generation
	gen      uint32
	tick     uint32 // lookups, for the replacement
	hits     uint64 // sections found, for tests
	res      resTable
}

type cacheSlot struct {
	gen            uint32
	used           uint32 // tick of the last lookup that found it
	resID          uint32
	raw, sec       uint32 // offsets into arena
	rawLen, secLen uint32
	secHash        uint64
	tooLong        bool
	keyed          bool // name and keyHash are set
	// The key of the first metric name a gauge of the section was routed
	// under: the name in the arena and the key's hash, so that the next
	// point of that stream needs neither building nor hashing it.
	name, nameLen uint32
	keyHash       uint64
	// lastT is the last record time counted for the section in request
	// lastReq (countRecord).
	lastT   int64
	lastReq uint64
}

// ensure sizes an empty cache.
func (c *sectionCache) ensure() {
	if c.slots == nil {
		c.slots = make([]cacheSlot, cacheSetsMin*cacheWays)
		c.hashes = make([]uint64, len(c.slots))
		c.arenaMax = cacheArenaMin
		c.gen = 1
	}
}

// clear drops every entry and resource id; grow also doubles the slots
// and the arena's bound, up to their maxima.
func (c *sectionCache) clear(grow bool) {
	if grow && len(c.slots) < cacheSetsMax*cacheWays {
		c.slots = make([]cacheSlot, 2*len(c.slots))
		c.hashes = make([]uint64, len(c.slots))
		c.gen = 0
	}
	if grow && c.arenaMax < cacheArenaTop {
		c.arenaMax *= 2
	}
	c.gen++
	if c.gen == 0 {
		clear(c.slots)
		c.gen = 1
	}
	c.arena, c.full, c.live = c.arena[:0], false, 0
	c.res.reset()
}

// set returns the index of the first slot of the set of hash h.
func (c *sectionCache) set(h uint64) int {
	return int(h&uint64(len(c.slots)/cacheWays-1)) * cacheWays
}

// resTable gives the resources of the cache their ids: a resource is the
// bytes of its attribute fields, in order, kept in the cache's arena.
type resTable struct {
	slots []resSlot // open addressing, 2·maxResources
	n     int
}

type resSlot struct {
	h        uint64
	off, len uint32
	id       uint32 // id+1; 0: free
}

func (t *resTable) reset() {
	clear(t.slots)
	t.n = 0
}

// resourceID returns the id of the resource whose attribute bytes are
// raw, adding it (its bytes to the arena) if new; it clears the cache first
// when the table or the arena is full. It returns 0 (no id: nothing of the
// resource cached) for a resource larger than the arena.
func (c *sectionCache) resourceID(raw []byte) uint32 {
	t := &c.res
	if t.slots == nil {
		t.slots = make([]resSlot, 2*maxResources)
	}
	c.ensure()
	// Grow when the arena is full, or when the entries fill half the slots
	// (beyond that, sets overflow and a stream that comes back in turn
	// with others evicts one of them every time).
	crowded := c.live*2 > len(c.slots) && len(c.slots) < cacheSetsMax*cacheWays
	if full := c.full || len(c.arena)+len(raw) > c.arenaMax; full || crowded || t.n >= maxResources {
		c.clear(full || crowded)
	}
	if len(raw) > c.arenaMax {
		return 0 // a resource larger than the arena: its points are not cached
	}
	h := sample.Hash(raw)
	m := uint64(len(t.slots) - 1)
	for i := h & m; ; i = (i + 1) & m {
		e := &t.slots[i]
		if e.id == 0 {
			*e = resSlot{h: h, off: uint32(len(c.arena)), len: uint32(len(raw)), id: uint32(t.n) + 1}
			c.arena = append(c.arena, raw...)
			t.n++
			return e.id
		}
		if e.h == h && bytes.Equal(c.arena[e.off:e.off+e.len], raw) {
			return e.id
		}
	}
}

// pointSection sets d.section and d.secHash to the section of the point in
// body[s:e] (fields at depth 5) whose attribute fields (tag) are run. It
// returns false after a failure; d.secTooLong says that the section is too
// long for a key.
func (d *Decoder) pointSection(s, e int, tag uint32, run attrRun) bool {
	var raw []byte
	var h uint64
	var slot *cacheSlot
	var slotHash *uint64
	c := &d.cache
	if !run.broken && d.resID != 0 {
		raw = d.body[run.s:run.e]
		if run.n == 0 {
			raw = nil
		}
		h = sample.Hash(raw) ^ uint64(d.resID)*0x9E3779B97F4A7C15
		c.tick++
		first := c.set(h)
		hs := c.hashes[first : first+cacheWays : first+cacheWays]
		set := c.slots[first : first+cacheWays : first+cacheWays]
		for i, sh := range hs {
			if sh != h {
				continue
			}
			sl := &set[i]
			if sl.gen == c.gen && sl.resID == d.resID && bytes.Equal(c.arena[sl.raw:sl.raw+sl.rawLen], raw) {
				sl.used = c.tick
				c.hits++
				d.section = c.arena[sl.sec : sl.sec+sl.secLen]
				d.secHash, d.secTooLong, d.slot = sl.secHash, sl.tooLong, sl
				return true
			}
		}
		// Missed: the slot to fill is a free one, else the least
		// recently used (ticks compared as distances, so that wrapping
		// around does not matter).
		way := 0
		for i := range set {
			sl := &set[i]
			if sl.gen != c.gen {
				way = i
				break
			}
			if c.tick-sl.used > c.tick-set[way].used {
				way = i
			}
		}
		slot = &set[way]
		slotHash = &hs[way]
	}
	// Read the attributes.
	d.abuf = d.abuf[:d.resEnd]
	d.pt = d.pt[:0]
	from, to := s, e
	if !run.broken {
		from, to = run.s, run.e
	}
	r := pbwire.NewReaderAt(d.body, from, to, 5)
	for r.More() {
		f := r.Next()
		if f.Tag != tag {
			continue
		}
		sp, ok := d.readAttr(f.S, int(f.X), 6)
		if !ok {
			return false
		}
		d.pt = append(d.pt, sp)
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "")
	}
	if !d.pointDims() {
		return false
	}
	sec, err := sample.AppendKeySpans(d.secBuf[:0], sample.KindNone, nil, d.abuf, d.dims)
	d.secBuf = sec
	d.section, d.secTooLong, d.slot = sec, err != nil, nil
	if err == nil {
		d.secHash = sample.Hash(sec)
	}
	if slot != nil && len(c.arena)+len(raw)+len(sec) > c.arenaMax {
		c.full = true // the next resource starts a new generation
	} else if slot != nil {
		if slot.gen != c.gen {
			c.live++
		}
		a := c.arena
		*slotHash = h
		*slot = cacheSlot{gen: c.gen, used: c.tick, resID: d.resID, raw: uint32(len(a)), rawLen: uint32(len(raw)),
			sec: uint32(len(a) + len(raw)), secLen: uint32(len(sec)), secHash: d.secHash, tooLong: d.secTooLong}
		a = append(a, raw...)
		c.arena = append(a, sec...)
		d.slot = slot
	}
	return true
}

// gaugeKeyHash returns the hash of the gauge key of name and the point's
// section, if the section's slot holds it.
func (d *Decoder) gaugeKeyHash(name []byte) (uint64, bool) {
	if sl := d.slot; sl != nil && sl.keyed && bytes.Equal(d.cache.arena[sl.name:sl.name+sl.nameLen], name) {
		return sl.keyHash, true
	}
	return 0, false
}

// noteGaugeKey remembers the hash of the gauge key of name in the point's
// section slot, if it has none yet and the arena has room: a slot keeps its
// first name (streams of one attribute set under several names alternate,
// and would otherwise copy their names into the arena again and again).
func (d *Decoder) noteGaugeKey(name []byte, h uint64) {
	c := &d.cache
	sl := d.slot
	if sl == nil || sl.keyed || len(c.arena)+len(name) > c.arenaMax {
		return
	}
	sl.name, sl.nameLen, sl.keyHash, sl.keyed = uint32(len(c.arena)), uint32(len(name)), h, true
	c.arena = append(c.arena, name...)
}

// countRecord counts MAD's record of the point's section at time t if it
// is new: the section's cache slot remembers the last time counted, and
// the records table the rest.
func (d *Decoder) countRecord(t int64) {
	if s := d.slot; s != nil {
		if s.lastReq == d.req && s.lastT == t {
			return
		}
		s.lastT, s.lastReq = t, d.req
	}
	if d.recs.add(d.secHash, t, d.section) {
		d.st.Records++
	}
}
