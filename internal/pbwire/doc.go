// Package pbwire reads the protobuf wire format as protobuf-java's
// CodedInputStream does, for every decoder of a body that MAD parses with
// protobuf-java: the client protocols (ingest/clientpb), Prometheus remote
// write (ingest/promrw), and OTLP and Kafka's V2 RecordSet payloads to come.
// It decides MAD's corner cases once: where protobuf-java and
// google.golang.org/protobuf/encoding/protowire read the same bytes
// differently, pbwire reads them as Java does, because Java's reading
// decides MAD's 400s.
//
// It is pure: no allocation, no copy (what it returns is offsets into the
// caller's buffer, or subslices of it), no reflection, no generated code.
//
// # Java's rules, decided once
//
// Each row is tested in wire_test.go or reader_test.go; FuzzReader holds
// pbwire to an independent transliteration of CodedInputStream and to
// protowire, which must agree except on the rows marked "differs".
//
//	input                                protobuf-java, so pbwire        protowire
//	varint of 10 bytes, 10th 0x02..0x7f  bits beyond 64 dropped          refused (overflow)               differs
//	varint of 11 bytes or more           MalformedVarint                 refused (overflow)
//	tag varint of 32 bits or more        its low 32 bits are the tag     64 bits; field > 2^31-1 refused  differs
//	tag of field number 0                InvalidTag                      refused
//	wire type 6 or 7                     InvalidWireType                 refused (reserved)
//	length of 31 bits or more            its low 32 bits as a Java int:  refused (truncated)              differs
//	                                     NegativeSize, or that length
//	length past the message's end        Truncated                       refused (truncated)
//	known number, other wire type        an unknown field, skipped       (the caller's choice)
//	unknown field                        skipped, validated              skipped, validated
//	group                                skipped, validated, matched     skipped, validated, matched
//	end-group tag outside a group        EndGroup (ends the message      refused (end group)
//	                                     on a tag that is not 0)
//	message ends inside a group          EndGroup                        refused (truncated)              differs
//	messages and groups nested           RecursionLimit beyond MaxDepth  limit 10 000                     differs
//	                                     (100), from the top level
//	proto3 string not valid UTF-8        InvalidUTF8                     (not checked)
//	packed fixed-size values, length     PackedFixed64, PackedFixed32    (not checked)
//	  no multiple of their size          (Java: the last one truncated)
//	int32, uint32, enum varint           its low 32 bits                 (the caller's cast)
//	sint32                               zigzag of the low 32 bits       (the caller's cast)
//	bool                                 any varint but 0 is true        the same
//	non-canonical varint (0x80 0x00)     accepted                        accepted
//
// What a decoder decides on top, as Java's generated code does: the last
// occurrence of a singular scalar field wins; occurrences of a singular
// message field merge; a repeated scalar field may come packed or not, in
// any mix.
//
// # Where a failure is
//
// A failure is reported at the offset of what was being read when it was
// found:
//
//	a tag that is truncated, malformed or of field number 0   the tag
//	wire type 6 or 7 of the message's own field               the tag
//	a value: truncated, malformed, negative length, not       the value (just after the tag)
//	  UTF-8, packed of the wrong length, a message or group
//	  beyond MaxDepth, an end-group tag outside a group
//	a packed varint                                           that varint
//	inside a skipped group: its tags and values as above,     where the inner element is
//	  except that a wire type 6 or 7 is at its value; an
//	  end-group tag of another number at that tag; the
//	  message's end inside the group at the end
//
// # Two ways to read
//
// Reader is the cursor over the fields of one message: Next returns each
// field validated (a Field, with typed accessors that read values as Java
// does), Message opens a sub-Reader one level deeper, String checks UTF-8,
// the Append methods read packed fields; a failure ends the loop and Err
// says what and where. It is what a decoder should use (ingest/promrw
// does):
//
//	for r.More() {
//		switch f := r.Next(); f.Tag {
//		case 1<<3 | pbwire.BytesType: …
//		}
//	}
//
// Next is a call per field. Go inlines no function that falls back to a
// call (the call alone costs 57 of the inliner's budget of 80), so no
// cursor method with a fast path and a slow one can be inlined; and a
// cursor whose state lives in a struct keeps its offset in memory. Next
// returns the Field in registers, which is as fast as this gets: about
// 6 ns a field, against 2.6 ns for a hand-written loop that keeps the
// offset in a register and inlines the fast paths (BenchmarkRead, 500
// records, 31 500 fields: 187 µs with Next, 82 µs with the loop, 211 µs
// with protowire's Consume functions; a Reader that kept the current field
// in its own fields measured twice Next's time in a prototype). So the
// primitives the Reader is built of are exported too, as index functions
// that keep everything in registers (Tag, Len, Varint, Fixed64, Fixed32,
// Double, String, Skip: the index after what they read, or the negative of
// a Code), with the fast paths small enough to inline that a caller falls
// back from (ShortTag, ShortLen, ASCII; and NextShortBytes for a Reader
// loop). ingest/clientpb's loops, the hottest, are written on them.
//
// Where protowire's functions read as Java does, pbwire uses them
// (ZigZag64); where Java differs, it replaces them once, here: Tag, Len,
// Varint, Skip. Fixed64 and Fixed32 read as protowire.ConsumeFixed64 and
// ConsumeFixed32 do, written out because over b[i:] the wrappers could not
// be inlined. Varint's slow path is unrolled over ten bytes when ten are
// left; against protowire.ConsumeVarint (wrapped for the tenth byte) it
// takes 3.5 ns instead of 4.9 for a two-byte varint, 4.9 instead of 5.6 for
// six bytes (a timestamp), and 7.4 instead of 7.0 for ten (BenchmarkVarint).
package pbwire
