package otlpjson

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// MaxBody is the largest body Transcode reads (256 MiB): its output, at
// most 4 times as large, then has lengths and offsets that fit in 32 bits.
// A larger body is refused with sample.ErrTooLarge.
const MaxBody = 256 << 20

// MaxDepth is how deep messages may nest below the request: pbwire's
// limit, protobuf-java's, so that whatever Transcode writes the binary
// decoder can read.
const MaxDepth = pbwire.MaxDepth

// Transcoder transcodes OTLP/JSON export requests into protobuf. It keeps
// scratch space that it reuses, so in steady state a call allocates
// nothing but the growth of dst. It is not safe for concurrent use: keep
// one per HTTP slot.
type Transcoder struct {
	b []byte // the body
	i int    // the read position in b

	out  []byte // dst, with the content written so far (no length prefixes yet)
	base int    // len(dst) on entry

	// hdrs are the length-delimited fields (messages, packed lists) opened,
	// in the order of their content in out; their headers (tag, length) are
	// put in place at the end. hdrBytes is the size of the headers of the
	// fields closed so far.
	hdrs     []hdr
	hdrBytes int

	path  []step // where the walk is, for errors
	stack []byte // the containers open in a skipped value
	tmp   []byte // unescaped keys and numbers; decoded bytes

	// metric is where the raw name of the metric being read is in b, if it
	// was read; inM whether a metric is being read.
	metric [2]int
	inM    bool

	err *sample.DecodeError
}

// hdr is a length-delimited field whose length is known once it closes.
type hdr struct {
	at  uint32 // where its content starts in out, from base
	n   uint32 // its content's length, headers included
	tag byte
}

// step is a field of the path the walk is on: a known field's name, or an
// unknown one's (the raw name at b[ks:ke]), and the element's index in a
// list (-1 for none).
type step struct {
	name   string
	ks, ke int32
	index  int32
}

// Transcode appends the protobuf encoding of the ExportMetricsServiceRequest
// in the OTLP/JSON body to dst and returns it. On failure it returns dst as
// it was and a *sample.DecodeError (sample.ErrMalformed, or ErrTooLarge for
// a body over MaxBody). The output holds the fields that body sets, in
// body's order, each once; the body is not retained. dst and body must not
// overlap.
func (t *Transcoder) Transcode(dst, body []byte) ([]byte, error) {
	if len(body) > MaxBody {
		return dst, &sample.DecodeError{Kind: sample.ErrTooLarge, Format: format, Index: -1, Offset: -1,
			Reason: "body over 256 MiB"}
	}
	t.b, t.i = body, 0
	t.out, t.base = dst, len(dst)
	t.hdrs, t.hdrBytes = t.hdrs[:0], 0
	t.path = t.path[:0]
	t.inM, t.err = false, nil
	ok := t.request()
	out := t.out
	t.b, t.out = nil, nil
	if !ok {
		err := t.err
		t.err = nil
		return dst[:t.base], err
	}
	return t.assemble(out), nil
}

func (t *Transcoder) request() bool {
	t.ws()
	if t.next() != '{' {
		if t.i >= len(t.b) {
			return t.fail(t.i, "empty body")
		}
		return t.fail(t.i, "want an object")
	}
	if !t.message(mRequest, 0) {
		return false
	}
	t.ws()
	if t.i < len(t.b) {
		return t.fail(t.i, "data after the request")
	}
	return true
}

// message writes the fields of the message m at depth depth (0 for the
// request) from the object at t.i.
func (t *Transcoder) message(m msgID, depth int) bool {
	t.i++ // '{'
	t.ws()
	if t.next() == '}' {
		t.i++
		return true
	}
	if m == mMetric {
		t.inM, t.metric = true, [2]int{}
		defer func() { t.inM = false }()
	}
	var seen uint32 // field numbers
	oneofSet := false
	for {
		if t.next() != '"' {
			return t.fail(t.i, "want a field name")
		}
		at := t.i
		ks, ke, esc, ok := t.str()
		if !ok {
			return false
		}
		key := t.b[ks:ke]
		if esc {
			t.tmp = unescape(t.tmp[:0], key)
			key = t.tmp
		}
		if !t.colon() {
			return false
		}
		f := lookup(m, key)
		switch {
		case f == nil:
			t.path = append(t.path, step{ks: int32(ks), ke: int32(ke), index: -1})
			if !t.skip() {
				return false
			}
			t.path = t.path[:len(t.path)-1]
		case seen&(1<<f.num) != 0:
			t.path = append(t.path, step{name: f.json, index: -1})
			return t.fail(at, "field set twice")
		case t.isNull():
			seen |= 1 << f.num
			t.i += 4
		default:
			seen |= 1 << f.num
			t.path = append(t.path, step{name: f.json, index: -1})
			if f.oneof {
				if oneofSet {
					return t.fail(at, "a second value of a oneof (only one may be set)")
				}
				oneofSet = true
			}
			vs := t.i
			if !t.value(f, depth) {
				return false
			}
			t.path = t.path[:len(t.path)-1]
			if m == mMetric && f.num == 1 {
				t.metric = [2]int{vs + 1, t.i - 1} // the string's content
			}
		}
		t.ws()
		switch t.next() {
		case ',':
			t.i++
			t.ws()
		case '}':
			t.i++
			return true
		default:
			return t.fail(t.i, "want ',' or '}'")
		}
	}
}

