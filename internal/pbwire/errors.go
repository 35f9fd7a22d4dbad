package pbwire

// Code says why a message cannot be read: the kinds of protobuf-java's
// InvalidProtocolBufferException that MAD answers with 400. The primitives
// return a failure as the negative of its Code in place of an index, so
// that a result fits in registers: Code(-k) recovers it.
type Code uint8

// The failures, in an order decoders may extend: clientpb numbers its own
// (semantic) failures from NumCodes on.
const (
	OK Code = iota
	// Truncated: a field runs past the end of its message (or the input).
	Truncated
	// MalformedVarint: a varint longer than ten bytes.
	MalformedVarint
	// InvalidTag: a tag whose field number (of its low 32 bits) is 0.
	InvalidTag
	// InvalidWireType: wire type 6 or 7.
	InvalidWireType
	// NegativeSize: a length prefix whose low 32 bits are negative as a
	// Java int.
	NegativeSize
	// RecursionLimit: messages and groups nested more than MaxDepth deep.
	RecursionLimit
	// EndGroup: an end-group tag outside a group or of another field
	// number, or a group that the message ends inside.
	EndGroup
	// InvalidUTF8: a proto3 string field that is not valid UTF-8.
	InvalidUTF8
	// PackedFixed64: packed doubles or fixed64s not a multiple of 8 bytes.
	PackedFixed64
	// PackedFixed32: packed floats or fixed32s not a multiple of 4 bytes.
	PackedFixed32
	// NumCodes is the number of codes (not a code).
	NumCodes
)

var reasons = [NumCodes]string{
	OK:              "ok",
	Truncated:       "truncated message: a field runs past the end of its message",
	MalformedVarint: "malformed varint",
	InvalidTag:      "invalid tag (field number 0)",
	InvalidWireType: "invalid wire type",
	NegativeSize:    "negative length",
	RecursionLimit:  "messages nested more than 100 deep",
	EndGroup:        "end-group tag does not match a start-group tag",
	InvalidUTF8:     "string field is not valid UTF-8",
	PackedFixed64:   "packed doubles or fixed64s not a multiple of 8 bytes",
	PackedFixed32:   "packed floats or fixed32s not a multiple of 4 bytes",
}

// String returns the reason, in the words decoders put in their errors
// (after what they were reading, e.g. "Record.id: negative length").
func (c Code) String() string {
	if c < NumCodes {
		return reasons[c]
	}
	return "BUG: unknown pbwire code"
}
