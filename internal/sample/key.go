package sample

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math/bits"
	"slices"

	"github.com/gomad/mad/internal/inplace"
	"github.com/gomad/mad/internal/jsonstr"
)

// Kind is MAD's MetricType, stored as the first byte of a canonical key.
type Kind uint8

const (
	// KindNone marks a record that carried no usable metric. MAD still
	// creates the bucket for the record's dimensions and emits a
	// PeriodicData with empty data for it, so the key still matters.
	KindNone Kind = iota
	KindCounter
	KindGauge
	KindTimer
	// KindSet is a StatsD set: its samples are members (FlagSetMember) and
	// the statistic is the number of distinct members per bucket. MAD has
	// no sets.
	KindSet
	// KindExplicit is internal to the shard: a metric whose name matches a
	// pipeline `statistics` override is aggregated by name regardless of
	// its type (MAD keeps those calculators in one type-less map), so its
	// series key carries this kind instead of the type it arrived with.
	// Ingest never produces it.
	KindExplicit

	numKinds
)

var kindNames = [numKinds]string{"none", "counter", "gauge", "timer", "set", "explicit"}

// String returns the lower-case kind name.
func (k Kind) String() string {
	if k >= numKinds {
		return "invalid"
	}
	return kindNames[k]
}

// Valid reports whether k is one of the kinds (KindNone to KindExplicit).
func (k Kind) Valid() bool { return k < numKinds }

// Ingested reports whether k is a kind ingest may put into a batch.
func (k Kind) Ingested() bool { return k <= KindSet }

// Dim is one dimension (tag) of a series. Both slices reference the caller's
// buffers; AppendKey copies them.
type Dim struct {
	Key, Value []byte
}

// SortDims sorts dims by key bytes (then value, to be deterministic) without
// allocating, and returns the index of the first duplicate key after sorting,
// or -1. Parsers decide the policy for duplicates: MAD's StatsD and protobuf
// parsers refuse them, Graphite lets the later tag win (see DedupLastWins).
func SortDims(dims []Dim) int {
	// Insertion sort: dimension lists are short (typically < 16), and this
	// keeps the sort allocation-free and stable.
	for i := 1; i < len(dims); i++ {
		d := dims[i]
		j := i
		for j > 0 && bytes.Compare(dims[j-1].Key, d.Key) > 0 {
			dims[j] = dims[j-1]
			j--
		}
		dims[j] = d
	}
	for i := 1; i < len(dims); i++ {
		if bytes.Equal(dims[i-1].Key, dims[i].Key) {
			return i
		}
	}
	return -1
}

// ErrKeyTooLong is returned when a canonical key would exceed MaxKeyLen.
var ErrKeyTooLong = errors.New("sample: series key longer than 65519 bytes")

// MaxKeyLen bounds a canonical key, so that the shard can store each part of
// it with a small header in a slot whose length fits in 16 bits. Real keys
// are a few dozen bytes.
const MaxKeyLen = 1<<16 - 1 - 16

// AppendKey appends the canonical key of (kind, name, dims) to dst. dims
// must be sorted with unique keys (SortDims). The bytes appended are the
// series identity: equal keys are the same series, different keys are
// different series.
func AppendKey(dst []byte, kind Kind, name []byte, dims []Dim) ([]byte, error) {
	start := len(dst)
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = binary.AppendUvarint(dst, uint64(len(dims)))
	for i := range dims {
		dst = binary.AppendUvarint(dst, uint64(len(dims[i].Key)))
		dst = append(dst, dims[i].Key...)
		dst = binary.AppendUvarint(dst, uint64(len(dims[i].Value)))
		dst = append(dst, dims[i].Value...)
	}
	if len(dst)-start > MaxKeyLen {
		return dst[:start], ErrKeyTooLong
	}
	return dst, nil
}

// ErrBadKey is returned by ParseKey for bytes that are not a canonical key.
var ErrBadKey = errors.New("sample: malformed canonical series key")

// ParsedKey is a canonical key split into its parts. Name and Dims reference
// the key bytes.
type ParsedKey struct {
	Kind Kind
	Name []byte
	// Dims is the encoded dimension section (count and pairs). Two series
	// have the same dimension map iff their Dims bytes are equal.
	Dims []byte
}

