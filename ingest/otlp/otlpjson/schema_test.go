package otlpjson

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestSchemaMatchesDescriptors holds the hand-written schema to the
// generated descriptors of go.opentelemetry.io/proto/otlp: the same
// messages reached from the request, and in each the same fields with the
// same numbers, names, kinds, cardinality, presence and oneof, packed
// where the descriptor packs.
func TestSchemaMatchesDescriptors(t *testing.T) {
	kinds := map[protoreflect.Kind]kind{
		protoreflect.MessageKind:  kMessage,
		protoreflect.StringKind:   kString,
		protoreflect.BytesKind:    kBytes,
		protoreflect.BoolKind:     kBool,
		protoreflect.Int32Kind:    kInt32,
		protoreflect.Int64Kind:    kInt64,
		protoreflect.Uint32Kind:   kUint32,
		protoreflect.Uint64Kind:   kUint64,
		protoreflect.Sint32Kind:   kSint32,
		protoreflect.EnumKind:     kEnum,
		protoreflect.Fixed64Kind:  kFixed64,
		protoreflect.Sfixed64Kind: kSfixed64,
		protoreflect.DoubleKind:   kDouble,
	}
	byName := map[protoreflect.FullName]msgID{}
	for id := range numMessages {
		byName[protoreflect.FullName(messages[id].name)] = id
	}
	reached := map[msgID]bool{}
	var check func(md protoreflect.MessageDescriptor)
	check = func(md protoreflect.MessageDescriptor) {
		id, ok := byName[md.FullName()]
		if !ok {
			t.Errorf("%s: not in the schema", md.FullName())
			return
		}
		if reached[id] {
			return
		}
		reached[id] = true
		fs := messages[id].fields
		if len(fs) != md.Fields().Len() {
			t.Errorf("%s: %d fields; the descriptor has %d", md.FullName(), len(fs), md.Fields().Len())
		}
		for i := range fs {
			f := &fs[i]
			fd := md.Fields().ByNumber(protoreflect.FieldNumber(f.num))
			if fd == nil {
				t.Errorf("%s: no field %d", md.FullName(), f.num)
				continue
			}
			want := kinds[fd.Kind()]
			if _, ok := isID(fd); ok {
				want = kID
			}
			oneof := fd.ContainingOneof() != nil && !fd.ContainingOneof().IsSynthetic()
			if f.json != fd.JSONName() || f.proto != string(fd.Name()) || f.kind != want || f.list != fd.IsList() ||
				f.pres != fd.HasPresence() || f.oneof != oneof || f.list && f.kind != kMessage && f.kind != kString && !fd.IsPacked() {
				t.Errorf("%s: field %+v; descriptor %v (json %s, presence %v, oneof %v, packed %v)",
					md.FullName(), *f, fd, fd.JSONName(), fd.HasPresence(), oneof, fd.IsPacked())
			}
			if f.num >= 16 {
				t.Errorf("%s: field %d: tags must be one byte", md.FullName(), f.num)
			}
			if fd.Message() != nil {
				if got, want := messages[f.msg].name, string(fd.Message().FullName()); got != want {
					t.Errorf("%s.%s: message %s; want %s", md.FullName(), fd.Name(), got, want)
				}
				check(fd.Message())
			}
			if ed := fd.Enum(); ed != nil {
				if len(f.enum) != ed.Values().Len() {
					t.Errorf("%s: %d values; want %d", fd.FullName(), len(f.enum), ed.Values().Len())
				}
				for n, name := range f.enum {
					if v := ed.Values().ByNumber(protoreflect.EnumNumber(n)); v == nil || string(v.Name()) != name {
						t.Errorf("%s: value %d is %s; want %v", fd.FullName(), n, name, v)
					}
				}
			}
		}
	}
	check(requestDesc)
	if len(reached) != int(numMessages) {
		t.Errorf("%d messages reached from the request; the schema has %d", len(reached), numMessages)
	}
}
