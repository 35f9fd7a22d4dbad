package jsonstr

import (
	"bytes"
	"unicode/utf8"
)

// ReadEscape reads the JSON escape sequence at the start of b, a backslash:
// the rune it stands for and its length in bytes, 0 if it is not one (an
// unknown escape, or \u without four hex digits).
//
// A \u escape of a high surrogate followed at once by one of a low
// surrogate is one rune of 12 bytes. Any other \u escape of a surrogate is
// lone: it stands for U+FFFD (6 bytes, the escape after it read on its
// own), as encoding/json and mad's HOCON reader make it. Decoders that
// refuse lone surrogates (protojson's rule, for OTLP/JSON) check lone.
func ReadEscape(b []byte) (r rune, n int, lone bool) {
	if len(b) < 2 || b[0] != '\\' {
		return 0, 0, false
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2, false
	case 'b':
		return '\b', 2, false
	case 'f':
		return '\f', 2, false
	case 'n':
		return '\n', 2, false
	case 'r':
		return '\r', 2, false
	case 't':
		return '\t', 2, false
	case 'u':
		hi, ok := hex4(b[2:])
		switch {
		case !ok:
			return 0, 0, false
		case hi < 0xD800 || hi > 0xDFFF:
			return hi, 6, false
		case hi < 0xDC00 && len(b) >= 12 && b[6] == '\\' && b[7] == 'u':
			if lo, ok := hex4(b[8:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				return 0x10000 + (hi-0xD800)<<10 + (lo - 0xDC00), 12, false
			}
		}
		return utf8.RuneError, 6, true
	}
	return 0, 0, false
}

// hex4 reads four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// ReplaceLoneSurrogates makes JSON text that a best-effort unescaper reads
// as ReadEscape does. fastjson's keeps the escape of a surrogate with
// nothing after it as its six characters, and makes one U+FFFD of any
// other surrogate's escape not in a pair and the \u escape after it (which
// it swallows). Here each lone surrogate's escape becomes \ufffd, of the
// same length. Text without one is returned as is, with false; otherwise
// the rewritten copy is dst[:0] grown, with true.
//
// Backslashes are read as escapes wherever they are: outside strings they
// are not JSON (a parser refuses the text at the backslash, or cuts the
// text before it, whatever follows it), and only hex digits are rewritten,
// so what is accepted does not change. An invalid escape is stepped over
// as the two characters a best-effort unescaper keeps.
func ReplaceLoneSurrogates(dst, src []byte) ([]byte, bool) {
	copied := false
	for i := 0; i < len(src); {
		j := bytes.IndexByte(src[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		_, n, lone := ReadEscape(src[i:])
		if lone {
			if !copied {
				dst = append(dst[:0], src...)
				copied = true
			}
			copy(dst[i+2:i+6], "fffd")
		}
		i += max(n, 2)
	}
	if !copied {
		return src, false
	}
	return dst, true
}
