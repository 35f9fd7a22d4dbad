package statsd

// The parser as first written: index scans per field, SWAR over eight bytes.
// It is the reference FuzzParseLine holds ParseLine to.

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/gomad/mad/internal/javanum"
	"github.com/gomad/mad/internal/sample"
)

// ParseLine parses one line (without its '\n'; a trailing '\r' is ignored)
// into l, reusing l.Tags' capacity. Empty lines are the caller's business.
//
// Grammar (MAD's, extended):
//
//	name[,k=v[,k=v…]]:value|type[|@rate][|#k:v[,k:v…]][|c:container][|Tseconds]
//
// MAD accepts only @rate then #tags, with tags running to the end of the
// line; here the |-fields after the type may come in any order.
func parseLineRef(line []byte, l *Line) Result {
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
		if r := splitTagsRef(line, i+1, j, '=', &l.Tags); r != OK {
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
		num, signed, plus := splitSign(l.Raw)
		val, n := javanum.Parse(num)
		if n == 0 || (plus && l.Type != TypeGauge) {
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
			if r := splitTagsRef(line, f+1, e, ':', &l.Tags); r != OK {
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
func splitTagsRef(line []byte, from, to int, sep byte, tags *[]sample.Span) Result {
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
			if r := addTagRef(line, start, kv, i, &ts); r != OK {
				return r
			}
			start, kv = i+1, -1
		}
	}
	r := addTagRef(line, start, kv, to, &ts)
	*tags = ts
	return r
}

// addTag appends the entry line[start:end] with its sep at kv.
func addTagRef(line []byte, start, kv, end int, ts *[]sample.Span) Result {
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

// SWAR scanning: find the first of a few bytes eight bytes at a time. For
// v = x XOR broadcast(c), (v - 0x01…01) &^ v & 0x80…80 has the high bit set
// in every byte of v that is zero, and maybe in bytes above one (a borrow),
// never below: the lowest set bit is exactly the first match (Mycroft's
// zero-byte test).
const msbs = 0x8080808080808080

func zeroBytes(v uint64) uint64 { return (v - lsbs) &^ v & msbs }

// index1 returns the index of the first c in b, or len(b).
func index1(b []byte, c byte) int {
	p := lsbs * uint64(c)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := zeroBytes(binary.LittleEndian.Uint64(b[i:]) ^ p); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && b[i] != c; i++ {
	}
	return i
}

// index2 returns the index of the first c1 or c2 in b, or len(b).
func index2(b []byte, c1, c2 byte) int {
	p1, p2 := lsbs*uint64(c1), lsbs*uint64(c2)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := zeroBytes(x^p1) | zeroBytes(x^p2); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && b[i] != c1 && b[i] != c2; i++ {
	}
	return i
}

// indexName returns the index of the first byte that ends a metric name
// (':' ',' '|' '@'), or len(b).
func indexName(b []byte) int {
	const pc, pm, pb, pa = lsbs * ':', lsbs * ',', lsbs * '|', lsbs * '@'
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := zeroBytes(x^pc) | zeroBytes(x^pm) | zeroBytes(x^pb) | zeroBytes(x^pa); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == ':' || c == ',' || c == '|' || c == '@' {
			break
		}
	}
	return i
}

// load8 reads 8 bytes of b at i, zero-padding past the end of b.
func load8(b []byte, i int) uint64 {
	if i+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[i:])
	}
	var buf [8]byte
	copy(buf[:], b[i:])
	return binary.LittleEndian.Uint64(buf[:])
}
