// Package caggtest decodes what MAD's Cluster Aggregator receives, with the
// protobuf runtime and a schema built from descriptors (not with the
// sink's encoder): the test double of a Cluster Aggregator, for the tests
// of sinks/cagg and of the daemon.
package caggtest

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The messages.proto schema of MAD-SPEC §9.3, built with the protobuf
// runtime (independent of the package's encoder).

// Schema holds the message descriptors of MAD's Cluster Aggregator protocol.
type Schema struct {
	StatisticSet, Statistic, Histogram, Heartbeat protoreflect.MessageDescriptor
}

// NewSchema builds messages.proto (MAD-SPEC §9.3) with the protobuf
// runtime, independently of the sink's encoder.
func NewSchema() Schema {
	const pkg = "com.arpnetworking.metrics.aggregation.protocol"
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	field := func(name string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{
			Name: proto.String(name), Number: proto.Int32(num), Label: label.Enum(), Type: typ.Enum(),
			JsonName: proto.String(name),
		}
		if typeName != "" {
			f.TypeName = proto.String("." + pkg + "." + typeName)
		}
		return f
	}
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	dbl := descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("messages.proto"),
		Package: proto.String(pkg),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("StatisticRecord"), Field: []*descriptorpb.FieldDescriptorProto{
				field("statistic", 1, opt, str, ""),
				field("value", 2, opt, dbl, ""),
				field("unit", 3, opt, str, ""),
				field("user_specified", 4, opt, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""),
				field("supporting_data", 5, opt, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
			}},
			{Name: proto.String("SparseHistogramEntry"), Field: []*descriptorpb.FieldDescriptorProto{
				field("bucket", 1, opt, dbl, ""),
				field("count", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_UINT64, ""),
			}},
			{Name: proto.String("SparseHistogramSupportingData"), Field: []*descriptorpb.FieldDescriptorProto{
				field("unit", 1, opt, str, ""),
				field("entries", 2, rep, msg, "SparseHistogramEntry"),
				field("precision", 3, opt, descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""),
			}},
			{Name: proto.String("StatisticSetRecord"), Field: []*descriptorpb.FieldDescriptorProto{
				field("service", 1, opt, str, ""),
				field("cluster", 2, opt, str, ""),
				field("metric", 3, opt, str, ""),
				field("period", 4, opt, str, ""),
				field("period_start", 5, opt, str, ""),
				field("statistics", 6, rep, msg, "StatisticRecord"),
				field("dimensions", 8, rep, msg, "StatisticSetRecord.DimensionsEntry"),
				field("client_minimum_request_time", 9, opt, str, ""),
			},
				ReservedRange: []*descriptorpb.DescriptorProto_ReservedRange{{Start: proto.Int32(7), End: proto.Int32(8)}},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name:    proto.String("DimensionsEntry"),
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
					Field: []*descriptorpb.FieldDescriptorProto{
						field("key", 1, opt, str, ""),
						field("value", 2, opt, str, ""),
					},
				}},
			},
			{Name: proto.String("HeartbeatRecord"), Field: []*descriptorpb.FieldDescriptorProto{
				field("timestamp", 1, opt, str, ""),
			}},
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		panic(err)
	}
	m := f.Messages()
	return Schema{
		StatisticSet: m.ByName("StatisticSetRecord"),
		Statistic:    m.ByName("StatisticRecord"),
		Histogram:    m.ByName("SparseHistogramSupportingData"),
		Heartbeat:    m.ByName("HeartbeatRecord"),
	}
}

// Frame is one AggregationMessage: a 4-byte big-endian length that counts
// itself, a type byte, (for supporting data) a subtype byte, the payload.
type Frame struct {
	Type, Subtype byte
	Payload       []byte
}

// TypeSupportingData is the frame type whose payload has a subtype byte.
const TypeSupportingData = 0x05

// ReadFrame decodes the frame at the start of b and returns the rest.
func ReadFrame(b []byte) (Frame, []byte, error) {
	if len(b) < 5 {
		return Frame{}, nil, fmt.Errorf("short frame: %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint32(b))
	if n < 5 || n > len(b) {
		return Frame{}, nil, fmt.Errorf("frame length %d, have %d bytes", n, len(b))
	}
	f := Frame{Type: b[4], Payload: b[5:n]}
	if f.Type == TypeSupportingData {
		if n < 6 {
			return Frame{}, nil, fmt.Errorf("supporting data frame without a subtype")
		}
		f.Subtype, f.Payload = b[5], b[6:n]
	}
	return f, b[n:], nil
}

// Unmarshal parses b as md, refusing unknown fields and any encoding that
// differs from the protobuf runtime's deterministic one (byte
// compatibility).
func Unmarshal(md protoreflect.MessageDescriptor, b []byte) (*dynamicpb.Message, error) {
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("unmarshal %s: %w", md.Name(), err)
	}
	if len(m.GetUnknown()) != 0 {
		return nil, fmt.Errorf("%s: unknown fields %x", md.Name(), m.GetUnknown())
	}
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	if string(again) != string(b) {
		return nil, fmt.Errorf("%s: encoding differs from protobuf's:\n ours %x\n  pb  %x", md.Name(), b, again)
	}
	return m, nil
}
