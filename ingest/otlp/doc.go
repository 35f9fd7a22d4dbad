// Package otlp decodes OpenTelemetry metrics (OTLP) export requests into
// samples, as MAD's experimental OpenTelemetryGrpcSource parses them
// (OpenTelemetryGrpcRecordParser, MAD-SPEC §13.1), straight from the
// protobuf bytes: the wire is read with internal/pbwire (protobuf-java's
// reading), attributes are kept as offsets into the body on a stack of
// resource and point attributes, and no OTLP object is built. The decoder
// is pure and allocates nothing per data point once its scratch has grown.
//
// # MAD's rules
//
// A request (ExportMetricsServiceRequest) is a list of ResourceMetrics, each
// a Resource and ScopeMetrics (scopes are ignored), each a list of Metrics.
//
// Dimensions. The resource's attributes are the base: each value is
// stringified (Stringify: a string as itself; a bool "true"/"false"; an int
// as Java's Long.toString; a double as Java's Double.toString; an array as
// its elements stringified and joined with ","; a kvlist as "k: v" entries
// joined with ","; bytes as Java's Arrays.toString of signed bytes,
// "[1, -2]"; an unset value as ""), and an attribute whose string is empty
// is dropped; of repeated resource keys the last wins (a map's put). If
// the resource has "service.name" (non-empty) and no "service", "service"
// is added with its value. A data point's attributes, stringified and
// filtered the same way, are put over the resource's (the point's win); a
// key repeated among one point's attributes (whatever the values, empty
// or not) fails the whole request (MAD's IllegalStateException:
// sample.ErrMADFails, gRPC INTERNAL, HTTP 500). Scope attributes are
// ignored. Java's Double.toString is written with the shortest digits
// that round-trip (JDK 19 and later; JDK 17's older algorithm prints a
// longer string for a few doubles, JDK-4511638) in Java's layout: "1.0",
// "0.001", "1234567.0", "1.0E7", "1.0E-4", "NaN", "Infinity", "-0.0".
//
// Of repeated resource keys, empty values are dropped first, then the last
// wins. An empty attribute key is a dimension; an empty metric name is a
// name.
//
// Records. MAD groups the points of a request into records by (final
// dimensions, time_unix_nano); within a record a metric name is one
// metric, and a later point of the same name replaces the earlier one
// (whatever either's type). mad's series key is (kind, name, dimensions),
// every OTLP sample is a gauge, and the time is part of the sample, so:
// of two points of one request with the same name, dimensions and
// time_unix_nano, the later is kept and the earlier is replaced
// (Stats.Replaced). A record exists only through the points it keeps:
// a point that yields nothing (below) makes no record. Counts.Records is
// the number of distinct (dimensions, time) pairs kept; Counts.Samples the
// samples routed. The record time is time_unix_nano (fixed64, read as
// Java's signed long) divided by 10^6 with Java's truncating division, in
// milliseconds; the request time is the time the request was decoded.
//
// Sum and Gauge (NumberDataPoint): one gauge sample per point, as_int or
// as_double (an unset value is 0), temporality and monotonicity ignored,
// no unit. A non-finite double is skipped (Stats.NonFinite).
//
// Histogram (explicit buckets): one gauge sample of pre-aggregated
// statistics per point. A point without explicit_bounds is skipped
// (Stats.Empty). Bucket i < len(bounds) has the representative value
// bounds[i] (its upper bound); the overflow bucket (i = len(bounds)) has
// max if the point has one, else last + |last - secondLast| of the bounds,
// and with a single bound and no max that fails the request
// (sample.ErrMADFails). Only buckets with a count above zero enter the
// histogram (MAD-SPEC's vector: samples 0, 1, 2, 3, 58 on the SDK's
// default bounds → {0: 1, 5: 3, 75: 1}); the overflow's value is computed
// only when that bucket has a count. bucket_counts beyond len(bounds)+1
// are ignored; fewer are the buckets there are. min is the point's min if
// present, else the representative value of the first non-empty bucket;
// max the point's max if present, else the upper bound of the last
// non-empty bucket that is not the overflow (no max if there is none).
// count is the point's count, sum its sum (0 when absent). A point whose
// sum, min, max or a bucket's value (in the unit normalised) is not finite
// is left out (Stats.NonFinite; MAD passes it on, and mad's shards refuse
// such statistics: leaving it out here tells the client).
//
// ExponentialHistogram: as Histogram, with representative values: bucket
// index idx = offset + i of the positive buckets has, for scale > 0,
// 0.5·(1+e^(1/sf))·e^(idx/sf) with sf = 2^scale/ln 2, evaluated in that
// order in float64 (the midpoint of (base^idx, base^(idx+1)]); for scale 0,
// 1.5·2^idx (MAD builds the double's bits; out of the double's range mad
// gives what math.Ldexp gives); for scale < 0, 0.5·(2^(idx<<-scale) +
// 2^((idx+1)<<-scale)). Negative buckets have the negated values, and
// zero_count is a bucket at 0. A point with no bucket count above zero and
// zero_count 0 is skipped (Stats.Empty). min and max fall back to the
// smallest and largest representative value of a non-empty bucket (the
// zero bucket included). Counts are Java's signed longs: "above zero" is
// as an int64, and a zero_count of 2^63 or more is not 0 (the point is
// kept) though it makes no bucket.
//
// Units (histograms only): the metric's unit lower-cased, if one of "ns",
// "us", "ms", "s", "nanosecond(s)", "microsecond(s)", "millisecond(s)",
// "second(s)", applies to min, max, sum and every bucket's value, which
// are normalised to seconds (sample.Normalize); count has no unit. Any
// other unit is ignored.
//
// Summary, and a Metric with no data or data of a type mad does not know,
// yield nothing (Stats.Unsupported: one per Summary point, and one for a
// Summary without points or a metric without data). MAD reads nothing of a
// Summary point, not even its attributes (a repeated key there fails
// nothing).
//
// The schema is MAD's (OTLP's protos of 2023): fields added since
// (Resource.entity_refs, AnyValue.string_value_strindex,
// KeyValue.key_strindex) are unknown fields, skipped as protobuf-java skips
// them (their strings unchecked; a strindex is no member of AnyValue's
// oneof). Metric.metadata is known, and its strings are checked.
//
// What mad does not read is checked as protobuf-java parses it, because MAD
// parses the whole request before it looks at a metric: a data member that
// a later member of the oneof replaced, an AnyValue's replaced array or
// kvlist, and a Summary's points must be valid messages of MAD's schema
// (wire format, UTF-8 strings, packed runs, nesting), or the request is
// malformed; and when MAD's own failure (a repeated point key, a single
// bound) ends the decoding, the rest of the body is checked, and a body
// Java could not parse is malformed rather than MAD's failure (validate.go).
//
// The checks of a point, in order: its attributes (a repeated key fails
// the request), its value (MAD's failure, NonFinite, Empty), its key's
// length (TooLong), then replacement.
//
// Order. Samples are routed in wire order, a point that replaces an
// earlier one taking its place. MAD gathers its records in hash maps, so
// the order in which its aggregator sees them is no order a client can rely
// on; the order decides a result only where an aggregator is sensitive to
// it (the rounding of a sum, the unit a series takes first). otlpref
// routes in the same order, so that the shard and the reference aggregate
// alike.
//
// Series keys longer than sample.MaxKeyLen are dropped (Stats.TooLong).
//
// # Beyond MAD
//
// Points a request leaves out (NonFinite, Empty, Unsupported, TooLong)
// are reported to the client as OTLP's partial_success by the source, and
// counted. Options off by default (Config) change results: cumulative
// monotonic sums turned into deltas per stream (bounded state), and units
// applied to number points.
package otlp
