package otlp

import (
	"bytes"

	"github.com/gomad/mad/internal/sample"
)

// seenTable finds the sample a request already routed for a series key and
// record time, so that a later point of the same name, dimensions and time
// replaces it (doc.go). Open addressing over the key hash mixed with the
// time; entries of earlier calls are told apart by a generation, so a call
// starts without clearing the table.
type seenTable struct {
	slots []seenSlot
	n     int
	gen   uint32
}

type seenSlot struct {
	h   uint64
	t   int64
	b   *sample.Batch
	i   int32
	gen uint32
}

func (s *seenTable) reset() {
	s.gen++
	s.n = 0
	if s.gen == 0 { // wrapped: stale entries could match
		clear(s.slots)
		s.gen = 1
	}
}

func mix(h uint64, t int64) uint64 {
	x := h ^ uint64(t)*0x9E3779B97F4A7C15
	return x ^ x>>29
}

// find returns the index in b of the sample routed earlier in this call
// with key k (hash h) at time t, if b still holds it.
func (s *seenTable) find(h uint64, t int64, b *sample.Batch, k []byte) (int, bool) {
	if s.n == 0 {
		return 0, false
	}
	m := uint64(len(s.slots) - 1)
	for i := mix(h, t) & m; ; i = (i + 1) & m {
		e := &s.slots[i]
		if e.gen != s.gen {
			return 0, false
		}
		if e.h == h && e.t == t && e.b == b && int(e.i) < len(b.Samples) {
			if smp := &b.Samples[e.i]; bytes.Equal(b.Key(smp), k) && smp.Time == t {
				return int(e.i), true
			}
		}
	}
}

// add records the sample at index i of b.
func (s *seenTable) add(h uint64, t int64, b *sample.Batch, i int) {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	m := uint64(len(s.slots) - 1)
	for j := mix(h, t) & m; ; j = (j + 1) & m {
		if e := &s.slots[j]; e.gen != s.gen {
			*e = seenSlot{h: h, t: t, b: b, i: int32(i), gen: s.gen}
			s.n++
			return
		}
	}
}

func (s *seenTable) grow() {
	old := s.slots
	n := max(64, 2*len(old))
	s.slots = make([]seenSlot, n)
	s.n = 0
	m := uint64(n - 1)
	for _, e := range old {
		if e.gen != s.gen {
			continue
		}
		for j := mix(e.h, e.t) & m; ; j = (j + 1) & m {
			if s.slots[j].gen != s.gen {
				s.slots[j] = e
				s.n++
				break
			}
		}
	}
}

// recTable counts MAD's records: distinct (dimensions, time) pairs. The
// dimensions' bytes are kept in arena to compare.
type recTable struct {
	slots []recSlot
	arena []byte
	n     int
	gen   uint32
}

type recSlot struct {
	h        uint64
	t        int64
	off, len uint32
	gen      uint32
}

func (r *recTable) reset() {
	r.gen++
	r.n = 0
	r.arena = r.arena[:0]
	if r.gen == 0 {
		clear(r.slots)
		r.gen = 1
	}
}

// add records (sec, t) and reports whether it is new.
func (r *recTable) add(h uint64, t int64, sec []byte) bool {
	if 2*(r.n+1) > len(r.slots) {
		r.grow()
	}
	m := uint64(len(r.slots) - 1)
	for j := mix(h, t) & m; ; j = (j + 1) & m {
		e := &r.slots[j]
		if e.gen != r.gen {
			*e = recSlot{h: h, t: t, off: uint32(len(r.arena)), len: uint32(len(sec)), gen: r.gen}
			r.arena = append(r.arena, sec...)
			r.n++
			return true
		}
		if e.h == h && e.t == t && bytes.Equal(r.arena[e.off:e.off+e.len], sec) {
			return false
		}
	}
}

func (r *recTable) grow() {
	old := r.slots
	n := max(64, 2*len(old))
	r.slots = make([]recSlot, n)
	m := uint64(n - 1)
	for _, e := range old {
		if e.gen != r.gen {
			continue
		}
		for j := mix(e.h, e.t) & m; ; j = (j + 1) & m {
			if r.slots[j].gen != r.gen {
				r.slots[j] = e
				break
			}
		}
	}
}
