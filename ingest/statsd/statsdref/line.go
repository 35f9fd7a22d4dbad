// Package statsdref is a reference decoder for StatsD datagrams: what
// package statsd documents (MAD's StatsdToRecordParser, MAD-SPEC §4.4, and
// the extensions DESIGN.md lists), written out with strings.Split and
// strconv, one rule at a time, and sharing no code with package statsd.
// Values are read with javanumref, the reference for Java's NumberFormat;
// keys and units are internal/sample's, the input vocabulary both sides
// share.
//
// ParseLine parses one line; Decode decodes a datagram into samples, with
// sample rates scaling (statsd.RateScale): re-sampling is random and has no
// reference. It is slow and allocates freely; it is for tests (the statsd
// package's parser tests and the harnesses of package fuzz).
//
// # The grammar
//
//	name[,k=v[,k=v…]]:value|type[|@rate][|#k:v[,k:v…]][|c:container][|Tseconds]
//
// The fields after the type may come in any order, each at most once but
// for c: and T (the last wins). A refused line gets the first reason its
// parts, read left to right, give: syntax (name, ':', value and '|'),
// type, value, then each field in turn.
package statsdref

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gomad/mad/internal/javanum/javanumref"
	"github.com/gomad/mad/internal/sample"
)

// Result is a line's outcome, named as statsd.ResultNames name it.
type Result string

// The results.
const (
	OK                Result = "ok"
	SkipEvent         Result = "event"         // a DogStatsD event, _e{…
	SkipServiceCheck  Result = "service_check" // a DogStatsD service check, _sc|…
	ErrSyntax         Result = "syntax"
	ErrValue          Result = "value"
	ErrType           Result = "type"
	ErrSampleRate     Result = "sample_rate"
	ErrRateNotAllowed Result = "sample_rate_not_allowed"
	ErrTag            Result = "tag"
	ErrDuplicateTag   Result = "duplicate_tag"
	ErrField          Result = "field"
)

// Line is a parsed line. Its byte slices alias the line.
type Line struct {
	Name []byte
	// Type is the type token: "c", "g", "h", "m", "ms", "s" or "d".
	Type string
	// Raw is the value text; Value what NumberFormat reads of it (not for
	// sets), after a leading '+' (Plus); Signed if it starts with '+' or '-'.
	Raw          []byte
	Value        float64
	Signed, Plus bool
	// Rate is the sample rate, 1 without one.
	Rate    float64
	HasRate bool
	// Tags of both styles, sorted by key, keys unique.
	Tags []sample.Dim
	// Timestamp is the |T field (seconds), 0 without one.
	Timestamp int64
	// Container is the |c: field, nil without one.
	Container []byte
}

