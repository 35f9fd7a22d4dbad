package collectd

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/gomad/mad/internal/jsonstr"
	"github.com/gomad/mad/internal/sample"
)

// Config configures a Decoder. The zero value has no record limit.
type Config struct {
	// MaxRecords bounds the records (collectd value lists) of one request;
	// 0 means no limit. Beyond it Decode fails with sample.ErrTooLarge.
	MaxRecords int
}

// Stats says what one call decoded: Counts (what Decode returns) and what
// was left out. Records counts MAD records (one per collectd value list,
// except those MAD skips for a null value); Samples counts the samples
// routed: one per value, plus one KindNone sample for a record without
// metrics.
type Stats struct {
	sample.Counts
	// NullRecords counts value lists skipped whole because their values
	// are null (collectd writes null for a NaN gauge or rate); MAD skips a
	// value list whose only value is null.
	NullRecords int
	// Nulls counts null values skipped in value lists that also have other
	// values (MAD answers such a request with 500; see the package
	// documentation).
	Nulls int
	// TooLong counts samples whose canonical key would exceed
	// sample.MaxKeyLen (a limit MAD does not have); they are skipped.
	TooLong int
}

// Decoder decodes collectd write_http JSON bodies into samples. It keeps a
// fastjson.Parser and scratch space that it reuses, so in steady state a
// call allocates nothing. One per producer slot; not safe for concurrent
// use.
type Decoder struct {
	cfg Config
	p   fastjson.Parser
	alt []byte // the body rewritten for the slow path
	sur []byte // the body with its lone surrogate escapes replaced

	hdr    []sample.Dim // header dimensions, unique, sorted, without host
	hostAt int          // where host goes among hdr
	dims   []sample.Dim // hdr with the record's host
	name   []byte
	key    []byte
	num    []byte // a number's text
	strs   []byte // strings made from numbers (coerced), per record
	vals   []value

	// the record being read, and its index
	r   record
	idx int
	err error
	st  Stats
}

// value is one entry of a record's values, dstypes and dsnames.
type value struct {
	v      float64
	null   bool
	kind   sample.Kind
	suffix []byte // dsname, or nil when it adds nothing to the name
}

// record holds a collectd value list's fields (the last occurrence of a
// key wins, as with Jackson's setters).
type record struct {
	host, plugin, pluginInstance, typ, typeInstance *fastjson.Value
	time, values, dstypes, dsnames                  *fastjson.Value
}

// NewDecoder returns a decoder for cfg.
func NewDecoder(cfg Config) *Decoder { return &Decoder{cfg: cfg} }

// Decode decodes a collectd write_http JSON body (an array of value lists)
// and appends a sample per value to the batch route picks. headerDims are
// the dimensions from the request's X-TAG-* headers (keys lower-cased,
// prefix removed; a later duplicate key wins); each record adds its host.
// now is unused: collectd records carry their time. body and headerDims are
// not retained; keys are copied into the batches.
//
// On error the caller discards everything routed during the call (MAD
// refuses the whole request). The error is a *sample.DecodeError: of kind
// sample.ErrMalformed (400) or, past MaxRecords, sample.ErrTooLarge (413).
// Stats says more about the call.
func (d *Decoder) Decode(body []byte, headerDims []sample.Dim, now int64, route sample.Route) (sample.Counts, error) {
	d.st = Stats{}
	d.err = nil
	d.headers(headerDims)
	err := d.decode(body, route)
	// Keep no reference to the caller's headers.
	clear(d.hdr[:cap(d.hdr)])
	clear(d.dims[:cap(d.dims)])
	return d.st.Counts, err
}

// Stats returns what the last Decode decoded and left out.
func (d *Decoder) Stats() Stats { return d.st }

func (d *Decoder) decode(body []byte, route sample.Route) error {
	root, err := d.parse(body)
	if err != nil {
		return err
	}
	if root.Type() != fastjson.TypeArray {
		// Jackson: a List cannot be read from anything but an array (and
		// from null MAD fails with a NullPointerException, 500).
		return parseError(-1, "", "the body is "+root.Type().String()+", not an array of value lists")
	}
	arr, _ := root.Array()
	for i, v := range arr {
		d.idx = i
		if err := d.record(v, route); err != nil {
			return err
		}
	}
	return nil
}

