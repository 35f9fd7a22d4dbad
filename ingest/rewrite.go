package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/gomad/mad/internal/sample"
	sm "github.com/gomad/mad/internal/selfmetric"
	"github.com/gomad/mad/internal/transform"
)

// MAD's MappingSource (MAD-SPEC §3.5) and mad-experimental's
// TransformingSource and TagDroppingSource (§13.2, §13.3) rewrite series:
// an input series (kind, name, dimensions) becomes any number of output
// series, by rules that depend on the series alone (internal/transform).
// So a rewriter computes each input series' outputs once and keeps them in
// a bounded cache: a sample costs one lookup by the hash its decoder
// already computed (the key compared whole), and no regular expression
// runs in the steady state. The outputs' keys are canonical, so series
// that now share a key are one series in the shard, and merge there
// exactly, whatever request or datagram they came in (MAD merged within a
// record only: MappingSource concatenating the samples and statistics,
// TransformingSource keeping the first metric's statistics).

// seriesRules is what a rewriter applies: transform.Mapping,
// transform.Transformer or transform.Dropper.
type seriesRules interface {
	Apply(s *transform.Scratch, name []byte, dims []sample.Dim, out func(name []byte, dims []sample.Dim)) error
}

// mappingRules is a transform.Mapping (MappingSource) as seriesRules (it
// cannot fail).
type mappingRules struct{ *transform.Mapping }

func (m mappingRules) Apply(s *transform.Scratch, name []byte, dims []sample.Dim, out func(name []byte, dims []sample.Dim)) error {
	m.Mapping.Apply(s, name, dims, out)
	return nil
}

// dropRules is a transform.Dropper as seriesRules (it cannot fail).
type dropRules struct{ *transform.Dropper }

func (d dropRules) Apply(s *transform.Scratch, name []byte, dims []sample.Dim, out func(name []byte, dims []sample.Dim)) error {
	d.Dropper.Apply(s, name, dims, out)
	return nil
}

// RewriteStats counts what a wrapping source's rewriters did, across the
// producers of the source it wraps.
type RewriteStats struct {
	// Hits and Misses of the series cache; Clears: times a cache was full
	// and dropped everything it held (each input series is then computed
	// again once).
	Hits, Misses, Clears atomic.Uint64
	// Dropped: samples of series whose templates made a malformed tag tail
	// (MAD throws and loses the record; mad loses that series' samples) or
	// whose outputs' keys would all be longer than sample.MaxKeyLen, once a
	// sample; and once a sample for each output left out alone for its key's
	// length.
	Dropped atomic.Uint64
}

// RewriteSpec is the configuration of MappingSource, TransformingSource or
// TagDroppingSource, compiled once; its mappers (one per producer) share
// the compiled rules and the counters.
type RewriteSpec struct {
	class string // "MappingSource", "TransformingSource", "TagDroppingSource"
	name  string
	conf  any // the rules as configured, for Equal
	rules seriesRules
	// MaxSeries bounds each mapper's cache (input series; default
	// DefaultRewriteCacheSeries), MaxBytes its records (the series' keys,
	// their outputs' keys and headers; default DefaultRewriteCacheBytes,
	// at most MaxRewriteCacheBytes).
	MaxSeries, MaxBytes int
	stats               *RewriteStats
}

// NewTransformingSpec compiles a TransformingSource's sets; env is the
// environment as read when the configuration loaded.
func NewTransformingSpec(name string, sets []transform.Set, env map[string]string) (*RewriteSpec, error) {
	t, err := transform.Compile(sets, env)
	if err != nil {
		return nil, fmt.Errorf("TransformingSource %s: %w", name, err)
	}
	return &RewriteSpec{class: "TransformingSource", name: name, conf: struct {
		sets []transform.Set
		env  map[string]string
	}{sets, env}, rules: t, stats: new(RewriteStats)}, nil
}

// NewTagDroppingSpec compiles a TagDroppingSource's drop sets.
func NewTagDroppingSpec(name string, sets []transform.DropSet) (*RewriteSpec, error) {
	d, err := transform.CompileDrops(sets)
	if err != nil {
		return nil, fmt.Errorf("TagDroppingSource %s: %w", name, err)
	}
	return &RewriteSpec{class: "TagDroppingSource", name: name, conf: sets, rules: dropRules{d}, stats: new(RewriteStats)}, nil
}

