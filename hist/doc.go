// Package hist is MAD's histogram and the storage built around it: bucket
// keys, percentiles, the statistics MAD computes, the per-bucket tables a
// shard writes into, the arenas those tables keep histograms in, and the
// immutable snapshots the control plane reads.
//
// # The histogram (MAD-SPEC §8)
//
// A value's bucket is the IEEE-754 double with its mantissa truncated to the
// top 7 bits; sign and exponent are kept. The 19 significant bits, shifted
// down, are the packed key that client protocol V3 carries:
//
//	 63  62        52 51     45 44                                  0
//	+---+------------+---------+-------------------------------------+
//	| s |  exponent  | mant[7] |        dropped (truncated)          |
//	+---+------------+---------+-------------------------------------+
//	Key = bits >> 45 (19 bits)         Truncate = bits & 0xFFFFE00000000000
//
// Truncation is toward zero in magnitude, so integers up to 256 are exact and
// the relative error is below 2⁻⁷. The percentile p of n entries is the first
// bucket, in ascending numeric order, at which the running count reaches
// ceil(n·p/100), computed in double arithmetic exactly as MAD does; an empty
// histogram gives 0.
//
// # Storage
//
// A Table is one open bucket of one period in one shard: a row per series
// that had data for it, as 24-byte records (count, sum, series, unit; 32
// bytes with a histogram handle, for a row that keeps a histogram) with an
// extension for min, max and the minimum request time when a row needs
// them. Histograms are small open-addressing tables of
// packed entries (32-bit, with counts up to 4095, widened to 64-bit the
// first time a count would pass that) carved from the table's Arena, which
// is reset wholesale when the table is recycled. None of this holds per-row
// pointers, so the garbage collector's work does not grow with the number
// of series.
//
// A row names its series by a 32-bit id. What a series is (its key, the
// statistics specified for it) is not hist's: the shard that owns the
// table keeps its series (package shard: records, index, interned key
// parts), and a Snapshot reads a row's key and statistics through the
// SeriesKeys the shard hands it when it seals the table.
package hist
