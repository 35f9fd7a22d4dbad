package pipeline

import (
	"testing"

	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/shard"
)

// TestLanesBackRoom: a lane's Back ring has room for every batch a shard
// can give back between two of its producer's collections (ingest.BackExtra),
// so that no batch is dropped and counted out for good.
func TestLanesBackRoom(t *testing.T) {
	if ingest.BackExtra < shard.BatchesPerPop+1 {
		t.Fatalf("ingest.BackExtra is %d; a shard pops up to %d batches at a time, so Back needs %d more than To", ingest.BackExtra, shard.BatchesPerPop, shard.BatchesPerPop+1)
	}
	for _, c := range []int{1, 2, 3, 256, 1000} {
		l := ingest.NewLanes(2, c)
		for i := range l.To {
			if l.Back[i].Cap() < l.To[i].Cap()+shard.BatchesPerPop+1 {
				t.Fatalf("capacity %d: Back holds %d, To %d", c, l.Back[i].Cap(), l.To[i].Cap())
			}
		}
	}
}
