// Package promrw decodes Prometheus remote write requests into samples, as
// MAD's PrometheusToRecordParser does (PrometheusHttpSource,
// POST /metrics/prometheus; MAD-SPEC §4.3, §9.4).
//
// The package is pure: bytes in, samples appended to caller-provided
// batches, no goroutines, no I/O. A Decoder owns its scratch space (the
// decompression buffer, dimensions, the series key, remote write 2.0's
// symbol table) and reuses it: once grown, a call allocates nothing,
// whatever the number of samples. Dimensions reference the decompressed
// message while a series is decoded; keys are copied into the batches, so
// nothing returned references the body or the decoder.
//
// # The body
//
// The body is one snappy block (the block format, not the framed stream
// format), decoded strictly like xerial's Snappy.uncompress (C++ snappy):
// S2's extensions and any malformation are refused. The block header
// declares the decompressed size; above Config.MaxDecompressed the request
// is refused (sample.ErrTooLarge) before anything is allocated, and a size the
// block cannot possibly produce (more than 64 bytes per 3 compressed bytes)
// is refused as corrupt, so a small body cannot make the decoder allocate
// much. The Content-Encoding and X-Prometheus-Remote-Write-Version headers
// are not looked at, as in MAD. The message is decoded by hand with
// internal/pbwire, which reads the wire format as protobuf-java does (ten-byte
// varints, 32-bit tags and lengths, groups nested at most 100 deep with the
// messages, …): unknown fields (and known ones with another wire type) are
// skipped, the last occurrence of a scalar field wins, strings must be valid
// UTF-8 (proto3), and anything malformed refuses the request.
//
// # MAD's rules, per time series
//
//  1. Labels are read in order. __name__ gives the name (the last one
//     wins). A label named le skips the whole series (histogram buckets),
//     before anything else is checked. Every other label is a dimension.
//  2. The name is trimmed as Java's String.trim does (every byte <= 0x20 at
//     either end). If its last '_'-separated token is total, bucket, sum,
//     avg or count, the series is skipped unless the full trimmed name is in
//     Config.ReservedNameWhitelist. So counters (*_total) and the _sum and
//     _count of histograms and summaries are dropped by default; summary
//     quantile series (with a quantile label) are kept, as gauges.
//  3. A name that is then empty (missing, empty or blank) refuses the whole
//     request (400), even if the series has no samples.
//  4. Duplicate dimension names refuse the request (Guava's
//     ImmutableMap.Builder.build); they are only looked for in kept series.
//  5. Each sample is one MAD record with one GAUGE metric: the name
//     unchanged, the dimensions, the sample's value, at the sample's
//     timestamp (ms). NaN and infinite values (including stale markers) are
//     skipped. now is not used.
//  6. With Config.InterpretUnits the unit comes from the last token, or from
//     the token before an aggregation suffix of a whitelisted name (MAD's
//     parseNameAndUnit): seconds → SECOND, bytes → BYTE, bits → BIT,
//     celcius → CELCIUS (MAD's spelling: celsius means no unit), nothing
//     else. Values are normalised as MAD does: bits to BYTE (×1/8), CELCIUS
//     to KELVIN (+273.15). The name keeps its suffix.
//
// Records map to samples one to one: Stats.Records = Stats.Samples, in
// MAD's order (series order, then sample order). A kept series whose
// samples are all skipped makes no record and no bucket (MAD makes no record
// for it either), so remote write never produces KindNone samples.
//
// # Remote write 2.0 (an extension)
//
// MAD has no remote write 2.0. DecodeV2 reads io.prometheus.write.v2.Request
// (the caller picks it by Content-Type
// application/x-protobuf;proto=io.prometheus.write.v2.Request), resolves
// each series' labels_refs through the symbol table (which may come before
// or after the series on the wire; packed or not) and then applies exactly
// the rules above to the labels and samples it carries. An odd number of
// references, or one beyond the symbol table, refuses the request (400).
// The symbol table's first entry is not required to be "". What 2.0 carries
// beyond 1.0 is not used:
//   - native histograms (TimeSeries.histograms) are ignored and counted in
//     Stats.Histograms (1.0's prompb TimeSeries.histograms, field 4, which
//     MAD's proto does not know, are counted the same way);
//   - metadata (type, help, unit) is skipped unread: every sample is a
//     GAUGE and units come only from the name, as in 1.0;
//   - exemplars and created_timestamp are skipped unread.
//
// The response headers 2.0 asks for (X-Prometheus-Remote-Write-*-Written)
// are the HTTP layer's; Stats.Samples and Stats.Histograms give the counts.
//
// # Where mad differs from MAD
//
//   - The decompressed size is bounded (sample.ErrTooLarge, 413); MAD has no limit.
//   - A record limit (Config.MaxRecords, sample.ErrTooLarge, 413); MAD has
//     none. A request over the limit that is also malformed further on is
//     refused with sample.ErrTooLarge, since decoding stops there.
//   - A series whose canonical key would exceed 64 KiB (sample.MaxKeyLen) is
//     skipped and counted (Stats.TooLong); MAD has no such limit.
package promrw
