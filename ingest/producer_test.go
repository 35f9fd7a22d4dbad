package ingest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomad/mad/internal/sample"
)

// addOne routes one sample of a one-byte key and the given hash through p.
func addOne(p *Producer, hash uint64) {
	b := p.Route(hash)
	k := sample.KeyRef{Off: uint32(len(b.Keys)), Len: 1}
	b.Keys = append(b.Keys, 0)
	b.AddValue(k, 0, 0, 1, sample.UnitNone)
}

// giveBackAll plays the shard: it takes every batch of ring i and gives it
// back emptied, and returns how many it took.
func giveBackAll(l Lanes, i int) int {
	n := 0
	for b, ok := l.To[i].Pop(); ok; b, ok = l.To[i].Pop() {
		b.Reset()
		l.Back[i].Push(b)
		n++
	}
	return n
}

// TestProducerSizesNewBatches: with SizeNew, a batch made while the ring
// fills is as large as the batch last published, its keys bounded by
// reserveKeyBytes a sample; without, it starts empty. Batches given back
// are reused as they are.
func TestProducerSizesNewBatches(t *testing.T) {
	for _, c := range []struct {
		sizeNew bool
		keyLen  int
		samples int // capacity of the batch made after the first publication
		keys    int
	}{{false, 10, 0, 0}, {true, 10, 64, 640}, {true, 1000, 64, 64 * reserveKeyBytes}} {
		t.Run(fmt.Sprintf("SizeNew=%v,key=%d", c.sizeNew, c.keyLen), func(t *testing.T) {
			lanes := NewLanes(1, 8)
			p := NewProducer(lanes)
			p.MaxSamples, p.SizeNew = 64, c.sizeNew
			key := make([]byte, c.keyLen)
			for range 64 {
				b := p.Route(0)
				b.AddValue(b.PutKeyBytes(key, 0), 0, 0, 1, sample.UnitNone)
			}
			b := p.Route(0) // publishes the full batch
			if p.Published != 64 {
				t.Fatalf("published %d samples; want 64", p.Published)
			}
			if b.Len() != 0 || cap(b.Samples) != c.samples || cap(b.Keys) < c.keys || c.keys == 0 && cap(b.Keys) != 0 ||
				c.keys > 0 && cap(b.Keys) > 2*c.keys {
				t.Fatalf("the new batch holds %d samples and %d key bytes; want room for %d and %d", cap(b.Samples), cap(b.Keys), c.samples, c.keys)
			}
			// The batch given back is reused as it is, not sized again.
			giveBackAll(lanes, 0)
			for range 65 {
				addOne(p, 0)
			}
			if p.Published != 128 || p.cur[0].Len() != 1 || cap(p.cur[0].Keys) < c.keyLen*64 {
				t.Fatalf("published %d, current batch of %d samples and room for %d key bytes: not the batch given back",
					p.Published, p.cur[0].Len(), cap(p.cur[0].Keys))
			}
		})
	}
}

// TestProducerStuckShard: with SkipStuck, a shard that makes no room for
// MaxWait costs the producer one wait: the batch is dropped and counted,
// and so are the next ones for that shard, at once, until its ring takes a
// batch again; then publishing waits for it as before. Without SkipStuck
// (UDP), every batch waits.
func TestProducerStuckShard(t *testing.T) {
	for _, c := range []struct {
		skip  bool
		waits uint64 // after the first ten samples
	}{{true, 1}, {false, 8}} {
		t.Run(fmt.Sprintf("SkipStuck=%v", c.skip), func(t *testing.T) {
			lanes := NewLanes(1, 2)
			p := NewProducer(lanes)
			p.MaxSamples = 1
			p.MaxWait = 10 * time.Millisecond
			p.SkipStuck = c.skip
			for range 10 {
				addOne(p, 0)
			}
			p.Flush()
			// Two batches fit; the third waits MaxWait and is dropped; the
			// other seven are dropped, without waiting if SkipStuck.
			if p.Published != 2 || p.Dropped != 8 || p.Waits != c.waits {
				t.Fatalf("published %d, dropped %d, waits %d; want 2, 8, %d", p.Published, p.Dropped, p.Waits, c.waits)
			}
			// The shard takes one batch: the next one goes in, and the one
			// after finds the ring full and waits again.
			if _, ok := lanes.To[0].Pop(); !ok {
				t.Fatal("no batch in the ring")
			}
			for range 2 {
				addOne(p, 0)
			}
			p.Flush()
			if p.Published != 3 || p.Dropped != 9 || p.Waits != c.waits+1 {
				t.Fatalf("published %d, dropped %d, waits %d; want 3, 9, %d", p.Published, p.Dropped, p.Waits, c.waits+1)
			}
		})
	}
}

