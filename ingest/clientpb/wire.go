package clientpb

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// The protobuf wire format as protobuf-java's CodedInputStream reads it,
// which is what decides MAD's 400s. It differs from
// google.golang.org/protobuf's protowire in corner cases that matter for
// exactness, so the primitives are written out here:
//   - a varint may take 10 bytes and its tenth byte any value below 0x80
//     (bits beyond 64 are dropped); an eleventh byte is malformed;
//   - tags and lengths are read as 32-bit varints: up to 10 bytes, only the
//     low 32 bits count (a length with bit 31 set is negative);
//   - field number 0 is an invalid tag; wire types 6 and 7 are invalid;
//   - an end-group tag ends the message that contains it, and a message
//     that ended on one is malformed unless a group of the same field
//     number is being read;
//   - messages and groups nest at most 100 deep (recursionLimit);
//   - a known field number with an unexpected wire type is an unknown
//     field, skipped (with the same validation);
//   - proto3 string fields must be valid UTF-8 (readStringRequireUtf8).

// Wire types.
const (
	wtVarint  = 0
	wtFixed64 = 1
	wtBytes   = 2
	wtStart   = 3
	wtEnd     = 4
	wtFixed32 = 5
)

// recursionLimit is CodedInputStream's default.
const recursionLimit = 100

// Failure codes. Wire codes come first; the semantic ones (a record MAD
// cannot build) follow.
const (
	errNone = iota
	errTruncated
	errMalformedVarint
	errInvalidTag
	errInvalidWireType
	errNegativeSize
	errRecursion
	errEndGroup
	errUTF8
	errPacked
	// semantic
	errDupDimension
	errDupAnnotation
	errDupMetric
	errUnknownUnit
	errIdentifierNotSet
	errShortID
	errTooLarge
)

var reasons = [...]string{
	errTruncated:        "truncated message: a field runs past the end of its message",
	errMalformedVarint:  "malformed varint",
	errInvalidTag:       "invalid tag (field number 0)",
	errInvalidWireType:  "invalid wire type",
	errNegativeSize:     "negative length",
	errRecursion:        "messages nested more than 100 deep",
	errEndGroup:         "end-group tag does not match a start-group tag",
	errUTF8:             "string field is not valid UTF-8",
	errPacked:           "packed doubles not a multiple of 8 bytes",
	errDupDimension:     "duplicate dimension name",
	errDupAnnotation:    "duplicate annotation name",
	errDupMetric:        "duplicate metric name",
	errUnknownUnit:      "unknown unit",
	errIdentifierNotSet: "required identifier is not set",
	errShortID:          "record id shorter than 16 bytes",
	errTooLarge:         "body larger than 2 GiB",
}

// uvarint reads a varint from b[i:end]. It returns the value and the index
// after it, or a negative failure code.
func uvarint(b []byte, i, end int) (uint64, int) {
	if i < end && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return uvarintSlow(b, i, end)
}

//go:noinline
func uvarintSlow(b []byte, i, end int) (uint64, int) {
	if end-i >= 10 {
		// Unrolled, with the bounds checked once.
		p := b[i : i+10 : i+10]
		x := uint64(p[0] & 0x7f)
		if p[0] < 0x80 {
			return x, i + 1
		}
		for k := 1; k < 10; k++ {
			c := p[k]
			x |= uint64(c&0x7f) << (7 * k)
			if c < 0x80 {
				return x, i + k + 1
			}
		}
		return 0, -errMalformedVarint
	}
	var x uint64
	for s := uint(0); s < 64; s += 7 {
		if i >= end {
			return 0, -errTruncated
		}
		c := b[i]
		i++
		x |= uint64(c&0x7f) << s
		if c < 0x80 {
			return x, i
		}
	}
	return 0, -errMalformedVarint
}

// tag reads a field key: field number and wire type.
func tag(b []byte, i, end int) (num uint32, wt uint32, j int) {
	t, j := uint32(0), i+1
	if i < end && b[i] < 0x80 {
		t = uint32(b[i])
	} else if t, j = tagLong(b, i, end); j < 0 {
		return 0, 0, j
	}
	if t>>3 == 0 {
		return 0, 0, -errInvalidTag
	}
	return t >> 3, t & 7, j
}

// tagLong reads a tag of more than one byte (or fails): the low 32 bits of
// the varint. The message loops read one-byte tags themselves.
//
//go:noinline
func tagLong(b []byte, i, end int) (t uint32, j int) {
	v, j := uvarintSlow(b, i, end)
	return uint32(v), j
}

