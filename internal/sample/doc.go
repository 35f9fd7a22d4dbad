// Package sample defines the batch of samples that flows from the ingest
// loops over the SPSC rings into the shards, and the canonical series key.
//
// A sample is one MAD quantity (a value with an optional unit) or one set of
// pre-aggregated statistics (min, max, sum, count and histogram entries, as
// client protocol V3 and OpenTelemetry carry them) for one series at one record
// time. A series is what MAD aggregates separately: the canonical (sorted)
// dimension map, the metric name and the metric type.
//
// Batches are columnar-ish and pointer-light: samples reference their key bytes
// and pre-aggregated data by offset into slices owned by the batch, so a batch
// is a handful of allocations that are reused for the life of the producer.
//
// Canonical key layout (see AppendKey):
//
//	+------+----------------+------+------------------+---------------------------------+
//	| kind | uvarint(len n) | name | uvarint(#dims d) | d × (uvarint(len k) k uvarint(len v) v) |
//	+------+----------------+------+------------------+---------------------------------+
//
// Dimensions are sorted by key bytes and keys are unique, so tags given in any
// order produce identical bytes and therefore the same series.
package sample
