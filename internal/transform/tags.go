package transform

import (
	"bytes"
	"unicode/utf8"

	"github.com/gomad/mad/internal/sample"
)

// addTags parses the tag tail of an expansion (what follows its first ';')
// as MAD's TAG_SPLITTER does, Guava's
//
//	Splitter.on(';').omitEmptyStrings().trimResults().withKeyValueSeparator('=')
//
// and puts each tag into the sorted dimensions s.dims[off:], overwriting:
// entries split at ';', trimmed of whitespace (Guava's
// CharMatcher.whitespace()), empty ones skipped; each must split at '=' into
// exactly two parts, key and value, untrimmed ("k=" and "=v" are tags, "k"
// and "k=v=w" ErrTagEntry); a key twice is ErrTagDuplicate.
func (s *Scratch) addTags(off int, tail []byte) error {
	s.keys = s.keys[:0]
	for len(tail) > 0 {
		entry := tail
		if i := bytes.IndexByte(tail, ';'); i >= 0 {
			entry, tail = tail[:i], tail[i+1:]
		} else {
			tail = nil
		}
		entry = trimGuava(entry)
		if len(entry) == 0 {
			continue
		}
		// Guava's order: the key (all of the entry without a '='), checked
		// against the keys before it, then the value and nothing after it.
		k, v, hasEq := bytes.Cut(entry, []byte{'='})
		for _, seen := range s.keys {
			if bytes.Equal(seen, k) {
				return ErrTagDuplicate
			}
		}
		if !hasEq || bytes.IndexByte(v, '=') >= 0 {
			return ErrTagEntry
		}
		s.keys = append(s.keys, k)
		s.upsert(off, sample.Dim{Key: k, Value: v}, true)
	}
	return nil
}

// trimGuava trims b of the characters Guava's CharMatcher.whitespace()
// matches (Unicode White_Space less U+180E: Guava's table).
func trimGuava(b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if !guavaSpace(r) {
			break
		}
		b = b[n:]
	}
	for len(b) > 0 {
		r, n := utf8.DecodeLastRune(b)
		if !guavaSpace(r) {
			break
		}
		b = b[:len(b)-n]
	}
	return b
}

// guavaSpace reports whether CharMatcher.whitespace() matches r.
func guavaSpace(r rune) bool {
	switch {
	case r == ' ', r >= '\t' && r <= '\r':
		return true
	case r < 0x85:
		return false
	}
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}
