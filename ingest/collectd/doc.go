// Package collectd decodes collectd write_http JSON into samples, as MAD's
// CollectdJsonToRecordParser does (CollectdHttpSourceV1,
// POST /metrics/v1/collectd; MAD-SPEC §4.7).
//
// The package is pure: bytes in, samples appended to caller-provided
// batches, no goroutines, no I/O. A Decoder keeps a fastjson.Parser and
// scratch space and reuses them: once grown, a call allocates nothing,
// whatever the number of records. Strings reference the parser's copy of the
// body only during the call; keys are copied into the batches.
//
// # The body
//
// A JSON array of value lists, as collectd's format_json writes them:
//
//	[{"values":[0.5],"dstypes":["gauge"],"dsnames":["value"],"time":1459466086.741,
//	  "interval":10.000,"host":"h","plugin":"cpu","plugin_instance":"0",
//	  "type":"cpu","type_instance":"wait","meta":{…}}, …]
//
// read with the rules of MAD's Jackson binding:
//   - host, time, plugin, plugin_instance, type and type_instance are
//     required (absent or null refuses the request); unknown fields
//     (interval, meta, …) are ignored; the last of duplicate keys wins;
//     names are case-sensitive.
//   - String fields take strings, and numbers and booleans as their text.
//     Double fields (time, each value) take numbers, and strings as Jackson
//     coerces them ("1.5", "NaN", "-INF", " 2 ", "0x1p3"; "" and "null" are
//     null). Objects and arrays where a scalar is expected, and booleans
//     where a number is, refuse the request.
//   - Besides JSON numbers, the non-numeric tokens NaN, Infinity, +Infinity,
//     -Infinity, +INF and -INF are accepted (ALLOW_NON_NUMERIC_NUMBERS);
//     nan, Inf, INF, +NaN or a leading zero are not. collectd itself never
//     writes them: format_json writes null for a NaN gauge or rate.
//   - Integer tokens convert as Jackson converts a long (-0 is +0.0), others
//     correctly rounded; numbers longer than 1000 characters are refused
//     (Jackson's StreamReadConstraints).
//   - A UTF-8 byte order mark is skipped; anything after the first complete
//     value is not read (Jackson stops there too).
//   - values, dstypes and dsnames default to empty lists; if values is not
//     null, all three must be present with the same length (MAD's
//     @CheckWith; it is not checked when values is null). A null in dstypes
//     or dsnames refuses the request.
//   - A body that is not an array, or an array element that is not an
//     object, refuses the request.
//
// # MAD's rules, per value list
//
//   - Dimensions: the X-TAG-* headers (given by the caller, keys lower-cased
//     without the prefix, the last of duplicate keys winning), and host
//     from the record (over a host header).
//   - time: Math.round(time × 1000) ms (ties up, NaN → 0, saturating).
//   - Metric name: plugin[/plugin_instance]/type[/type_instance][/dsname],
//     empty instances left out, dsname left out when empty or "value".
//   - dstypes: gauge → GAUGE; counter, derive, absolute → COUNTER; anything
//     else → GAUGE. No units.
//   - Values with the same name in one value list belong to one metric:
//     equal ones (same type, same value by Double.compare) count once, as in
//     MAD's HashMultimap, and the metric's type is that of its first value.
//   - A value list whose only value is null is skipped: no record.
//   - Every other value list is one MAD record. If it ends up without
//     metrics (values, dstypes or dsnames null, or all empty), MAD still
//     makes the bucket for its dimensions and emits it with empty data: the
//     record becomes one KindNone sample (no name, value 0) at its time.
//
// Stats.Records counts MAD records; Stats.Samples counts samples routed
// (one per value, or the one KindNone sample of a record without metrics).
// Samples are routed in record order, values in list order.
//
// # Where mad differs from MAD
//
//   - A null among other values is skipped (Stats.Nulls) and a value list
//     whose values are all null is skipped like one with a single null; MAD
//     answers both with 500 (a NullPointerException building the quantity).
//   - A top-level null or a null array element is refused with 400; MAD
//     answers 500 (NullPointerException).
//   - Within a metric, values keep the order of the list and the first type
//     wins; MAD's order and type come from hash order, which is not even
//     stable across JVM runs.
//   - NaN and infinite values are decoded and routed as MAD does; the shard
//     refuses them before any statistic (DESIGN.md), so a value list of only
//     such values makes no bucket.
//   - JSON strictness is fastjson's, plus the checks above: strings are
//     unescaped best-effort (an invalid escape is kept as is; Jackson
//     refuses it), a lone surrogate escape is U+FFFD (mad's rule,
//     jsonstr.ReadEscape, applied by rewriting the escape to \ufffd before
//     fastjson reads the body, so a parse error quotes it so; Jackson
//     keeps the unpaired char in its Java string, which is not UTF-8 when
//     written: Java's encoder writes '?' for it), raw control characters
//     in strings and invalid escapes or UTF-8 in unknown fields and keys
//     are accepted, and nesting deeper than 300 is refused (Jackson:
//     1000). Consumed strings must be valid UTF-8.
//   - A record limit (Config.MaxRecords, sample.ErrTooLarge, 413); MAD has
//     none. A sample whose canonical key would exceed 64 KiB is skipped and
//     counted (Stats.TooLong).
package collectd