// parse parses the body with fastjson. When that fails it tries once more
// on a copy rewritten into what fastjson reads as Jackson reads the
// original: Infinity, +Infinity and -Infinity (which fastjson does not
// know) become +INF and -INF padded with spaces, and anything after the
// first complete value is cut (Jackson does not read past it).
func (d *Decoder) parse(body []byte) (*fastjson.Value, error) {
	if len(body) >= 3 && body[0] == 0xef && body[1] == 0xbb && body[2] == 0xbf {
		body = body[3:] // UTF-8 byte order mark, which Jackson skips
	}
	if b, ok := jsonstr.ReplaceLoneSurrogates(d.sur[:0], body); ok {
		d.sur, body = b, b // each lone surrogate is U+FFFD (jsonstr.ReadEscape)
	}
	if bytes.Contains(body, infinity) {
		// Rewritten at once: a failed parse costs an error allocation.
		d.alt = unInfinity(d.alt[:0], body)
		body = d.alt
	}
	v, err := d.p.ParseBytes(body)
	if err == nil {
		return v, nil
	}
	d.alt = unInfinity(d.alt[:0], body)
	if v, err2 := d.p.ParseBytes(d.alt); err2 == nil {
		return v, nil
	}
	return nil, parseError(-1, "", "invalid JSON: "+err.Error())
}

// unInfinity copies a JSON text, rewriting the Infinity tokens outside
// strings and stopping after the first complete object or array.
func unInfinity(dst, src []byte) []byte {
	depth := 0
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			dst = append(dst, src[i:j]...)
			i = j
			continue
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				return append(dst, c)
			}
		case c == 'I' && hasInfinity(src[i:]):
			dst = append(dst, "+INF    "...)
			i += len("Infinity")
			continue
		case (c == '+' || c == '-') && hasInfinity(src[i+1:]):
			dst = append(dst, c)
			dst = append(dst, "INF     "...)
			i += len("+Infinity")
			continue
		}
		dst = append(dst, c)
		i++
	}
	return dst
}

var infinity = []byte("Infinity")

func hasInfinity(b []byte) bool { return len(b) >= 8 && b2s(b[:8]) == "Infinity" }

// headers sorts the header dimensions, the last of equal keys winning as in
// MAD's HashMap, and sets aside host, which every record sets.
func (d *Decoder) headers(hd []sample.Dim) {
	d.hdr = append(d.hdr[:0], hd...)
	// Stable insertion sort by key: equal keys keep their order.
	for i := 1; i < len(d.hdr); i++ {
		x := d.hdr[i]
		j := i
		for j > 0 && b2s(d.hdr[j-1].Key) > b2s(x.Key) {
			d.hdr[j] = d.hdr[j-1]
			j--
		}
		d.hdr[j] = x
	}
	out := d.hdr[:0]
	for i, x := range d.hdr {
		if i+1 < len(d.hdr) && b2s(d.hdr[i+1].Key) == b2s(x.Key) {
			continue // a later one wins
		}
		if b2s(x.Key) == "host" {
			continue
		}
		out = append(out, x)
	}
	d.hdr = out
	d.hostAt = len(out)
	for i, x := range out {
		if b2s(x.Key) > "host" {
			d.hostAt = i
			break
		}
	}
}

// fail returns the error of the current record.
func (d *Decoder) fail(field, reason string) error { return parseError(d.idx, field, reason) }

// visit is the fastjson.Object.Visit callback: it keeps the fields MAD reads
// and checks the numbers of the others (Jackson tokenises what it skips).
func (d *Decoder) visit(k []byte, v *fastjson.Value) {
	switch b2s(k) {
	case "host":
		d.r.host = v
	case "time":
		d.r.time = v
	case "plugin":
		d.r.plugin = v
	case "plugin_instance":
		d.r.pluginInstance = v
	case "type":
		d.r.typ = v
	case "type_instance":
		d.r.typeInstance = v
	case "values":
		d.r.values = v
	case "dstypes":
		d.r.dstypes = v
	case "dsnames":
		d.r.dsnames = v
	default:
		if d.err == nil && !d.numbersValid(v) {
			d.err = d.fail(string(k), "invalid number")
		}
	}
}

