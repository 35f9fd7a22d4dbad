package shard

import (
	"bytes"

	"github.com/gomad/mad/internal/hugepage"
	"github.com/gomad/mad/internal/jsonstr"
	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/vmem"
)

// The series index (a tagIndex) maps a canonical key's hash to its series
// id (sid). A tag match is confirmed by comparing the key with the series'
// key parts, so a hash collision can never merge two series. The series
// records are laid out in record.go.

func (s *Shard) rec(sid uint32) []uint64 {
	i := int(sid) * s.stride
	return s.recs[i : i+s.stride : i+s.stride]
}

func (s *Shard) ownerOf(sid uint32) uint32 {
	return ownerWord(s.recs[int(sid)*s.stride+recOwner]).owner()
}

// hasKey reports whether series sid's key is key: its kind byte, then its
// name part, then its dimensions. The name part is length-prefixed, so a
// matching prefix of that length is the whole name.
func (s *Shard) hasKey(sid uint32, key []byte) bool {
	r := s.recs[int(sid)*s.stride:]
	if len(key) == 0 || key[0] != ownerWord(r[recOwner]).kind() {
		return false
	}
	k := keyWord(r[recKey])
	name := s.keys.bytes(k.name())
	return len(key) > len(name) && bytes.Equal(key[1:1+len(name)], name) &&
		bytes.Equal(key[1+len(name):], s.keys.bytes(k.dims()))
}

// appendKey appends series sid's canonical key to dst.
func (s *Shard) appendKey(dst []byte, sid uint32) []byte {
	r := s.rec(sid)
	k := keyWord(r[recKey])
	dst = append(dst, ownerWord(r[recOwner]).kind())
	dst = append(dst, s.keys.bytes(k.name())...)
	return append(dst, s.keys.bytes(k.dims())...)
}

// growRecs returns an array for the records of stride words with room for
// need words, holding recs (the records in use): recs itself if it has the
// room, else a new array, recs copied in. Small arrays are on the heap
// (growing as hugepage.Grow does); from vmem.MinBytes the records go to a
// vmem reservation for as many series as the shard may have (maxSeries,
// its Config.MaxSeries), which does not move: its pages cost memory as
// series are created, and spare room costs address space only. (Under
// vm.overcommit_memory=2 the whole reservation is charged at once; a
// refused one leaves the records on the heap.) Should more be needed (a
// reload raised the limit, or reaped series wait in limbo), a bigger
// reservation takes over, the records copied once.
// Snapshots read the records through their seriesView, which keeps the
// array it captured (and its mapping, keep) alive, so an array the shard
// leaves stays valid for them.
func growRecs(recs []uint64, keep *vmem.Keep, stride, need, maxSeries int) ([]uint64, *vmem.Keep) {
	if need <= cap(recs) {
		return recs[:cap(recs)], keep
	}
	if uintptr(need)*8 >= vmem.MinBytes {
		n := max(need+need/4, (maxSeries+1)*stride)
		if r, k, ok := vmem.Reserve[uint64](n); ok {
			copy(r, recs)
			return r, k
		}
	}
	g := hugepage.Grow(recs, need-len(recs))
	return g[:cap(g)], nil
}

// setLastRow notes that a row was created for sid at time t (ms) in a
// table created at created. The last-row time never goes back, and is at
// least the creation of every table the series has a row in: reapStep
// forgets a series only when its last row is older than every open table,
// which must hold even after the clock stepped back (a table of before the
// step, created ahead of the clock, may still be open and get rows).
func (s *Shard) setLastRow(sid uint32, t, created int64) {
	w := &s.recs[int(sid)*s.stride+recMeta]
	m := metaWord(*w)
	*w = uint64(m.withLastRow(max(m.lastRow(), lastRowSecond(max(t, created)))))
}

func lastRowSecond(t int64) uint32 { return uint32(max(t, 0)/1000 + 1) }

// lookup returns the sid of key, whose hash is h.
func (s *Shard) lookup(h uint64, key []byte) (uint32, bool) {
	tag := tagOf(h)
	for i := s.index.home(tag); ; i++ {
		e := s.index.entries[i]
		if e == 0 {
			return 0, false
		}
		if e.tag() == tag {
			if sid := e.value(); s.hasKey(sid, key) {
				return sid, true
			}
		}
	}
}

