package shard

import (
	"bytes"
	"math"

	"github.com/gomad/mad/internal/hugepage"

	"github.com/gomad/mad/hist"
	"github.com/gomad/mad/internal/sample"
)

// The series index maps a canonical key to its series id (sid). It is an
// open-addressing table with linear probing of 8-byte entries:
//
//	 63        32 31         0
//	+------------+------------+
//	| hash >> 32 |  sid + 1   |      0 = empty
//	+------------+------------+
//
// A key's home slot is the top logCap bits of its hash, which are also the
// top bits of the stored tag, so growing and deleting (backward-shift
// deletion, no tombstones) never rehash a key. The tag filters probes; a tag
// match is confirmed by comparing the key bytes, so a hash collision can
// never merge two series.

const minIndexLog = 10

// A series record is stride = recSlots + 2·periods words (see
// hist.SeriesView for words 0 and 1, which snapshots read):
//
//	word 0  key ref
//	word 1  owner | spec << 32
//	word 2  last-row second | aliases << 32
//	word 3  last gauge value (float64 bits; NaN: none)
//	word 4… two row slots per period (see tables.go)
//
// The last-row second is an upper bound of when a row was last created for
// the series (seconds since the epoch, plus one; 0 marks a sid that is not a
// live series, free or in limbo); aliases counts the series whose owner this
// is. Everything a sample needs of its series is on one cache line for up to
// two periods (stride 8 words, 64 bytes).
const (
	recKey   = hist.SeriesKeyWord
	recOwner = hist.SeriesSpecWord
	recMeta  = 2
	recGauge = 3
	recSlots = 4

	aliasOne = 1 << 32
)

var noGauge = math.Float64bits(math.NaN())

func (s *Shard) rec(sid uint32) []uint64 {
	i := int(sid) * s.stride
	return s.recs[i : i+s.stride : i+s.stride]
}

func (s *Shard) keyOf(sid uint32) hist.KeyRef { return hist.KeyRef(s.recs[int(sid)*s.stride+recKey]) }
func (s *Shard) ownerOf(sid uint32) uint32    { return uint32(s.recs[int(sid)*s.stride+recOwner]) }

// setLastRow notes that a row was created for sid at time t (ms).
func (s *Shard) setLastRow(sid uint32, t int64) {
	w := &s.recs[int(sid)*s.stride+recMeta]
	*w = *w&^0xFFFFFFFF | uint64(lastRowSecond(t))
}

func lastRowSecond(t int64) uint32 { return uint32(max(t, 0)/1000 + 1) }

func (s *Shard) home(tag uint32) uint64 { return uint64(tag >> (32 - s.indexLog)) }

// lookup returns the sid of key, whose hash is h.
func (s *Shard) lookup(h uint64, key []byte) (uint32, bool) {
	tag := uint32(h >> 32)
	mask := uint64(len(s.index) - 1)
	view := s.keys.View()
	for i := s.home(tag); ; i = (i + 1) & mask {
		e := s.index[i]
		if e == 0 {
			return 0, false
		}
		if uint32(e>>32) == tag {
			sid := uint32(e) - 1
			if bytes.Equal(view.Bytes(s.keyOf(sid)), key) {
				return sid, true
			}
		}
	}
}

func (s *Shard) indexInsert(tag uint32, sid uint32) {
	if (s.nSeries+1)*4 > len(s.index)*3 {
		s.growIndex()
	}
	mask := uint64(len(s.index) - 1)
	i := s.home(tag)
	for s.index[i] != 0 {
		i = (i + 1) & mask
	}
	s.index[i] = uint64(tag)<<32 | uint64(sid+1)
}

func (s *Shard) growIndex() {
	old := s.index
	s.indexLog++
	s.index = hugepage.Make[uint64](1<<s.indexLog, 1<<s.indexLog)
	mask := uint64(len(s.index) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := s.home(uint32(e >> 32))
		for s.index[i] != 0 {
			i = (i + 1) & mask
		}
		s.index[i] = e
	}
}

// indexDelete removes sid, whose key hashes to h, with backward-shift
// deletion (Knuth, TAOCP vol. 3, 6.4 Algorithm R).
func (s *Shard) indexDelete(h uint64, sid uint32) {
	tag := uint32(h >> 32)
	mask := uint64(len(s.index) - 1)
	want := uint64(tag)<<32 | uint64(sid+1)
	i := s.home(tag)
	for s.index[i] != want {
		if s.index[i] == 0 {
			panic("BUG: shard: deleting a series that is not in the index")
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		e := s.index[j]
		if e == 0 {
			break
		}
		k := s.home(uint32(e >> 32))
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			s.index[i] = e
			i = j
		}
	}
	s.index[i] = 0
}

// createSeries adds the series of key (hash h) and returns its sid. ok is
// false, with the sample counted as refused, if the key is malformed or the
// series limit is reached.
func (s *Shard) createSeries(h uint64, key []byte, now int64) (uint32, bool) {
	pk, err := sample.ParseKey(key)
	if err != nil || !pk.Kind.Ingested() {
		s.stats.Refused[RefusedBadKey]++
		return 0, false
	}
	spec, explicit := s.resolveSpec(pk)
	if !explicit {
		return s.newSeries(h, key, spec, noOwner, now)
	}
	// A `statistics` override: MAD aggregates the metric by name whatever its
	// type, so every type of it shares the rows of one type-less series.
	ekey := append(s.keyBuf[:0], key...)
	ekey[0] = byte(sample.KindExplicit)
	s.keyBuf = ekey
	eh := sample.Hash(ekey)
	owner, ok := s.lookup(eh, ekey)
	if !ok {
		if owner, ok = s.newSeries(eh, ekey, spec, noOwner, now); !ok {
			return 0, false
		}
	}
	sid, ok := s.newSeries(h, key, spec, owner, now)
	if ok {
		s.recs[int(owner)*s.stride+recMeta] += aliasOne
	}
	return sid, ok
}

