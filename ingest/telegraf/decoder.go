package telegraf

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/jsonstr"
	"github.com/gomad/mad/internal/sample"
)

// Config configures a Decoder: the builder keys of MAD's
// TelegrafJsonToRecordParser.
type Config struct {
	// TimestampUnit is the unit of "timestamp": "SECONDS" (the default, also
	// for ""), "MILLISECONDS", "MICROSECONDS" or "NANOSECONDS", as MAD's
	// enum spells them. Check user input with ValidTimestampUnit.
	TimestampUnit string
}

// ValidTimestampUnit reports whether s is a TimestampUnit NewDecoder
// accepts.
func ValidTimestampUnit(s string) bool {
	_, ok := timestampUnit(s)
	return ok
}

type unit uint8

const (
	unitSeconds unit = iota
	unitMillis
	unitMicros
	unitNanos
)

func timestampUnit(s string) (unit, bool) {
	switch s {
	case "", "SECONDS":
		return unitSeconds, true
	case "MILLISECONDS":
		return unitMillis, true
	case "MICROSECONDS":
		return unitMicros, true
	case "NANOSECONDS":
		return unitNanos, true
	}
	return 0, false
}

// Decoder decodes Telegraf JSON lines. It keeps a fastjson.Parser and
// scratch space and reuses them, so a call allocates nothing once they have
// grown. One per connection loop; not safe for concurrent use.
type Decoder struct {
	unit unit
	p    fastjson.Parser
	line []byte // the line being decoded, for errors
	sur  []byte // the line with its lone surrogate escapes replaced

	// The metric being read; the last of duplicate keys wins, as in
	// Jackson's tree.
	cur     metric
	metrics *fastjson.Value
	hasMets bool
	idx     int

	fields  []field
	order   []int32 // field indices sorted by key
	rawTags []rawTag
	tags    []sample.Dim
	name    []byte
	strs    []byte // text of numbers and booleans read as strings
	num     []byte
	keys    []byte    // the keys of the pending samples
	out     []pending // samples to route once the whole line is valid
	err     error
	perr    sample.DecodeError
}

type metric struct {
	name, timestamp, fields, tags *fastjson.Value
}

// field and rawTag are a key of "fields" or "tags" with its value as read,
// checked once the duplicates are known: the value that stays must read as
// a string (str), one a later key of the same name replaces only be a
// valid token (token), as in Jackson's tree.
type field struct {
	key []byte
	val *fastjson.Value
	dup bool // a later field has the same key
}

type rawTag struct {
	key []byte
	val *fastjson.Value
}

type pending struct {
	off, len uint32
	v        float64
	t        int64
}

// NewDecoder returns a decoder for cfg. It panics if cfg.TimestampUnit is
// not valid (ValidTimestampUnit): MAD refuses such a configuration.
func NewDecoder(cfg Config) *Decoder {
	u, ok := timestampUnit(cfg.TimestampUnit)
	if !ok {
		panic("telegraf: unknown timestampUnit " + strconv.Quote(cfg.TimestampUnit))
	}
	return &Decoder{unit: u}
}

// DecodeLine decodes one line, a JSON telegraf metric or a
// {"metrics":[...]} batch of them, and routes a TIMER sample per numeric
// field. now is unused: telegraf metrics carry their time. The line is not
// retained; keys are copied into the batches. On error nothing is routed
// (the whole line is checked first); the *ParseError is valid until the
// next call.
func (d *Decoder) DecodeLine(line []byte, now int64, route sample.Route) (sample.Counts, error) {
	d.line = line
	d.idx = -1
	d.keys = d.keys[:0]
	d.out = d.out[:0]
	st, err := d.decode(line)
	if err == nil {
		for _, p := range d.out {
			key := d.keys[p.off : p.off+p.len]
			h := sample.Hash(key)
			b := route(h)
			b.AddValue(b.PutKeyBytes(key, h), p.t, 0, p.v, sample.UnitNone)
		}
	}
	// Keep no reference to the caller's line or the parsed values.
	d.line = nil
	d.cur = metric{}
	d.metrics = nil
	clear(d.fields[:cap(d.fields)])
	clear(d.rawTags[:cap(d.rawTags)])
	clear(d.tags[:cap(d.tags)])
	if err != nil {
		return sample.Counts{}, err
	}
	return st, nil
}

