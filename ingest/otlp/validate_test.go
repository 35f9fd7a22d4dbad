package otlp

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomad/mad/ingest/otlp/otlpref"
	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
	colpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
)

// TestSchema holds check's table to the generated descriptors: every
// length-delimited field MAD's protos know has the rule its kind calls for,
// and no other field has one.
func TestSchema(t *testing.T) {
	seen := map[msgID]protoreflect.FullName{}
	var walk func(md protoreflect.MessageDescriptor, id msgID)
	walk = func(md protoreflect.MessageDescriptor, id msgID) {
		if name, ok := seen[id]; ok {
			if name != md.FullName() {
				t.Errorf("schema %d is %s and %s", id, name, md.FullName())
			}
			return
		}
		seen[id] = md.FullName()
		want := [16]rule{}
		fds := md.Fields()
		for i := 0; i < fds.Len(); i++ {
			fd := fds.Get(i)
			if !otlpref.MADKnows(fd) {
				continue
			}
			if fd.Number() >= 16 {
				t.Fatalf("%s: field number %d ≥ 16", fd.FullName(), fd.Number())
			}
			var r rule
			switch k := fd.Kind(); {
			case k == protoreflect.MessageKind:
				r = rule{kind: ruleMessage, sub: schema[id][fd.Number()].sub}
				walk(fd.Message(), r.sub)
			case k == protoreflect.StringKind:
				r.kind = ruleString
			case fd.IsList() && (k == protoreflect.DoubleKind || k == protoreflect.Fixed64Kind):
				r.kind = ruleFixed64s
			case fd.IsList() && k == protoreflect.Uint64Kind:
				r.kind = ruleVarints
			case fd.IsList() && k != protoreflect.BytesKind:
				t.Fatalf("%s: repeated %v has no rule", fd.FullName(), k)
			}
			want[fd.Number()] = r
		}
		if schema[id] != want {
			t.Errorf("%s: schema %v; the descriptor says %v", md.FullName(), schema[id], want)
		}
	}
	walk((&colpb.ExportMetricsServiceRequest{}).ProtoReflect().Descriptor(), msgRequest)
	if len(seen) != int(numMsgs) {
		t.Errorf("%d schemas reached; %d declared", len(seen), numMsgs)
	}
}

// Bodies for TestJavaParsesAll, built field by field.
func field(num protowire.Number, b ...[]byte) []byte {
	var p []byte
	for _, x := range b {
		p = append(p, x...)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), p)
}

func bs(s string) []byte { return []byte(s) }

func request(metrics ...[]byte) []byte {
	var ms []byte
	for _, m := range metrics {
		ms = append(ms, field(2, m)...)
	}
	return field(1, field(2, ms))
}

func attr(k, v string) []byte { return append(field(1, bs(k)), field(2, field(1, bs(v)))...) }