// TestProducerTrim: an idle producer lets go of the batches its shards gave
// back beyond keepBatches per ring; one that published since the last Trim
// keeps them.
func TestProducerTrim(t *testing.T) {
	const shards, burst = 2, 20
	lanes := NewLanes(shards, 64)
	p := NewProducer(lanes)
	p.MaxSamples = 1
	p.MaxWait = 0
	// A burst the shards do not keep up with: every batch is a new one.
	for range burst {
		for i := range shards {
			addOne(p, uint64(i)<<32/shards) // routed to shard i (ShardOf)
		}
	}
	p.Flush()
	for i := range shards {
		if got := giveBackAll(lanes, i); got < burst {
			t.Fatalf("shard %d took %d batches; want at least %d", i, got, burst)
		}
	}
	if n := p.Trim(); n != 0 {
		t.Fatalf("the first Trim after publishing let go of %d bytes; want 0", n)
	}
	if n := p.Trim(); n <= 0 {
		t.Fatalf("an idle Trim let go of %d bytes; want some", n)
	}
	for i := range shards {
		if n := lanes.Back[i].Len() + len(p.spare[i]); n != keepBatches {
			t.Fatalf("shard %d: %d batches kept; want %d", i, n, keepBatches)
		}
	}
	// Kept batches are reused.
	addOne(p, 0)
	p.Flush()
	if n := p.Trim(); n != 0 {
		t.Fatalf("Trim after publishing let go of %d bytes; want 0", n)
	}
}

// TestProducerReusesLastBatchBack: the batch a producer fills next is the
// one its shard gave back last (still in the core's caches), not the one
// that waited longest in the ring.
func TestProducerReusesLastBatchBack(t *testing.T) {
	lanes := NewLanes(1, 16)
	p := NewProducer(lanes)
	p.MaxSamples = 1
	p.MaxWait = 0
	for range 3 {
		addOne(p, 0)
		p.Flush()
	}
	var order []*sample.Batch
	for b, ok := lanes.To[0].Pop(); ok; b, ok = lanes.To[0].Pop() {
		b.Reset()
		lanes.Back[0].Push(b)
		order = append(order, b)
	}
	if len(order) != 3 {
		t.Fatalf("%d batches published; want 3", len(order))
	}
	addOne(p, 0) // fills the current batch
	for k := len(order) - 1; k >= 0; k-- {
		addOne(p, 0) // publishes the current batch, takes a fresh one
		if p.cur[0] != order[k] {
			t.Fatalf("fresh batch %d: got %p; want the batch given back %d-th (%p)", len(order)-1-k, p.cur[0], k, order[k])
		}
	}
}

