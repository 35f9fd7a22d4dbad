package statsd

import (
	"bytes"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/sample"
)

// Type is a StatsD metric type.
type Type uint8

// The types. MAD knows c, g, h, m and ms; s and d are extensions.
const (
	TypeCounter      Type = iota + 1 // c
	TypeGauge                        // g
	TypeHistogram                    // h
	TypeMeter                        // m
	TypeTimer                        // ms
	TypeSet                          // s
	TypeDistribution                 // d
)

var typeNames = [...]string{"", "c", "g", "h", "m", "ms", "s", "d"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "?"
}

// Result is the outcome of parsing a line: OK, a line recognised and
// deliberately skipped, or the reason it was refused. Results index the
// decoder's per-reason counters.
type Result uint8

// Results.
const (
	OK Result = iota
	// SkipEvent and SkipServiceCheck: DogStatsD events (_e{…}) and service
	// checks (_sc|…) carry no metric.
	SkipEvent
	SkipServiceCheck
	// ErrSyntax: no name, no ':' or no '|' where the grammar needs one.
	ErrSyntax
	// ErrValue: the value is not a number (or '+' on a type without deltas).
	ErrValue
	// ErrType: unknown type token.
	ErrType
	// ErrSampleRate: the rate is not a number in [0, 1].
	ErrSampleRate
	// ErrRateNotAllowed: a rate on a type MAD does not sample (g, m, s).
	ErrRateNotAllowed
	// ErrTag: a tag that is not key:value (DogStatsD) or key=value (Influx).
	ErrTag
	// ErrDuplicateTag: the same tag key twice, in either style.
	ErrDuplicateTag
	// ErrField: an unknown or malformed |-field after the type.
	ErrField

	NumResults
)

// ResultNames are the label values of the results.
var ResultNames = [NumResults]string{
	"ok", "event", "service_check", "syntax", "value", "type", "sample_rate",
	"sample_rate_not_allowed", "tag", "duplicate_tag", "field",
}

func (r Result) String() string {
	if r < NumResults {
		return ResultNames[r]
	}
	return "?"
}

// Line is one parsed line. Byte slices alias the parsed input and are valid
// as long as it is.
type Line struct {
	Name []byte
	// Value is the number as MAD's NumberFormat reads it, or NaN or ±Inf
	// for the spellings of them NumberFormat refuses ("Infinity", "-inf",
	// "nan": nonFinite), which the decoder drops as non-finite.
	Value float64
	// Signed is set when the value text started with '+' or '-': for gauges
	// this decides whether it is a delta.
	Signed bool
	// Plus is set when the sign was '+'.
	Plus bool
	// Raw is the value text (a set's member).
	Raw  []byte
	Type Type
	// Rate is the sample rate, 1 if the line has none.
	Rate    float64
	HasRate bool
	// Tags holds the Influx and DogStatsD tags as spans of the line,
	// sorted by key (bytewise), as the canonical series key wants them;
	// keys are unique (duplicates are refused).
	Tags []sample.Span
	// Src is the line the spans of Tags index.
	Src []byte
	// Ident is the line's series as the line writes it: its name with its
	// Influx tags (the text up to ':'); IdentTags is the text of its
	// DogStatsD tags (after '#', up to the next '|'), nil if it has none.
	// Two lines of one type with equal Ident and IdentTags have the same
	// series key (however their tags are ordered, lines whose texts differ
	// may too).
	Ident, IdentTags []byte
	// Timestamp is the DogStatsD |T field in seconds since the epoch, or 0.
	Timestamp int64
	// Container is the DogStatsD |c: field.
	Container []byte

	bits []uint64 // ParseLine's structural bitmap
	pos  []uint32 // and positions
	// The last rate text up to 8 bytes, packed with its length, and its
	// value: a client sends the same few rates over and over, and this
	// spares the division of parseRate.
	rateText uint64
	rateVal  float64

	// lazy, set by the decoder before it parses, leaves the DogStatsD
	// tags unread: IdentTags is set, Tags holds the Influx tags only, and
	// tagsAt is the cursor index of the tags' first position plus one (0:
	// no tags left unread) and tagsF their field's '#', for readTags. A
	// line whose identity the decoder's cache knows needs none of them:
	// that text was read and accepted with its series.
	lazy          bool
	tagsAt, tagsF int
}

// typeOf returns the type a line's type field names, 0 for none.
func typeOf(typ []byte) Type {
	switch len(typ) {
	case 1:
		return typeLetters[typ[0]]
	case 2:
		if typ[0] == 'm' && typ[1] == 's' {
			return TypeTimer
		}
	}
	return 0
}

// typeLetters are the types named by one letter.
var typeLetters = [256]Type{'c': TypeCounter, 'g': TypeGauge, 'h': TypeHistogram, 'm': TypeMeter, 's': TypeSet, 'd': TypeDistribution}

