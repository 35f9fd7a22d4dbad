package shard

import "github.com/gomad/mad/internal/sample"

// DrainInputs applies what the inputs of s hold at time now, as a round of
// its loop does.
func DrainInputs(s *Shard, now int64) {
	for s.drainInputs(make([]*sample.Batch, BatchesPerPop), func() int64 { return now }) {
	}
}
