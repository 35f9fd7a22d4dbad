// Package sidcachetest stands in, in tests, for the shards behind a decoder
// that sends series by their handles (package sidcache): it answers every
// ask with a handle of its own, good in epoch 1, and reads samples sent by
// handle back to their series keys.
package sidcachetest

import (
	"bytes"
	"fmt"

	"github.com/gomad/mad/internal/sample"
	"github.com/gomad/mad/internal/sidcache"
)

// Epoch is the epoch of the handles Shards gives: a decoder's batches must
// be of it (sample.Batch.Epoch) for their samples to go by handle.
const Epoch = 1

// Shards is the stand-in. Its cache is the decoder's (the producer's, in
// the daemon).
type Shards struct {
	Cache *sidcache.Cache
	keys  map[uint64][]byte // by handle
	// Asks counts the asks the last Read answered.
	Asks int
}

// New returns a stand-in with an empty cache.
func New() *Shards { return &Shards{Cache: sidcache.New(), keys: map[uint64][]byte{}} }

// Read applies b as a shard would: it returns the key of each of b's
// samples (by its handle for one sent by handle) and how many went by
// handle, answers b's asks, and takes the answers into the cache as the
// producer would. An error names a handle never given or a key whose hash
// is not its sample's.
func (s *Shards) Read(b *sample.Batch) (keys [][]byte, handles int, err error) {
	s.Asks = 0
	for i := range b.Samples {
		smp := &b.Samples[i]
		var key []byte
		if smp.Flags&sample.FlagHandle != 0 {
			if key = s.keys[smp.Hash]; key == nil || b.Epoch != Epoch {
				return nil, 0, fmt.Errorf("handle %x in a batch of epoch %d: never given", smp.Hash, b.Epoch)
			}
			handles++
		} else {
			key = b.Key(smp)
			if sample.Hash(key) != smp.Hash {
				return nil, 0, fmt.Errorf("key %q with hash %x", key, smp.Hash)
			}
			if smp.Flags&sample.FlagAsk != 0 {
				h := 1<<63 | uint64(len(s.keys)+1)
				s.keys[h] = bytes.Clone(key)
				b.Asks[smp.Agg].Handle, b.Asks[smp.Agg].Epoch = h, Epoch
				s.Asks++
			}
		}
		keys = append(keys, key)
	}
	s.Cache.Answer(b.Asks)
	return keys, handles, nil
}

// Bound clears the cache and forgets the handles given when more than n
// were: a long fuzz run's memory stays bounded.
func (s *Shards) Bound(n int) {
	if len(s.keys) > n {
		s.Cache.Clear()
		clear(s.keys)
	}
}