// TestProducerReturned: Returned holds once every published batch has come
// back (two lanes, given back one at a time); ReuseReturned then makes the
// batch given back the current one of its lane in place of an empty,
// smaller one; ForgetOutstanding forgets a batch a shard kept; Retarget
// starts the count afresh on the new lanes.
func TestProducerReturned(t *testing.T) {
	lanes := NewLanes(2, 4)
	p := NewProducer(lanes)
	p.MaxWait = 0
	if !p.Returned() {
		t.Fatal("nothing published, Returned false")
	}
	hashes := [2]uint64{0, 1 << 31} // ShardOf: lane 0, lane 1
	for range 100 {
		addOne(p, hashes[0])
		addOne(p, hashes[1])
	}
	p.Flush()
	if p.Returned() {
		t.Fatal("Returned with both batches in the rings")
	}
	if n := giveBackAll(lanes, 0); n != 1 {
		t.Fatalf("lane 0 held %d batches, want 1", n)
	}
	if p.Returned() {
		t.Fatal("Returned with lane 1's batch out")
	}
	big, _ := lanes.To[1].Pop()
	if p.Returned() {
		t.Fatal("Returned with lane 1's batch taken but not given back")
	}
	big.Reset()
	lanes.Back[1].Push(big)
	if !p.Returned() {
		t.Fatal("not Returned with every batch back")
	}
	small := p.cur[1]
	p.ReuseReturned()
	if p.cur[1] != big {
		t.Fatalf("lane 1's current batch is %p after ReuseReturned, want the one given back (%p)", p.cur[1], big)
	}
	if sp := p.spare[1]; len(sp) == 0 || sp[len(sp)-1] != small {
		t.Fatal("the empty batch ReuseReturned replaced is not on the spare stack")
	}
	// A current batch holding samples is never replaced.
	addOne(p, hashes[1])
	p.Flush()
	giveBackAll(lanes, 1)
	addOne(p, hashes[1])
	cur := p.cur[1]
	p.Returned()
	p.ReuseReturned()
	if p.cur[1] != cur {
		t.Fatal("ReuseReturned replaced a batch holding a sample")
	}
	p.Flush()
	if _, ok := lanes.To[1].Pop(); !ok { // taken and kept: never given back
		t.Fatal("nothing published")
	}
	if p.Returned() {
		t.Fatal("Returned with a batch kept by the shard")
	}
	p.ForgetOutstanding()
	if !p.Returned() {
		t.Fatal("not Returned after ForgetOutstanding")
	}
	addOne(p, hashes[0])
	p.Flush()
	p.Retarget(NewLanes(2, 4))
	if !p.Returned() {
		t.Fatal("batches published to the old lanes are waited for on the new ones")
	}
}

// TestProducerAcksEpochs: a producer whose decoders may send handles
// stamps its batches with their shard's epoch and, when a shard has moved
// to a new epoch while the producer had nothing for it, sends it one empty
// batch of the new epoch at Trim (so that the shard may free what it
// reaped); a producer without handles restamps and sends nothing.
func TestProducerAcksEpochs(t *testing.T) {
	for _, handles := range []bool{true, false} {
		lanes := NewLanes(2, 4)
		var epochs [2]atomic.Uint32
		epochs[0].Store(1)
		epochs[1].Store(1)
		lanes.Epochs = []*atomic.Uint32{&epochs[0], &epochs[1]}
		p := NewProducer(lanes)
		if handles && p.Handles() == nil {
			t.Fatal("no cache")
		}
		addOne(p, 0)
		p.Flush()
		b, ok := lanes.To[0].Pop()
		if !ok || b.Epoch != 1 {
			t.Fatalf("batch %v, epoch %d; want one of epoch 1", ok, b.Epoch)
		}
		p.Trim()
		if lanes.To[0].Len()+lanes.To[1].Len() != 0 {
			t.Fatal("a batch sent with no new epoch")
		}
		epochs[1].Store(2)
		p.Trim()
		b, ok = lanes.To[1].Pop()
		if handles != ok || lanes.To[0].Len() != 0 {
			t.Fatalf("handles %v: acknowledged %v; to shard 0: %d", handles, ok, lanes.To[0].Len())
		}
		if ok && (b.Len() != 0 || b.Epoch != 2) {
			t.Fatalf("acknowledged with %d samples, epoch %d", b.Len(), b.Epoch)
		}
		p.Trim()
		if lanes.To[1].Len() != 0 {
			t.Fatal("an epoch acknowledged twice")
		}
		addOne(p, 1<<31) // shard 1
		p.Flush()
		if b, ok = lanes.To[1].Pop(); !ok || b.Epoch != 2 {
			t.Fatalf("batch %v, epoch %d; want one of epoch 2", ok, b.Epoch)
		}
	}
}