// TestJavaParsesAll: bytes that mad does not read still refuse the request
// when protobuf-java cannot parse them, with Java's kind of failure; the
// same bodies with those bytes valid decode. Each body also goes through
// the differential check.
func TestJavaParsesAll(t *testing.T) {
	// A point's attributes (field an): a KeyValue cut short, one whose key
	// is not UTF-8; then a valid one.
	point := func(an protowire.Number) ([][]byte, []byte) {
		return [][]byte{field(an, []byte{0x0a, 0x05}), field(an, field(1, bs("\xff")))}, field(an, attr("k", "v"))
	}
	// An AnyValue or KeyValue: cut short, a string that is not UTF-8; valid.
	value := func() ([][]byte, []byte) { return [][]byte{{0x0a, 0x05}, field(1, bs("\xff"))}, field(1, bs("v")) }
	dup := field(1, append(field(7, attr("a", "1")), field(7, attr("a", "2"))...))
	gauge := field(5, field(1, field(7, attr("k", "v"))))
	metric := func(name string, fs ...[]byte) []byte {
		m := field(1, bs(name))
		for _, f := range fs {
			m = append(m, f...)
		}
		return m
	}
	pointAttr := func(any []byte) []byte { return field(5, field(1, field(7, field(1, bs("a")), field(2, any)))) }
	for _, c := range []struct {
		name  string
		parts func() ([][]byte, []byte)
		body  func(p []byte) []byte
		mad   bool // with p valid, MAD's own failure
	}{
		{"gauge replaced by sum", func() ([][]byte, []byte) { return point(7) }, func(p []byte) []byte {
			return request(metric("m", field(5, field(1, p)), field(7)))
		}, false},
		{"sum replaced by gauge", func() ([][]byte, []byte) { return point(7) }, func(p []byte) []byte {
			return request(metric("m", field(7, field(1, p)), gauge))
		}, false},
		{"histogram replaced by gauge", func() ([][]byte, []byte) { return point(9) }, func(p []byte) []byte {
			return request(metric("m", field(9, field(1, p)), gauge))
		}, false},
		{"exponential histogram replaced by gauge", func() ([][]byte, []byte) { return point(1) }, func(p []byte) []byte {
			return request(metric("m", field(10, field(1, p)), gauge))
		}, false},
		{"summary point", func() ([][]byte, []byte) { return point(7) }, func(p []byte) []byte {
			return request(metric("m", field(11, field(1, p))))
		}, false},
		{"summary replaced by gauge", func() ([][]byte, []byte) { return point(7) }, func(p []byte) []byte {
			return request(metric("m", field(11, field(1, p)), gauge))
		}, false},
		{"array attribute replaced by a string", value, func(p []byte) []byte {
			return request(metric("m", pointAttr(append(field(5, field(1, p)), field(1, bs("s"))...))))
		}, false},
		{"kvlist attribute replaced by an array", value, func(p []byte) []byte {
			return request(metric("m", pointAttr(append(field(6, field(1, p)), field(5)...))))
		}, false},
		{"MAD's failure before a malformed metric", func() ([][]byte, []byte) { return point(7) }, func(p []byte) []byte {
			return request(metric("a", field(5, dup)), metric("b", field(5, field(1, p))))
		}, true},
		{"MAD's failure before a malformed scope", func() ([][]byte, []byte) { return point(3) }, func(p []byte) []byte {
			// a scope's attributes are its field 3
			sm := append(field(2, metric("a", field(5, dup))), field(1, p)...)
			return field(1, field(2, sm))
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(Config{})
			decode := func(body []byte) error {
				var b sample.Batch
				_, err := d.Decode(body, 7, func(uint64) *sample.Batch { return &b })
				return err
			}
			bads, good := c.parts()
			for _, bad := range bads {
				body := c.body(bad)
				if err := decode(body); !errors.Is(err, sample.ErrMalformed) {
					t.Errorf("body %x: %v; want malformed", body, err)
				}
				checkDifferential(t, d, body)
			}
			body := c.body(good)
			if err := decode(body); c.mad && !errors.Is(err, sample.ErrMADFails) || !c.mad && err != nil {
				t.Errorf("body %x: %v; want MAD's failure %v", body, err, c.mad)
			}
			checkDifferential(t, d, body)
		})
	}
}

// TestCheckAllocs: checking what mad does not read allocates nothing: a
// whole request of every kind of data (Random's), and a Summary's points.
func TestCheckAllocs(t *testing.T) {
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i*7 + i/13)
	}
	bodies := [][]byte{otlpref.Random(data), workload(100, "histogram"),
		request(append(field(1, bs("m")), field(11, field(1, field(7, attr("k", "v"))))...))}
	for _, body := range bodies {
		if _, ok := check(pbwire.NewReader(body), msgRequest); !ok {
			t.Fatalf("body %x does not check", body)
		}
		var b sample.Batch
		d := NewDecoder(Config{})
		route := func(uint64) *sample.Batch { return &b }
		run := func() {
			b.Reset()
			check(pbwire.NewReader(body), msgRequest)
			d.Decode(body, 1, route)
		}
		run()
		if n := testing.AllocsPerRun(20, run); n != 0 {
			t.Errorf("%d-byte body: %v allocations", len(body), n)
		}
	}
}
