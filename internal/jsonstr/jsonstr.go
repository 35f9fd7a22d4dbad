// Package jsonstr writes JSON strings: mad's one JSON string escaper, for
// the JSON lines sink, the telemetry websockets and the configuration's JSON
// rendering. It also reads JSON escape sequences (ReadEscape), mad's one
// rule for them and for lone surrogates, which the OTLP/JSON transcoder,
// the HOCON reader and (through ReplaceLoneSurrogates, ahead of fastjson)
// the collectd and telegraf decoders follow.
//
// It escapes as Jackson's JsonGenerator does (what MAD writes): the quote
// and the backslash, \b \t \n \f \r for those controls, \u00XX for the
// other C0 controls, and nothing else (not "/", not U+2028). Invalid UTF-8,
// which a Java string cannot hold, becomes U+FFFD, one per invalid byte.
package jsonstr

import (
	"encoding/binary"
	"slices"
	"unicode/utf8"
	"unsafe"
)

// escape[c] is the short escape of ASCII byte c, 1 for \u00XX, 0 for none.
var escape = func() (t [utf8.RuneSelf]byte) {
	for c := range 0x20 {
		t[c] = 1
	}
	t['"'], t['\\'] = '"', '\\'
	t['\b'], t['\t'], t['\n'], t['\f'], t['\r'] = 'b', 't', 'n', 'f', 'r'
	return t
}()

// Append appends s as a quoted JSON string to dst.
func Append(dst, s []byte) []byte {
	i := plainPrefix(s)
	for i < len(s) && s[i] < utf8.RuneSelf && escape[s[i]] == 0 {
		i++
	}
	if i == len(s) { // plain: one copy
		n := len(dst)
		dst = slices.Grow(dst, len(s)+2)[:n+len(s)+2]
		dst[n] = '"'
		copy(dst[n+1:], s)
		dst[n+1+len(s)] = '"'
		return dst
	}
	dst = append(dst, '"')
	dst = append(dst, s[:i]...)
	const hex = "0123456789abcdef"
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch e := escape[c]; e {
			case 0:
				dst = append(dst, c)
			case 1:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				dst = append(dst, '\\', e)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// Plain reports whether Append writes s as it is, between quotes: s is
// valid UTF-8 and holds no quote, backslash or C0 control. A writer that
// knows a string plain (the shard notes it once, when it interns a series'
// name and dimensions) appends it with AppendPlain instead of checking it
// again each time.
func Plain(s []byte) bool {
	for i := plainPrefix(s); i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if escape[c] != 0 {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	return true
}

// PlainASCII reports whether c is a byte Append copies as it is and that
// needs no UTF-8 decoding: printable ASCII other than the quote and the
// backslash. A string of such bytes is plain (Plain); a caller reading
// strings out of a larger encoding can test their bytes in its own loop and
// leave anything else to Plain.
func PlainASCII(c byte) bool { return plainASCII[c] }

var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = escape[c] == 0
	}
	return t
}()

// AppendPlain appends s, which Plain reports plain, as a quoted JSON string:
// what Append writes, without looking at s.
func AppendPlain(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// AppendString is Append for a string (read in place, not copied).
func AppendString(dst []byte, s string) []byte {
	return Append(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// plainPrefix returns a length, a multiple of 8, of a prefix of s that needs
// no escaping, reading 8 bytes a step (names and dimension values are
// nearly always plain ASCII: a byte at a time was 9 % of an emission).
// A word is plain when none of its bytes is below 0x20, at or above 0x80,
// a quote or a backslash; each test is exact for the word as a whole
// (the classic "has a zero byte" and "has a byte less than n" tricks).
func plainPrefix(s []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		q, b := w^('"'*ones), w^('\\'*ones)
		if (w|(w-0x20*ones)|(q-ones)&^q|(b-ones)&^b)&highs != 0 {
			break
		}
	}
	return i
}
