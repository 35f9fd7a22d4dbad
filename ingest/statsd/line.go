package statsd

import (
	"bytes"
	"math/bits"

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
	// Value is the number as MAD's NumberFormat reads it.
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
	// Tags holds Influx tags then DogStatsD tags, in input order,
	// unsorted, as spans of the line; keys are unique (duplicates are
	// refused).
	Tags []sample.Span
	// Src is the line the spans of Tags index.
	Src []byte
	// Timestamp is the DogStatsD |T field in seconds since the epoch, or 0.
	Timestamp int64
	// Container is the DogStatsD |c: field.
	Container []byte
}

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
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	l.Tags = l.Tags[:0]
	l.Src = line
	l.Rate, l.HasRate, l.Timestamp, l.Container = 1, false, 0, nil
	if len(line) > 2 && line[0] == '_' {
		if bytes.HasPrefix(line, []byte("_e{")) {
			return SkipEvent
		}
		if bytes.HasPrefix(line, []byte("_sc|")) {
			return SkipServiceCheck
		}
	}
	// Name: up to the first of ':' ',' '|' '@'.
	i := indexName(line)
	if i == 0 || i == len(line) {
		return ErrSyntax
	}
	l.Name = line[:i]
	if line[i] == ',' {
		// Influx tags: up to ':', no '@' or '|'.
		j := i + 1 + index1(line[i+1:], ':')
		if j == len(line) || index2(line[i+1:j], '@', '|') != j-i-1 {
			return ErrSyntax
		}
		if r := splitTags(line, i+1, j, '=', &l.Tags); r != OK {
			return r
		}
		i = j
	}
	if line[i] != ':' {
		return ErrSyntax
	}
	// Value: up to '|', non-empty.
	v := i + 1
	j := v + index1(line[v:], '|')
	if j == v || j == len(line) {
		return ErrSyntax
	}
	l.Raw = line[v:j]
	// Type: up to the next '|'.
	t := j + 1
	k := t + index1(line[t:], '|')
	switch typ := line[t:k]; {
	case len(typ) == 1 && typ[0] == 'c':
		l.Type = TypeCounter
	case len(typ) == 2 && typ[0] == 'm' && typ[1] == 's':
		l.Type = TypeTimer
	case len(typ) == 1 && typ[0] == 'g':
		l.Type = TypeGauge
	case len(typ) == 1 && typ[0] == 'h':
		l.Type = TypeHistogram
	case len(typ) == 1 && typ[0] == 'm':
		l.Type = TypeMeter
	case len(typ) == 1 && typ[0] == 's':
		l.Type = TypeSet
	case len(typ) == 1 && typ[0] == 'd':
		l.Type = TypeDistribution
	default:
		return ErrType
	}
	if l.Type != TypeSet {
		val, signed, plus, ok := parseNumber(l.Raw)
		if !ok || (plus && l.Type != TypeGauge) {
			return ErrValue
		}
		l.Value, l.Signed, l.Plus = val, signed, plus
	}
	// Fields.
	seenTags := false
	for k < len(line) {
		f := k + 1
		e := f + index1(line[f:], '|')
		field := line[f:e]
		k = e
		if len(field) == 0 {
			return ErrField
		}
		switch field[0] {
		case '@':
			if l.HasRate {
				return ErrField
			}
			rate, ok := parseRate(field[1:])
			if !ok {
				return ErrSampleRate
			}
			switch l.Type {
			case TypeCounter, TypeHistogram, TypeTimer, TypeDistribution:
			default:
				return ErrRateNotAllowed
			}
			l.Rate, l.HasRate = rate, true
		case '#':
			if seenTags {
				return ErrField
			}
			seenTags = true
			if r := splitTags(line, f+1, e, ':', &l.Tags); r != OK {
				return r
			}
		case 'c':
			if len(field) < 2 || field[1] != ':' {
				return ErrField
			}
			l.Container = field[2:]
		case 'T':
			ts, ok := parseUint(field[1:])
			if !ok {
				return ErrField
			}
			l.Timestamp = int64(ts)
		default:
			return ErrField
		}
	}
	return OK
}

// splitTags appends the sep-separated key/value pairs of the comma-separated
// list line[from:to] to tags, as Guava's
// Splitter.on(',').withKeyValueSeparator(sep) does for MAD: every entry (an
// empty one too) must split into exactly two parts, and keys must be unique
// across both tag styles. It scans the list once, eight bytes at a time,
// visiting only the separators.
func splitTags(line []byte, from, to int, sep byte, tags *[]sample.Span) Result {
	ts := *tags
	pSep, pComma := lsbs*uint64(sep), lsbs*uint64(',')
	start, kv := from, -1
	for base := from; base < to; base += 8 {
		x := load8(line, base)
		m := matches(x, pSep) | matches(x, pComma)
		if n := to - base; n < 8 {
			m &= 1<<(8*n) - 1
		}
		for ; m != 0; m &= m - 1 {
			i := base + bits.TrailingZeros64(m)/8
			if line[i] == sep {
				if kv >= 0 {
					return ErrTag // a second sep in the entry
				}
				kv = i
				continue
			}
			if r := addTag(line, start, kv, i, &ts); r != OK {
				return r
			}
			start, kv = i+1, -1
		}
	}
	r := addTag(line, start, kv, to, &ts)
	*tags = ts
	return r
}

// addTag appends the entry line[start:end] with its sep at kv.
func addTag(line []byte, start, kv, end int, ts *[]sample.Span) Result {
	if kv < 0 {
		return ErrTag // an entry without sep
	}
	key := line[start:kv]
	for _, d := range *ts {
		if string(line[d.K0:d.K1]) == string(key) {
			return ErrDuplicateTag
		}
	}
	*ts = append(*ts, sample.Span{K0: uint32(start), K1: uint32(kv), V0: uint32(kv + 1), V1: uint32(end)})
	return OK
}