const noOwner = ^uint32(0)

func (s *Shard) newSeries(h uint64, key []byte, spec uint16, owner uint32, now int64) (uint32, bool) {
	if s.nSeries >= s.cfg.MaxSeries {
		s.stats.Refused[RefusedSeriesLimit]++
		return 0, false
	}
	var sid uint32
	if n := len(s.freeSids); n > 0 {
		sid = s.freeSids[n-1]
		s.freeSids = s.freeSids[:n-1]
	} else {
		sid = uint32(s.nRecs)
		s.nRecs++
		if need := s.nRecs * s.stride; need > len(s.recs) {
			s.recs = hugepage.Grow(s.recs, need-len(s.recs))
			s.recs = s.recs[:cap(s.recs)]
		}
	}
	if owner == noOwner {
		owner = sid
	}
	r := s.rec(sid)
	clear(r[recMeta:])
	r[recKey] = uint64(s.keys.Alloc(key))
	r[recOwner] = hist.PackOwnerSpec(owner, spec)
	r[recMeta] = uint64(lastRowSecond(now))
	r[recGauge] = noGauge
	s.indexInsert(uint32(h>>32), sid)
	s.nSeries++
	s.stats.SeriesCreated++
	return sid, true
}

// resolveSpec returns the statistics specification of a new series: an
// override whose pattern matches the whole name (first in config order), or
// the per-type set.
func (s *Shard) resolveSpec(pk sample.ParsedKey) (spec uint16, explicit bool) {
	switch pk.Kind {
	case sample.KindNone:
		return specNone, false
	case sample.KindSet:
		// Sets are a StatsD notion MAD's statistics configuration does
		// not know; they always count distinct members.
		return specSet, false
	}
	if len(s.overrides) > 0 {
		o, ok := s.nameCache[string(pk.Name)]
		if !ok {
			o = -1
			for i, re := range s.overrides {
				if re.Match(pk.Name) {
					o = int32(i)
					break
				}
			}
			if len(s.nameCache) >= nameCacheLimit {
				clear(s.nameCache)
			}
			s.nameCache[string(pk.Name)] = o
		}
		if o >= 0 {
			return specFirstOverride + uint16(o), true
		}
	}
	switch pk.Kind {
	case sample.KindCounter:
		return specCounter, false
	case sample.KindGauge:
		return specGauge, false
	}
	return specTimer, false
}

// Specification indexes into Shard.sets.
const (
	specNone uint16 = iota
	specCounter
	specGauge
	specTimer
	specSet
	specFirstOverride
)

// nameCacheLimit bounds the override cache (MAD's is unbounded): names are
// re-matched after it is cleared.
const nameCacheLimit = 1 << 16

// reapStep examines up to n series for idleness and forgets those that have
// had no new row for IdleTimeout and have no row in an open table: a series
// gets rows only when a row is created, so if its last row predates every
// open table, none of its rows is open. Aliases of an override series are
// forgotten before their owner.
func (s *Shard) reapStep(now int64, n int) {
	if s.nRecs == 0 {
		return
	}
	idle := now - s.cfg.IdleTimeout.Milliseconds()
	oldestOpen := s.oldestOpenCreated()
	for ; n > 0; n-- {
		if s.reapCursor >= s.nRecs {
			s.reapCursor = 0
		}
		sid := uint32(s.reapCursor)
		s.reapCursor++
		r := s.rec(sid)
		sec := uint32(r[recMeta])
		// last bounds from above when the series last got a row (ms).
		last := int64(sec) * 1000
		if sec == 0 || last >= idle || last >= oldestOpen || r[recMeta]>>32 != 0 {
			continue
		}
		s.indexDelete(sample.Hash(s.keys.Bytes(s.keyOf(sid))), sid)
		if owner := s.ownerOf(sid); owner != sid {
			s.recs[int(owner)*s.stride+recMeta] -= aliasOne
		}
		r[recMeta] = 0 // not a live series
		s.nSeries--
		s.stats.SeriesReaped++
		// The sid and key may still be referenced by sealed tables that
		// the control plane holds: reuse them only once every table that
		// exists now has been released.
		s.limbo = append(s.limbo, limboEntry{sid: sid, seq: s.tableSeq})
	}
}

type limboEntry struct {
	sid uint32
	seq uint64 // tables with Seq < seq may reference sid
}

// freeLimbo recycles the sids whose tables have all been released.
func (s *Shard) freeLimbo() {
	if len(s.limbo) == 0 {
		return
	}
	oldest := s.oldestAliveSeq()
	n := 0
	for n < len(s.limbo) && s.limbo[n].seq <= oldest {
		sid := s.limbo[n].sid
		s.keys.Free(s.keyOf(sid))
		s.freeSids = append(s.freeSids, sid)
		n++
	}
	s.limbo = s.limbo[:copy(s.limbo, s.limbo[n:])]
}