// ParseLine parses one line (without its '\n'; a trailing '\r' is ignored)
// into l, reusing l.Tags' capacity. Empty lines are the caller's business.
//
// Grammar (MAD's, extended):
//
//	name[,k=v[,k=v…]]:value|type[|@rate][|#k:v[,k:v…]][|c:container][|Tseconds]
//
// MAD accepts only @rate then #tags, with tags running to the end of the
// line; here the |-fields after the type may come in any order.
func ParseLine(line []byte, l *Line) Result {
	l.bits = classifyInto(l.bits, line)
	l.pos = flatten(l.pos, l.bits, 0, len(line))
	r, _ := parse(line, l.pos, 0, len(line), l)
	return r
}

// parse parses the line data[start:end], given the positions of the
// structural bytes of data from the line's first on (flatten). Spans in l
// are relative to start. It also returns how many positions it consumed.
func parse(data []byte, pos []uint32, start, end int, l *Line) (Result, int) {
	c := cursor{pos: pos}
	if end > start && data[end-1] == '\r' {
		end--
	}
	line := data[start:end]
	l.Tags = l.Tags[:0]
	l.Src = line
	// (tagsAt with the others: a statement of its own cost untagged lines
	// about 1 %.)
	l.Rate, l.HasRate, l.Timestamp, l.Container, l.IdentTags, l.tagsAt = 1, false, 0, nil, nil, 0
	if len(line) > 2 && line[0] == '_' {
		if bytes.HasPrefix(line, []byte("_e{")) {
			return SkipEvent, c.i
		}
		if bytes.HasPrefix(line, []byte("_sc|")) {
			return SkipServiceCheck, c.i
		}
	}
	c.end = end
	// Name: up to the first of ':' ',' '|' '@' ('=' is a name byte).
	i := c.next()
	for i < end && data[i] == '=' {
		i = c.next()
	}
	if i == start || i == end {
		return ErrSyntax, c.i
	}
	l.Name = data[start:i]
	if data[i] == ',' {
		// Influx tags, up to ':'. A missing ':' or an '@' or '|' before it
		// is a syntax error, which takes precedence over a bad tag.
		entry, kv := i+1, -1
		tagErr := OK
		for {
			p := c.next()
			if p == end {
				return ErrSyntax, c.i
			}
			switch data[p] {
			case '=':
				if kv >= 0 && tagErr == OK {
					tagErr = ErrTag // a second '=' in the entry
				}
				kv = p
				continue
			case ',', ':':
				if tagErr == OK {
					l.Tags, tagErr = addTag(data, start, entry, kv, p, l.Tags)
				}
				entry, kv = p+1, -1
			default: // '@' or '|'
				return ErrSyntax, c.i
			}
			if data[p] == ':' {
				i = p
				break
			}
		}
		if tagErr != OK {
			return tagErr, c.i
		}
	}
	if data[i] != ':' {
		return ErrSyntax, c.i
	}
	l.Ident = data[start:i]
	// Value: up to '|', non-empty.
	v := i + 1
	j := c.nextPipe(data)
	if j == v || j == end {
		return ErrSyntax, c.i
	}
	l.Raw = data[v:j]
	// Type: up to the next '|'.
	k := c.nextPipe(data)
	if l.Type = typeOf(data[j+1 : k]); l.Type == 0 {
		return ErrType, c.i
	}
	if l.Type != TypeSet {
		num, signed, plus := splitSign(l.Raw)
		val, n := javanum.Parse(num)
		if n == 0 {
			val, n = nonFinite(num)
		}
		if n == 0 || (plus && l.Type != TypeGauge) {
			return ErrValue, c.i
		}
		l.Value, l.Signed, l.Plus = val, signed, plus
	}
	// Fields: k is at a '|' or the end.
	seenTags := false
	for k < end {
		f := k + 1
		if f == end {
			return ErrField, c.i // empty
		}
		switch data[f] {
		case '@':
			if l.HasRate {
				return ErrField, c.i
			}
			k = c.nextPipe(data)
			rate, ok := l.rate(data[f+1 : k])
			if !ok {
				return ErrSampleRate, c.i
			}
			switch l.Type {
			case TypeCounter, TypeHistogram, TypeTimer, TypeDistribution:
			default:
				return ErrRateNotAllowed, c.i
			}
			l.Rate, l.HasRate = rate, true
		case '#':
			if seenTags {
				return ErrField, c.i
			}
			seenTags = true
			if l.lazy {
				l.tagsAt, l.tagsF = c.i+1, f
				k = c.nextPipe(data)
			} else {
				var r Result
				if k, r = l.dogTags(data, &c, start, f, end); r != OK {
					return r, c.i
				}
			}
			l.IdentTags = data[f+1 : k]
		case 'c':
			k = c.nextPipe(data)
			if k-f < 2 || data[f+1] != ':' {
				return ErrField, c.i
			}
			l.Container = data[f+2 : k]
		case 'T':
			k = c.nextPipe(data)
			ts, ok := parseUint(data[f+1 : k])
			if !ok {
				return ErrField, c.i
			}
			l.Timestamp = int64(ts)
		default: // an unknown field, or an empty one
			return ErrField, c.i
		}
	}
	return OK, c.i
}

