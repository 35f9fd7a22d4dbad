package clientpb

import (
	"slices"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// The dimension cache. A client sends records whose dimensions repeat (every
// record of one process carries the same host, service and cluster, and a
// few other dimension sets), and the metrics of one dimension set repeat
// too. So the decoder remembers, per dimension set, its bucket key and the
// keys and hashes of its metrics: a record whose dimension entries are, byte
// for byte, those of a set it has seen skips parsing, validating and
// sorting them, and a metric it has seen under that set skips building and
// hashing its key.
//
// Only a record whose dimension entries form one run of consecutive fields
// (as every client writes them) is cached, and only once MAD's checks passed
// on it (identifiers set, no duplicate names): bytes equal to a run that
// parsed and checked cleanly parse and check cleanly again. The cache is
// content-addressed (hash of the run's bytes, then a full comparison), so it
// is valid across bodies.

const (
	dimSets      = 8 // 4-way set-associative, least recently used out
	dimWays      = 4
	dimSlots     = dimSets * dimWays
	maxCachedRun = 1024 // bytes of a dimension run worth caching
	maxSlotKeys  = 32   // metric keys remembered per dimension set
)

type dimSlot struct {
	used    uint64 // d.tick when last used
	hash    uint64
	raw     []byte // the run's bytes
	section []byte // its bucket key: AppendKey(KindNone, "", dims)
	names   []byte // metric names, back to back
	keys    []byte // their keys, back to back
	metrics []slotKey
	ok      bool
}

type slotKey struct {
	nameEnd, keyEnd uint32
	hash            uint64
	kind            sample.Kind
	// The key's place in a batch (batches.go), valid in call gen while
	// batch bi is in epoch epoch.
	gen   uint64
	epoch uint32
	bi    int32
	ref   sample.KeyRef
}

func (s *dimSlot) fill(hash uint64, raw, section []byte) {
	s.hash, s.ok = hash, true
	s.raw = append(s.raw[:0], raw...)
	s.section = append(s.section[:0], section...)
	s.names, s.keys, s.metrics = s.names[:0], s.keys[:0], s.metrics[:0]
}

func (s *dimSlot) name(i int) []byte {
	var start uint32
	if i > 0 {
		start = s.metrics[i-1].nameEnd
	}
	return s.names[start:s.metrics[i].nameEnd]
}

// keyBounds returns where the i-th metric's key lies in s.keys.
func (s *dimSlot) keyBounds(i int) (start, end uint32) {
	if i > 0 {
		start = s.metrics[i-1].keyEnd
	}
	return start, s.metrics[i].keyEnd
}

// find returns the index of metric (kind, name), trying hint first (records
// of one dimension set tend to list their metrics in the same order), or -1.
func (s *dimSlot) find(kind sample.Kind, name []byte, hint int) int {
	if hint < len(s.metrics) && s.metrics[hint].kind == kind && string(s.name(hint)) == string(name) {
		return hint
	}
	for i := range s.metrics {
		if s.metrics[i].kind == kind && string(s.name(i)) == string(name) {
			return i
		}
	}
	return -1
}

func (s *dimSlot) add(kind sample.Kind, name, key []byte, hash uint64) bool {
	if len(s.metrics) >= maxSlotKeys || len(name) > 256 {
		return false
	}
	s.names = append(s.names, name...)
	s.keys = append(s.keys, key...)
	s.metrics = append(s.metrics, slotKey{nameEnd: uint32(len(s.names)), keyEnd: uint32(len(s.keys)), hash: hash, kind: kind})
	return true
}

// keyRef locates a metric key of the record: in Decoder.keys, or in the
// record's dimension slot.
type keyRef struct {
	off, end uint32
	m        int32 // the slot's metric, if cached
	cached   bool
	// A copy of the slot metric's place in a batch (see slotKey).
	epoch uint32
	bi    int32
	gen   uint64
	kr    sample.KeyRef
}

// scanRun returns the end of the run of consecutive length-delimited fields
// with the one-byte tag t that starts at b[i], and their number; q < 0 if
// a length is malformed (the parse that follows reports it).
func scanRun(b []byte, i, end int, t byte) (q, n int) {
	b = b[:end]
	for i < end && b[i] == t {
		_, e, ok := pbwire.ShortLen(b, i+1)
		if !ok {
			if _, e = pbwire.Len(b, i+1); e < 0 {
				return -1, 0
			}
		}
		i = e
		n++
	}
	return i, n
}

// lookupRun looks the dimension run b[i:q] up; on a hit it becomes the
// record's slot. On a miss the run is remembered, to be cached if the record
// passes MAD's checks with no other dimension.
func (d *Decoder) lookupRun(b []byte, i, q, n int) bool {
	if q-i > maxCachedRun {
		return false
	}
	h := sample.Hash(b[i:q])
	d.run, d.runN, d.runHash = span{uint32(i), uint32(q)}, n, h
	d.tick++
	set := d.slots[h%dimSets*dimWays:][:dimWays]
	for w := range set {
		if sl := &set[w]; sl.ok && sl.hash == h && string(sl.raw) == string(b[i:q]) {
			sl.used = d.tick
			d.slot = sl
			return true
		}
	}
	return false
}

// fillRun caches the record's dimensions, if they were one run.
func (d *Decoder) fillRun() {
	if d.runN == 0 || len(d.dims) != d.runN {
		return
	}
	set := d.slots[d.runHash%dimSets*dimWays:][:dimWays]
	sl := &set[0]
	for w := 1; w < dimWays; w++ {
		if set[w].used < sl.used {
			sl = &set[w]
		}
	}
	sl.fill(d.runHash, d.str(d.run), d.section)
	sl.used = d.tick
	d.slot = sl
}

// metricKey finds or builds the key of metric (kind, name) of the record,
// the hint-th one, and appends its reference and hash to d.refs and
// d.hashes. It returns false if the key is too long.
func (d *Decoder) metricKey(kind sample.Kind, name []byte, hint int) bool {
	sl := d.slot
	if sl != nil {
		if m := sl.find(kind, name, hint); m >= 0 {
			s, e := sl.keyBounds(m)
			r := d.addRef(s, e, int32(m), true)
			sk := &sl.metrics[m]
			r.gen, r.epoch, r.bi, r.kr = sk.gen, sk.epoch, sk.bi, sk.ref
			d.hashes = append(d.hashes, sk.hash)
			return true
		}
	}
	start := len(d.keys)
	if !d.appendKey(kind, name) {
		return false
	}
	key := d.keys[start:]
	h := sample.Hash(key)
	if sl != nil && sl.add(kind, name, key, h) {
		// Use the slot's copy, so that the KeyRef can be shared.
		m := len(sl.metrics) - 1
		s, e := sl.keyBounds(m)
		d.addRef(s, e, int32(m), true)
	} else {
		d.addRef(uint32(start), uint32(len(d.keys)), -1, false)
	}
	d.hashes = append(d.hashes, h)
	return true
}

// key returns the key and hash of the p-th metric key of the record.
func (d *Decoder) key(p int32) ([]byte, uint64) {
	r := &d.refs[p]
	if r.cached {
		return d.slot.keys[r.off:r.end:r.end], d.hashes[p]
	}
	return d.keys[r.off:r.end:r.end], d.hashes[p]
}

// addRef appends a keyRef, written in place (see parseData3).
func (d *Decoder) addRef(off, end uint32, m int32, cached bool) *keyRef {
	n := len(d.refs)
	if n == cap(d.refs) {
		d.refs = slices.Grow(d.refs, 1)
	}
	d.refs = d.refs[:n+1]
	r := &d.refs[n]
	r.off, r.end, r.m, r.cached, r.gen = off, end, m, cached, 0
	return r
}
