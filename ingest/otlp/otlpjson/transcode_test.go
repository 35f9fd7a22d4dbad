package otlpjson

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// transcode runs a fresh Transcoder on body, after a prefix in dst, and
// checks what any call must hold: the prefix kept, the output within its
// bound (4 bytes per byte of body) and readable by pbwire (the binary
// decoder's reader), a refusal a *sample.DecodeError that leaves dst as it
// was.
func transcode(t testing.TB, body []byte) ([]byte, error) {
	t.Helper()
	prefix := []byte("prefix")
	dst := append(make([]byte, 0, 8), prefix...)
	var tr Transcoder
	out, err := tr.Transcode(dst, body)
	if !bytes.Equal(out[:len(prefix)], prefix) {
		t.Fatalf("prefix overwritten: got %q", out[:len(prefix)])
	}
	if err != nil {
		var de *sample.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, sample.ErrMalformed) && !errors.Is(err, sample.ErrTooLarge) {
			t.Fatalf("got %T %v; want a *sample.DecodeError", err, err)
		}
		if len(out) != len(prefix) {
			t.Fatalf("refused, yet dst grew to %d bytes", len(out))
		}
		return nil, err
	}
	out = out[len(prefix):]
	if len(out) > 4*len(body) {
		t.Fatalf("%d bytes of output for %d of body; want at most 4 per byte", len(out), len(body))
	}
	if c := pbwireRead(out); c != pbwire.OK {
		t.Fatalf("the binary decoder's reader refuses the output: %v", c)
	}
	return out, nil
}

// decode unmarshals a transcoder's output.
func decode(t testing.TB, out []byte) *colmetricspb.ExportMetricsServiceRequest {
	t.Helper()
	m := &colmetricspb.ExportMetricsServiceRequest{}
	if err := proto.Unmarshal(out, m); err != nil {
		t.Fatalf("output refused by proto.Unmarshal: %v", err)
	}
	return m
}

// agree transcodes body and holds the result to the reference, which must
// accept it.
func agree(t testing.TB, body []byte) *colmetricspb.ExportMetricsServiceRequest {
	t.Helper()
	want, werr := reference(body)
	if werr != nil {
		t.Fatalf("the reference refuses the body: %v", werr)
	}
	out, err := transcode(t, body)
	if err != nil {
		t.Fatalf("got %v; the reference accepts the body", err)
	}
	got := decode(t, out)
	if err := sameMessage(got, want); err != nil {
		t.Fatalf("%v:\ngot  %v\nwant %v", err, got, want)
	}
	if len(out) != proto.Size(want) {
		t.Fatalf("%d bytes; proto.Size is %d (a length not minimal, or a field written twice)", len(out), proto.Size(want))
	}
	return got
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectors(t *testing.T) {
	for _, name := range []string{"metrics.json", "full.json"} {
		t.Run(name, func(t *testing.T) {
			m := agree(t, readFile(t, name))
			if len(m.ResourceMetrics) == 0 {
				t.Fatal("got no resource metrics")
			}
		})
	}
}

// TestFullCoversEveryField: full.json sets every field of every message
// under the request (so TestVectors covers them all).
func TestFullCoversEveryField(t *testing.T) {
	m := agree(t, readFile(t, "full.json"))
	seen := map[protoreflect.FullName]bool{}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			seen[fd.FullName()] = true
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			case fd.Message() != nil:
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	for id := range numMessages {
		for _, f := range messages[id].fields {
			if name := protoreflect.FullName(messages[id].name + "." + f.proto); !seen[name] {
				t.Errorf("full.json never sets %s", name)
			}
		}
	}
}

// TestVariants rewrites the vectors as the OTLP/JSON mapping allows and
// holds each to the reference, which must agree with the original.
func TestVariants(t *testing.T) {
	variants := []struct {
		name string
		r    rewriter
	}{
		{"snake_case names", rewriter{key: func(fd protoreflect.FieldDescriptor, _ []byte) []byte {
			return []byte(`"` + fd.TextName() + `"`)
		}}},
		{"integers as numbers", rewriter{value: func(fd protoreflect.FieldDescriptor, raw []byte) ([]byte, error) {
			if raw[0] == '"' && isIntKind(fd.Kind()) {
				return raw[1 : len(raw)-1], nil
			}
			return nil, nil
		}}},
		{"numbers as strings", rewriter{value: func(fd protoreflect.FieldDescriptor, raw []byte) ([]byte, error) {
			if raw[0] != '"' && (isIntKind(fd.Kind()) || fd.Kind() == protoreflect.DoubleKind) {
				return []byte(`"` + string(raw) + `"`), nil
			}
			return nil, nil
		}}},
		{"integers with exponents", rewriter{value: func(fd protoreflect.FieldDescriptor, raw []byte) ([]byte, error) {
			// 1700000000000000000 → 17000000000000000.00e2
			if s := strings.Trim(string(raw), `"`); isIntKind(fd.Kind()) && len(s) > 2 && s != "0" && !strings.HasPrefix(s, "-") {
				return []byte(s[:len(s)-2] + "." + s[len(s)-2:] + "e2"), nil
			}
			return nil, nil
		}}},
		{"enums by name", rewriter{value: func(fd protoreflect.FieldDescriptor, raw []byte) ([]byte, error) {
			if fd.Enum() != nil && raw[0] != '"' {
				if v := fd.Enum().Values().ByNumber(protoreflect.EnumNumber(raw[0] - '0')); v != nil && len(raw) == 1 {
					return []byte(`"` + string(v.Name()) + `"`), nil
				}
			}
			return nil, nil
		}}},
		{"unknown fields everywhere", rewriter{open: func(md protoreflect.MessageDescriptor) []byte {
			return []byte(`"unknownField": {"a": [1, -2.5e-3, "x\u0000", true, false, null, {}, []], "asInt": "nope"}, "traceId\u0000": 5`)
		}}},
	}
	for _, name := range []string{"metrics.json", "full.json"} {
		orig := readFile(t, name)
		want, err := reference(orig)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				body, err := rewrite(orig, v.r)
				if err != nil {
					t.Fatal(err)
				}
				got := agree(t, body)
				if err := sameMessage(got, want); err != nil {
					t.Fatalf("%s changes the request: %v", v.name, err)
				}
			})
		}
	}
}

func isIntKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return true
	}
	return false
}

// wrap puts a data point's JSON inside a request: a gauge's point.
func gaugePoint(p string) string {
	return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[` + p + `]}}]}]}]}`
}

func histPoint(p string) string {
	return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[` + p + `]}}]}]}]}`
}

func sumWith(s string) string {
	return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":` + s + `}]}]}]}`
}

func attr(v string) string {
	return `{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":` + v + `}]}}]}`
}

func exemplar(e string) string { return gaugePoint(`{"exemplars":[` + e + `]}`) }

// agreeCases are bodies the reference accepts, each a rule of the mapping.
var agreeCases = []struct{ name, body string }{
	{"empty request", `{}`},
	{"whitespace", " \t\r\n{ \"resourceMetrics\" : [ { } , {} ] } \n"},
	{"empty lists", `{"resourceMetrics":[]}`},
	{"null request field", `{"resourceMetrics":null}`},
	{"int64 string", gaugePoint(`{"asInt":"-9223372036854775808"}`)},
	{"int64 number", gaugePoint(`{"asInt":-9223372036854775808}`)},
	{"int64 max", gaugePoint(`{"asInt":9223372036854775807}`)},
	{"int64 exponent", gaugePoint(`{"asInt":"1e18"}`)},
	{"int64 fraction that is whole", gaugePoint(`{"asInt":1.50e1}`)},
	{"int64 negative exponent", gaugePoint(`{"asInt":1200e-2}`)},
	{"int64 minus zero", gaugePoint(`{"asInt":"-0"}`)},
	{"zero with a huge exponent", gaugePoint(`{"asInt":0e999999999999}`)},
	{"fixed64 max", gaugePoint(`{"timeUnixNano":"18446744073709551615"}`)},
	{"fixed64 twenty digits by exponent", gaugePoint(`{"timeUnixNano":0.1e20}`)},
	{"twenty digits that make 1", gaugePoint(`{"asInt":0.00000000000000000001e20}`)},
	{"negative exponent beyond int32 on zero", gaugePoint(`{"asInt":0.0e-2147483649}`)},
	{"fixed64 zero", gaugePoint(`{"timeUnixNano":"0","startTimeUnixNano":0}`)},
	{"uint32 max", gaugePoint(`{"flags":4294967295}`)},
	{"uint32 string", gaugePoint(`{"flags":"7"}`)},
	{"double number", gaugePoint(`{"asDouble":-1.25e-3}`)},
	{"double string", gaugePoint(`{"asDouble":"1.5"}`)},
	{"double NaN", gaugePoint(`{"asDouble":"NaN"}`)},
	{"double Infinity", gaugePoint(`{"asDouble":"Infinity"}`)},
	{"double -Infinity", gaugePoint(`{"asDouble":"-Infinity"}`)},
	{"double zero kept in a oneof", gaugePoint(`{"asDouble":0}`)},
	{"double minus zero", gaugePoint(`{"asDouble":-0}`)},
	{"double escaped string", gaugePoint(`{"asDouble":"\u004eaN"}`)},
	{"double subnormal", gaugePoint(`{"asDouble":4.9e-324}`)},
	{"double underflow to zero", gaugePoint(`{"asDouble":1e-400}`)},
	{"double max", gaugePoint(`{"asDouble":1.7976931348623157e308}`)},
	{"double many digits", gaugePoint(`{"asDouble":0.1000000000000000055511151231257827021181583404541015625}`)},
	{"optional zero kept", histPoint(`{"sum":0,"min":0,"max":-0}`)},
	{"plain zero dropped", histPoint(`{"count":0,"flags":0}`)},
	{"plain minus zero kept", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"zeroThreshold":-0}]}}]}]}]}`},
	{"packed", histPoint(`{"bucketCounts":[0,"1",2e0],"explicitBounds":[0,-0,"NaN",1e300]}`)},
	{"packed varints", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"positive":{"offset":-1,"bucketCounts":[0,1,"18446744073709551615",128]}}]}}]}]}]}`},
	{"sint32 extremes", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"scale":-2147483648,"positive":{"offset":2147483647}}]}}]}]}]}`},
	{"enum number", sumWith(`{"aggregationTemporality":2}`)},
	{"enum name", sumWith(`{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE"}`)},
	{"enum unknown name leaves it unset", sumWith(`{"aggregationTemporality":"CUMULATIVE"}`)},
	{"enum digits in a string are a name", sumWith(`{"aggregationTemporality":"2"}`)},
	{"enum unknown number", sumWith(`{"aggregationTemporality":7}`)},
	{"enum negative", sumWith(`{"aggregationTemporality":-1}`)},
	{"enum whole fraction", sumWith(`{"aggregationTemporality":2.0}`)},
	{"enum zero", sumWith(`{"aggregationTemporality":0,"isMonotonic":false}`)},
	{"bool", sumWith(`{"isMonotonic":true}`)},
	{"string escapes", attr(`{"stringValue":"\"\\\/\b\f\n\r\t\u0000\u00e9\u20ac\ud83d\ude00"}`)},
	{"string UTF-8", attr(`{"stringValue":"é€😀"}`)},
	{"string empty kept in a oneof", attr(`{"stringValue":""}`)},
	{"escaped empty string", `{"resourceMetrics":[{"schemaUrl":""}]}`},
	{"escaped key", `{"resource\u004detrics":[{"schema_url":"\u0041"}]}`},
	{"bytes padded", attr(`{"bytesValue":"AQID"}`)},
	{"bytes unpadded", attr(`{"bytesValue":"AQI"}`)},
	{"bytes URL alphabet", attr(`{"bytesValue":"-_-_"}`)},
	{"bytes URL unpadded", attr(`{"bytesValue":"-_8"}`)},
	{"bytes with a newline", attr(`{"bytesValue":"AQ\nID"}`)},
	{"bytes escaped", attr(`{"bytesValue":"\u0041QID"}`)},
	{"bytes empty kept in a oneof", attr(`{"bytesValue":""}`)},
	{"int kept zero in a oneof", attr(`{"intValue":0}`)},
	{"bool false kept in a oneof", attr(`{"boolValue":false}`)},
	{"strindex zero kept in a oneof", attr(`{"stringValueStrindex":0}`)},
	{"empty AnyValue", attr(`{}`)},
	{"oneof null then set", attr(`{"stringValue":null,"intValue":3}`)},
	{"oneof set then null", attr(`{"intValue":3,"boolValue":null}`)},
	{"message null", `{"resourceMetrics":[{"resource":null}]}`},
	{"metric data null", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":null,"sum":{}}]}]}]}`},
	{"list null", histPoint(`{"bucketCounts":null,"attributes":null}`)},
	{"unknown fields", `{"x":1,"resourceMetrics":[{"y":{"z":[1,{"w":null}]},"resource":{"attributes":[],"u":"v"}}],"x":2}`},
	{"unknown deep", `{"x":` + strings.Repeat("[", 150) + strings.Repeat("]", 150) + `}`},
	{"field named like another message's", `{"resourceMetrics":[{"asInt":"x","traceId":7}]}`},
	{"exemplar ids", exemplar(`{"traceId":"0123456789abcdefABCDEF0123456789","spanId":"0011223344556677"}`)},
	{"exemplar empty ids", exemplar(`{"traceId":"","spanId":""}`)},
	{"exemplar zero ids kept", exemplar(`{"traceId":"00000000000000000000000000000000"}`)},
	{"exemplar escaped id", exemplar(`{"spanId":"\u0030112233445566778"}`)},
	{"key strindex negative", `{"resourceMetrics":[{"resource":{"attributes":[{"keyStrindex":-1}]}}]}`},
	{"entity refs", `{"resourceMetrics":[{"resource":{"entityRefs":[{"idKeys":["a",""],"descriptionKeys":[]}]}}]}`},
	{"summary", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"summary":{"dataPoints":[{"quantileValues":[{"quantile":0.5,"value":1},{}]}]}}]}]}]}`},
}

func TestAgrees(t *testing.T) {
	for _, tc := range agreeCases {
		t.Run(tc.name, func(t *testing.T) { agree(t, []byte(tc.body)) })
	}
}

// TestValues checks a few values against the generated types directly,
// not only against the reference.
func TestValues(t *testing.T) {
	out, err := transcode(t, []byte(gaugePoint(`{"asDouble":"NaN","timeUnixNano":1544712660300000000}`)))
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, out).ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetGauge().DataPoints[0]
	if !math.IsNaN(p.GetAsDouble()) || p.TimeUnixNano != 1544712660300000000 {
		t.Fatalf("got %v; want NaN at 1544712660300000000", p)
	}
	out, err = transcode(t, []byte(histPoint(`{"sum":0,"explicitBounds":[1,2],"bucketCounts":["3",0,1]}`)))
	if err != nil {
		t.Fatal(err)
	}
	h := decode(t, out).ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetHistogram().DataPoints[0]
	if h.Sum == nil || *h.Sum != 0 || h.Min != nil || len(h.ExplicitBounds) != 2 || len(h.BucketCounts) != 3 || h.BucketCounts[0] != 3 {
		t.Fatalf("got %v; want sum 0 present, min absent, 2 bounds, 3 counts", h)
	}
	out, err = transcode(t, []byte(exemplar(`{"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7"}`)))
	if err != nil {
		t.Fatal(err)
	}
	e := decode(t, out).ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetGauge().DataPoints[0].Exemplars[0]
	if got := string(e.TraceId); got != "\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36" {
		t.Fatalf("traceId %x; want 4bf92f3577b34da6a3ce929d0e0e4736", e.TraceId)
	}
	if got := string(e.SpanId); got != "\x00\xf0\x67\xaa\x0b\xa9\x02\xb7" {
		t.Fatalf("spanId %x; want 00f067aa0ba902b7", e.SpanId)
	}
}

const (
	rm     = "resourceMetrics[0]"
	point  = rm + ".scopeMetrics[0].metrics[0].gauge.dataPoints[0]"
	hpoint = rm + ".scopeMetrics[0].metrics[0].histogram.dataPoints[0]"
	sum    = rm + ".scopeMetrics[0].metrics[0].sum"
	value  = rm + ".resource.attributes[0].value"
)

// refuseCases are bodies refused, where and why. at is where: the offset
// of its first occurrence in the body ("$": the body's end).
var refuseCases = []struct {
	name, body, field, reason, at, metric string
}{
	{"empty body", ``, "", "empty body", "$", ""},
	{"only whitespace", " \n", "", "empty body", "$", ""},
	{"top-level array", `[]`, "", "want an object", "[", ""},
	{"top-level null", `null`, "", "want an object", "null", ""},
	{"top-level string", `"{}"`, "", "want an object", `"`, ""},
	{"data after", `{} x`, "", "data after the request", "x", ""},
	{"not closed", `{"resourceMetrics":[`, "resourceMetrics[0]", "want an object", "$", ""},
	{"object not closed", `{"resourceMetrics":[{}]`, "", "want ',' or '}'", "$", ""},
	{"trailing comma in object", `{"resourceMetrics":[],}`, "", "want a field name", "}", ""},
	{"trailing comma in list", `{"resourceMetrics":[{},]}`, "resourceMetrics[1]", "want an object", "]", ""},
	{"missing colon", `{"resourceMetrics" []}`, "", "want ':' after a field name", "[", ""},
	{"single quotes", `{'resourceMetrics':[]}`, "", "want a field name", "'", ""},
	{"unquoted name", `{resourceMetrics:[]}`, "", "want a field name", "r", ""},
	{"string not closed", `{"resourceMetrics`, "", "string not closed", `"`, ""},
	{"control character", "{\"resourceMetrics\":[{\"schemaUrl\":\"a\tb\"}]}", rm + ".schemaUrl", "control character 0x09 in a string (escape it)", "\t", ""},
	{"invalid UTF-8", "{\"resourceMetrics\":[{\"schemaUrl\":\"a\xffb\"}]}", rm + ".schemaUrl", "invalid UTF-8 in a string", "\xff", ""},
	{"invalid UTF-8 in an unknown field", "{\"x\":\"\xc0\x80\"}", `"x"`, "invalid UTF-8 in a string", "\xc0", ""},
	{"invalid UTF-8 in a name", "{\"\xff\":1}", "", "invalid UTF-8 in a string", "\xff", ""},
	{"surrogate encoded in UTF-8", "{\"x\":\"\xed\xa0\x80\"}", `"x"`, "invalid UTF-8 in a string", "\xed", ""},
	{"invalid escape", `{"x":"\x"}`, `"x"`, "invalid escape in a string", `\`, ""},
	{"short unicode escape", `{"x":"\u12"}`, `"x"`, "invalid escape in a string", `\`, ""},
	{"lone high surrogate", `{"x":"\ud800"}`, `"x"`, "invalid escape in a string", `\`, ""},
	{"lone low surrogate", `{"x":"a\udc00\ud800"}`, `"x"`, "invalid escape in a string", `\`, ""},
	{"high then not low", `{"x":"\ud800\u0041"}`, `"x"`, "invalid escape in a string", `\`, ""},
	{"leading zero", `{"x":01}`, "", "want ',' or '}'", "1", ""},
	{"leading plus", `{"x":+1}`, `"x"`, "invalid value", "+", ""},
	{"bare fraction", `{"x":.5}`, `"x"`, "invalid value", ".", ""},
	{"dot without digits", `{"x":1.}`, `"x"`, "invalid number", "1", ""},
	{"exponent without digits", `{"x":1e}`, `"x"`, "invalid number", "1", ""},
	{"exponent sign without digits", `{"x":[1e+]}`, `"x"`, "invalid number", "1", ""},
	{"bare NaN", gaugePoint(`{"asDouble":NaN}`), point + ".asDouble", "want a number", "NaN", "m"},
	{"bare Infinity", gaugePoint(`{"asDouble":Infinity}`), point + ".asDouble", "want a number", "Inf", "m"},
	{"true misspelt", `{"x":tru}`, `"x"`, "invalid value", "tru", ""},
	{"null misspelt", `{"resourceMetrics":nul}`, "resourceMetrics", "want an array", "nul", ""},
	{"unclosed unknown", `{"x":[1,2}`, `"x"`, "want ',' or ']'", "}", ""},
	{"mismatched unknown", `{"x":{"a":1]}`, `"x"`, "want ',' or '}'", "]", ""},
	{"unknown object without name", `{"x":{1:2}}`, `"x"`, "want a field name", "1", ""},
	{"unknown name without colon", `{"x":{"a" 2}}`, `"x"`, "want ':' after a field name", "2", ""},
	{"duplicate field", `{"resourceMetrics":[],"resourceMetrics":[]}`, "resourceMetrics", "field set twice", `"resourceMetrics":[]}`, ""},
	{"duplicate by both names", `{"resourceMetrics":[],"resource_metrics":[]}`, "resourceMetrics", "field set twice", `"resource_`, ""},
	{"duplicate after null", `{"resourceMetrics":null,"resourceMetrics":[]}`, "resourceMetrics", "field set twice", `"resourceMetrics":[`, ""},
	{"two oneof members", attr(`{"stringValue":"a","intValue":1}`), value + ".intValue", "a second value of a oneof (only one may be set)", `"intValue"`, ""},
	{"two metric data", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"n\u0031","gauge":{},"sum":{}}]}]}]}`,
		sum, "a second value of a oneof (only one may be set)", `"sum"`, "n1"},
	{"two point values", gaugePoint(`{"asInt":1,"asDouble":1}`), point + ".asDouble", "a second value of a oneof (only one may be set)", `"asDouble"`, "m"},
	{"string for a message", `{"resourceMetrics":[{"resource":"r"}]}`, rm + ".resource", "want an object", `"r"`, ""},
	{"object for a list", `{"resourceMetrics":{}}`, "resourceMetrics", "want an array", "{}", ""},
	{"null in a list", `{"resourceMetrics":[null]}`, "resourceMetrics[0]", "null in a list", "null", ""},
	{"null in a packed list", histPoint(`{"bucketCounts":[1,null]}`), hpoint + ".bucketCounts[1]", "null in a list", "null", "h"},
	{"null in a list of strings", `{"resourceMetrics":[{"resource":{"entityRefs":[{"idKeys":["a",null]}]}}]}`, rm + ".resource.entityRefs[0].idKeys[1]", "null in a list", "null", ""},
	{"number for a string", `{"resourceMetrics":[{"schemaUrl":1}]}`, rm + ".schemaUrl", "want a string", "1", ""},
	{"string for a bool", sumWith(`{"isMonotonic":"true"}`), sum + ".isMonotonic", "want true or false", `"true"`, "s"},
	{"number for a bool", sumWith(`{"isMonotonic":1}`), sum + ".isMonotonic", "want true or false", "1}", "s"},
	{"bool for an integer", gaugePoint(`{"asInt":true}`), point + ".asInt", "want an integer (a number or a string of one)", "true", "m"},
	{"fraction for an integer", gaugePoint(`{"asInt":1.5}`), point + ".asInt", "not an integer in range", "1.5", "m"},
	{"negative exponent for an integer", gaugePoint(`{"asInt":15e-1}`), point + ".asInt", "not an integer in range", "15e", "m"},
	{"int64 overflow", gaugePoint(`{"asInt":"9223372036854775808"}`), point + ".asInt", "integer out of range", `"9`, "m"},
	{"int64 underflow", gaugePoint(`{"asInt":-9223372036854775809}`), point + ".asInt", "integer out of range", "-9", "m"},
	{"uint64 overflow", gaugePoint(`{"timeUnixNano":18446744073709551616}`), point + ".timeUnixNano", "not an integer in range", "18", "m"},
	{"more than 20 digits by exponent", gaugePoint(`{"timeUnixNano":1e20}`), point + ".timeUnixNano", "not an integer in range", "1e20", "m"},
	{"twenty-one digits that make 1", gaugePoint(`{"asInt":0.000000000000000000001e21}`), point + ".asInt", "not an integer in range", "0.", "m"},
	{"exponent beyond int32", gaugePoint(`{"asInt":1e2147483648}`), point + ".asInt", "not an integer in range", "1e", "m"},
	{"negative fixed64", gaugePoint(`{"timeUnixNano":"-1"}`), point + ".timeUnixNano", "integer out of range", `"-1"`, "m"},
	{"uint32 overflow", gaugePoint(`{"flags":4294967296}`), point + ".flags", "integer out of range", "42", "m"},
	{"int32 overflow", `{"resourceMetrics":[{"resource":{"attributes":[{"keyStrindex":2147483648}]}}]}`, rm + ".resource.attributes[0].keyStrindex", "integer out of range", "21", ""},
	{"sint32 overflow", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"scale":-2147483649}]}}]}]}]}`,
		rm + ".scopeMetrics[0].metrics[0].exponentialHistogram.dataPoints[0].scale", "integer out of range", "-2", ""},
	{"spaces around a quoted integer", gaugePoint(`{"asInt":" 1"}`), point + ".asInt", "a string that is not a number", `" 1"`, "m"},
	{"empty quoted integer", gaugePoint(`{"asInt":""}`), point + ".asInt", "a string that is not a number", `""`, "m"},
	{"quoted integer with a plus", gaugePoint(`{"asInt":"+1"}`), point + ".asInt", "a string that is not a number", `"+1"`, "m"},
	{"quoted integer with a bad escape", gaugePoint(`{"asInt":"\q"}`), point + ".asInt", "invalid escape in a string", `\q`, "m"},
	{"double out of range", gaugePoint(`{"asDouble":1e309}`), point + ".asDouble", "number out of the range of a double", "1e309", "m"},
	{"double lower-case nan", gaugePoint(`{"asDouble":"nan"}`), point + ".asDouble", `a string that is not a number, "NaN", "Infinity" or "-Infinity"`, `"nan"`, "m"},
	{"double inf", gaugePoint(`{"asDouble":"-inf"}`), point + ".asDouble", `a string that is not a number, "NaN", "Infinity" or "-Infinity"`, `"-inf"`, "m"},
	{"double bool", gaugePoint(`{"asDouble":false}`), point + ".asDouble", "want a number", "false", "m"},
	{"double bad number", gaugePoint(`{"asDouble":-}`), point + ".asDouble", "invalid number", "-}", "m"},
	{"enum beyond int32", sumWith(`{"aggregationTemporality":2147483648}`), sum + ".aggregationTemporality", "integer out of range", "21", "s"},
	{"enum fraction", sumWith(`{"aggregationTemporality":1.5}`), sum + ".aggregationTemporality", "not an integer in range", "1.5", "s"},
	{"enum bool", sumWith(`{"aggregationTemporality":true}`), sum + ".aggregationTemporality", "want a number or a value's name", "true", "s"},
	{"enum bad number", sumWith(`{"aggregationTemporality":1e}`), sum + ".aggregationTemporality", "invalid number", "1e", "s"},
	{"bytes not base64", attr(`{"bytesValue":"A*=="}`), value + ".bytesValue", "invalid base64", `"A*`, ""},
	{"bytes bad padding", attr(`{"bytesValue":"A==="}`), value + ".bytesValue", "invalid base64", `"A=`, ""},
	{"bytes mixed alphabets", attr(`{"bytesValue":"+-=="}`), value + ".bytesValue", "invalid base64", `"+-`, ""},
	{"bytes number", attr(`{"bytesValue":1}`), value + ".bytesValue", "want a base64 string", "1}", ""},
	{"trace id too short", exemplar(`{"traceId":"0123"}`), point + ".exemplars[0].traceId", "want 32 hex digits", `"0123"`, "m"},
	{"span id too long", exemplar(`{"spanId":"001122334455667788"}`), point + ".exemplars[0].spanId", "want 16 hex digits", `"00`, "m"},
	{"id not hex", exemplar(`{"spanId":"00112233445566zz"}`), point + ".exemplars[0].spanId", "invalid hex", `"00`, "m"},
	{"id base64", exemplar(`{"spanId":"ABEiM0RVZnc="}`), point + ".exemplars[0].spanId", "want 16 hex digits", `"AB`, "m"},
	{"id number", exemplar(`{"spanId":1}`), point + ".exemplars[0].spanId", "want a hex string", "1}", "m"},
	{"error inside an unknown field", `{"resourceMetrics":[{"x\ty":{"a":[1,2 3]}}]}`, rm + `."x\ty"`, "want ',' or ']'", "3]", ""},
}

