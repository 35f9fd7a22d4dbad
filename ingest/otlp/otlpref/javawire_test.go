package otlpref

import (
	"math"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gomad/mad/internal/sample"
)

// A small protobuf writer for bodies proto.Marshal would not write.

type fld func([]byte) []byte

func msg(fs ...fld) []byte {
	var b []byte
	for _, f := range fs {
		b = f(b)
	}
	return b
}

func vf(num protowire.Number, v uint64) fld {
	return func(b []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
	}
}

func bf(num protowire.Number, p []byte) fld {
	return func(b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), p)
	}
}

func sf(num protowire.Number, s string) fld { return bf(num, []byte(s)) }

func f64f(num protowire.Number, v uint64) fld {
	return func(b []byte) []byte {
		return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), v)
	}
}

func raw(p ...byte) fld { return func(b []byte) []byte { return append(b, p...) } }

// inMetric wraps a Metric's fields into a request.
func inMetric(fs ...fld) []byte {
	return msg(bf(1, msg(bf(2, msg(bf(2, msg(fs...)))))))
}

// gaugeOf is a request with one gauge "m" of one point of the given fields.
func gaugeOf(point ...fld) []byte {
	return inMetric(sf(1, "m"), bf(5, msg(bf(1, msg(point...)))))
}

// expOf is a request with one exponential histogram "e" of one point.
func expOf(point ...fld) []byte {
	return inMetric(sf(1, "e"), bf(10, msg(bf(1, msg(point...)))))
}

var (
	at5    = f64f(3, tn)                    // time_unix_nano
	v2p5   = f64f(4, math.Float64bits(2.5)) // as_double
	scopeM = msg(bf(2, msg(sf(1, "m"), bf(5, msg(bf(1, msg(at5, v2p5)))))))
)

// request is a request of one ResourceMetrics of the given fields.
func request(fs ...fld) []byte { return msg(bf(1, msg(fs...))) }

// attr is a KeyValue (resource attribute, field 1 of Resource) of key k and
// AnyValue bytes v.
func attr(k string, v []byte) fld { return bf(1, msg(sf(1, k), bf(2, v))) }

// pointAttr is a KeyValue as attribute of a number point (field 7).
func pointAttr(k string, v []byte) fld { return bf(7, msg(sf(1, k), bf(2, v))) }