// value writes the field f of a message at depth depth from the value at
// t.i (not null).
func (t *Transcoder) value(f *field, depth int) bool {
	if f.list {
		return t.list(f, depth)
	}
	if f.kind == kMessage {
		return t.submessage(f, depth)
	}
	return t.scalar(f, f.tag(), f.pres)
}

// submessage writes the message field f of a message at depth depth from
// the object at t.i.
func (t *Transcoder) submessage(f *field, depth int) bool {
	if t.next() != '{' {
		return t.fail(t.i, "want an object")
	}
	if depth >= MaxDepth {
		return t.fail(t.i, "messages nested more than 100 deep")
	}
	h, hb := t.open(f.tag())
	if !t.message(f.msg, depth+1) {
		return false
	}
	t.close(h, hb)
	return true
}

// list writes the repeated field f of a message at depth depth from the
// array at t.i: messages and strings one field per element, scalars
// packed into one field (none for no element).
func (t *Transcoder) list(f *field, depth int) bool {
	if t.next() != '[' {
		return t.fail(t.i, "want an array")
	}
	t.i++
	t.ws()
	if t.next() == ']' {
		t.i++
		return true
	}
	packed := f.kind != kMessage && f.kind != kString
	var h, hb int
	if packed {
		h, hb = t.open(f.num<<3 | wireBytes)
	}
	top := len(t.path) - 1
	for k := int32(0); ; k++ {
		t.path[top].index = k
		if t.isNull() {
			return t.fail(t.i, "null in a list")
		}
		var ok bool
		switch {
		case packed:
			ok = t.scalar(f, 0, true)
		case f.kind == kMessage:
			ok = t.submessage(f, depth)
		default:
			ok = t.scalar(f, f.tag(), true)
		}
		if !ok {
			return false
		}
		t.ws()
		switch t.next() {
		case ',':
			t.i++
			t.ws()
		case ']':
			t.i++
			t.path[top].index = -1
			if packed {
				t.close(h, hb)
			}
			return true
		default:
			return t.fail(t.i, "want ',' or ']'")
		}
	}
}

// scalar writes the scalar field f from the value at t.i (not null): with
// the tag tag, or bare (tag 0) as an element of a packed list; a zero
// value only if keep.
func (t *Transcoder) scalar(f *field, tag byte, keep bool) bool {
	switch f.kind {
	case kString:
		return t.stringValue(tag, keep)
	case kBytes:
		return t.bytesValue(tag, keep)
	case kID:
		return t.idValue(f, tag)
	case kBool:
		var x uint64
		switch t.next() {
		case 't':
			if !t.literal("true") {
				return false
			}
			x = 1
		case 'f':
			if !t.literal("false") {
				return false
			}
		default:
			return t.fail(t.i, "want true or false")
		}
		t.putVarint(tag, x, keep)
		return true
	case kEnum:
		return t.enumValue(f, tag, keep)
	case kDouble:
		x, ok := t.doubleValue()
		if ok {
			t.putFixed64(tag, math.Float64bits(x), keep)
		}
		return ok
	}
	at := t.i
	raw, ok := t.numberToken("want an integer (a number or a string of one)")
	if !ok {
		return false
	}
	v, ok := parseInt(raw)
	if !ok {
		return t.fail(at, "not an integer in range")
	}
	var x uint64
	switch f.kind {
	case kInt32:
		n, ok32 := v.int64(32)
		x, ok = uint64(n), ok32
	case kInt64, kSfixed64:
		n, ok64 := v.int64(64)
		x, ok = uint64(n), ok64
	case kSint32:
		n, ok32 := v.int64(32)
		x, ok = uint64(uint32(n<<1)^uint32(n>>31)), ok32
	case kUint32:
		x, ok = v.uint64(32)
	case kUint64, kFixed64:
		x, ok = v.uint64(64)
	}
	if !ok {
		return t.fail(at, "integer out of range")
	}
	if f.kind.wire() == wireFixed64 {
		t.putFixed64(tag, x, keep)
	} else {
		t.putVarint(tag, x, keep)
	}
	return true
}

