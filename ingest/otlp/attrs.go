package otlp

import (
	"bytes"
	"strconv"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/pbwire"
	"github.com/gomad/mad/internal/sample"
)

// Attributes are stringified into d.abuf as "key" 0x00 "value", so that
// sample.AppendKeySpans copies a short pair at once; a sample.Span locates
// each in d.abuf. The resource's come first (kept for its metrics), each
// point's after them (cut back after the point).

// span locates bytes of the body: body[s:e].
type span struct{ s, e int }

// AnyValue's fields (common.proto).
const (
	anyString = 1<<3 | pbwire.BytesType
	anyBool   = 2<<3 | pbwire.VarintType
	anyInt    = 3<<3 | pbwire.VarintType
	anyDouble = 4<<3 | pbwire.Fixed64Type
	anyArray  = 5<<3 | pbwire.BytesType
	anyKVList = 6<<3 | pbwire.BytesType
	anyBytes  = 7<<3 | pbwire.BytesType

	kvKey   = 1<<3 | pbwire.BytesType
	kvValue = 2<<3 | pbwire.BytesType

	// ArrayValue.values, KeyValueList.values.
	listValues = 1<<3 | pbwire.BytesType
)

// readAttr reads the KeyValue in body[s:e] (at depth) and appends it to
// d.abuf as key 0x00 value, returning its span there. ok is false after a
// failure (recorded in d.f).
func (d *Decoder) readAttr(s, e, depth int) (sample.Span, bool) {
	r := pbwire.NewReaderAt(d.body, s, e, depth)
	var key span
	// The value's occurrences: a singular message field met twice is the
	// merge of both, which is what reading their concatenation gives.
	base := len(d.stack)
	for r.More() {
		f := r.Next()
		switch f.Tag {
		case kvKey:
			if _, ok := r.String(f); ok {
				key = span{f.S, int(f.X)}
			}
		case kvValue:
			d.stack = append(d.stack, span{f.S, int(f.X)})
		}
	}
	if r.Err() != pbwire.OK {
		d.stack = d.stack[:base]
		return sample.Span{}, d.wire(r, "attributes")
	}
	k0 := len(d.abuf)
	d.abuf = append(d.abuf, d.body[key.s:key.e]...)
	k1 := len(d.abuf)
	d.abuf = append(d.abuf, 0)
	ok := d.appendAny(base, len(d.stack), depth+1)
	d.stack = d.stack[:base]
	if !ok {
		return sample.Span{}, false
	}
	return sample.Span{K0: uint32(k0), K1: uint32(k1), V0: uint32(k1 + 1), V1: uint32(len(d.abuf))}, true
}

// appendAny appends to d.abuf the string MAD makes of the AnyValue whose
// occurrences are d.stack[from:to] (messages at depth), as Java's
// stringification does (doc.go). A oneof's last member on the wire is its
// value; of a message member, the occurrences since a field of another
// member merge (their lists concatenate).
func (d *Decoder) appendAny(from, to, depth int) bool {
	// Find the last member and where its run starts.
	var last uint32
	runK, runAt := from, 0
	var lastF pbwire.Field
	dropped := false // a list member was replaced by another member
	for k := from; k < to; k++ {
		r := pbwire.NewReaderAt(d.body, d.stack[k].s, d.stack[k].e, depth)
		for r.More() {
			at := r.Offset()
			f := r.Next()
			switch f.Tag {
			case anyString, anyBool, anyInt, anyDouble, anyArray, anyKVList, anyBytes:
				if f.Tag == anyString {
					if _, ok := r.String(f); !ok {
						break
					}
				}
				if f.Tag != last {
					dropped = dropped || last == anyArray || last == anyKVList
					runK, runAt = k, at
				}
				last, lastF = f.Tag, f
			}
		}
		if r.Err() != pbwire.OK {
			return d.wire(r, "attributes")
		}
	}
	if dropped && !d.checkDropped(from, runK, runAt, depth) {
		return false
	}
	switch last {
	case 0:
		// Unset: "".
	case anyString:
		d.abuf = append(d.abuf, d.body[lastF.S:lastF.X]...)
	case anyBool:
		d.abuf = strconv.AppendBool(d.abuf, lastF.Bool())
	case anyInt:
		d.abuf = strconv.AppendInt(d.abuf, lastF.Int64(), 10)
	case anyDouble:
		d.abuf = javanum.AppendDouble(d.abuf, lastF.Double())
	case anyBytes:
		// Arrays.toString(byte[]): signed bytes.
		d.abuf = append(d.abuf, '[')
		for i, c := range d.body[lastF.S:lastF.X] {
			if i > 0 {
				d.abuf = append(d.abuf, ',', ' ')
			}
			d.abuf = strconv.AppendInt(d.abuf, int64(int8(c)), 10)
		}
		d.abuf = append(d.abuf, ']')
	case anyArray, anyKVList:
		return d.appendList(last, from, to, runK, runAt, depth)
	}
	return true
}

// checkDropped validates the array and kvlist members of the AnyValue
// occurrences d.stack[from:] (messages at depth) that precede the last
// member's run (which starts at offset runAt of occurrence runK): mad does
// not read them, Java parsed them.
func (d *Decoder) checkDropped(from, runK, runAt, depth int) bool {
	for k := from; k <= runK; k++ {
		e := d.stack[k].e
		if k == runK {
			e = runAt
		}
		r := pbwire.NewReaderAt(d.body, d.stack[k].s, e, depth)
		for r.More() {
			f := r.Next()
			id := msgArrayValue
			switch f.Tag {
			case anyKVList:
				id = msgKeyValueList
			case anyArray:
			default:
				continue
			}
			if sub, ok := check(r.Message(f), id); !ok {
				return d.wire(sub, "attributes")
			}
		}
		// The fields were read once already: r cannot fail.
	}
	return true
}

