package otlpref

import (
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// stringify returns an attribute value as MAD's dimension value: a string as
// itself, a bool as "true"/"false", an int as Long.toString, a double as
// Double.toString (JavaDouble), an array as its elements stringified and
// joined with ",", a kvlist as "k: v" entries joined with ",", bytes as
// Arrays.toString of signed bytes ("[1, -2]", "[]"), and an unset value
// (or a nil one) as "".
func stringify(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return JavaDouble(x.DoubleValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, stringify(e))
		}
		return strings.Join(parts, ",")
	case *commonpb.AnyValue_KvlistValue:
		parts := make([]string, 0, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			parts = append(parts, kv.GetKey()+": "+stringify(kv.GetValue()))
		}
		return strings.Join(parts, ",")
	case *commonpb.AnyValue_BytesValue:
		parts := make([]string, 0, len(x.BytesValue))
		for _, c := range x.BytesValue {
			parts = append(parts, strconv.Itoa(int(int8(c))))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	// Unset, or a member MAD's protos do not have (canonical drops those).
	return ""
}
