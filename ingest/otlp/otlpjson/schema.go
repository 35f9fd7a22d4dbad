package otlpjson

// The schema: every message under ExportMetricsServiceRequest, as
// go.opentelemetry.io/proto/otlp v1.11.1 defines it, written out so that
// the transcoder needs no generated code and no reflection.
// TestSchemaMatchesDescriptors holds this table to the generated
// descriptors: every field, number, kind, name, cardinality and presence.

// kind is how a field's JSON value becomes wire bytes.
type kind uint8

const (
	kMessage  kind = iota + 1 // a JSON object; length-delimited
	kString                   // a JSON string; length-delimited
	kBytes                    // a base64 JSON string; length-delimited
	kID                       // a hex JSON string of idLen bytes (traceId, spanId); length-delimited
	kBool                     // varint
	kInt32                    // varint of the value sign-extended to 64 bits
	kInt64                    // varint
	kUint32                   // varint
	kUint64                   // varint
	kSint32                   // zigzag varint
	kEnum                     // varint of an int32, sign-extended (open enum)
	kFixed64                  // 8 bytes
	kSfixed64                 // 8 bytes
	kDouble                   // 8 bytes
)

// Wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
)

// wire is the wire type of a single value of kind k.
func (k kind) wire() byte {
	switch k {
	case kMessage, kString, kBytes, kID:
		return wireBytes
	case kFixed64, kSfixed64, kDouble:
		return wireFixed64
	}
	return wireVarint
}

// msgID names a message of the schema (an index into messages).
type msgID uint8

const (
	mRequest msgID = iota
	mResourceMetrics
	mResource
	mEntityRef
	mScopeMetrics
	mScope
	mMetric
	mGauge
	mSum
	mHistogram
	mExpHistogram
	mSummary
	mNumberPoint
	mHistogramPoint
	mExpHistogramPoint
	mBuckets
	mSummaryPoint
	mQuantile
	mExemplar
	mKeyValue
	mAnyValue
	mArrayValue
	mKeyValueList
	numMessages
)

// field is one field of a message. Every field number of these messages
// is below 16, so every tag is one byte.
type field struct {
	json  string // lowerCamelCase, the JSON name
	proto string // the proto name (snake_case), also accepted
	num   uint8
	kind  kind
	list  bool  // repeated: messages and strings one element per field, scalars packed
	pres  bool  // written even when zero: a oneof member or a proto3 optional field
	oneof bool  // a member of the message's oneof (each message has at most one)
	msg   msgID // kMessage: the message
	idLen uint8 // kID: the length in bytes
	enum  []string
}

// tag is the field's tag for a single value.
func (f *field) tag() byte { return f.num<<3 | f.kind.wire() }

// message is a message of the schema.
type message struct {
	name   string // the full name
	fields []field
}

// temporality is AggregationTemporality's values by number.
var temporality = []string{
	"AGGREGATION_TEMPORALITY_UNSPECIFIED",
	"AGGREGATION_TEMPORALITY_DELTA",
	"AGGREGATION_TEMPORALITY_CUMULATIVE",
}

func msgList(json, proto string, num uint8, m msgID) field {
	return field{json: json, proto: proto, num: num, kind: kMessage, list: true, msg: m}
}

func msgField(json, proto string, num uint8, m msgID) field {
	return field{json: json, proto: proto, num: num, kind: kMessage, pres: true, msg: m}
}

func scalar(json, proto string, num uint8, k kind) field {
	return field{json: json, proto: proto, num: num, kind: k}
}

func optional(json, proto string, num uint8, k kind) field {
	return field{json: json, proto: proto, num: num, kind: k, pres: true}
}

func oneof(f field) field { f.pres, f.oneof = true, true; return f }

func packed(json, proto string, num uint8, k kind) field {
	return field{json: json, proto: proto, num: num, kind: k, list: true}
}

func attributes(num uint8) field { return msgList("attributes", "attributes", num, mKeyValue) }

func timeField(num uint8) field {
	return scalar("timeUnixNano", "time_unix_nano", num, kFixed64)
}

func startField(num uint8) field {
	return scalar("startTimeUnixNano", "start_time_unix_nano", num, kFixed64)
}