// numberToken returns the JSON number at t.i: a number, or a string whose
// content is exactly one (escapes undone), as protojson reads integers.
func (t *Transcoder) numberToken(want string) ([]byte, bool) {
	at := t.i
	switch c := t.next(); {
	case c == '-' || isDigit(c):
		e := scanNumber(t.b, t.i)
		if e < 0 {
			return nil, t.fail(at, "invalid number")
		}
		t.i = e
		return t.b[at:e], true
	case c == '"':
		raw, ok := t.stringContent()
		if !ok {
			return nil, false
		}
		if len(raw) == 0 || scanNumber(raw, 0) != len(raw) {
			return nil, t.fail(at, "a string that is not a number")
		}
		return raw, true
	}
	return nil, t.fail(at, want)
}

// stringContent scans the string at t.i and returns its content, escapes
// undone (in t.tmp if it has any).
func (t *Transcoder) stringContent() ([]byte, bool) {
	s, e, esc, ok := t.str()
	if !ok {
		return nil, false
	}
	if !esc {
		return t.b[s:e], true
	}
	t.tmp = unescape(t.tmp[:0], t.b[s:e])
	return t.tmp, true
}

// doubleValue reads a double: a number, or a string that is "NaN",
// "Infinity", "-Infinity" or exactly a number.
func (t *Transcoder) doubleValue() (float64, bool) {
	at := t.i
	var raw []byte
	switch c := t.next(); {
	case c == '-' || isDigit(c):
		e := scanNumber(t.b, t.i)
		if e < 0 {
			return 0, t.fail(at, "invalid number")
		}
		raw, t.i = t.b[at:e], e
	case c == '"':
		s, ok := t.stringContent()
		if !ok {
			return 0, false
		}
		switch string(s) {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		if len(s) == 0 || scanNumber(s, 0) != len(s) {
			return 0, t.fail(at, `a string that is not a number, "NaN", "Infinity" or "-Infinity"`)
		}
		raw = s
	default:
		return 0, t.fail(at, "want a number")
	}
	x, ok := parseFloat(raw)
	if !ok {
		return 0, t.fail(at, "number out of the range of a double")
	}
	return x, true
}

// enumValue writes an enum: a number (an int32), or a string naming a
// value; a name the schema does not know leaves the field unset, as an
// unknown field is.
func (t *Transcoder) enumValue(f *field, tag byte, keep bool) bool {
	at := t.i
	switch c := t.next(); {
	case c == '"':
		s, ok := t.stringContent()
		if !ok {
			return false
		}
		for n, name := range f.enum {
			if string(s) == name {
				t.putVarint(tag, uint64(n), keep)
				return true
			}
		}
		return true
	case c == '-' || isDigit(c):
		e := scanNumber(t.b, t.i)
		if e < 0 {
			return t.fail(at, "invalid number")
		}
		t.i = e
		v, ok := parseInt(t.b[at:e])
		if !ok {
			return t.fail(at, "not an integer in range")
		}
		n, ok := v.int64(32)
		if !ok {
			return t.fail(at, "integer out of range")
		}
		t.putVarint(tag, uint64(n), keep)
		return true
	}
	return t.fail(at, "want a number or a value's name")
}

// stringValue writes a string field.
func (t *Transcoder) stringValue(tag byte, keep bool) bool {
	if t.next() != '"' {
		return t.fail(t.i, "want a string")
	}
	s, e, esc, ok := t.str()
	if !ok {
		return false
	}
	raw := t.b[s:e]
	if !esc {
		if len(raw) > 0 || keep {
			t.out = append(t.out, tag)
			t.out = appendVarint(t.out, uint64(len(raw)))
			t.out = append(t.out, raw...)
		}
		return true
	}
	n := unescapedLen(raw)
	if n > 0 || keep {
		t.out = append(t.out, tag)
		t.out = appendVarint(t.out, uint64(n))
		t.out = unescape(t.out, raw)
	}
	return true
}

// The four encodings protojson reads bytes in: standard or URL-safe
// alphabet, with or without padding.
var (
	b64Std    = base64.StdEncoding
	b64StdRaw = base64.RawStdEncoding
	b64URL    = base64.URLEncoding
	b64URLRaw = base64.RawURLEncoding
)

// bytesValue writes a bytes field from base64, read as protojson reads it:
// the URL-safe alphabet if the string holds '-' or '_', else the standard
// one; unpadded if its length is not a multiple of 4; CR and LF ignored
// (encoding/base64's rule).
func (t *Transcoder) bytesValue(tag byte, keep bool) bool {
	at := t.i
	if t.next() != '"' {
		return t.fail(at, "want a base64 string")
	}
	s, ok := t.stringContent()
	if !ok {
		return false
	}
	url := false
	for _, c := range s {
		if c == '-' || c == '_' {
			url = true
			break
		}
	}
	enc := b64Std
	switch {
	case url && len(s)%4 != 0:
		enc = b64URLRaw
	case url:
		enc = b64URL
	case len(s)%4 != 0:
		enc = b64StdRaw
	}
	buf := t.scratch(s, enc.DecodedLen(len(s)))
	n, err := enc.Decode(buf, s)
	if err != nil {
		return t.fail(at, "invalid base64")
	}
	if n > 0 || keep {
		t.out = append(t.out, tag)
		t.out = appendVarint(t.out, uint64(n))
		t.out = append(t.out, buf[:n]...)
	}
	return true
}

// idValue writes traceId or spanId from hex (either case): an empty string
// leaves it unset, anything else must be exactly 2·idLen hex digits.
func (t *Transcoder) idValue(f *field, tag byte) bool {
	at := t.i
	if t.next() != '"' {
		return t.fail(at, "want a hex string")
	}
	s, ok := t.stringContent()
	if !ok {
		return false
	}
	if len(s) == 0 {
		return true
	}
	if len(s) != 2*int(f.idLen) {
		return t.failf(at, "want %d hex digits", 2*int(f.idLen))
	}
	for _, c := range s {
		if unhex(c) < 0 {
			return t.fail(at, "invalid hex")
		}
	}
	t.out = append(t.out, tag, f.idLen)
	for k := 0; k < len(s); k += 2 {
		t.out = append(t.out, byte(unhex(s[k])<<4|unhex(s[k+1])))
	}
	return true
}

// scratch returns n bytes of scratch space that do not overlap s.
func (t *Transcoder) scratch(s []byte, n int) []byte {
	// s is either in the body or at the start of tmp: use tmp beyond it.
	k := 0
	if len(s) > 0 && len(t.tmp) > 0 && &s[0] == &t.tmp[:1][0] {
		k = len(s)
	}
	if cap(t.tmp) < k+n {
		grown := make([]byte, k, 2*(k+n))
		copy(grown, t.tmp[:k])
		t.tmp = grown
	}
	return t.tmp[k : k+n]
}

// putVarint writes a varint field (bare if tag is 0), unless x is 0 and
// not keep.
func (t *Transcoder) putVarint(tag byte, x uint64, keep bool) {
	if x == 0 && !keep {
		return
	}
	if tag != 0 {
		t.out = append(t.out, tag)
	}
	t.out = appendVarint(t.out, x)
}

// putFixed64 writes a fixed64 field (bare if tag is 0), unless x is 0 and
// not keep (for a double, +0: -0 is written, as proto3 serializers do).
func (t *Transcoder) putFixed64(tag byte, x uint64, keep bool) {
	if x == 0 && !keep {
		return
	}
	if tag != 0 {
		t.out = append(t.out, tag)
	}
	t.out = binary.LittleEndian.AppendUint64(t.out, x)
}

func appendVarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}