// Stats returns the counters shared by the spec's mappers.
func (s *RewriteSpec) Stats() *RewriteStats { return s.stats }

// NewMapper returns a rewriter for one producer.
func (s *RewriteSpec) NewMapper() Mapper {
	r := &rewriter{spec: s, maxSeries: s.MaxSeries, maxBytes: s.MaxBytes}
	r.out = r.addOutput
	if r.maxSeries <= 0 {
		r.maxSeries = DefaultRewriteCacheSeries
	}
	if r.maxBytes <= 0 {
		r.maxBytes = DefaultRewriteCacheBytes
	}
	r.maxBytes = min(r.maxBytes, rwMaxArena) // slots address 24 bits of 8-byte units
	return r
}

// Equal reports whether o is the same class with the same rules.
func (s *RewriteSpec) Equal(o MapperSpec) bool {
	r, ok := o.(*RewriteSpec)
	return ok && r.class == s.class && r.name == s.name && reflect.DeepEqual(r.conf, s.conf) &&
		r.MaxSeries == s.MaxSeries && r.MaxBytes == s.MaxBytes
}

// report emits the spec's counters with the source's labels.
func (s *RewriteSpec) report(emit func(sm.Value), l []string) {
	l = sm.With(l, "wrapper", s.name)
	st := s.stats
	for _, c := range []struct {
		what string
		n    uint64
	}{{"hit", st.Hits.Load()}, {"miss", st.Misses.Load()}} {
		emit(counter("mad_source_rewrite_cache_lookups_total", "Series lookups of a MappingSource's, TransformingSource's or TagDroppingSource's cache of each input series' outputs, by result.",
			sm.With(l, "result", c.what), c.n))
	}
	emit(counter("mad_source_rewrite_cache_clears_total", "Times a rewriting source's series cache was full and dropped what it held.", l, st.Clears.Load()))
	emit(counter("mad_source_rewrite_dropped_total", "Samples a rewriting source dropped: once a sample of a series it drops (a template made a malformed k=v tail, where MAD throws, or every output key would pass the 65 519-byte limit), and once an output of a series left out because its key alone would pass it.", l, st.Dropped.Load()))
}

// rewriter applies a RewriteSpec's rules on one producer, with its cache.
type rewriter struct {
	spec      *RewriteSpec
	maxSeries int
	maxBytes  int
	scratch   transform.Scratch

	// The cache. Each input series is one record in arena: its hash, its
	// key, and its outputs, each a hash and a key, back to back, so that a
	// hit reads one or two adjacent cache lines after its slot:
	//
	//	[8 hash][2 key length][2 outputs lost][4 outputs, or rwDropped][key]
	//	then per output: [8 hash][4 key length][key]
	//
	// Records start at multiples of 8 bytes. slots is an open-addressing
	// index (linear probing, at most half full) of records: a tag (a set
	// bit, then the hash's top 7 bits: 0 is an empty slot), then the
	// record's offset / 8 in 24 bits (the arena is at most 128 MiB); 4
	// bytes a slot keeps the index small enough to stay in cache.
	slots []uint32
	n     int
	arena []byte
	dims  []sample.Dim
	// The output callback of compute (addOutput) and its state.
	out     func(name []byte, dims []sample.Dim)
	outKind sample.Kind
	outN    uint32
	outLost int
	// Counted since the last publishStats.
	hits, misses, dropped uint64
}

const (
	rwHeader  = 16 // a record's hash, key length, outputs lost, outputs
	rwOutHead = 12 // an output's hash and key length
	// rwDropped marks a record whose series is dropped: its outputs' keys
	// were too long, or the rules failed on it.
	rwDropped = ^uint32(0)
	// rwOffMask takes a record's offset / 8 from a slot.
	rwOffMask = 1<<24 - 1
	// rwMaxArena bounds the arena so that every record starts within
	// what a slot can address (a record starting below it may end
	// beyond).
	rwMaxArena = 8 << 24
)

