// Package telegraf decodes Telegraf JSON lines into samples, as MAD's
// TelegrafJsonToRecordParser does behind a TcpLineSource (MAD-SPEC §3.3,
// §4.6). Telegraf writes them with data_format = "json" to a socket_writer
// output.
//
// The package is pure: one line in, samples appended to caller-provided
// batches, no goroutines, no I/O. The TCP source splits the stream on '\n'
// and hands each line to DecodeLine; a refused line drops only itself, and
// nothing of it is routed (the whole line is checked before the first
// sample is routed). A Decoder keeps a fastjson.Parser and scratch space and
// reuses them: once grown, an accepted line allocates nothing. Strings
// reference the parser's copy of the line during the call only; keys are
// copied into the batches.
//
// # The line
//
// One JSON document, either a single metric
//
//	{"fields":{"t1":123,"t2":1.23},"name":"cpu","tags":{"host":"h"},"timestamp":1458229140}
//
// or a batch {"metrics":[metric, …]} (any top-level object with a "metrics"
// key is a batch, as MAD tests jsonNode.has("metrics")), read with the rules
// of MAD's Jackson binding of its Telegraf class:
//   - name is required (absent or null refuses the line); a number or a
//     boolean is taken as its text; an object or array refuses the line.
//     A number's text is that of the node MAD's readTree makes of it: an
//     integer's value ("-0" is "0"), a double's Double.toString ("1e3" is
//     "1000.0", "1.50" is "1.5"), so that a field "1e3" (a string) is 1
//     but a field 1e3 (a number) is 1000.
//   - timestamp is required and must not be negative (@NotNull, @Min(0)):
//     an integer within a long, a fraction truncated (1.5 is 1), or a string
//     holding an optionally signed integer (" 12 " is 12).
//   - fields and tags are maps of strings, empty when absent; null, or
//     anything but an object, refuses the line; each value is a string, or
//     the text of a number or boolean; a null, object or array value
//     refuses the line. Of duplicate keys the last wins (Jackson's tree).
//   - Unknown keys are ignored. "metrics" must be an array of objects.
//
// # MAD's rules, per telegraf metric
//
//   - Each field is a metric named name + "." + field, or just the field
//     when name is "". Its value is read with NumberFormat.getInstance()
//     (en-US): the longest numeric prefix ("12abc" is 12, "1e5" is 1, "1E5"
//     is 100000, "NaN" is NaN); otherwise "true" and "false" in any case are
//     1 and 0; any other field is skipped.
//   - Every metric is a TIMER, without unit.
//   - Tags become the dimensions.
//   - time = timestamp converted to ms by Config.TimestampUnit in long
//     arithmetic: SECONDS × 1000 (wrapping on overflow, as Java does),
//     MILLISECONDS as is, MICROSECONDS / 1000, NANOSECONDS / 1000000
//     (integer division, truncating).
//   - One record per telegraf metric. A record without numeric fields still
//     makes its bucket in MAD: it becomes one KindNone sample (no name,
//     value 0) at its time, as in the collectd decoder.
//
// The Counts DecodeLine returns are the telegraf metrics (Records) and the samples routed.
//
// # Where mad differs from MAD
//
//   - JSON strictness is fastjson's, not Jackson's: anything after the
//     document refuses the line (Jackson's readTree ignores it), strings
//     are unescaped best-effort (a lone surrogate escape is U+FFFD, mad's
//     rule, jsonstr.ReadEscape, by rewriting the escape to \ufffd before
//     fastjson reads the line; Jackson keeps the unpaired char), and
//     nesting deeper than 300 is refused.
//     Number tokens must follow JSON's grammar (fastjson is more lenient):
//     NaN and infinity tokens refuse the line, as MAD's Telegraf mapper
//     does not allow them (its collectd parser alone turns them on).
//     Consumed strings (name, field and tag keys and values) must be valid
//     UTF-8; unknown keys are not checked.
//   - A boolean timestamp is refused; Long.parseLong's non-ASCII digits in a
//     string timestamp are not accepted.
//   - A sample whose canonical series key would exceed 64 KiB refuses the
//     line.
//   - Refused lines may allocate (fastjson's error, the reason string);
//     accepted lines do not.
package telegraf