func (d *Decoder) decode(line []byte) (sample.Counts, error) {
	if b, ok := jsonstr.ReplaceLoneSurrogates(d.sur[:0], line); ok {
		d.sur, line = b, b // each lone surrogate is U+FFFD (jsonstr.ReadEscape)
	}
	root, err := d.p.ParseBytes(line)
	if err != nil {
		return sample.Counts{}, d.fail("invalid JSON: " + err.Error())
	}
	o, err := root.Object()
	if err != nil {
		return sample.Counts{}, d.fail("expected a JSON object, got " + root.Type().String())
	}
	d.cur = metric{}
	d.hasMets = false
	o.Visit(d.visitRoot)
	if !d.hasMets {
		if err := d.record(&d.cur); err != nil {
			return sample.Counts{}, err
		}
		return sample.Counts{Records: 1, Samples: len(d.out)}, nil
	}
	// {"metrics": [...]}: Jackson reads an ImmutableList<Telegraf>; null,
	// a non-array or a null element fail.
	arr, err := d.metrics.Array()
	if err != nil {
		return sample.Counts{}, d.fail("\"metrics\": expected an array, got " + d.metrics.Type().String())
	}
	for i, v := range arr {
		d.idx = i
		mo, err := v.Object()
		if err != nil {
			return sample.Counts{}, d.fail("expected a JSON object, got " + v.Type().String())
		}
		d.cur = metric{}
		mo.Visit(d.visitMetric)
		if err := d.record(&d.cur); err != nil {
			return sample.Counts{}, err
		}
	}
	return sample.Counts{Records: len(arr), Samples: len(d.out)}, nil
}

// visitRoot records the keys of the top-level object: "metrics" makes it a
// batch (MAD's jsonNode.has("metrics"), whatever the value).
func (d *Decoder) visitRoot(k []byte, v *fastjson.Value) {
	if string(k) == "metrics" {
		d.metrics = v
		d.hasMets = true
		return
	}
	d.visitMetric(k, v)
}

func (d *Decoder) visitMetric(k []byte, v *fastjson.Value) {
	switch string(k) {
	case "name":
		d.cur.name = v
	case "timestamp":
		d.cur.timestamp = v
	case "fields":
		d.cur.fields = v
	case "tags":
		d.cur.tags = v
	}
}

// record checks one telegraf metric and queues its samples.
func (d *Decoder) record(m *metric) error {
	// name: @NotNull String.
	if m.name == nil || m.name.Type() == fastjson.TypeNull {
		return d.fail("\"name\" is missing")
	}
	d.strs = d.strs[:0]
	name, err := d.str("name", m.name)
	if err != nil {
		return err
	}
	// timestamp: @NotNull @Min(0) Long.
	if m.timestamp == nil || m.timestamp.Type() == fastjson.TypeNull {
		return d.fail("\"timestamp\" is missing")
	}
	ts, err := d.long(m.timestamp)
	if err != nil {
		return err
	}
	if ts < 0 {
		return d.fail("\"timestamp\" is negative")
	}
	// fields and tags: @NotNull ImmutableMap<String, String>, empty when
	// absent.
	d.fields = d.fields[:0]
	if err := d.strMap("fields", m.fields, d.visitField); err != nil {
		return err
	}
	d.rawTags = d.rawTags[:0]
	if err := d.strMap("tags", m.tags, d.visitTag); err != nil {
		return err
	}
	// Jackson's tree keeps the last of duplicate keys, and only its value
	// must be a string. The sorts are O(n log² n) and allocation-free: a
	// line with very many tags or fields costs no more than its length
	// deserves.
	slices.SortStableFunc(d.rawTags, func(a, b rawTag) int { return bytes.Compare(a.key, b.key) })
	d.tags = d.tags[:0]
	for i, rt := range d.rawTags {
		if i+1 < len(d.rawTags) && bytes.Equal(rt.key, d.rawTags[i+1].key) {
			if err := d.token("\"tags\"", rt.val); err != nil {
				return err
			}
			continue
		}
		v, err := d.str("\"tags\"", rt.val)
		if err != nil {
			return err
		}
		d.tags = append(d.tags, sample.Dim{Key: rt.key, Value: v})
	}
	d.markDupFields()
	t := d.millis(ts)
	emitted := 0
	for i := range d.fields {
		f := &d.fields[i]
		if f.dup {
			if err := d.token("\"fields\"", f.val); err != nil {
				return err
			}
			continue
		}
		text, err := d.str("\"fields\"", f.val)
		if err != nil {
			return err
		}
		v, ok := d.fieldValue(text)
		if !ok {
			continue
		}
		if len(name) == 0 {
			d.name = append(d.name[:0], f.key...)
		} else {
			d.name = append(append(append(d.name[:0], name...), '.'), f.key...)
		}
		if err := d.queue(sample.KindTimer, d.name, t, v); err != nil {
			return err
		}
		emitted++
	}
	if emitted == 0 {
		// A record without metrics still makes its bucket in MAD.
		return d.queue(sample.KindNone, nil, t, 0)
	}
	return nil
}