// numbersValid checks every number in v against Jackson's grammar.
func (d *Decoder) numbersValid(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		_, ok := scanNumber(d.num)
		return ok
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, x := range a {
			if !d.numbersValid(x) {
				return false
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		ok := true
		o.Visit(func(_ []byte, x *fastjson.Value) { ok = ok && d.numbersValid(x) })
		return ok
	}
	return true
}

// str reads a String field: a string as is (it must be valid UTF-8), a
// number or a boolean as its text (Jackson's scalar coercion), null as
// absent; objects and arrays are refused.
func (d *Decoder) str(field string, v *fastjson.Value) (s []byte, null bool, err error) {
	switch v.Type() {
	case fastjson.TypeString:
		s, _ = v.StringBytes()
		if !utf8.Valid(s) {
			return nil, false, d.fail(field, "invalid UTF-8")
		}
		return s, false, nil
	case fastjson.TypeNull:
		return nil, true, nil
	case fastjson.TypeNumber:
		at := len(d.strs)
		d.strs = v.MarshalTo(d.strs)
		if _, ok := jsonNumber(d.strs[at:]); !ok {
			return nil, false, d.fail(field, "invalid number")
		}
		return d.strs[at:], false, nil
	case fastjson.TypeTrue:
		return trueText, false, nil
	case fastjson.TypeFalse:
		return falseText, false, nil
	}
	return nil, false, d.fail(field, "expected a string, got "+v.Type().String())
}

// double reads a Double: a number token, a string by Jackson's coercion,
// null as null; booleans, objects and arrays are refused.
func (d *Decoder) double(field string, v *fastjson.Value) (f float64, null bool, err error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		f, ok := jsonNumber(d.num)
		if !ok {
			return 0, false, d.fail(field, "invalid number "+quote(d.num))
		}
		return f, false, nil
	case fastjson.TypeNull:
		return 0, true, nil
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		f, null, ok := coerceDouble(s)
		if !ok {
			return 0, false, d.fail(field, "not a number: "+quote(s))
		}
		return f, null, nil
	}
	return 0, false, d.fail(field, "expected a number, got "+v.Type().String())
}

// array reads a list field: an array, null as null, absent as empty.
func (d *Decoder) array(field string, v *fastjson.Value) (a []*fastjson.Value, null bool, err error) {
	if v == nil {
		return nil, false, nil
	}
	switch v.Type() {
	case fastjson.TypeArray:
		a, _ = v.Array()
		return a, false, nil
	case fastjson.TypeNull:
		return nil, true, nil
	}
	return nil, false, d.fail(field, "expected an array, got "+v.Type().String())
}

// record decodes one value list.
func (d *Decoder) record(v *fastjson.Value, route sample.Route) error {
	o, err := v.Object()
	if err != nil {
		// Jackson refuses a scalar or an array where a CollectdRecord is
		// expected; for null MAD fails with a NullPointerException (500).
		return d.fail("", "a value list must be an object, got "+v.Type().String())
	}
	d.r = record{}
	d.strs = d.strs[:0]
	o.Visit(d.visit)
	if d.err != nil {
		return d.err
	}
	r := &d.r
	// Required (@NotNull): host, time, plugin, plugin_instance, type,
	// type_instance.
	host, err := d.required("host", r.host)
	if err != nil {
		return err
	}
	plugin, err := d.required("plugin", r.plugin)
	if err != nil {
		return err
	}
	pi, err := d.required("plugin_instance", r.pluginInstance)
	if err != nil {
		return err
	}
	typ, err := d.required("type", r.typ)
	if err != nil {
		return err
	}
	ti, err := d.required("type_instance", r.typeInstance)
	if err != nil {
		return err
	}
	if r.time == nil {
		return d.fail("time", "missing")
	}
	secs, null, err := d.double("time", r.time)
	if err != nil {
		return err
	}
	if null {
		return d.fail("time", "missing")
	}
	values, valuesNull, err := d.array("values", r.values)
	if err != nil {
		return err
	}
	dstypes, dstypesNull, err := d.array("dstypes", r.dstypes)
	if err != nil {
		return err
	}
	dsnames, dsnamesNull, err := d.array("dsnames", r.dsnames)
	if err != nil {
		return err
	}
	d.vals = d.vals[:0]
	for _, x := range values {
		f, null, err := d.double("values", x)
		if err != nil {
			return err
		}
		d.vals = append(d.vals, value{v: f, null: null})
	}
	// ImmutableList<String>: a null element is refused.
	for i, x := range dstypes {
		s, null, err := d.str("dstypes", x)
		if err != nil {
			return err
		}
		if null {
			return d.fail("dstypes", "null element")
		}
		if i < len(d.vals) {
			d.vals[i].kind = dsKind(s)
		}
	}
	for i, x := range dsnames {
		s, null, err := d.str("dsnames", x)
		if err != nil {
			return err
		}
		if null {
			return d.fail("dsnames", "null element")
		}
		if i < len(d.vals) && len(s) > 0 && b2s(s) != "value" {
			d.vals[i].suffix = s
		}
	}
	// The @CheckWith on values, not checked when values is null: dstypes
	// and dsnames not null, and all three of the same length.
	if !valuesNull && (dstypesNull || dsnamesNull || len(values) != len(dstypes) || len(values) != len(dsnames)) {
		return d.fail("values", "values, dstypes, and dsnames must have the same number of entries")
	}
	withValues := !valuesNull && !dstypesNull && !dsnamesNull
	if withValues && len(d.vals) > 0 {
		nulls := 0
		for i := range d.vals {
			if d.vals[i].null {
				nulls++
			}
		}
		if nulls == len(d.vals) {
			// MAD: a value list whose single value is null is skipped.
			d.st.NullRecords++
			return nil
		}
		d.st.Nulls += nulls
	} else {
		d.vals = d.vals[:0]
	}
	if d.cfg.MaxRecords > 0 && d.st.Records >= d.cfg.MaxRecords {
		return &sample.DecodeError{Kind: sample.ErrTooLarge, Format: format, Index: -1, Offset: -1,
			Reason: "more than " + strconv.Itoa(d.cfg.MaxRecords) + " records in one request"}
	}
	d.st.Records++
	t := javaRound(secs * 1000)
	d.dims = append(d.dims[:0], d.hdr[:d.hostAt]...)
	d.dims = append(d.dims, sample.Dim{Key: hostKey, Value: host})
	d.dims = append(d.dims, d.hdr[d.hostAt:]...)
	emitted := 0
	for i := range d.vals {
		x := &d.vals[i]
		if x.null || d.duplicate(i) {
			continue
		}
		d.name = append(d.name[:0], plugin...)
		if len(pi) > 0 {
			d.name = append(d.name, '/')
			d.name = append(d.name, pi...)
		}
		d.name = append(d.name, '/')
		d.name = append(d.name, typ...)
		if len(ti) > 0 {
			d.name = append(d.name, '/')
			d.name = append(d.name, ti...)
		}
		if x.suffix != nil {
			d.name = append(d.name, '/')
			d.name = append(d.name, x.suffix...)
		}
		emitted++
		d.emit(route, d.kindOf(i), t, x.v)
	}
	if emitted == 0 {
		// A record without metrics still makes its bucket in MAD.
		d.emit(route, sample.KindNone, t, 0)
	}
	return nil
}