// The bounds of a rewriting source's series cache, each producer's
// (RewriteSpec.MaxSeries, MaxBytes): by default 65 536 input series in 16
// MiB, which a load of more series than that through one producer clears
// and fills again (counted: mad_source_rewrite_cache_clears_total), paying
// the rules at every sample; the configuration may raise them up to
// 2^22 series in 128 MiB of records. Whichever bound is reached first
// clears the cache: a record is 24 bytes at the least (a key and no
// outputs) and 100 to 200 bytes for most series (a key and one or two
// outputs), so 128 MiB holds about a million of those.
const (
	DefaultRewriteCacheSeries = 1 << 16
	DefaultRewriteCacheBytes  = 16 << 20
	MaxRewriteCacheSeries     = 1 << 22
	MaxRewriteCacheBytes      = rwMaxArena
)

// rwRecord is a cached input series: the arena from its record on.
type rwRecord []byte

// rwOffset returns the arena offset of the record of slot v.
func rwOffset(v uint32) int { return int(v&rwOffMask) * 8 }

// rwTag returns the tag of a slot of hash h.
func rwTag(h uint64) uint32 { return 0x80 | uint32(h>>57) }

// rwDroppedRecord is the record of a series dropped without being cached.
var rwDroppedRecord = rwRecord(binary.LittleEndian.AppendUint32(make([]byte, 12, rwHeader), rwDropped))

func (e rwRecord) hash() uint64    { return binary.LittleEndian.Uint64(e) }
func (e rwRecord) keyLen() int     { return int(binary.LittleEndian.Uint16(e[8:])) }
func (e rwRecord) outputs() uint32 { return binary.LittleEndian.Uint32(e[12:]) }
func (e rwRecord) key() []byte     { return e[rwHeader : rwHeader+e.keyLen()] }

// lost returns how many of the series' outputs are left out: their keys
// would be too long (each counted dropped, a sample at a time).
func (e rwRecord) lost() uint64 { return uint64(binary.LittleEndian.Uint16(e[10:])) }

// firstOutput returns the offset in e of its first output.
func (e rwRecord) firstOutput() int { return rwHeader + e.keyLen() }

// output returns the output at offset off of e: its hash, its key, and the
// offset of the next output.
func (e rwRecord) output(off int) (h uint64, key []byte, next int) {
	h = binary.LittleEndian.Uint64(e[off:])
	n := int(binary.LittleEndian.Uint32(e[off+8:]))
	key = e[off+rwOutHead : off+rwOutHead+n : off+rwOutHead+n]
	return h, key, off + rwOutHead + n
}

// Map routes each sample of src under each of its series' output keys.
func (r *rewriter) Map(src *sample.Batch, route sample.Route) {
	for i := range src.Samples {
		s := &src.Samples[i]
		e := r.entry(s.Hash, src.Key(s))
		outs := e.outputs()
		if outs == rwDropped {
			r.dropped++
			continue
		}
		r.dropped += e.lost()
		off := e.firstOutput()
		for range outs {
			var h uint64
			var key []byte
			h, key, off = e.output(off)
			copySample(route(h), src, s, key, h, s.Time)
		}
	}
	r.publishStats()
}

// entry returns the cached record of the input series key (hash h),
// computing it on a miss. The record is valid until the next call.
func (r *rewriter) entry(h uint64, key []byte) rwRecord {
	if e, ok := r.lookup(h, key); ok {
		r.hits++
		return e
	}
	r.misses++
	return r.compute(h, key)
}

// single is the producer's RouteKey lookup for a series (key, h): its one
// output's hash and key (n 1), none (n 0: dropped, counted), or n 2 when it
// has several outputs and is to be staged and mapped. The output key is
// valid until the next call.
func (r *rewriter) single(key []byte, h uint64) (oh uint64, okey []byte, n int) {
	e := r.entry(h, key)
	switch outs := e.outputs(); outs {
	case rwDropped:
		r.dropped++
		return 0, nil, 0
	case 0:
		return 0, nil, 0
	case 1:
		r.dropped += e.lost()
		oh, okey, _ = e.output(e.firstOutput())
		return oh, okey, 1
	default:
		return 0, nil, 2
	}
}

// publishStats adds what the mapper counted since the last call to the
// spec's shared counters (atomics: once per batch or flush, not per sample).
func (r *rewriter) publishStats() {
	st := r.spec.stats
	if r.hits > 0 {
		st.Hits.Add(r.hits)
	}
	if r.misses > 0 {
		st.Misses.Add(r.misses)
	}
	if r.dropped > 0 {
		st.Dropped.Add(r.dropped)
	}
	r.hits, r.misses, r.dropped = 0, 0, 0
}

