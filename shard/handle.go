package shard

import (
	"sync/atomic"

	"github.com/gomad/mad/internal/sample"
)

// Handles let a producer name a series it has seen by the series' sid
// instead of its key. A sample that opens or finds a series may ask for its
// handle (sample.FlagAsk); the shard answers in the batch (sample.Ask),
// which goes back to the producer, and the producer's cache (package
// sidcache) sends the series' later samples with the handle
// (sample.FlagHandle): no key built, hashed or copied, no lookup, no key
// comparison. A handle is the sid and the generation of its record
// (record.go) when it was given, so the shard tells by the record alone
// whether the handle's series is live (the generation is the handle's), or
// reaped but still in its record (one more), or gone (more).
//
// A handle must never reach a sid freed since: the sid may have been
// reused by another series, and the generation, 24 bits, would tell them
// apart only until it wrapped. Epochs rule that out. The shard has an
// epoch (Epoch), and a handle is good in batches of the epoch it was given
// in only: a producer stamps every batch with the shard's epoch as it read
// it when the batch was started (sample.Batch.Epoch), and sends a handle
// only in a batch of the handle's epoch. A series reaped in epoch E (put in
// limbo) keeps its record, key and sid until every attached input that was
// ever given a handle has had a batch of a later epoch applied: from a
// producer's batches, which come in order on its ring and never go down in
// epoch, no handle of E or earlier can come after that. The shard moves to
// the next epoch at most every epochEvery, when series were reaped in the
// current one and some input holds handles; a producer whose batches have
// stopped sends an empty one of the new epoch (ingest.Producer.Trim), so
// an idle producer does not hold the sids back.
//
// A handle of a reaped series (its record in limbo) resolves to the
// series of the same key, found or made again as for a keyed sample, in
// arrival order: reaping a series never loses or reorders its samples.
//
// A sample applied without an input (Apply called directly: tests,
// benchmarks, Detach before Run) may ask and may carry handles; no reaping
// waits for such a caller, which must not keep handles across a reap.

// handleOf returns the handle of series sid in generation gen. The top bit
// is set, so no handle is 0.
func handleOf(sid, gen uint32) uint64 { return 1<<63 | uint64(gen&seriesGens)<<32 | uint64(sid) }

// epochEvery is the least time between two epochs (ms): how long after a
// reap the sids wait, at least, and how often a producer's handles are
// given again for the series it sends.
const epochEvery = 2000

// Epoch is the shard's epoch, for producers to read (see above).
func (s *Shard) Epoch() *atomic.Uint32 { return &s.epoch }

// resolve returns the sid of the series handle h names. live is false when
// the handle's series had been reaped, and sid is the series of the same
// key, found or made again. ok is false, the sample counted as refused, if
// there is none: h was never given (RefusedBadHandle), or the series could
// not be made again (the series limit, the key pool).
func (s *Shard) resolve(h uint64, now int64) (sid uint32, live, ok bool) {
	sid = uint32(h)
	if h>>63 == 0 || int(sid) >= s.nRecs {
		s.stats.Refused[RefusedBadHandle]++
		return 0, false, false
	}
	meta := metaWord(s.recs[int(sid)*s.stride+recMeta])
	switch (meta.gen() - uint32(h>>32)) & seriesGens {
	case 0:
		if meta.lastRow() != 0 {
			return sid, true, true
		}
	case 1:
		if s.freeSids.has(sid) {
			break // a free record holds no key (it may read as zero)
		}
		// Reaped, in limbo: the record still holds the key.
		s.keyBuf = s.appendKey(s.keyBuf[:0], sid)
		key := s.keyBuf
		hash := sample.Hash(key)
		if sid, ok = s.lookup(hash, key); !ok {
			// createSeries may use s.keyBuf (a statistics override).
			key = append(s.handleKey[:0], key...)
			s.handleKey = key
			sid, ok = s.createSeries(hash, key, now)
		}
		return sid, false, ok
	}
	s.stats.Refused[RefusedBadHandle]++
	return 0, false, false
}

// answer answers the ask of smp, a sample of series sid, with the series'
// handle in the current epoch.
func (s *Shard) answer(b *sample.Batch, smp *sample.Sample, sid uint32) {
	if uint64(smp.Agg) >= uint64(len(b.Asks)) {
		return // not an ask of this batch: nothing to answer
	}
	a := &b.Asks[smp.Agg]
	a.Handle = handleOf(sid, metaWord(s.recs[int(sid)*s.stride+recMeta]).gen())
	a.Epoch = s.epoch.Load()
	if s.src != nil {
		s.src.holds = true
	}
}

// handleFloor returns the least epoch a handle may still have in a batch
// to come: every input's last batch's epoch, for the inputs that were
// given handles. With none, no handle can come (the maximum).
func (s *Shard) handleFloor() uint32 {
	floor := ^uint32(0)
	for _, x := range *s.inputs.Load() {
		if x.holds && !x.acked.Load() {
			floor = min(floor, x.stamp)
		}
	}
	return floor
}

// nextEpoch moves to the next epoch if series were reaped in this one,
// some input holds handles and the last move was epochEvery ago.
func (s *Shard) nextEpoch(now int64) {
	e := s.epoch.Load()
	if len(s.limbo) == 0 || s.limbo[len(s.limbo)-1].epoch != e || now-s.epochAt < epochEvery {
		return
	}
	if s.handleFloor() == ^uint32(0) {
		return // nobody holds a handle: the limbo waits for the tables only
	}
	s.epoch.Store(e + 1)
	s.epochAt = now
}
