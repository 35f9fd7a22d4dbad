package clientpb

import "github.com/gomad/mad/internal/sample"

// Sharing keys across records. The records of a body repeat their series
// (one client, the same metrics under the same dimensions), and "samples of
// the same series in one batch may share the KeyRef": once a cached metric's
// key is in a batch, later records of the body route to the same batch and
// reuse its KeyRef instead of copying the key again.
//
// A KeyRef is only valid while the batch is not reset, and Route may
// publish a batch (the shard then resets it) and later hand the same
// pointer back, empty, as the fresh batch of a shard. During a call only
// this decoder writes to the batches Route returns, so the decoder tracks,
// per batch, the length of its Keys after its own last write; a different
// length when Route returns the batch again means it was reset, which starts
// a new epoch of the batch and invalidates every KeyRef taken in an older
// one. Every Route call and every key write goes through routeTo and putKey.

// maxBatches bounds the batches tracked in one call; past it tracking starts
// over (and shared keys are written again).
const maxBatches = 64

type batchState struct {
	b     *sample.Batch
	keys  int // len(b.Keys) after the decoder's last write or look
	epoch uint32
}

// routeTo routes h and returns the batch and its index in d.batches.
func (d *Decoder) routeTo(h uint64) (*sample.Batch, int) {
	b := d.route(h)
	for i := range d.batches {
		bs := &d.batches[i]
		if bs.b == b {
			if len(b.Keys) != bs.keys {
				bs.epoch++
				bs.keys = len(b.Keys)
			}
			return b, i
		}
	}
	if len(d.batches) == maxBatches {
		clear(d.batches)
		d.batches = d.batches[:0]
		d.gen++
	}
	d.batches = append(d.batches, batchState{b: b, keys: len(b.Keys)})
	return b, len(d.batches) - 1
}

// putKey appends a key to batch bi.
func (d *Decoder) putKey(b *sample.Batch, bi int, key []byte, h uint64) sample.KeyRef {
	k := b.PutKeyBytes(key, h)
	d.batches[bi].keys = len(b.Keys)
	return k
}

// sharedKey returns a KeyRef for the p-th metric key of the record in batch
// bi: the one taken by an earlier record if it is still valid.
func (d *Decoder) sharedKey(b *sample.Batch, bi int, p int32, key []byte, h uint64) sample.KeyRef {
	r := &d.refs[p]
	if !r.cached {
		return d.putKey(b, bi, key, h)
	}
	// r holds a copy of the slot metric's place, taken by metricKey. A
	// metric twice in one record (merged, so routed once) needs no care.
	if r.gen == d.gen && int(r.bi) == bi && r.epoch == d.batches[bi].epoch {
		return r.kr
	}
	k := d.putKey(b, bi, key, h)
	sk := &d.slot.metrics[r.m]
	sk.gen, sk.bi, sk.epoch, sk.ref = d.gen, int32(bi), d.batches[bi].epoch, k
	return k
}

// endBatches forgets the caller's batches at the end of a call.
func (d *Decoder) endBatches() {
	clear(d.batches)
	d.batches = d.batches[:0]
}