// ParseKey splits a canonical key. It validates the key completely (structure,
// kind, dimensions in strictly increasing key order), so that a key that was
// not built by AppendKey from sorted unique dimensions is refused instead of
// silently becoming a second series; a successful parse means DimIter will
// not fail on the result.
func ParseKey(key []byte) (ParsedKey, error) {
	var p ParsedKey
	if len(key) == 0 {
		return p, ErrBadKey
	}
	p.Kind = Kind(key[0])
	if p.Kind >= numKinds {
		return p, ErrBadKey
	}
	rest := key[1:]
	name, rest, ok := readBytes(rest)
	if !ok {
		return p, ErrBadKey
	}
	p.Name = name
	p.Dims = rest
	n, w := uvarint(rest)
	if w <= 0 {
		return p, ErrBadKey
	}
	rest = rest[w:]
	var prev []byte
	for i := uint64(0); i < n; i++ {
		var k []byte
		if k, rest, ok = readBytes(rest); !ok {
			return p, ErrBadKey
		}
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			return p, ErrBadKey
		}
		prev = k
		if _, rest, ok = readBytes(rest); !ok {
			return p, ErrBadKey
		}
	}
	if len(rest) != 0 {
		return p, ErrBadKey
	}
	return p, nil
}

// DimIter walks the dimension section of a parsed key.
type DimIter struct {
	rest []byte
	left uint64
}

// DimIter returns an iterator over p's dimensions in canonical order.
func (p ParsedKey) DimIter() DimIter {
	n, w := binary.Uvarint(p.Dims)
	if w <= 0 {
		return DimIter{}
	}
	return DimIter{rest: p.Dims[w:], left: n}
}

// Len returns the number of dimensions not yet returned.
func (it *DimIter) Len() int { return int(it.left) }

// Next returns the next dimension; ok is false at the end.
func (it *DimIter) Next() (d Dim, ok bool) {
	ok = it.NextInto(&d.Key, &d.Value)
	return d, ok
}

// NextInto is Next writing the dimension's key and value where the caller
// keeps them: a loop filling a slice of dimensions writes each in place
// instead of copying a Dim built on the stack (whose wide loads wait on
// the stores that built it).
func (it *DimIter) NextInto(key, value *[]byte) bool {
	if it.left == 0 {
		return false
	}
	it.left--
	var ok bool
	if *key, it.rest, ok = readBytes(it.rest); !ok {
		return false
	}
	*value, it.rest, ok = readBytes(it.rest)
	return ok
}

// AppendDims appends the dimensions of a dimension section (ParsedKey's
// Dims) to dst, in order, each aliasing dims, and reports whether the
// section held them all (what DimIter reads; on false, dst is returned as
// it was given). A section of fewer than 128 dimensions whose keys and
// values are shorter than 128 bytes (nearly every one) has one-byte
// lengths: its dimensions are read in one loop into slots made at once,
// without an iterator's state in memory between them (the emitter fills a
// bucket's dimensions so, 5 % of a tagged row). Any other is read by
// DimIter.
func AppendDims(dst []Dim, dims []byte) ([]Dim, bool) {
	at := len(dst)
	if out, ok := appendShortDims(dst, dims); ok {
		return out, true
	}
	dst = dst[:at]
	it := ParsedKey{Dims: dims}.DimIter()
	for it.Len() > 0 {
		var d *Dim
		dst, d = inplace.Next(dst)
		if !it.NextInto(&d.Key, &d.Value) {
			return dst[:at], false
		}
	}
	return dst, true
}

// appendShortDims is AppendDims for a section of one-byte count and
// lengths; ok is false for any other (dst's new slots then hold anything).
func appendShortDims(dst []Dim, dims []byte) (out []Dim, ok bool) {
	if len(dims) == 0 || dims[0] >= 0x80 {
		return dst, false
	}
	at, n := len(dst), int(dims[0])
	dst = slices.Grow(dst, n)[:at+n]
	i := 1
	for k := at; k < len(dst); k++ {
		if i >= len(dims) || dims[i] >= 0x80 {
			return dst, false
		}
		ke := i + 1 + int(dims[i])
		if ke >= len(dims) || dims[ke] >= 0x80 {
			return dst, false
		}
		ve := ke + 1 + int(dims[ke])
		if ve > len(dims) {
			return dst, false
		}
		// Field by field: a Dim literal stored whole is built on the
		// stack and copied with wide loads that wait for its field
		// stores (package inplace): BenchmarkAppendDims 19.0 against
		// 11.1 ns.
		d := &dst[k]
		d.Key = dims[i+1 : ke : ke]
		d.Value = dims[ke+1 : ve : ve]
		i = ve
	}
	return dst, true
}

