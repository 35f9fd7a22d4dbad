package statsd

import (
	"bytes"

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
	// unsorted; keys are unique (duplicates are refused).
	Tags []sample.Dim
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
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ':' || c == ',' || c == '|' || c == '@' {
			break
		}
		i++
	}
	if i == 0 || i == len(line) {
		return ErrSyntax
	}
	l.Name = line[:i]
	if line[i] == ',' {
		// Influx tags: up to ':', no '@' or '|'.
		j := i + 1
		for j < len(line) && line[j] != ':' {
			if line[j] == '@' || line[j] == '|' {
				return ErrSyntax
			}
			j++
		}
		if j == len(line) {
			return ErrSyntax
		}
		if r := splitTags(line[i+1:j], '=', &l.Tags); r != OK {
			return r
		}
		i = j
	}
	if line[i] != ':' {
		return ErrSyntax
	}
	// Value: up to '|', non-empty.
	v := i + 1
	j := v
	for j < len(line) && line[j] != '|' {
		j++
	}
	if j == v || j == len(line) {
		return ErrSyntax
	}
	l.Raw = line[v:j]
	// Type: up to the next '|'.
	t := j + 1
	k := t
	for k < len(line) && line[k] != '|' {
		k++
	}
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
		e := f
		for e < len(line) && line[e] != '|' {
			e++
		}
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
			if r := splitTags(field[1:], ':', &l.Tags); r != OK {
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

// splitTags appends the sep-separated key/value pairs of a comma-separated
// list to tags, as Guava's Splitter.on(',').withKeyValueSeparator(sep) does
// for MAD: every entry (an empty one too) must split into exactly two parts,
// and keys must be unique across both tag styles.
func splitTags(list []byte, sep byte, tags *[]sample.Dim) Result {
	for {
		entry := list
		end := bytes.IndexByte(list, ',')
		if end >= 0 {
			entry = list[:end]
		}
		kv := bytes.IndexByte(entry, sep)
		if kv < 0 || bytes.IndexByte(entry[kv+1:], sep) >= 0 {
			return ErrTag
		}
		key := entry[:kv]
		for _, d := range *tags {
			if bytes.Equal(d.Key, key) {
				return ErrDuplicateTag
			}
		}
		*tags = append(*tags, sample.Dim{Key: key, Value: entry[kv+1:]})
		if end < 0 {
			return OK
		}
		list = list[end+1:]
	}
}