func temporalityField(num uint8) field {
	f := scalar("aggregationTemporality", "aggregation_temporality", num, kEnum)
	f.enum = temporality
	return f
}

func exemplars(num uint8) field { return msgList("exemplars", "exemplars", num, mExemplar) }

func flags(num uint8) field { return scalar("flags", "flags", num, kUint32) }

var messages = [numMessages]message{
	mRequest: {"opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest", []field{
		msgList("resourceMetrics", "resource_metrics", 1, mResourceMetrics),
	}},
	mResourceMetrics: {"opentelemetry.proto.metrics.v1.ResourceMetrics", []field{
		msgField("resource", "resource", 1, mResource),
		msgList("scopeMetrics", "scope_metrics", 2, mScopeMetrics),
		scalar("schemaUrl", "schema_url", 3, kString),
	}},
	mResource: {"opentelemetry.proto.resource.v1.Resource", []field{
		attributes(1),
		scalar("droppedAttributesCount", "dropped_attributes_count", 2, kUint32),
		msgList("entityRefs", "entity_refs", 3, mEntityRef),
	}},
	mEntityRef: {"opentelemetry.proto.common.v1.EntityRef", []field{
		scalar("schemaUrl", "schema_url", 1, kString),
		scalar("type", "type", 2, kString),
		{json: "idKeys", proto: "id_keys", num: 3, kind: kString, list: true},
		{json: "descriptionKeys", proto: "description_keys", num: 4, kind: kString, list: true},
	}},
	mScopeMetrics: {"opentelemetry.proto.metrics.v1.ScopeMetrics", []field{
		msgField("scope", "scope", 1, mScope),
		msgList("metrics", "metrics", 2, mMetric),
		scalar("schemaUrl", "schema_url", 3, kString),
	}},
	mScope: {"opentelemetry.proto.common.v1.InstrumentationScope", []field{
		scalar("name", "name", 1, kString),
		scalar("version", "version", 2, kString),
		attributes(3),
		scalar("droppedAttributesCount", "dropped_attributes_count", 4, kUint32),
	}},
	mMetric: {"opentelemetry.proto.metrics.v1.Metric", []field{
		scalar("name", "name", 1, kString),
		scalar("description", "description", 2, kString),
		scalar("unit", "unit", 3, kString),
		oneof(msgField("gauge", "gauge", 5, mGauge)),
		oneof(msgField("sum", "sum", 7, mSum)),
		oneof(msgField("histogram", "histogram", 9, mHistogram)),
		oneof(msgField("exponentialHistogram", "exponential_histogram", 10, mExpHistogram)),
		oneof(msgField("summary", "summary", 11, mSummary)),
		msgList("metadata", "metadata", 12, mKeyValue),
	}},
	mGauge: {"opentelemetry.proto.metrics.v1.Gauge", []field{
		msgList("dataPoints", "data_points", 1, mNumberPoint),
	}},
	mSum: {"opentelemetry.proto.metrics.v1.Sum", []field{
		msgList("dataPoints", "data_points", 1, mNumberPoint),
		temporalityField(2),
		scalar("isMonotonic", "is_monotonic", 3, kBool),
	}},
	mHistogram: {"opentelemetry.proto.metrics.v1.Histogram", []field{
		msgList("dataPoints", "data_points", 1, mHistogramPoint),
		temporalityField(2),
	}},
	mExpHistogram: {"opentelemetry.proto.metrics.v1.ExponentialHistogram", []field{
		msgList("dataPoints", "data_points", 1, mExpHistogramPoint),
		temporalityField(2),
	}},
	mSummary: {"opentelemetry.proto.metrics.v1.Summary", []field{
		msgList("dataPoints", "data_points", 1, mSummaryPoint),
	}},
	mNumberPoint: {"opentelemetry.proto.metrics.v1.NumberDataPoint", []field{
		attributes(7),
		startField(2),
		timeField(3),
		oneof(scalar("asDouble", "as_double", 4, kDouble)),
		oneof(scalar("asInt", "as_int", 6, kSfixed64)),
		exemplars(5),
		flags(8),
	}},
	mHistogramPoint: {"opentelemetry.proto.metrics.v1.HistogramDataPoint", []field{
		attributes(9),
		startField(2),
		timeField(3),
		scalar("count", "count", 4, kFixed64),
		optional("sum", "sum", 5, kDouble),
		packed("bucketCounts", "bucket_counts", 6, kFixed64),
		packed("explicitBounds", "explicit_bounds", 7, kDouble),
		exemplars(8),
		flags(10),
		optional("min", "min", 11, kDouble),
		optional("max", "max", 12, kDouble),
	}},
	mExpHistogramPoint: {"opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint", []field{
		attributes(1),
		startField(2),
		timeField(3),
		scalar("count", "count", 4, kFixed64),
		optional("sum", "sum", 5, kDouble),
		scalar("scale", "scale", 6, kSint32),
		scalar("zeroCount", "zero_count", 7, kFixed64),
		msgField("positive", "positive", 8, mBuckets),
		msgField("negative", "negative", 9, mBuckets),
		flags(10),
		exemplars(11),
		optional("min", "min", 12, kDouble),
		optional("max", "max", 13, kDouble),
		scalar("zeroThreshold", "zero_threshold", 14, kDouble),
	}},
	mBuckets: {"opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint.Buckets", []field{
		scalar("offset", "offset", 1, kSint32),
		packed("bucketCounts", "bucket_counts", 2, kUint64),
	}},
	mSummaryPoint: {"opentelemetry.proto.metrics.v1.SummaryDataPoint", []field{
		attributes(7),
		startField(2),
		timeField(3),
		scalar("count", "count", 4, kFixed64),
		scalar("sum", "sum", 5, kDouble),
		msgList("quantileValues", "quantile_values", 6, mQuantile),
		flags(8),
	}},
	mQuantile: {"opentelemetry.proto.metrics.v1.SummaryDataPoint.ValueAtQuantile", []field{
		scalar("quantile", "quantile", 1, kDouble),
		scalar("value", "value", 2, kDouble),
	}},
	mExemplar: {"opentelemetry.proto.metrics.v1.Exemplar", []field{
		msgList("filteredAttributes", "filtered_attributes", 7, mKeyValue),
		timeField(2),
		oneof(scalar("asDouble", "as_double", 3, kDouble)),
		oneof(scalar("asInt", "as_int", 6, kSfixed64)),
		{json: "spanId", proto: "span_id", num: 4, kind: kID, idLen: 8},
		{json: "traceId", proto: "trace_id", num: 5, kind: kID, idLen: 16},
	}},
	mKeyValue: {"opentelemetry.proto.common.v1.KeyValue", []field{
		scalar("key", "key", 1, kString),
		msgField("value", "value", 2, mAnyValue),
		scalar("keyStrindex", "key_strindex", 3, kInt32),
	}},
	mAnyValue: {"opentelemetry.proto.common.v1.AnyValue", []field{
		oneof(scalar("stringValue", "string_value", 1, kString)),
		oneof(scalar("boolValue", "bool_value", 2, kBool)),
		oneof(scalar("intValue", "int_value", 3, kInt64)),
		oneof(scalar("doubleValue", "double_value", 4, kDouble)),
		oneof(msgField("arrayValue", "array_value", 5, mArrayValue)),
		oneof(msgField("kvlistValue", "kvlist_value", 6, mKeyValueList)),
		oneof(scalar("bytesValue", "bytes_value", 7, kBytes)),
		oneof(scalar("stringValueStrindex", "string_value_strindex", 8, kInt32)),
	}},
	mArrayValue: {"opentelemetry.proto.common.v1.ArrayValue", []field{
		msgList("values", "values", 1, mAnyValue),
	}},
	mKeyValueList: {"opentelemetry.proto.common.v1.KeyValueList", []field{
		msgList("values", "values", 1, mKeyValue),
	}},
}

// lookup returns the field of m named key (its JSON name or its proto
// name), or nil.
func lookup(m msgID, key []byte) *field {
	fs := messages[m].fields
	for i := range fs {
		f := &fs[i]
		if string(key) == f.json || string(key) == f.proto {
			return f
		}
	}
	return nil
}