// PlainDims reports whether every key and value of a dimension section is
// plain JSON text (jsonstr.Plain: what a JSON writer may copy as it is).
// The shard works it out once a set, when it interns it. A section of
// one-byte count and lengths whose text is printable ASCII (nearly every
// one) is read in one loop (19 ns for three dimensions, against 34 through
// DimIter and jsonstr.Plain a string); any other is read exactly.
func PlainDims(dims []byte) bool {
	if plainShortDims(dims) {
		return true
	}
	it := ParsedKey{Dims: dims}.DimIter()
	for it.Len() > 0 {
		var k, v []byte
		if !it.NextInto(&k, &v) || !jsonstr.Plain(k) || !jsonstr.Plain(v) {
			return false
		}
	}
	return true
}

// plainShortDims reports whether dims is a section of one-byte count and
// lengths whose text is printable ASCII (so plain); false says nothing.
func plainShortDims(dims []byte) bool {
	if len(dims) == 0 || dims[0] >= 0x80 {
		return false
	}
	i := 1
	for i < len(dims) {
		n := int(dims[i])
		end := i + 1 + n
		if n >= 0x80 || end > len(dims) {
			return false
		}
		for _, c := range dims[i+1 : end] {
			if !jsonstr.PlainASCII(c) {
				return false
			}
		}
		i = end
	}
	return true
}

func readBytes(b []byte) (v, rest []byte, ok bool) {
	if len(b) > 0 && b[0] < 0x80 { // a length below 128, one byte: nearly every part
		n := int(b[0])
		if n >= len(b) {
			return nil, nil, false
		}
		return b[1 : 1+n], b[1+n:], true
	}
	n, w := uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, false
	}
	return b[w : w+int(n)], b[w+int(n):], true
}

// uvarint is binary.Uvarint restricted to minimal encodings (a multi-byte
// varint may not end in a zero byte), so that every key has exactly one
// encoding.
func uvarint(b []byte) (uint64, int) {
	n, w := binary.Uvarint(b)
	if w > 1 && b[w-1] == 0 {
		return 0, -1
	}
	return n, w
}

// seed is fixed for the life of the process so that every producer and every
// shard agree on a key's hash. Keys never leave the process as hashes.
var seed = maphash.MakeSeed()

// Hash returns the hash of a canonical key. It routes the sample to its
// shard and indexes the shard's series table.
func Hash(key []byte) uint64 { return maphash.Bytes(seed, key) }

// StableHash returns a hash of b that is the same in every process, on
// every machine and in every version of mad: for choices that several
// processes must agree on (a StatsD relay's destination for a series; every
// relay in front of the same aggregators must send a series to the same
// one). Changing it moves every relayed series once; it has a test of
// fixed values. Eight bytes a round (an xxHash64-like round, rotation and
// two multiplications), then murmur3's 64-bit finaliser.
func StableHash(b []byte) uint64 {
	const p1, p2 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F
	h := uint64(len(b)) * p1
	all := b
	for len(b) >= 8 {
		h = bits.RotateLeft64(h^binary.LittleEndian.Uint64(b)*p2, 31) * p1
		b = b[8:]
	}
	if r := len(b); r > 0 {
		// The tail: its bytes little-endian, zero above. Read as the high
		// bytes of the last eight when there are eight (no loop a byte).
		var tail uint64
		if len(all) >= 8 {
			tail = binary.LittleEndian.Uint64(all[len(all)-8:]) >> (64 - 8*r)
		} else {
			for i, c := range b {
				tail |= uint64(c) << (8 * i)
			}
		}
		h = bits.RotateLeft64(h^tail*p2, 31) * p1
	}
	return Mix64(h)
}

// Mix64 is murmur3's 64-bit finaliser: a bijection whose every output bit
// depends on every input bit.
func Mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	h ^= h >> 33
	return h
}

// Span locates a dimension inside a source buffer (a parsed line): its key
// is src[K0:K1] and its value src[V0:V1]. Parsers that keep their tags as
// spans avoid copying slice headers (and pointer writes) per tag.
type Span struct {
	K0, K1, V0, V1 uint32
}

