package ingest

import "github.com/gomad/mad/internal/sample"

// CurrentBatches returns the batches a producer is filling, one a shard
// (for the external tests).
func CurrentBatches(p *Producer) []*sample.Batch { return p.cur }