// markDupFields marks every field that a later field of the same key
// overrides (the later value wins).
func (d *Decoder) markDupFields() {
	d.order = d.order[:0]
	for i := range d.fields {
		d.order = append(d.order, int32(i))
	}
	fs := d.fields
	slices.SortStableFunc(d.order, func(a, b int32) int { return bytes.Compare(fs[a].key, fs[b].key) })
	for i := 0; i+1 < len(d.order); i++ {
		if bytes.Equal(fs[d.order[i]].key, fs[d.order[i+1]].key) {
			fs[d.order[i]].dup = true
		}
	}
}

// queue appends a key and a pending sample.
func (d *Decoder) queue(kind sample.Kind, name []byte, t int64, v float64) error {
	off := len(d.keys)
	keys, err := sample.AppendKey(d.keys, kind, name, d.tags)
	d.keys = keys
	if err != nil {
		return d.fail("the series key is longer than 65519 bytes")
	}
	d.out = append(d.out, pending{off: uint32(off), len: uint32(len(keys) - off), v: v, t: t})
	return nil
}

// millis converts the timestamp as MAD's TimestampUnit does, in long
// arithmetic (SECONDS wraps on overflow, as Java's multiplication does).
func (d *Decoder) millis(ts int64) int64 {
	switch d.unit {
	case unitMillis:
		return ts
	case unitMicros:
		return ts / 1000
	case unitNanos:
		return ts / 1000000
	}
	return ts * 1000
}

// fieldValue is MAD's parseValue: NumberFormat, else "true"/"false" in any
// case as 1/0; anything else is skipped.
func (d *Decoder) fieldValue(s []byte) (float64, bool) {
	if v, n := javanum.Parse(s); n > 0 {
		return v, true
	}
	switch {
	case bytes.EqualFold(s, trueText):
		return 1, true
	case bytes.EqualFold(s, falseText):
		return 0, true
	}
	return 0, false
}

var (
	trueText  = []byte("true")
	falseText = []byte("false")
)

// str reads a String as Jackson does: a string (valid UTF-8), or the text
// of a number (as its tree renders it: jacksonText) or of a boolean; null,
// objects and arrays are refused (null because MAD's maps and name cannot
// hold it).
func (d *Decoder) str(what string, v *fastjson.Value) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if !utf8.Valid(s) {
			return nil, d.fail(what + ": invalid UTF-8")
		}
		return s, nil
	case fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		if !jsonNumber(d.num) {
			return nil, d.fail(what + ": invalid number")
		}
		at := len(d.strs)
		d.strs = jacksonText(d.strs, d.num)
		return d.strs[at:len(d.strs):len(d.strs)], nil
	case fastjson.TypeTrue:
		return trueText, nil
	case fastjson.TypeFalse:
		return falseText, nil
	}
	return nil, d.fail(what + ": expected a string, got " + v.Type().String())
}

// token checks what Jackson's tokenizer checks of a scalar value that a
// later duplicate key replaces: a string's UTF-8 and a number's form (str
// checks them, and that the value reads as a string, for the value that
// stays).
func (d *Decoder) token(what string, v *fastjson.Value) error {
	switch v.Type() {
	case fastjson.TypeString:
		if s, _ := v.StringBytes(); !utf8.Valid(s) {
			return d.fail(what + ": invalid UTF-8")
		}
	case fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		if !jsonNumber(d.num) {
			return d.fail(what + ": invalid number")
		}
	}
	return nil
}

