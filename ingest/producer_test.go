package ingest

import (
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

// TestProducerStuckShard: a shard that makes no room for MaxWait costs the
// producer one wait: the batch is dropped and counted, and so are the next
// ones for that shard, at once, until its ring takes a batch again; then
// publishing waits for it as before.
func TestProducerStuckShard(t *testing.T) {
	lanes := NewLanes(1, 2)
	p := NewProducer(lanes)
	p.MaxSamples = 1
	p.MaxWait = 10 * time.Millisecond
	for range 10 {
		addOne(p, 0)
	}
	p.Flush()
	// Two batches fit; the third waits MaxWait and is dropped; the other
	// seven are dropped without waiting.
	if p.Published != 2 || p.Dropped != 8 || p.Waits != 1 {
		t.Fatalf("published %d, dropped %d, waits %d; want 2, 8, 1", p.Published, p.Dropped, p.Waits)
	}
	// The shard takes one batch: the next one goes in, and the one after
	// finds the ring full and waits again.
	if _, ok := lanes.To[0].Pop(); !ok {
		t.Fatal("no batch in the ring")
	}
	for range 2 {
		addOne(p, 0)
	}
	p.Flush()
	if p.Published != 3 || p.Dropped != 9 || p.Waits != 2 {
		t.Fatalf("published %d, dropped %d, waits %d; want 3, 9, 2", p.Published, p.Dropped, p.Waits)
	}
}