// TestJavaWire: bodies that protobuf-java (so MAD) and proto.Unmarshal read
// differently are read as Java does; the rest as both do.
func TestJavaWire(t *testing.T) {
	gaugeLine := line("m", ``, "v=2.5 unit=none")
	ok := func(lines ...string) outcome {
		return outcome{lines: lines, counts: sample.Counts{Records: 1, Samples: len(lines)}}
	}
	bad := outcome{err: sample.ErrMalformed}
	nest := func(leaf *commonpb.AnyValue, arrays int) []byte {
		v := leaf
		for range arrays {
			v = arr(v)
		}
		return marshal(t, rm(attrs(kv("k", v)), gauge("m", num(tn, 2.5))))
	}
	for _, c := range []struct {
		name string
		body []byte
		// goRefuses: proto.Unmarshal alone refuses the body (the case
		// shows canonical's work).
		goRefuses bool
		want      outcome
	}{
		{"plain", gaugeOf(at5, v2p5), false, ok(gaugeLine)},
		{"10-byte varint, bits beyond 64 dropped", gaugeOf(at5, v2p5, raw(0x40, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f)), true, ok(gaugeLine)},
		{"10-byte varint value: its low 64 bits", expOf(at5, raw(0x30, 0x86, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e),
			bf(8, msg(vf(2, 1))), f64f(4, 1)), true,
			ok(line("e", ``, "min=1.045253866332629 max=1.045253866332629 sum=0 count=1 hist=[1.045253866332629:1] unit=none"))},
		{"11-byte varint", gaugeOf(at5, v2p5, raw(0x40, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)), true, bad},
		{"tag with bits beyond 32", append([]byte{0x8a, 0x80, 0x80, 0x80, 0x10}, gaugeOf(at5, v2p5)[1:]...), true, ok(gaugeLine)},
		{"10-byte tag", append([]byte{0x8a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, gaugeOf(at5, v2p5)[1:]...), true, ok(gaugeLine)},
		{"length with bits beyond 32", func() []byte {
			b := gaugeOf(at5, v2p5)
			return append([]byte{0x0a, b[1] | 0x80, 0x80, 0x80, 0x80, 0x10}, b[2:]...)
		}(), true, ok(gaugeLine)},
		{"negative length", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, true, bad},
		{"length of 2^31", []byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x08}, true, bad},
		{"length past the end", []byte{0x0a, 0x05, 0x12, 0x00}, true, bad},
		{"field number 0", append(gaugeOf(at5, v2p5), 0x00), true, bad},
		{"field number 0, wire type 2", append(gaugeOf(at5, v2p5), 0x02, 0x00), true, bad},
		{"wire type 6", append(gaugeOf(at5, v2p5), 0x0e), true, bad},
		{"wire type 7", append(gaugeOf(at5, v2p5), 0x0f), true, bad},
		{"end group at the top", append(gaugeOf(at5, v2p5), 0x0c), true, bad},
		{"end group in a message", gaugeOf(at5, v2p5, raw(0x0c)), true, bad},
		{"unknown group skipped", gaugeOf(at5, v2p5, raw(0x9b, 0x06, 0x08, 0x01, 0x9b, 0x06, 0x9c, 0x06, 0x9c, 0x06)), false, ok(gaugeLine)},
		{"group ended by another number", gaugeOf(at5, v2p5, raw(0x9b, 0x06, 0x08, 0x01, 0xa4, 0x06)), true, bad},
		{"group not ended", gaugeOf(at5, v2p5, raw(0x9b, 0x06, 0x08, 0x01)), true, bad},
		// An AnyValue of k nested arrays holds fields at depth 4+2k.
		{"messages 100 deep", nest(str("x"), 48), false,
			ok(line("m", `"k"="x"`, "v=2.5 unit=none"))},
		{"messages 101 deep", nest(arr(), 48), false, bad},
		// The point's fields are at depth 5: the innermost of 95 groups
		// holds fields at depth 100.
		{"groups 100 deep", gaugeOf(at5, v2p5, raw(groups(95)...)), false, ok(gaugeLine)},
		{"groups 101 deep", gaugeOf(at5, v2p5, raw(groups(96)...)), false, bad},
		{"packed doubles, a partial one", inMetric(sf(1, "h"), bf(9, msg(bf(1, msg(at5, bf(7, make([]byte, 7))))))), true, bad},
		{"packed varints, one of 10 bytes", expOf(at5, bf(8, msg(bf(2, []byte{0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e})))), true,
			ok(line("e", ``, "min=1.5 max=1.5 sum=0 count=0 hist=[1.5:1] unit=none"))},
		{"packed varints, truncated", expOf(at5, bf(8, msg(bf(2, []byte{0x01, 0x81})))), true, bad},
		{"bucket counts unpacked", expOf(at5, bf(8, msg(vf(2, 1), vf(2, 2)))), false,
			ok(line("e", ``, "min=1.5 max=3 sum=0 count=0 hist=[1.5:1 3:2] unit=none"))},
		{"string_value_strindex is unknown to MAD", gaugeOf(at5, v2p5, pointAttr("k", msg(sf(1, "x"), vf(8, 5)))), false,
			ok(line("m", `"k"="x"`, "v=2.5 unit=none"))},
		{"string_value_strindex alone", gaugeOf(at5, v2p5, pointAttr("k", msg(vf(8, 5)))), false, ok(gaugeLine)},
		{"key_strindex is unknown to MAD", gaugeOf(at5, v2p5, bf(7, msg(vf(3, 4), bf(2, msg(sf(1, "x")))))), false,
			ok(line("m", `""="x"`, "v=2.5 unit=none"))},
		{"entity_refs are unknown to MAD: not validated",
			request(bf(1, msg(bf(3, msg(sf(2, "\xff"))))), bf(2, scopeM)), true, ok(gaugeLine)},
		{"invalid UTF-8 in a description", inMetric(sf(1, "m"), sf(2, "\xff"), bf(5, msg(bf(1, msg(at5, v2p5))))), true, bad},
		{"invalid UTF-8 in a scope name", msg(bf(1, msg(bf(2, msg(bf(1, msg(sf(1, "\xc0\x80")))))))), true, bad},
		{"invalid UTF-8 in an unknown field", gaugeOf(at5, v2p5, sf(99, "\xff")), false, ok(gaugeLine)},
		{"a known number of another wire type is unknown", inMetric(vf(1, 7), bf(5, msg(bf(1, msg(at5, v2p5))))), false,
			ok(line("", ``, "v=2.5 unit=none"))},
		{"a singular double as wire type 2 is unknown", gaugeOf(at5, bf(4, make([]byte, 8))), false, ok(line("m", ``, "v=0 unit=none"))},
		{"message occurrences merge", request(bf(1, msg(attr("a", msg(sf(1, "1"))))), bf(1, msg(attr("b", msg(sf(1, "2"))))),
			bf(2, scopeM)), false, ok(line("m", `"a"="1" "b"="2"`, "v=2.5 unit=none"))},
		{"oneof: the last member wins", gaugeOf(at5, v2p5, pointAttr("k", msg(sf(1, "x"), vf(3, 9)))), false,
			ok(line("m", `"k"="9"`, "v=2.5 unit=none"))},
		{"oneof: a message member merges", gaugeOf(at5, v2p5, pointAttr("k", msg(bf(5, msg(bf(1, msg(sf(1, "a"))))),
			bf(5, msg(bf(1, msg(sf(1, "b")))))))), false, ok(line("m", `"k"="a,b"`, "v=2.5 unit=none"))},
		{"scalars: the last wins", gaugeOf(at5, v2p5, f64f(4, math.Float64bits(4))), false, ok(line("m", ``, "v=4 unit=none"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(c.body, &req); (err != nil) != c.goRefuses {
				t.Errorf("proto.Unmarshal alone: got error %v; the case says refused=%v", err, c.goRefuses)
			}
			check(t, decode(t, c.body), c.want)
		})
	}
}

// groups returns n nested unknown groups (field 99).
func groups(n int) []byte {
	var b []byte
	for range n {
		b = append(b, 0x9b, 0x06)
	}
	for range n {
		b = append(b, 0x9c, 0x06)
	}
	return b
}