// createSeries adds the series of key (hash h) and returns its sid. ok is
// false, with the sample counted as refused, if the key is malformed or the
// series limit is reached.
func (s *Shard) createSeries(h uint64, key []byte, now int64) (uint32, bool) {
	pk, err := sample.ParseKey(key)
	// The index files the series under h, and reaping deletes it under the
	// key's own hash: a sample whose hash is not its key's would make a
	// series the index cannot find again (one hash a new series).
	if err != nil || !pk.Kind.Ingested() || sample.Hash(key) != h {
		s.stats.Refused[RefusedBadKey]++
		return 0, false
	}
	spec, explicit := s.resolveSpec(pk)
	if !explicit {
		return s.newSeries(h, key, pk, spec, noOwner, now)
	}
	// A `statistics` override: MAD aggregates the metric by name whatever its
	// type, so every type of it shares the rows of one type-less series.
	ekey := append(s.keyBuf[:0], key...)
	ekey[0] = byte(sample.KindExplicit)
	s.keyBuf = ekey
	eh := sample.Hash(ekey)
	owner, ok := s.lookup(eh, ekey)
	if !ok {
		epk := pk
		epk.Kind = sample.KindExplicit
		if owner, ok = s.newSeries(eh, ekey, epk, spec, noOwner, now); !ok {
			return 0, false
		}
	}
	sid, ok := s.newSeries(h, key, pk, spec, owner, now)
	if ok {
		if metaWord(s.recs[int(owner)*s.stride+recMeta]).aliases() == maxAliases {
			panic("BUG: shard: more aliases of a series than kinds")
		}
		s.recs[int(owner)*s.stride+recMeta] += aliasOne
	}
	return sid, ok
}

const noOwner = ^uint32(0)

// namePlain and sample.PlainDims tell the pool whether a name part's name,
// or every key and value of a dimension section, is plain JSON text
// (stringPool.acquire). The same bytes never read as both kinds of part
// with different answers: a name part of n bytes after its length would be
// a dimension section of n pairs, at least 2n bytes, so only the empty name
// and the empty section (both plain) share their bytes.
func namePlain(part []byte) bool {
	pk, err := sample.KeyFromParts(uint8(sample.KindNone), part, nil)
	return err == nil && jsonstr.Plain(pk.Name)
}

func (s *Shard) newSeries(h uint64, key []byte, pk sample.ParsedKey, spec uint16, owner uint32, now int64) (uint32, bool) {
	if s.nSeries >= s.cfg.MaxSeries {
		s.stats.Refused[RefusedSeriesLimit]++
		return 0, false
	}
	name, ok := s.keys.acquire(pk.NamePart(key), namePlain)
	if !ok {
		s.stats.Refused[RefusedKeySpace]++
		return 0, false
	}
	dims, ok := s.keys.acquire(pk.Dims, sample.PlainDims)
	if !ok {
		s.keys.release(name)
		s.stats.Refused[RefusedKeySpace]++
		return 0, false
	}
	sid, ok := s.freeSids.take()
	if !ok {
		sid = uint32(s.nRecs)
		s.nRecs++
		if need := s.nRecs * s.stride; need > len(s.recs) {
			s.recs, s.recsKeep = growRecs(s.recs[:(s.nRecs-1)*s.stride], s.recsKeep, s.stride, need, s.cfg.MaxSeries)
		}
	}
	if owner == noOwner {
		owner = sid
	}
	r := s.rec(sid)
	old := metaWord(r[recMeta])
	if old == 0 {
		// A record never used, or given back (trimRecs) or left out of a
		// restride while free: its generation is lost. It starts past
		// every generation a freed sid has had, so that a handle of an
		// earlier life of this sid is told from the new series, as it
		// would be by the generation the record held.
		old = metaWord(uint64(s.genHigh) << genShift)
	}
	clear(r[recMeta:])
	r[recKey] = uint64(packKey(name, dims))
	r[recOwner] = uint64(packOwner(owner, spec, uint8(pk.Kind)))
	r[recMeta] = uint64(packMeta(lastRowSecond(now), old))
	r[recGauge] = noGauge
	s.index.insert(tagOf(h), sid)
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
	// A step visits a record once at most (it went round a small shard's
	// records thousands of times). An override's owner whose alias comes
	// after it is reaped at the next step, 100 ms later, once the alias is.
	n = min(n, s.nRecs)
	for ; n > 0; n-- {
		if s.reapCursor >= s.nRecs {
			s.reapCursor = 0
		}
		sid := uint32(s.reapCursor)
		s.reapCursor++
		if s.freeSids.has(sid) {
			continue // its record may have been given back: not read
		}
		r := s.rec(sid)
		meta := metaWord(r[recMeta])
		sec := meta.lastRow()
		// last bounds from above when the series last got a row (ms).
		last := int64(sec) * 1000
		if sec == 0 || last >= idle || last >= oldestOpen || meta.aliases() != 0 {
			continue
		}
		s.keyBuf = s.appendKey(s.keyBuf[:0], sid)
		s.index.delete(tagOf(sample.Hash(s.keyBuf)), sid)
		if owner := s.ownerOf(sid); owner != sid {
			s.recs[int(owner)*s.stride+recMeta] -= aliasOne
		}
		r[recMeta] = uint64(meta.reaped()) // not a live series
		s.nSeries--
		s.stats.SeriesReaped++
		// The sid and key may still be referenced by sealed tables that
		// the control plane holds: reuse them only once every table that
		// exists now has been released.
		s.limbo = append(s.limbo, limboEntry{sid: sid, seq: s.tableSeq, epoch: s.epoch.Load()})
	}
}