// dogTags reads the DogStatsD tags of the field at f ('#') into l.Tags:
// k:v entries separated by ',', up to the next '|' or end, whose position
// it returns, with c at the field's first structural position. '@' and '='
// are plain bytes here.
func (l *Line) dogTags(data []byte, c *cursor, start, f, end int) (int, Result) {
	entry, kv := f+1, -1
	tags := l.Tags
	for {
		p := c.next()
		ch := byte('|')
		if p < end {
			ch = data[p]
		}
		if ch == ':' {
			if kv >= 0 {
				l.Tags = tags
				return p, ErrTag // a second ':' in the entry
			}
			kv = p
			continue
		}
		if ch != ',' && ch != '|' {
			continue
		}
		// addTag, with its common case (keys arriving in order) inline.
		if kv < 0 {
			l.Tags = tags
			return p, ErrTag // an entry without separator
		}
		t := sample.Span{K0: uint32(entry - start), K1: uint32(kv - start), V0: uint32(kv + 1 - start), V1: uint32(p - start)}
		if inOrder(data, start, entry, kv, tags) {
			tags = append(tags, t)
		} else {
			var r Result
			if tags, r = insertTag(data[start:], tags, t); r != OK {
				l.Tags = tags
				return p, r
			}
		}
		if ch == '|' {
			l.Tags = tags
			return p, OK
		}
		entry, kv = p+1, -1
	}
}

// readTags reads the DogStatsD tags a lazy parse of the line data[start:]
// left unread (tagsAt), given the same structural positions as that
// parse, and returns what reading them in place would have: OK, or the
// refusal of a bad tag.
func (l *Line) readTags(data []byte, pos []uint32, start int) Result {
	if l.tagsAt == 0 {
		return OK
	}
	c := cursor{pos: pos, i: l.tagsAt - 1, end: start + len(l.Src)} // the line's end, '\r' cut
	l.tagsAt = 0
	_, r := l.dogTags(data, &c, start, l.tagsF, c.end)
	return r
}

// addTag inserts the entry data[entry:end] with its separator at kv into
// tags, kept sorted by key, as a span relative to start. As Guava's
// Splitter.on(',').withKeyValueSeparator(sep) does for MAD, the entry must
// have a separator (an empty entry too), and its key must be new across both
// tag styles; in a sorted list a duplicate is met on the way in.
func addTag(data []byte, start, entry, kv, end int, tags []sample.Span) ([]sample.Span, Result) {
	if kv < 0 {
		return tags, ErrTag // an entry without separator
	}
	t := sample.Span{K0: uint32(entry - start), K1: uint32(kv - start), V0: uint32(kv + 1 - start), V1: uint32(end - start)}
	if inOrder(data, start, entry, kv, tags) {
		return append(tags, t), OK
	}
	return insertTag(data[start:], tags, t)
}

// inOrder reports whether the key data[entry:kv] goes after every key of
// tags by its first byte alone: the last key's first byte is below it.
func inOrder(data []byte, start, entry, kv int, tags []sample.Span) bool {
	n := len(tags)
	return n == 0 || (kv > entry && tags[n-1].K1 > tags[n-1].K0 && data[start+int(tags[n-1].K0)] < data[entry])
}

// insertTag inserts t into tags by insertion.
func insertTag(src []byte, tags []sample.Span, t sample.Span) ([]sample.Span, Result) {
	key := src[t.K0:t.K1]
	i := len(tags)
	tags = append(tags, t)
	for ; i > 0; i-- {
		prev := tags[i-1]
		pk := src[prev.K0:prev.K1]
		var c int
		if len(pk) > 0 && len(key) > 0 && pk[0] != key[0] {
			c = int(pk[0]) - int(key[0])
		} else {
			c = bytes.Compare(pk, key)
		}
		if c < 0 {
			break
		}
		if c == 0 {
			return tags[:len(tags)-1], ErrDuplicateTag
		}
		tags[i] = prev
	}
	tags[i] = t
	return tags, OK
}

// rate parses a sample rate, remembering the last one.
func (l *Line) rate(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 7 {
		return parseRate(b)
	}
	t := uint64(len(b))
	for i, c := range b {
		t |= uint64(c) << (8 * (i + 1))
	}
	if t == l.rateText {
		return l.rateVal, true
	}
	v, ok := parseRate(b)
	if ok {
		l.rateText, l.rateVal = t, v
	}
	return v, ok
}