func TestRefuses(t *testing.T) {
	for _, tc := range refuseCases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			_, err := transcode(t, body)
			if err == nil {
				t.Fatal("accepted; want it refused")
			}
			if _, werr := reference(body); werr == nil && divergence(body, err) == "" {
				t.Errorf("the reference accepts it")
			}
			var de *sample.DecodeError
			errors.As(err, &de)
			at := len(body)
			if tc.at != "$" {
				at = strings.Index(tc.body, tc.at)
			}
			if de.Field != tc.field || de.Reason != tc.reason || de.Offset != at || de.Metric != tc.metric {
				t.Fatalf("got field %q reason %q offset %d metric %q; want %q %q %d %q (%v)",
					de.Field, de.Reason, de.Offset, de.Metric, tc.field, tc.reason, at, tc.metric, err)
			}
			if !strings.HasPrefix(err.Error(), "cannot parse otlp json body: ") {
				t.Fatalf("got %q; want it to start with the format", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	body := `{"resourceMetrics":[{"scopeMetrics":[{},{"metrics":[{},{},{"name":"a.b","gauge":{"dataPoints":[{"asDouble":"x"}]}}]}]}]}`
	_, err := transcode(t, []byte(body))
	const want = `cannot parse otlp json body: metric "a.b": resourceMetrics[0].scopeMetrics[1].metrics[2].gauge.dataPoints[0].asDouble: ` +
		`a string that is not a number, "NaN", "Infinity" or "-Infinity" (at byte 107)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
	body = `{"resourceMetrics":[{"x\ty":{"a":[1,2 3]}}]}`
	_, err = transcode(t, []byte(body))
	const want2 = `cannot parse otlp json body: resourceMetrics[0]."x\ty": want ',' or ']' (at byte 38)`
	if err == nil || err.Error() != want2 {
		t.Fatalf("got %v; want %s", err, want2)
	}
}

// nested returns a request whose resource has an attribute of k arrays
// nested: the innermost AnyValue is at message depth 4 + 2k.
func nested(k int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":`)
	for range k {
		b.WriteString(`{"arrayValue":{"values":[`)
	}
	b.WriteString(`{"intValue":1}`)
	for range k {
		b.WriteString(`]}}`)
	}
	b.WriteString(`}]}}]}`)
	return []byte(b.String())
}

func TestDepth(t *testing.T) {
	// 4 + 2·48 = 100: the deepest the binary decoder reads.
	agree(t, nested(48))
	_, err := transcode(t, nested(49)) // an ArrayValue at 101
	var de *sample.DecodeError
	if !errors.As(err, &de) || de.Reason != "messages nested more than 100 deep" {
		t.Fatalf("got %v; want messages nested more than 100 deep", err)
	}
	if !strings.HasSuffix(de.Field, ".arrayValue") {
		t.Fatalf("got field %q; want it to end at the arrayValue", de.Field)
	}
	// The reference reads deeper (its limit is 10 000).
	if _, err := reference(nested(49)); err != nil {
		t.Fatalf("the reference refuses it: %v", err)
	}
	// Unknown fields may nest deeper: skipping recurses on nothing.
	deep := `{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	agree(t, []byte(deep))
}

func TestTooLarge(t *testing.T) {
	var tr Transcoder
	body := make([]byte, MaxBody+1)
	out, err := tr.Transcode([]byte("x"), body)
	if !errors.Is(err, sample.ErrTooLarge) || string(out) != "x" {
		t.Fatalf("got %q, %v; want x and ErrTooLarge", out, err)
	}
}

// TestReuse: a Transcoder reused after failures, and on a dst with room,
// gives what a fresh one does.
func TestReuse(t *testing.T) {
	var tr Transcoder
	full := readFile(t, "full.json")
	want, err := transcode(t, full)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 1<<16)
	for _, body := range []string{`{"x":"\ud800"}`, string(full), gaugePoint(`{"asInt":1.5}`), string(full), "{", string(full)} {
		out, err := tr.Transcode(dst[:0], []byte(body))
		if err == nil && body == string(full) && !bytes.Equal(out, want) {
			t.Fatalf("reused: got %x; want %x", out, want)
		}
		if (err == nil) != (body == string(full)) {
			t.Fatalf("reused: %.20s: got %v", body, err)
		}
	}
}

// TestOutputBound: the worst case, eight bytes of packed double for every
// two of body, stays within 4 bytes per byte.
func TestOutputBound(t *testing.T) {
	for _, n := range []int{1, 2, 100, 10000} {
		body := histPoint(`{"explicitBounds":[` + strings.Repeat("0,", n-1) + `0],"bucketCounts":[` + strings.Repeat("0,", n-1) + `0]}`)
		out, err := transcode(t, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if n == 10000 && len(out)*10 < len(body)*39 {
			t.Fatalf("%d bytes for %d; the worst case should come close to 4 per byte", len(out), len(body))
		}
	}
}
