package otlpjson

import (
	"unicode/utf8"

	"github.com/gomad/mad/internal/jsonstr"
)

// The JSON lexicon, strict RFC 8259 as protojson reads it: whitespace is
// space, tab, LF and CR; strings are valid UTF-8 with no raw control
// character and only the escapes \" \\ \/ \b \f \n \r \t \uXXXX, a
// surrogate escape only as a high-low pair; numbers follow the grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.

// Classes of a byte inside a string.
const (
	cPlain     = 0
	cQuote     = 1
	cBackslash = 2
	cControl   = 3
	cHigh      = 4 // the first byte of a multi-byte sequence, or invalid
)

var strClass = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = cControl
	}
	t['"'] = cQuote
	t['\\'] = cBackslash
	for c := 0x80; c < 0x100; c++ {
		t[c] = cHigh
	}
	return t
}()

// ws skips whitespace.
func (t *Transcoder) ws() {
	b, i := t.b, t.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	t.i = i
}

// next returns the byte at t.i, 0 at the end.
func (t *Transcoder) next() byte {
	if t.i < len(t.b) {
		return t.b[t.i]
	}
	return 0
}

// str scans the string at t.i (a '"'), checking it, and returns its raw
// content t.b[s:e] (escapes not undone) and whether it holds an escape;
// t.i is then after the closing quote.
func (t *Transcoder) str() (s, e int, esc bool, ok bool) {
	b := t.b
	i := t.i + 1
	s = i
	for {
		for i < len(b) && strClass[b[i]] == cPlain {
			i++
		}
		if i >= len(b) {
			return 0, 0, false, t.fail(t.i, "string not closed")
		}
		switch strClass[b[i]] {
		case cQuote:
			t.i = i + 1
			return s, i, esc, true
		case cControl:
			return 0, 0, false, t.failf(i, "control character %#02x in a string (escape it)", b[i])
		case cHigh:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, 0, false, t.fail(i, "invalid UTF-8 in a string")
			}
			i += n
		case cBackslash:
			esc = true
			n := escapeLen(b, i)
			if n <= 0 {
				return 0, 0, false, t.fail(i, "invalid escape in a string")
			}
			i += n
		}
	}
}

// escapeLen returns the length of the valid escape at b[i] (a '\\'), or
// 0: protojson's rule, jsonstr.ReadEscape's escapes without a lone
// surrogate (a high one must be followed by a low one, which cannot stand
// alone).
func escapeLen(b []byte, i int) int {
	_, n, lone := jsonstr.ReadEscape(b[i:])
	if lone {
		return 0
	}
	return n
}

// unescape appends the content of a string that str checked, its escapes
// undone, to dst. (An escape str would have refused is copied as its two
// characters.)
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		r, n, _ := jsonstr.ReadEscape(raw[i:])
		if n == 0 {
			n = min(2, len(raw)-i)
			dst = append(dst, raw[i:i+n]...)
			i += n
			continue
		}
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst
}

// unescapedLen is len(unescape(nil, raw)).
func unescapedLen(raw []byte) int {
	n := 0
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			n++
			i++
			continue
		}
		r, w, _ := jsonstr.ReadEscape(raw[i:])
		if w == 0 {
			w = min(2, len(raw)-i)
			n += w
			i += w
			continue
		}
		n += utf8.RuneLen(r)
		i += w
	}
	return n
}

// scanNumber returns the end of the JSON number at b[i:], or -1 if there
// is none.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			return -1
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = digits(b, i)
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits returns the end of the run of digits at b[i:].
func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// literal consumes the literal lit (true, false, null) at t.i.
func (t *Transcoder) literal(lit string) bool {
	if len(t.b)-t.i >= len(lit) && string(t.b[t.i:t.i+len(lit)]) == lit {
		t.i += len(lit)
		return true
	}
	return t.fail(t.i, "invalid value")
}

// isNull reports whether the value at t.i is null.
func (t *Transcoder) isNull() bool {
	return len(t.b)-t.i >= 4 && string(t.b[t.i:t.i+4]) == "null"
}

// skip consumes the value at t.i, whatever it is, checking its syntax: the
// value of a field the schema does not know. It keeps the kinds of the
// open containers on t.stack, not on the Go stack, so any nesting costs a
// byte of scratch per level and no recursion.
func (t *Transcoder) skip() bool {
	t.stack = t.stack[:0]
	for {
		// A value is expected at t.i.
		t.ws()
		switch c := t.next(); {
		case c == '{':
			t.i++
			t.ws()
			if t.next() == '}' {
				t.i++
				break
			}
			t.stack = append(t.stack, '}')
			if !t.skipName() {
				return false
			}
			continue
		case c == '[':
			t.i++
			t.ws()
			if t.next() == ']' {
				t.i++
				break
			}
			t.stack = append(t.stack, ']')
			continue
		case c == '"':
			if _, _, _, ok := t.str(); !ok {
				return false
			}
		case c == 't':
			if !t.literal("true") {
				return false
			}
		case c == 'f':
			if !t.literal("false") {
				return false
			}
		case c == 'n':
			if !t.literal("null") {
				return false
			}
		case c == '-' || isDigit(c):
			e := scanNumber(t.b, t.i)
			if e < 0 {
				return t.fail(t.i, "invalid number")
			}
			t.i = e
		default:
			return t.fail(t.i, "invalid value")
		}
		// A value ended: close what it ends, up to the next value.
		for {
			n := len(t.stack)
			if n == 0 {
				return true
			}
			t.ws()
			closer := t.stack[n-1]
			c := t.next()
			if c == closer {
				t.i++
				t.stack = t.stack[:n-1]
				continue
			}
			if c != ',' {
				if closer == '}' {
					return t.fail(t.i, "want ',' or '}'")
				}
				return t.fail(t.i, "want ',' or ']'")
			}
			t.i++
			if closer == '}' && !t.skipName() {
				return false
			}
			break
		}
	}
}

// skipName consumes a member's name and its colon.
func (t *Transcoder) skipName() bool {
	t.ws()
	if t.next() != '"' {
		return t.fail(t.i, "want a field name")
	}
	if _, _, _, ok := t.str(); !ok {
		return false
	}
	return t.colon()
}

// colon consumes the colon after a member's name, and the whitespace
// around it.
func (t *Transcoder) colon() bool {
	t.ws()
	if t.next() != ':' {
		return t.fail(t.i, "want ':' after a field name")
	}
	t.i++
	t.ws()
	return true
}