// ParseLine parses one line, without its '\n'; one trailing '\r' is
// ignored.
func ParseLine(line []byte) (Line, Result) {
	l := Line{Rate: 1}
	line = bytes.TrimSuffix(line, []byte("\r"))
	s := string(line)
	// bs turns a part of s back into the part of line it was cut from.
	bs := func(part string, at int) []byte { return line[at : at+len(part) : at+len(part)] }

	if strings.HasPrefix(s, "_e{") {
		return l, SkipEvent
	}
	if strings.HasPrefix(s, "_sc|") {
		return l, SkipServiceCheck
	}

	// The name runs to the first ':', ',', '|' or '@' and is not empty.
	end := strings.IndexAny(s, ":,|@")
	if end <= 0 {
		return l, ErrSyntax
	}
	l.Name = line[:end]
	rest := s[end:]

	// Influx tags: ",k=v,…" up to the first ':', without '@' or '|'. A
	// syntax error comes before a bad tag.
	influx := rest[0] == ','
	if influx {
		colon := strings.IndexByte(rest, ':')
		if colon < 0 || strings.ContainsAny(rest[:colon], "@|") {
			return l, ErrSyntax
		}
		if r := addTags(&l, line, end+1, rest[1:colon], "="); r != OK {
			return l, r
		}
		rest = rest[colon:]
	}
	if rest[0] != ':' {
		return l, ErrSyntax
	}
	restAt := len(s) - len(rest)

	// ":value|type", the value not empty; then the fields, split on '|'.
	pipe := strings.IndexByte(rest, '|')
	if pipe <= 1 {
		return l, ErrSyntax
	}
	l.Raw = bs(rest[1:pipe], restAt+1)
	fields := strings.Split(rest[pipe+1:], "|")
	fieldAt := restAt + pipe + 1
	l.Type = fields[0]
	switch l.Type {
	case "c", "g", "h", "m", "ms", "s", "d":
	default:
		return l, ErrType
	}
	if l.Type != "s" {
		if r := readValue(&l); r != OK {
			return l, r
		}
	}

	seenTags := false
	at := fieldAt + len(fields[0]) + 1
	for _, f := range fields[1:] {
		fAt := at
		at += len(f) + 1
		if f == "" {
			return l, ErrField
		}
		switch f[0] {
		case '@':
			if l.HasRate {
				return l, ErrField
			}
			// Java's Double.valueOf, as strconv reads it, in [0, 1]
			// (NaN compares above 1).
			rate, err := strconv.ParseFloat(f[1:], 64)
			if err != nil || !(rate >= 0 && rate <= 1) {
				return l, ErrSampleRate
			}
			if l.Type != "c" && l.Type != "h" && l.Type != "ms" && l.Type != "d" {
				return l, ErrRateNotAllowed
			}
			l.Rate, l.HasRate = rate, true
		case '#':
			if seenTags {
				return l, ErrField
			}
			seenTags = true
			if r := addTags(&l, line, fAt+1, f[1:], ":"); r != OK {
				return l, r
			}
		case 'c':
			if !strings.HasPrefix(f, "c:") {
				return l, ErrField
			}
			l.Container = bs(f[2:], fAt+2)
		case 'T':
			digits := f[1:]
			if len(digits) == 0 || len(digits) > 19 || strings.Trim(digits, "0123456789") != "" {
				return l, ErrField
			}
			ts, _ := strconv.ParseUint(digits, 10, 64)
			l.Timestamp = int64(ts) // 19 digits may pass a long: they wrap
		default:
			return l, ErrField
		}
	}
	return l, OK
}

// readValue reads l.Raw as NumberFormat does, after a '+' that marks a
// gauge delta (NumberFormat itself takes no '+', so "+" and "+-1" are
// refused).
func readValue(l *Line) Result {
	text := string(l.Raw)
	l.Plus = strings.HasPrefix(text, "+")
	l.Signed = l.Plus || strings.HasPrefix(text, "-")
	if l.Plus {
		text = text[1:]
		if text == "" || text[0] == '-' {
			l.Plus = false
			return ErrValue
		}
		if l.Type != "g" {
			return ErrValue
		}
	}
	v, n := javanumref.Parse([]byte(text))
	if n == 0 {
		// Spellings of NaN and the infinities that NumberFormat refuses are
		// read as such, to be dropped as non-finite.
		word, sign := strings.CutPrefix(text, "-")
		switch {
		case strings.EqualFold(word, "nan"):
			v = math.NaN()
		case strings.EqualFold(word, "inf"), strings.EqualFold(word, "infinity"):
			v = math.Inf(1)
			if sign {
				v = -v
			}
		default:
			return ErrValue
		}
	}
	l.Value = v
	return OK
}

// addTags adds the entries of list (line[at:at+len(list)]), separated by
// ',', to l.Tags, as Guava's Splitter.on(',').withKeyValueSeparator(sep)
// reads them for MAD: every entry, an empty one too, must split into
// exactly two parts, and no key may repeat, in either tag style. The first
// bad entry decides the result.
func addTags(l *Line, line []byte, at int, list, sep string) Result {
	for _, entry := range strings.Split(list, ",") {
		kv := strings.Split(entry, sep)
		if len(kv) != 2 {
			return ErrTag
		}
		key := line[at : at+len(kv[0]) : at+len(kv[0])]
		val := line[at+len(kv[0])+1 : at+len(entry) : at+len(entry)]
		at += len(entry) + 1
		if slices.ContainsFunc(l.Tags, func(d sample.Dim) bool { return bytes.Equal(d.Key, key) }) {
			return ErrDuplicateTag
		}
		l.Tags = append(l.Tags, sample.Dim{Key: key, Value: val})
	}
	slices.SortFunc(l.Tags, func(a, b sample.Dim) int { return bytes.Compare(a.Key, b.Key) })
	return OK
}
