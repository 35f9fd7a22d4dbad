package shard

import (
	"math"
	"runtime"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/prefetch"
	"github.com/gomad/mad/internal/vmem"
)

// A shard keeps one record per series in a flat []uint64 (Shard.recs),
// stride = recSlots + 2·periods words per series id (sid):
//
//	word 0  keyWord    name id | dimensions id << 32 (in Shard.keys)
//	word 1  ownerWord  owner | spec << 32 | kind << 48
//	word 2  metaWord   last-row second | aliases << 32 | generation << 40
//	word 3  last gauge value (float64 bits; NaN: none)
//	word 4… two rowSlots per period (see tables.go)
//
// The series key is kind | name | dimensions (the canonical key of package
// sample, cut into its parts). The owner is the series whose rows
// accumulate this series' samples: the series itself, or, for a metric
// matched by a pipeline `statistics` override, the type-less series that MAD
// aggregates such metrics in. spec indexes Shard.sets and Shard.needs.
//
// The last-row second is an upper bound of when a row was last created for
// the series (seconds since the epoch, plus one; 0 marks a sid that is not a
// live series, free or in limbo); aliases counts the series whose owner this
// is. Everything a sample needs of its series is on one cache line for up to
// two periods (stride 8 words, 64 bytes).
//
// The generation (24 bits) counts what happened to the sid: it goes up by
// one when its series is reaped and by one more when the sid is freed, so
// that a handle (a sid and the generation it was given in, see handle.go)
// tells a live series from a reaped one whose key the record still holds
// and from a sid freed, or reused, since. A free sid's record may be given
// back (trimRecs) or left out of a restride, and read as zero, its
// generation lost: a new series on it starts at the highest generation a
// freed sid has had (Shard.genHigh), which is past every handle the sid
// was given.
//
// Words 0 and 1 are what snapshots read (seriesView), and are written once,
// when the series is created.
const (
	recKey   = 0
	recOwner = 1
	recMeta  = 2
	recGauge = 3
	recSlots = 4
)

var noGauge = math.Float64bits(math.NaN())

// keyWord is word 0 of a series record: the pool ids of its key parts.
type keyWord uint64

func packKey(name, dims uint32) keyWord { return keyWord(uint64(name) | uint64(dims)<<32) }

func (w keyWord) name() uint32 { return uint32(w) }
func (w keyWord) dims() uint32 { return uint32(w >> 32) }

// ownerWord is word 1 of a series record: its owner, statistics
// specification and kind.
type ownerWord uint64

func packOwner(owner uint32, spec uint16, kind uint8) ownerWord {
	return ownerWord(uint64(owner) | uint64(spec)<<32 | uint64(kind)<<48)
}

func (w ownerWord) owner() uint32 { return uint32(w) }
func (w ownerWord) spec() uint16  { return uint16(w >> 32) }
func (w ownerWord) kind() uint8   { return uint8(w >> 48) }

// metaWord is word 2 of a series record: its last-row second, its alias
// count and its generation. Adding aliasOne to the word counts one alias
// more (a series has at most one alias a kind: maxAliases), adding genOne
// moves the generation on (wrapping around in its 24 bits).
type metaWord uint64

const (
	aliasOne   = 1 << 32
	maxAliases = 0xFF
	genShift   = 40
	genOne     = 1 << genShift
	seriesGens = 1<<24 - 1 // the generations, a mask
)

// packMeta returns the word of a live series whose record held old.
func packMeta(lastRow uint32, old metaWord) metaWord {
	return metaWord(lastRow) | old&^(genOne-1)
}

func (w metaWord) lastRow() uint32 { return uint32(w) }
func (w metaWord) aliases() uint32 { return uint32(w>>32) & maxAliases }
func (w metaWord) gen() uint32     { return uint32(w >> genShift) }

// reaped returns the word of w's series reaped: not live, no alias, the
// next generation.
func (w metaWord) reaped() metaWord { return w&^(genOne-1) + genOne }

// withLastRow returns w with its last-row second set to sec.
func (w metaWord) withLastRow(sec uint32) metaWord { return w&^0xFFFFFFFF | metaWord(sec) }

// seriesView is what a snapshot reads about the series of its rows
// (hist.SeriesKeys), captured from the shard when the table was sealed. The
// shard only appends records, never rewrites words 0 and 1 of a live
// series, and does not reuse a sid or release its key parts while a snapshot
// that may reference it is outstanding, so the captured prefix stays valid
// until the snapshot is released.
type seriesView struct {
	pool   poolView
	recs   []uint64
	keep   *vmem.Keep // recs' mapping, if it has one: held as long as the view
	stride int
	sets   []hist.Set // by spec
}

// Key returns the parts of series sid's key: its kind byte, its name as the
// canonical key holds it (length-prefixed) and its dimensions. The slices
// alias the shard's pool.
func (v *seriesView) Key(sid uint32) (kind uint8, name, dims []byte) {
	w := v.recs[int(sid)*v.stride:]
	k, o := keyWord(w[recKey]), ownerWord(w[recOwner])
	runtime.KeepAlive(v.keep) // the records are read
	return o.kind(), v.pool.bytes(k.name()), v.pool.bytes(k.dims())
}

// Dims returns the dimensions of series sid's key, as Key does, and
// whether no other series of the snapshot has them (poolView.readDims).
func (v *seriesView) Dims(sid uint32) (dims []byte, alone bool) {
	k := keyWord(v.recs[int(sid)*v.stride+recKey])
	runtime.KeepAlive(v.keep) // the records are read
	return v.pool.readDims(k.dims())
}

// Plain reports whether series sid's name, and every key and value of its
// dimensions, are plain JSON text (the pool's flags).
func (v *seriesView) Plain(sid uint32) (name, dims bool) {
	k := keyWord(v.recs[int(sid)*v.stride+recKey])
	runtime.KeepAlive(v.keep) // the records are read
	return v.pool.plain(k.name()), v.pool.plain(k.dims())
}

// Series reads what Key, Plain and Specified return for series sid, the
// record and each of its key's strings once.
func (v *seriesView) Series(sid uint32, s *hist.Series) {
	w := v.recs[int(sid)*v.stride:]
	k, o := keyWord(w[recKey]), ownerWord(w[recOwner])
	runtime.KeepAlive(v.keep) // the records are read
	s.Kind, s.Specified = o.kind(), v.sets[o.spec()]
	s.Name, s.NamePlain = v.pool.read(k.name())
	s.Dims, s.DimsPlain = v.pool.read(k.dims())
}

// Hint hints series sid's record (keys false), or the pool slots of its
// key's name and dimensions (keys true: the record is read).
func (v *seriesView) Hint(sid uint32, keys bool) {
	at := int(sid) * v.stride
	if !keys {
		prefetch.Line(addr(&v.recs[at]))
		return
	}
	k := keyWord(v.recs[at+recKey])
	runtime.KeepAlive(v.keep) // the records are read
	// A slot's first 64 bytes: the whole of most keys' dimensions
	// (header and text), over at most two lines.
	dims := v.pool.slot(k.dims())
	prefetch.Lines2(dims, dims+63)
	prefetch.Line(v.pool.slot(k.name()))
}

// Specified returns the statistics specified for series sid.
func (v *seriesView) Specified(sid uint32) hist.Set {
	o := ownerWord(v.recs[int(sid)*v.stride+recOwner])
	runtime.KeepAlive(v.keep)
	return v.sets[o.spec()]
}