type limboEntry struct {
	sid   uint32
	epoch uint32 // the epoch it was reaped in: handles of it may come in batches up to that epoch
	seq   uint64 // tables with Seq < seq may reference sid
}

// freeLimbo recycles the sids whose tables have all been released and
// whose handles can no longer come (handleFloor, handle.go).
func (s *Shard) freeLimbo() {
	if len(s.limbo) == 0 {
		return
	}
	oldest := s.oldestAliveSeq()
	floor := s.handleFloor()
	n := 0
	for n < len(s.limbo) && s.limbo[n].seq <= oldest && s.limbo[n].epoch < floor {
		sid := s.limbo[n].sid
		k := keyWord(s.recs[int(sid)*s.stride+recKey])
		s.keys.release(k.name())
		s.keys.release(k.dims())
		s.recs[int(sid)*s.stride+recMeta] += genOne // no handle of it holds
		s.genHigh = max(s.genHigh, metaWord(s.recs[int(sid)*s.stride+recMeta]).gen())
		s.freeSids.add(sid)
		n++
	}
	if n > 0 {
		s.trimRecs(s.limbo[:n])
	}
	s.limbo = s.limbo[:copy(s.limbo, s.limbo[n:])]
}

// trimRecs gives back the memory of the records no series holds any more,
// freed being the sids just freed: the free sids at the top (nRecs comes
// down to the highest sid in use), and each huge page of records (the unit
// vmem.Release gives back) among freed's whose sids are all free. No
// snapshot reads a record given back (its tables were all released before
// the sid was freed), nor does the reaper (it skips free sids). A record
// given back reads as zero: a new series on it starts at genHigh, past the
// generation of every handle its sid was ever given (newSeries), so that a
// handle of it stays refused as if the record had kept its generation
// (though the epochs already keep such a handle from coming, handle.go).
func (s *Shard) trimRecs(freed []limboEntry) {
	s.recsHigh = max(s.recsHigh, s.nRecs)
	s.nRecs = s.freeSids.trim(s.nRecs)
	if s.recsKeep == nil {
		return // on the heap: small (under vmem.MinBytes)
	}
	if s.recsHigh > s.nRecs {
		// Up to the end of the huge page of the last record written: past
		// it, nothing was.
		_, end := vmem.Extent(s.recs, s.recsHigh*s.stride-1)
		s.recsGiven += vmem.Release(s.recs, s.recsKeep, s.nRecs*s.stride, end)
		s.recsHigh = s.nRecs
	}
	last := -1 // the first word of the last huge page looked at
	for _, l := range freed {
		if int(l.sid) >= s.nRecs {
			continue
		}
		// The huge pages of the record's first and last words: a
		// record of 6 or 10 words may straddle two.
		for _, w := range [2]int{int(l.sid) * s.stride, int(l.sid)*s.stride + s.stride - 1} {
			lo, hi := vmem.Extent(s.recs, w)
			if lo == last {
				continue
			}
			last = lo
			// The sids whose records overlap the huge page: it is given
			// back only if no record on it is in use.
			a, b := lo/s.stride, (hi+s.stride-1)/s.stride
			if s.freeSids.allFree(a, min(b, s.nRecs)) {
				s.recsGiven += vmem.Release(s.recs, s.recsKeep, a*s.stride, min(len(s.recs), b*s.stride))
			}
		}
	}
}