var (
	hostKey   = []byte("host")
	trueText  = []byte("true")
	falseText = []byte("false")
)

// required reads a String field that must be present and not null.
func (d *Decoder) required(field string, v *fastjson.Value) ([]byte, error) {
	if v == nil {
		return nil, d.fail(field, "missing")
	}
	s, null, err := d.str(field, v)
	if err == nil && null {
		err = d.fail(field, "missing")
	}
	return s, err
}

// dsKind is MAD's mapDsType.
func dsKind(s []byte) sample.Kind {
	switch b2s(s) {
	case "counter", "derive", "absolute":
		return sample.KindCounter
	}
	return sample.KindGauge // "gauge" and anything else
}

// duplicate reports whether value i is equal (same name, type and value by
// Double.compare) to an earlier one: MAD collects a record's metrics in a
// HashMultimap, a set per name, where such a metric is kept once.
func (d *Decoder) duplicate(i int) bool {
	x := &d.vals[i]
	for j := range i {
		y := &d.vals[j]
		if !y.null && b2s(y.suffix) == b2s(x.suffix) && y.kind == x.kind && sameDouble(x.v, y.v) {
			return true
		}
	}
	return false
}

// kindOf is the type of value i's metric: the first value of that name
// decides (MAD's mergeMetrics takes the type of the first metric of the set,
// in hash order).
func (d *Decoder) kindOf(i int) sample.Kind {
	x := &d.vals[i]
	for j := range i {
		if y := &d.vals[j]; !y.null && b2s(y.suffix) == b2s(x.suffix) {
			return y.kind
		}
	}
	return x.kind
}

// sameDouble is Double.compare(a, b) == 0: NaNs are equal, 0.0 and -0.0 are
// not.
func sameDouble(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

// emit appends a sample of d.name (none for KindNone) with d.dims.
func (d *Decoder) emit(route sample.Route, kind sample.Kind, t int64, v float64) {
	name := d.name
	if kind == sample.KindNone {
		name = nil
	}
	key, err := sample.AppendKey(d.key[:0], kind, name, d.dims)
	d.key = key
	if err != nil {
		d.st.TooLong++
		return
	}
	h := sample.Hash(key)
	b := route(h)
	b.AddValue(b.PutKeyBytes(key, h), t, 0, v, sample.UnitNone)
	d.st.Samples++
}

func quote(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return "\"" + string(b) + "\""
}