// lenFast is length's fast path, small enough to inline: a one-byte length
// that fits. k < 0 means: call length.
func lenFast(b []byte, i, end int) (j, k int) {
	if i < end {
		if n := int(b[i]); n < 0x80 && n < end-i {
			return i + 1, i + 1 + n
		}
	}
	return 0, -1
}

// length reads a length prefix and returns the bounds [j, k) of the bytes it
// delimits, or k < 0.
func length(b []byte, i, end int) (j, k int) {
	v, j := uvarint(b, i, end)
	if j < 0 {
		return 0, j
	}
	n := int32(uint32(v))
	if n < 0 {
		return 0, -errNegativeSize
	}
	if int(n) > end-j {
		return 0, -errTruncated
	}
	return j, j + int(n)
}

// fixed64 reads a little-endian 64-bit value.
func fixed64(b []byte, i, end int) (uint64, int) {
	if end-i < 8 {
		return 0, -errTruncated
	}
	return binary.LittleEndian.Uint64(b[i:]), i + 8
}

func double(b []byte, i, end int) (float64, int) {
	v, j := fixed64(b, i, end)
	return math.Float64frombits(v), j
}

// str reads a length-delimited proto3 string and validates its UTF-8.
func str(b []byte, i, end int) (s []byte, j int) {
	j, k := length(b, i, end)
	if k < 0 {
		return nil, k
	}
	s = b[j:k:k]
	if !validString(s) {
		return nil, -errUTF8
	}
	return s, k
}

// validString reports whether s is valid UTF-8 (as Java's Utf8.isValidUtf8
// decides: no overlong forms, no surrogates, nothing above U+10FFFF), with
// a branch-light path for ASCII, which nearly every name is.
func validString(s []byte) bool {
	n := len(s)
	if n >= 8 {
		var acc uint64
		for i := 0; i+8 <= n; i += 8 {
			acc |= binary.LittleEndian.Uint64(s[i:])
		}
		acc |= binary.LittleEndian.Uint64(s[n-8:])
		return acc&0x8080808080808080 == 0 || utf8.Valid(s)
	}
	var acc byte
	for _, c := range s {
		acc |= c
	}
	return acc < 0x80 || utf8.Valid(s)
}

// unknown skips an unknown field whose tag t ended at b[j] (i is where the
// tag began), in a message msg at nesting depth depth. It returns the index
// after the field, or -1 after recording the failure. Tags with field
// number 0 fail here: no known field has it.
func (d *Decoder) unknown(b []byte, i, j, end int, t uint32, depth int, msg string) int {
	if t>>3 == 0 {
		d.fail(errInvalidTag, i, msg)
		return -1
	}
	if t&7 > wtFixed32 {
		d.fail(errInvalidWireType, i, msg)
		return -1
	}
	var at int
	k := skip(b, j, end, t>>3, t&7, depth, &at)
	if k < 0 {
		d.fail(k, at, msg)
	}
	return k
}

// skip skips the value of an unknown field (num, wt) that starts at b[i],
// in a message whose fields are at nesting depth depth. It returns the index
// after the value, or a negative failure code; *at is set to where a failure
// was found.
func skip(b []byte, i, end int, num, wt uint32, depth int, at *int) int {
	*at = i
	switch wt {
	case wtVarint:
		_, j := uvarint(b, i, end)
		return j
	case wtFixed64:
		if end-i < 8 {
			return -errTruncated
		}
		return i + 8
	case wtBytes:
		_, k := length(b, i, end)
		return k
	case wtFixed32:
		if end-i < 4 {
			return -errTruncated
		}
		return i + 4
	case wtStart:
		if depth >= recursionLimit {
			return -errRecursion
		}
		for {
			*at = i
			if i >= end {
				// EOF inside a group: the last tag read is 0, not the
				// expected end-group tag.
				return -errEndGroup
			}
			n, t, j := tag(b, i, end)
			if j < 0 {
				return j
			}
			if t == wtEnd {
				if n != num {
					return -errEndGroup
				}
				return j
			}
			if i = skip(b, j, end, n, t, depth+1, at); i < 0 {
				return i
			}
		}
	case wtEnd:
		// An end-group tag outside a group ends the message, which is then
		// malformed (checkLastTagWas(0)).
		return -errEndGroup
	}
	return -errInvalidWireType
}