// appendList appends the elements of the array or kvlist member whose run
// starts at field offset runAt of occurrence runK, joined with ",": an
// array's elements stringified, a kvlist's as "key: value".
func (d *Decoder) appendList(member uint32, from, to, runK, runAt, depth int) bool {
	n := 0
	for k := runK; k < to; k++ {
		s := d.stack[k].s
		if k == runK {
			s = runAt
		}
		r := pbwire.NewReaderAt(d.body, s, d.stack[k].e, depth)
		for r.More() {
			f := r.Next()
			if f.Tag != member {
				continue // already validated
			}
			// One ArrayValue or KeyValueList: its values, in order.
			lr := r.Message(f)
			for lr.More() {
				g := lr.Next()
				if g.Tag != listValues {
					continue
				}
				if n > 0 {
					d.abuf = append(d.abuf, ',')
				}
				n++
				if !d.appendElement(member, g.S, int(g.X), depth+2) {
					return false
				}
			}
			if lr.Err() != pbwire.OK {
				return d.wire(lr, "attributes")
			}
		}
	}
	return true
}

// appendElement appends one element of a list: an AnyValue (array) or a
// KeyValue written "key: value" (kvlist), in body[s:e] at depth.
func (d *Decoder) appendElement(member uint32, s, e, depth int) bool {
	base := len(d.stack)
	defer func() { d.stack = d.stack[:base] }()
	if member == anyArray {
		d.stack = append(d.stack, span{s, e})
		return d.appendAny(base, base+1, depth)
	}
	r := pbwire.NewReaderAt(d.body, s, e, depth)
	var key span
	for r.More() {
		f := r.Next()
		switch f.Tag {
		case kvKey:
			if _, ok := r.String(f); ok {
				key = span{f.S, int(f.X)}
			}
		case kvValue:
			d.stack = append(d.stack, span{f.S, int(f.X)})
		}
	}
	if r.Err() != pbwire.OK {
		return d.wire(r, "attributes")
	}
	d.abuf = append(d.abuf, d.body[key.s:key.e]...)
	d.abuf = append(d.abuf, ':', ' ')
	return d.appendAny(base, len(d.stack), depth+1)
}

// keyOf returns the key of an attribute span.
func (d *Decoder) keyOf(sp sample.Span) []byte { return d.abuf[sp.K0:sp.K1] }

// sortAttrs sorts spans by key, stably (SortSpans is an insertion sort),
// and returns whether two keys are equal.
func (d *Decoder) sortAttrs(spans []sample.Span) bool {
	return sample.SortSpans(d.abuf, spans) >= 0
}

// resourceDims turns the resource's attributes (d.res, in wire order) into
// its dimensions: empty values dropped, of repeated keys the last kept,
// sorted, and "service" added from "service.name" when absent.
func (d *Decoder) resourceDims() {
	res := d.res[:0]
	for _, sp := range d.res {
		if sp.V1 > sp.V0 {
			res = append(res, sp)
		}
	}
	sample.SortSpans(d.abuf, res)
	// Of equal keys (adjacent, in wire order) keep the last.
	out := res[:0]
	for i, sp := range res {
		if i+1 < len(res) && bytes.Equal(d.keyOf(sp), d.keyOf(res[i+1])) {
			continue
		}
		out = append(out, sp)
	}
	d.res = out
	var name *sample.Span
	hasService := false
	for i := range d.res {
		switch string(d.keyOf(d.res[i])) {
		case "service.name":
			name = &d.res[i]
		case "service":
			hasService = true
		}
	}
	if name != nil && !hasService {
		v0, v1 := name.V0, name.V1
		k0 := len(d.abuf)
		d.abuf = append(d.abuf, "service"...)
		k1 := len(d.abuf)
		d.abuf = append(d.abuf, 0)
		d.abuf = append(d.abuf, d.abuf[v0:v1]...)
		d.res = append(d.res, sample.Span{K0: uint32(k0), K1: uint32(k1), V0: uint32(k1 + 1), V1: uint32(len(d.abuf))})
		sample.SortSpans(d.abuf, d.res)
	}
}

// pointDims merges the point's attributes (d.pt, in wire order) over the
// resource's dimensions into d.dims, sorted and unique. It fails the
// request (ErrMADFails) if the point repeats a key.
func (d *Decoder) pointDims() bool {
	if d.sortAttrs(d.pt) {
		return d.failAt(errDupAttribute, -1, "attributes")
	}
	d.dims = d.dims[:0]
	i, j := 0, 0
	for i < len(d.pt) || j < len(d.res) {
		var c int
		switch {
		case i == len(d.pt):
			c = 1
		case j == len(d.res):
			c = -1
		default:
			c = bytes.Compare(d.keyOf(d.pt[i]), d.keyOf(d.res[j]))
		}
		switch {
		case c < 0:
			if d.pt[i].V1 > d.pt[i].V0 {
				d.dims = append(d.dims, d.pt[i])
			}
			i++
		case c > 0:
			d.dims = append(d.dims, d.res[j])
			j++
		default:
			// The point's wins, even when empty (dropped): MAD puts the
			// resource's only where the point has no such key.
			if d.pt[i].V1 > d.pt[i].V0 {
				d.dims = append(d.dims, d.pt[i])
			} else {
				d.dims = append(d.dims, d.res[j])
			}
			i++
			j++
		}
	}
	return true
}
