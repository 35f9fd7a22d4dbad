// Package graphiteref is a reference decoder for Graphite plaintext lines:
// MAD's GraphitePlaintextToRecordParser (MAD-SPEC §4.5) as package graphite
// documents it, written with MAD's own regular expression, strings.Split
// and strconv, and sharing no code with package graphite. Values are read
// with javanumref, the reference for Java's NumberFormat; keys are
// internal/sample's, the input vocabulary both sides share.
//
// It is slow and allocates freely; it is for tests (the graphite package's
// fuzzer and the harnesses of package fuzz).
package graphiteref

import (
	"errors"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gomad/mad/internal/javanum/javanumref"
	"github.com/gomad/mad/internal/sample"
)

// Config is graphite.Config: MAD's builder keys.
type Config struct {
	GlobalTags      [][2]string
	ParseCarbonTags bool
}

// Why a line is refused.
var (
	// ErrSyntax: MAD's regex does not match the line.
	ErrSyntax = errors.New("graphiteref: the line does not match MAD's pattern")
	// ErrUTF8: the name is not valid UTF-8 (mad's rule; MAD would decode
	// it with replacement characters).
	ErrUTF8 = errors.New("graphiteref: the name is not valid UTF-8")
	// ErrEmptyName: with carbon tags, a name of only ';' leaves MAD's
	// String.split nothing to take the name from.
	ErrEmptyName = errors.New("graphiteref: the name is empty")
	// ErrValue: NumberFormat reads no number.
	ErrValue = errors.New("graphiteref: the value is not a number")
	// ErrKeyTooLong: the canonical key exceeds sample.MaxKeyLen (mad's
	// limit).
	ErrKeyTooLong = errors.New("graphiteref: the series key is too long")
)

// lineRE is MAD's pattern, ^(?<NAME>[^ ]+) (?<VALUE>[^ ]+)( (?<TIMESTAMP>[0-9]+))?[\s]*$,
// in RE2 syntax (Java's \s includes \x0B; RE2's does not). Anchored at both
// ends and with greedy, leftmost-first submatches it picks the same groups
// as Java's Matcher.matches.
var lineRE = regexp.MustCompile(`^([^ ]+) ([^ ]+)( ([0-9]+))?[\t\n\x0B\f\r ]*$`)

// Match returns the groups of MAD's pattern in line: the name, the value and
// the timestamp (nil if absent); ok is false if the pattern does not match.
func Match(line []byte) (name, value, timestamp []byte, ok bool) {
	m := lineRE.FindSubmatch(line)
	if m == nil {
		return nil, nil, nil, false
	}
	return m[1], m[2], m[4], true
}

// Decode decodes one line (without its '\n') into one GAUGE sample without
// unit appended to b, or refuses it. now (ms) is the time of a line without
// a timestamp.
func Decode(line []byte, now int64, cfg Config, b *sample.Batch) (sample.Counts, error) {
	nameB, valueB, tsB, ok := Match(line)
	if !ok {
		return sample.Counts{}, ErrSyntax
	}
	if !utf8.Valid(nameB) {
		return sample.Counts{}, ErrUTF8
	}
	name := string(nameB)

	// Dimensions: a map filled with the global tags, then the carbon
	// tags; a later key replaces an earlier one.
	tags := map[string]string{}
	for _, kv := range cfg.GlobalTags {
		tags[kv[0]] = kv[1]
	}
	if cfg.ParseCarbonTags && strings.Contains(name, ";") {
		parts := javaSplit(name, ";")
		if len(parts) == 0 {
			return sample.Counts{}, ErrEmptyName
		}
		name = parts[0]
		for _, p := range parts[1:] {
			// Malformed or empty pairs are ignored.
			if kv := javaSplit(p, "="); len(kv) == 2 && kv[0] != "" && kv[1] != "" {
				tags[kv[0]] = kv[1]
			}
		}
	}

	v, n := javanumref.Parse(valueB)
	if n == 0 {
		return sample.Counts{}, ErrValue
	}

	t := now
	if tsB != nil {
		// NumberFormat's longValue(): exact within a long; beyond, a
		// double, which longValue() saturates. Then seconds × 1000 in
		// long arithmetic, which wraps.
		secs, err := strconv.ParseInt(string(tsB), 10, 64)
		if err != nil {
			secs = math.MaxInt64
		}
		t = secs * 1000
	}

	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dims := make([]sample.Dim, len(keys))
	for i, k := range keys {
		dims[i] = sample.Dim{Key: []byte(k), Value: []byte(tags[k])}
	}
	if _, err := sample.AppendKey(nil, sample.KindGauge, []byte(name), dims); err != nil {
		return sample.Counts{}, ErrKeyTooLong
	}
	k, _ := b.PutKey(sample.KindGauge, []byte(name), dims)
	b.AddValue(k, t, 0, v, sample.UnitNone)
	return sample.Counts{Records: 1, Samples: 1}, nil
}

// javaSplit is Java's String.split(sep) for a one-character sep: the parts
// between separators, with the trailing empty ones removed.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}