// lookup finds the record of the input series key (hash h).
func (r *rewriter) lookup(h uint64, key []byte) (rwRecord, bool) {
	if r.n == 0 {
		return nil, false
	}
	m := uint64(len(r.slots) - 1)
	tag := rwTag(h)
	for i := h & m; ; i = (i + 1) & m {
		v := r.slots[i]
		if v == 0 {
			return nil, false
		}
		if v>>24 != tag {
			continue
		}
		e := rwRecord(r.arena[rwOffset(v):])
		if e.hash() == h && bytes.Equal(e.key(), key) {
			return e, true
		}
	}
}

// compute applies the rules to the input series key and caches its
// outputs.
func (r *rewriter) compute(h uint64, key []byte) rwRecord {
	if len(key) > sample.MaxKeyLen {
		// Not a key a batch holds (its length would not fit the record's
		// field): dropped, counted, not cached.
		return rwDroppedRecord
	}
	r.arena = append(r.arena, make([]byte, -len(r.arena)&7)...) // aligned: a slot holds off / 8
	if r.n >= r.maxSeries || len(r.arena) >= r.maxBytes {
		r.clear()
		r.spec.stats.Clears.Add(1)
	}
	if 2*(r.n+1) > len(r.slots) {
		r.grow()
	}
	pk, err := sample.ParseKey(key)
	off := len(r.arena)
	r.arena = binary.LittleEndian.AppendUint64(r.arena, h)
	r.arena = binary.LittleEndian.AppendUint16(r.arena, uint16(len(key))) // a batch's key: at most sample.MaxKeyLen
	r.arena = binary.LittleEndian.AppendUint16(r.arena, 0)                // outputs lost
	r.arena = binary.LittleEndian.AppendUint32(r.arena, 0)                // outputs
	r.arena = append(r.arena, key...)
	outs := rwDropped
	if err == nil {
		r.dims = r.dims[:0]
		it := pk.DimIter()
		for d, ok := it.Next(); ok; d, ok = it.Next() {
			r.dims = append(r.dims, d)
		}
		end := len(r.arena)
		r.outKind, r.outN, r.outLost = pk.Kind, 0, 0
		err := r.spec.rules.Apply(&r.scratch, pk.Name, r.dims, r.out)
		switch {
		case err != nil || r.outLost > 0 && r.outN == 0:
			r.arena = r.arena[:end]
		default:
			outs = r.outN
			binary.LittleEndian.PutUint16(r.arena[off+10:], uint16(min(r.outLost, 1<<16-1)))
		}
	}
	binary.LittleEndian.PutUint32(r.arena[off+12:], outs)
	m := uint64(len(r.slots) - 1)
	for i := h & m; ; i = (i + 1) & m {
		if r.slots[i] == 0 {
			r.slots[i] = rwTag(h)<<24 | uint32(off/8)
			r.n++
			return rwRecord(r.arena[off:])
		}
	}
}

// addOutput appends an output of the series compute computes (kind
// r.outKind) to its record, or counts it lost if its key would be too
// long. It is r.out, made once: a closure made at each compute allocated.
func (r *rewriter) addOutput(name []byte, dims []sample.Dim) {
	o := len(r.arena)
	k, err := sample.AppendKey(append(r.arena, make([]byte, rwOutHead)...), r.outKind, name, dims)
	if err != nil {
		r.arena = r.arena[:o]
		r.outLost++
		return
	}
	kb := k[o+rwOutHead:]
	binary.LittleEndian.PutUint64(k[o:], sample.Hash(kb))
	binary.LittleEndian.PutUint32(k[o+8:], uint32(len(kb)))
	r.arena = k
	r.outN++
}

// clear drops every cached series.
func (r *rewriter) clear() {
	clear(r.slots)
	r.n = 0
	r.arena = r.arena[:0]
}

// grow doubles the slots (rehashing by the records' hashes).
func (r *rewriter) grow() {
	old := r.slots
	r.slots = make([]uint32, max(64, 2*len(old)))
	m := uint64(len(r.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		h := rwRecord(r.arena[rwOffset(v):]).hash()
		for i := h & m; ; i = (i + 1) & m {
			if r.slots[i] == 0 {
				r.slots[i] = v
				break
			}
		}
	}
}