// SortSpans sorts spans of src by key bytes without allocating, as SortDims
// does, and returns the index of the first duplicate key after sorting, or -1.
// keyAfter reports whether key a sorts after key b. Keys usually differ in
// their first byte, which it compares without a call.
func keyAfter(a, b []byte) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] > b[0]
	}
	return bytes.Compare(a, b) > 0
}

func SortSpans(src []byte, spans []Span) int {
	for i := 1; i < len(spans); i++ {
		d := spans[i]
		j := i
		for j > 0 && keyAfter(src[spans[j-1].K0:spans[j-1].K1], src[d.K0:d.K1]) {
			spans[j] = spans[j-1]
			j--
		}
		spans[j] = d
	}
	for i := 1; i < len(spans); i++ {
		if bytes.Equal(src[spans[i-1].K0:spans[i-1].K1], src[spans[i].K0:spans[i].K1]) {
			return i
		}
	}
	return -1
}

// AppendKeySpans is AppendKey for dimensions given as sorted, unique spans
// of src. It produces exactly the bytes AppendKey would.
func AppendKeySpans(dst []byte, kind Kind, name, src []byte, spans []Span) ([]byte, error) {
	start := len(dst)
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = binary.AppendUvarint(dst, uint64(len(spans)))
	for _, s := range spans {
		kl, vl := s.K1-s.K0, s.V1-s.V0
		if kl < 0x80 && vl < 0x80 && s.V0 == s.K1+1 {
			// One-byte lengths, key and value one byte apart in src (as
			// "k:v"): copy k:v at once and write vl over the separator.
			dst = append(dst, byte(kl))
			at := len(dst) + int(kl)
			dst = append(dst, src[s.K0:s.V1]...)
			dst[at] = byte(vl)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(kl))
		dst = append(dst, src[s.K0:s.K1]...)
		dst = binary.AppendUvarint(dst, uint64(vl))
		dst = append(dst, src[s.V0:s.V1]...)
	}
	if len(dst)-start > MaxKeyLen {
		return dst[:start], ErrKeyTooLong
	}
	return dst, nil
}

// SplitKey cuts a canonical key into the parts a shard interns: the name
// part (see NamePart) and the dimensions. It reads only the name's length;
// ok is false if that does not fit. It accepts no key (ParseKey does): it
// is for hints, such as a shard's prefetching ahead of a new series.
func SplitKey(key []byte) (namePart, dims []byte, ok bool) {
	if len(key) == 0 {
		return nil, nil, false
	}
	_, rest, ok := readBytes(key[1:])
	if !ok {
		return nil, nil, false
	}
	return key[1 : len(key)-len(rest)], rest, true
}

// NamePart returns the part of a well-formed canonical key (ParseKey
// accepted it) that encodes the name: its length prefix and its bytes. A
// key is key[0] (the kind), then NamePart, then p.Dims.
func (p ParsedKey) NamePart(key []byte) []byte { return key[1 : len(key)-len(p.Dims)] }

// KeyFromParts reads a key kept as its parts (see NamePart): the kind byte,
// the length-prefixed name and the dimensions. It checks only the name
// part; the parts come from a key ParseKey accepted.
func KeyFromParts(kind uint8, namePart, dims []byte) (ParsedKey, error) {
	name, ok := NameFromPart(namePart)
	if !ok || !Kind(kind).Valid() {
		return ParsedKey{}, ErrBadKey
	}
	return ParsedKey{Kind: Kind(kind), Name: name, Dims: dims}, nil
}

// NameFromPart returns the name a name part (see NamePart) holds; ok is
// false if the part is not exactly one length-prefixed name.
func NameFromPart(part []byte) (name []byte, ok bool) {
	name, rest, ok := readBytes(part)
	return name, ok && len(rest) == 0
}

// ShortNameFromPart is NameFromPart for a name shorter than 128 bytes (a
// one-byte length: nearly every name), small enough to be inlined (the
// emitter reads every row's name, falling back to NameFromPart); ok is
// false for any other part.
func ShortNameFromPart(part []byte) (name []byte, ok bool) {
	if n := len(part) - 1; n >= 0 && n < 0x80 && part[0] == byte(n) {
		return part[1:], true
	}
	return nil, false
}
