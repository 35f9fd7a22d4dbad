package otlpref

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MAD parses a request with protobuf-java (CodedInputStream and the code
// generated for its copy of the OTLP protos); proto.Unmarshal reads a few
// byte sequences differently. Before handing a body to proto.Unmarshal,
// canonical re-reads it as Java does, guided by the message descriptors,
// and writes what Java read in the encoding both read alike:
//
//   - every varint is at most 10 bytes (11 or more are refused) and holds
//     the low 64 bits of what it encodes; tags and lengths are the low 32
//     bits (a length that is negative as a Java int is refused); all are
//     written back in canonical form;
//   - a tag of field number 0, wire type 6 or 7, an end-group tag outside
//     its group, and a message that ends inside a group are refused;
//   - messages and groups nest at most maxDepth deep, counted from the top
//     level as CodedInputStream's recursion limit counts (Go's default is
//     10,000);
//   - a field MAD's protos do not know, or a known number with another
//     wire type, is skipped after checking its wire format, and dropped;
//   - a packed run of fixed-size values whose length is no multiple of
//     their size is refused (Java reads past the run's end).
//
// What it leaves to proto.Unmarshal reads alike in both: strings must be
// valid UTF-8 (proto3), the last occurrence of a singular scalar wins,
// occurrences of a message field merge, and the last member of a oneof set
// wins.
const maxDepth = 100

// madUnknown lists the fields of go.opentelemetry.io/proto/otlp v1.11.1
// that MAD's OTLP protos (open-telemetry-protocol 1.4.0) predate: Java reads
// them as unknown fields. The strindex fields matter: a string_value_strindex
// set after a string_value leaves MAD's AnyValue a string.
var madUnknown = map[protoreflect.FullName]bool{
	"opentelemetry.proto.common.v1.AnyValue.string_value_strindex": true,
	"opentelemetry.proto.common.v1.KeyValue.key_strindex":          true,
	"opentelemetry.proto.resource.v1.Resource.entity_refs":         true,
}

// MADKnows reports whether MAD's OTLP protos have field fd (they predate
// the fields of madUnknown).
func MADKnows(fd protoreflect.FieldDescriptor) bool { return !madUnknown[fd.FullName()] }

var errWire = errors.New("invalid protobuf")

type jreader struct {
	b []byte
	i int
}

// varint reads a varint as CodedInputStream.readRawVarint64 does.
func (r *jreader) varint() (uint64, error) {
	var x uint64
	for k := 0; k < 10; k++ {
		if r.i >= len(r.b) {
			return 0, fmt.Errorf("%w: truncated varint at byte %d", errWire, r.i)
		}
		c := r.b[r.i]
		r.i++
		x |= uint64(c&0x7f) << (7 * k) // the 10th byte keeps its lowest bit only
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, fmt.Errorf("%w: varint of more than 10 bytes ending at byte %d", errWire, r.i)
}

// bytes reads n bytes.
func (r *jreader) bytes(n int) ([]byte, error) {
	if n > len(r.b)-r.i {
		return nil, fmt.Errorf("%w: %d bytes wanted at byte %d, %d left", errWire, n, r.i, len(r.b)-r.i)
	}
	p := r.b[r.i : r.i+n]
	r.i += n
	return p, nil
}

// length reads a length prefix: the varint's low 32 bits as a Java int.
func (r *jreader) length() (int, error) {
	v, err := r.varint()
	if err != nil {
		return 0, err
	}
	n := int32(uint32(v))
	if n < 0 {
		return 0, fmt.Errorf("%w: negative length at byte %d", errWire, r.i)
	}
	return int(n), nil
}

// tag reads a tag: the varint's low 32 bits.
func (r *jreader) tag() (protowire.Number, protowire.Type, error) {
	v, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	t := uint32(v)
	if t>>3 == 0 {
		return 0, 0, fmt.Errorf("%w: field number 0 at byte %d", errWire, r.i)
	}
	return protowire.Number(t >> 3), protowire.Type(t & 7), nil
}

// canonical returns b, a message md, re-encoded as Java reads it.
func canonical(b []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	return canonMessage(nil, b, md, 0)
}

// canonMessage appends the fields of message b, read at nesting depth depth,
// to dst.
func canonMessage(dst, b []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, error) {
	r := jreader{b: b}
	for r.i < len(b) {
		num, wt, err := r.tag()
		if err != nil {
			return nil, err
		}
		fd := md.Fields().ByNumber(num)
		if fd != nil && !MADKnows(fd) {
			fd = nil
		}
		switch wt {
		case protowire.VarintType:
			v, err := r.varint()
			if err != nil {
				return nil, err
			}
			if fd != nil && isVarintKind(fd.Kind()) {
				dst = protowire.AppendTag(dst, num, wt)
				dst = protowire.AppendVarint(dst, v)
			}
		case protowire.Fixed64Type, protowire.Fixed32Type:
			size := 8
			if wt == protowire.Fixed32Type {
				size = 4
			}
			p, err := r.bytes(size)
			if err != nil {
				return nil, err
			}
			if fd != nil && fixedSize(fd.Kind()) == size {
				dst = protowire.AppendTag(dst, num, wt)
				dst = append(dst, p...)
			}
		case protowire.BytesType:
			n, err := r.length()
			if err != nil {
				return nil, err
			}
			p, err := r.bytes(n)
			if err != nil {
				return nil, err
			}
			if fd == nil {
				continue
			}
			switch k := fd.Kind(); {
			case k == protoreflect.MessageKind:
				if depth >= maxDepth {
					return nil, fmt.Errorf("%w: messages nested more than %d deep", errWire, maxDepth)
				}
				sub, err := canonMessage(nil, p, fd.Message(), depth+1)
				if err != nil {
					return nil, err
				}
				dst = protowire.AppendTag(dst, num, wt)
				dst = protowire.AppendBytes(dst, sub)
			case k == protoreflect.StringKind || k == protoreflect.BytesKind:
				dst = protowire.AppendTag(dst, num, wt)
				dst = protowire.AppendBytes(dst, p)
			case fd.IsList() && (isVarintKind(k) || fixedSize(k) > 0):
				packed, err := canonPacked(p, k)
				if err != nil {
					return nil, err
				}
				dst = protowire.AppendTag(dst, num, wt)
				dst = protowire.AppendBytes(dst, packed)
			}
			// a singular scalar as wire type 2 is an unknown field to Java
		case protowire.StartGroupType:
			if depth >= maxDepth {
				return nil, fmt.Errorf("%w: groups nested more than %d deep", errWire, maxDepth)
			}
			if err := skipGroup(&r, num, depth+1); err != nil {
				return nil, err
			}
		case protowire.EndGroupType:
			return nil, fmt.Errorf("%w: end-group tag outside a group at byte %d", errWire, r.i)
		default:
			return nil, fmt.Errorf("%w: wire type %d at byte %d", errWire, wt, r.i)
		}
	}
	return dst, nil
}

// canonPacked re-encodes a packed run of scalars of kind k.
func canonPacked(p []byte, k protoreflect.Kind) ([]byte, error) {
	if size := fixedSize(k); size > 0 {
		if len(p)%size != 0 {
			return nil, fmt.Errorf("%w: packed run of %d bytes of %d-byte values", errWire, len(p), size)
		}
		return p, nil
	}
	r := jreader{b: p}
	var out []byte
	for r.i < len(p) {
		v, err := r.varint()
		if err != nil {
			return nil, err
		}
		out = protowire.AppendVarint(out, v)
	}
	return out, nil
}

// skipGroup skips the fields of group num, read at nesting depth depth,
// and its end-group tag.
func skipGroup(r *jreader, num protowire.Number, depth int) error {
	for r.i < len(r.b) {
		n, wt, err := r.tag()
		if err != nil {
			return err
		}
		switch wt {
		case protowire.VarintType:
			_, err = r.varint()
		case protowire.Fixed64Type:
			_, err = r.bytes(8)
		case protowire.Fixed32Type:
			_, err = r.bytes(4)
		case protowire.BytesType:
			var l int
			if l, err = r.length(); err == nil {
				_, err = r.bytes(l)
			}
		case protowire.StartGroupType:
			if depth >= maxDepth {
				return fmt.Errorf("%w: groups nested more than %d deep", errWire, maxDepth)
			}
			err = skipGroup(r, n, depth+1)
		case protowire.EndGroupType:
			if n != num {
				return fmt.Errorf("%w: end-group tag %d in group %d at byte %d", errWire, n, num, r.i)
			}
			return nil
		default:
			err = fmt.Errorf("%w: wire type %d at byte %d", errWire, wt, r.i)
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: message ends inside group %d", errWire, num)
}

func isVarintKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return true
	}
	return false
}

// fixedSize is the size of a fixed-size scalar kind, 0 for other kinds.
func fixedSize(k protoreflect.Kind) int {
	switch k {
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return 8
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return 4
	}
	return 0
}