// long reads a Long as Jackson does: an integer token that fits a long, a
// fractional one truncated (ACCEPT_FLOAT_AS_INT), or a string holding an
// optionally signed decimal integer (Long.parseLong after trim()).
func (d *Decoder) long(v *fastjson.Value) (int64, error) {
	switch v.Type() {
	case fastjson.TypeNumber:
		d.num = v.MarshalTo(d.num[:0])
		if !jsonNumber(d.num) {
			return 0, d.fail("\"timestamp\": invalid number")
		}
		if n, ok := parseLong(d.num); ok {
			return n, nil
		}
		if bytes.ContainsAny(d.num, ".eE") {
			f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(d.num), len(d.num)), 64)
			if err == nil && f >= math.MinInt64 && f < math.MaxInt64 {
				return int64(f), nil
			}
		}
		return 0, d.fail("\"timestamp\": out of the range of a long")
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if n, ok := parseLong(javaTrim(s)); ok {
			return n, nil
		}
		return 0, d.fail("\"timestamp\": not an integer")
	}
	return 0, d.fail("\"timestamp\": expected a number, got " + v.Type().String())
}

// javaTrim is String.trim(): it strips characters <= ' '.
func javaTrim(s []byte) []byte {
	for len(s) > 0 && s[0] <= ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] <= ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// parseLong is Long.parseLong for ASCII digits: an optional sign and at
// least one digit, within the range of a long.
func parseLong(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		dg := uint64(c - '0')
		if dg > 9 || n > (1<<63-dg)/10 {
			return 0, false
		}
		n = n*10 + dg
	}
	if neg {
		return -int64(n), true // 1<<63 becomes math.MinInt64
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// strMap reads an ImmutableMap<String, String>: absent is empty; null and
// anything but an object are refused; each value as str.
func (d *Decoder) strMap(what string, v *fastjson.Value, visit func(k []byte, v *fastjson.Value)) error {
	if v == nil {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		return d.fail("\"" + what + "\": expected an object, got " + v.Type().String())
	}
	d.err = nil
	o.Visit(visit)
	return d.err
}

func (d *Decoder) visitField(k []byte, v *fastjson.Value) {
	if d.err != nil {
		return
	}
	if !utf8.Valid(k) {
		d.err = d.fail("\"fields\": invalid UTF-8 in a key")
		return
	}
	d.fields = append(d.fields, field{key: k, val: v})
}

func (d *Decoder) visitTag(k []byte, v *fastjson.Value) {
	if d.err != nil {
		return
	}
	if !utf8.Valid(k) {
		d.err = d.fail("\"tags\": invalid UTF-8 in a key")
		return
	}
	d.rawTags = append(d.rawTags, rawTag{key: k, val: v})
}

// jsonNumber reports whether a number token fastjson accepted is a JSON
// number as Jackson reads it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
// fastjson is more lenient ("1-2", "01", "nan", "Inf").
func jsonNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i]-'1' < 9:
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i == len(b) || b[i]-'0' >= 10 {
			return false
		}
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || b[i]-'0' >= 10 {
			return false
		}
		for i < len(b) && b[i]-'0' < 10 {
			i++
		}
	}
	return i == len(b)
}

// jacksonText appends the text of a JSON number token as MAD's Jackson
// tree renders it (MAD reads the line with readTree, then binds its String
// fields from the nodes): an integer as its value ("-0" is "0"), a number
// with a fraction or an exponent as its double's Double.toString ("1e3" is
// "1000.0", "1.50" is "1.5", one past the doubles "Infinity"). Jackson's
// reader refuses NaN and Infinity tokens (MAD's mapper does not allow
// them), as jsonNumber does.
func jacksonText(dst, tok []byte) []byte {
	if !bytes.ContainsAny(tok, ".eE") {
		if string(tok) == "-0" {
			return append(dst, '0')
		}
		return append(dst, tok...)
	}
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64) // ±Inf past the doubles
	return javanum.AppendDouble(dst, f)
}