// varintLen is the length of x as a varint.
func varintLen(x uint64) int { return (bits.Len64(x|1)*9 + 64) / 64 }

// open starts a length-delimited field with tag tag. It returns the
// field's index and the header bytes so far, for close.
func (t *Transcoder) open(tag byte) (h, hb int) {
	t.hdrs = append(t.hdrs, hdr{at: uint32(len(t.out) - t.base), tag: tag})
	return len(t.hdrs) - 1, t.hdrBytes
}

// close ends the length-delimited field h opened when the header bytes
// were hb: its length is what was written since, with the headers of the
// fields closed since.
func (t *Transcoder) close(h, hb int) {
	n := len(t.out) - t.base - int(t.hdrs[h].at) + t.hdrBytes - hb
	t.hdrs[h].n = uint32(n)
	t.hdrBytes += 1 + varintLen(uint64(n))
}

// assemble puts the headers in place: the content moves up, from the end
// back, by the size of the headers before it, and each header goes just
// before its content. Every byte moves once.
func (t *Transcoder) assemble(out []byte) []byte {
	end := len(out)
	total := end + t.hdrBytes
	if cap(out) < total {
		grown := make([]byte, end, total+total/4)
		copy(grown, out)
		out = grown
	}
	out = out[:total]
	shift := t.hdrBytes
	for k := len(t.hdrs) - 1; k >= 0; k-- {
		h := t.hdrs[k]
		at := t.base + int(h.at)
		copy(out[at+shift:end+shift], out[at:end])
		n := 1 + varintLen(uint64(h.n))
		shift -= n
		p := out[at+shift : at+shift : at+shift+n]
		p = append(p, h.tag)
		appendVarint(p, uint64(h.n))
		end = at
	}
	if shift != 0 {
		panic("BUG: otlpjson: headers do not add up")
	}
	return out
}

// unhex is the value of hex digit c, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
