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

const cacheSlots = 256

// sectionCache maps attribute wire bytes to sections, for one resource at
// a time (gen changes with the resource and the request).
type sectionCache struct {
	slots [cacheSlots]cacheSlot
	arena []byte
	gen   uint32
}

type cacheSlot struct {
	h              uint64
	gen            uint32
	raw, sec       uint32 // offsets into arena
	rawLen, secLen uint32
	secHash        uint64
	tooLong        bool
	// lastT is the last record time counted for the section (records.go).
	lastT    int64
	hasLastT bool
}

// reset forgets every entry; keep says whether the arena may be kept (a new
// resource of the same request: entries of the earlier are stale, but the
// arena is what the request has used so far).
func (c *sectionCache) reset(request bool) {
	c.gen++
	if c.gen == 0 {
		clear(c.slots[:])
		c.gen = 1
	}
	if request {
		c.arena = c.arena[:0]
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
	if !run.broken {
		raw = d.body[run.s:run.e]
		if run.n == 0 {
			raw = nil
		}
		h = sample.Hash(raw)
		slot = &d.cache.slots[h%cacheSlots]
		if slot.gen == d.cache.gen && slot.h == h && bytes.Equal(d.cache.arena[slot.raw:slot.raw+slot.rawLen], raw) {
			d.section = d.cache.arena[slot.sec : slot.sec+slot.secLen]
			d.secHash, d.secTooLong, d.slot = slot.secHash, slot.tooLong, slot
			return true
		}
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
	if slot != nil {
		a := d.cache.arena
		*slot = cacheSlot{h: h, gen: d.cache.gen, raw: uint32(len(a)), rawLen: uint32(len(raw)),
			sec: uint32(len(a) + len(raw)), secLen: uint32(len(sec)), secHash: d.secHash, tooLong: d.secTooLong}
		a = append(a, raw...)
		d.cache.arena = append(a, sec...)
		d.slot = slot
	}
	return true
}

// countRecord counts MAD's record of the point's section at time t if it
// is new: the section's cache slot remembers the last time counted, and
// the records table the rest.
func (d *Decoder) countRecord(t int64) {
	if s := d.slot; s != nil {
		if s.hasLastT && s.lastT == t {
			return
		}
		s.lastT, s.hasLastT = t, true
	}
	if d.recs.add(d.secHash, t, d.section) {
		d.st.Records++
	}
}
