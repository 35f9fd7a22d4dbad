// Package otlpjson transcodes OTLP/JSON metrics export requests (the body
// of an OTLP/HTTP POST /v1/metrics with Content-Type application/json) into
// the protobuf encoding of the same ExportMetricsServiceRequest, which the
// binary decoder (ingest/otlp) then reads: the decoding rules have one
// implementation, and the JSON path only adds this translation.
//
//	var tr otlpjson.Transcoder // one per HTTP slot; not for concurrent use
//	pb, err := tr.Transcode(pb[:0], body)
//
// It is pure: a strict JSON scanner walks the body once, against a table of
// the OTLP messages (schema.go), and writes each field's wire bytes as it
// meets it; nothing is built but the output. No allocation in steady state
// (a reused Transcoder and dst; TestZeroAllocs).
//
// # The mapping
//
// The proto3 JSON mapping as protojson reads it (UnmarshalOptions with
// DiscardUnknown), with OTLP's exception for ids; the tests hold the
// transcoder to exactly that reference (TestAgrees, TestRoundTrip,
// FuzzTranscode):
//
//   - JSON: RFC 8259, strictly. Strings are valid UTF-8 without raw control
//     characters; escapes are \" \\ \/ \b \f \n \r \t and \uXXXX, a surrogate
//     only as a high-low pair; numbers follow the JSON grammar (no NaN,
//     Infinity, leading zeros, "+", ".5", "1." or "1e"). The top level is
//     an object, and only whitespace may follow it.
//   - Names: a field's lowerCamelCase JSON name or its proto name
//     (snake_case), both accepted as protojson does, although OTLP's
//     specification asks senders for the former only. Unknown names are
//     ignored with their values (which must still be JSON), at every level,
//     as OTLP requires of receivers.
//   - A field named twice in one object (by either name, null counting as
//     a value) is refused, as protojson refuses it; so are two members of
//     one oneof that are not null. Unknown names may repeat.
//   - null is an unset field, whatever the field; null inside a list is
//     refused.
//   - Integers (int32, uint32, sint32, int64, uint64, fixed64, sfixed64): a
//     JSON number or a string holding exactly one (no spaces), whose value
//     is an integer in the type's range however it is spelt: 12, "12",
//     1.2e1, 1200e-2. The rules are protojson's normalizeToIntString: the
//     exponent must fit an int32, and the integer digits plus a positive
//     exponent may not exceed 20.
//   - Doubles: a number, or a string that is "NaN", "Infinity",
//     "-Infinity" or exactly a number; a number beyond the double range
//     (1e309) is refused, one below it rounds to 0 or a subnormal
//     (strconv.ParseFloat).
//   - Enums (AggregationTemporality): an int32 number, any value (open
//     enum), or a value's name; an unknown name leaves the field unset (as
//     an unknown field), and so does a string of digits, which is a name.
//     OTLP's specification asks senders for numbers only.
//   - bool: true or false only. string: a JSON string only.
//   - bytes (AnyValue.bytesValue): base64 as protojson reads it, through
//     encoding/base64: the URL-safe alphabet if the string holds '-' or
//     '_', else the standard one; unpadded if its length is not a multiple
//     of 4; CR and LF ignored.
//   - traceId and spanId of exemplars: hex, either case (OTLP's exception;
//     not base64), as the OTLP Go implementation reads them: "" is unset,
//     anything else must be exactly 32 (16) hex digits.
//   - Output: the fields the body sets, in its order, each once. A zero
//     value of a plain proto3 scalar is left out, as proto3 serializers do
//     (-0.0 is not zero: its sign is kept); oneof members (AnyValue's
//     values, asDouble and asInt, the Metric's data) and proto3 optional
//     fields (sum, min and max of histogram points) are written even when
//     zero, and a message field given as an object is written even when
//     empty. Repeated scalars (bucketCounts, explicitBounds) are packed,
//     and a list with no element writes nothing. Lengths are minimal
//     varints: the output is what proto.Marshal writes, up to field order.
//
// # Bounds
//
// Messages nest at most MaxDepth (100) below the request, pbwire's limit
// and protobuf-java's, so whatever the transcoder writes the binary decoder
// can read; deeper is refused. Values of unknown fields are skipped without
// recursion and may nest as deep as the body allows.
//
// The output is at most 4 bytes per byte of body: the most a byte of JSON
// can become is a packed double or fixed64 (8 bytes) for a one-digit
// element and its comma; every other value, name and bracket becomes fewer
// bytes than it takes (TestOutputBound, and every test and fuzz input
// checks the bound). The scratch a Transcoder keeps is the list of
// length-delimited fields (12 bytes for each message or packed list, each
// at least 2 bytes of JSON), the path (one entry a level), a byte per
// level of a skipped value, and one unescaped string, base64 value or
// quoted number at a time: in all at most about 6 bytes per byte of the
// largest body seen, and far less for real requests. A body over MaxBody
// (256 MiB) is refused with sample.ErrTooLarge; the HTTP layer's own limit
// is expected to be much lower (OTLP recommends 20 MiB).
//
// # How
//
// Lengths come before content in protobuf, and are known only after it. The
// transcoder writes content as it reads, with no length prefix, and records
// each length-delimited field (message or packed list) as it opens it: the
// offset of its content, and, once it closes, its length (the content
// written since, plus the headers of the fields closed inside it). At the
// end one pass from the back moves each stretch of content up by the size
// of the headers before it and writes each header in front of its content:
// every byte moves once, and no length is guessed or padded.
//
// # Errors
//
// A refused body is a *sample.DecodeError wrapping sample.ErrMalformed,
// Format "otlp json body", with the path of the field at fault
// (resourceMetrics[0].scopeMetrics[1].metrics[2].gauge.dataPoints[0].asDouble;
// an unknown field by its quoted name), the metric's name if it was read
// before the fault, the reason, and the byte offset in the body. The
// DecodeError is allocated: a refusal is not the steady state.
//
// # Where protojson differs
//
// Deliberately, and listed where FuzzTranscode skips them: messages nested
// beyond 100 levels (protojson reads 10 000); numbers with an empty
// exponent before a delimiter ("1e", "1E+"), which protojson's tokenizer
// takes for numbers (skipping them in unknown fields, reading "1e" as 1 in
// an integer field) and RFC 8259 does not; and unknown values nested beyond
// protojson's recursion limit, which are skipped here.
package otlpjson
