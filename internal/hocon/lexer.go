package hocon

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gomad/mad/internal/jsonstr"
)

// tokKind is the kind of a HOCON token.
type tokKind uint8

const (
	tEOF        tokKind = iota
	tNewline            // '\n', the only newline that separates fields
	tSpace              // a run of other whitespace (kept for concatenation)
	tComma              // ,
	tColon              // :
	tEquals             // =
	tPlusEquals         // +=
	tLBrace             // {
	tRBrace             // }
	tLBracket           // [
	tRBracket           // ]
	tString             // quoted or triple-quoted string
	tUnquoted           // unquoted text
	tNumber             // a JSON number
	tTrue
	tFalse
	tNull
	tSubst // ${path} or ${?path}
)

// token is one HOCON token. Comments are not tokens: the lexer skips them,
// leaving the newline that ends them.
type token struct {
	kind     tokKind
	text     string // decoded text; the source text for substitutions
	pos      Pos
	path     []string // substitution path
	optional bool     // ${?path}
	list     bool     // ${NAME[]}
}

// lexer splits HOCON source into tokens on demand. The parser pulls tokens
// with next and may push any number back with unread.
type lexer struct {
	src     []byte
	file    string
	off     int
	line    int
	col     int
	back    []token
	inSubst bool
}

func newLexer(file string, src []byte) *lexer {
	return &lexer{src: src, file: file, line: 1, col: 1}
}

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col} }

func (l *lexer) peekRune() (rune, int) {
	if l.off >= len(l.src) {
		return -1, 0
	}
	if c := l.src[l.off]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(l.src[l.off:])
}

// byteAt returns the byte i positions ahead, or 0 past the end.
func (l *lexer) byteAt(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

func (l *lexer) advance(r rune, size int) {
	l.off += size
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
}

// skipASCII skips n single-byte characters that are not newlines.
func (l *lexer) skipASCII(n int) {
	l.off += n
	l.col += n
}

func (l *lexer) unread(t token) { l.back = append(l.back, t) }

// next returns the next token.
func (l *lexer) next() (token, error) {
	if n := len(l.back); n > 0 {
		t := l.back[n-1]
		l.back = l.back[:n-1]
		return t, nil
	}
	for {
		pos := l.pos()
		r, size := l.peekRune()
		switch {
		case r < 0:
			return token{kind: tEOF, pos: pos}, nil
		case r == '\n':
			l.advance(r, size)
			return token{kind: tNewline, pos: pos}, nil
		case isWhitespace(r):
			return l.lexSpace(pos), nil
		case r == '#' || r == '/' && l.byteAt(1) == '/':
			l.skipComment()
			continue
		}
		if k, ok := punctuation(r); ok {
			l.skipASCII(1)
			return token{kind: k, pos: pos}, nil
		}
		switch r {
		case '+':
			if l.byteAt(1) == '=' {
				l.skipASCII(2)
				return token{kind: tPlusEquals, pos: pos}, nil
			}
			return token{}, errorf(pos, "reserved character '+' is not allowed outside quotes (did you mean '+='?)")
		case '"':
			return l.lexString(pos)
		case '$':
			if l.byteAt(1) == '{' {
				return l.lexSubst(pos)
			}
			return token{}, errorf(pos, "reserved character '$' is not allowed outside quotes (a substitution is written ${path})")
		}
		if r == '-' || r >= '0' && r <= '9' {
			if n := numberLen(l.src[l.off:]); n > 0 {
				text := string(l.src[l.off : l.off+n])
				l.skipASCII(n)
				return token{kind: tNumber, text: text, pos: pos}, nil
			}
		}
		if isForbidden(r) {
			return token{}, errorf(pos, "reserved character %s is not allowed outside quotes", quoteRune(r))
		}
		return l.lexUnquoted(pos), nil
	}
}

func punctuation(r rune) (tokKind, bool) {
	switch r {
	case ',':
		return tComma, true
	case ':':
		return tColon, true
	case '=':
		return tEquals, true
	case '{':
		return tLBrace, true
	case '}':
		return tRBrace, true
	case '[':
		return tLBracket, true
	case ']':
		return tRBracket, true
	}
	return 0, false
}

// isWhitespace is HOCON's whitespace: Unicode space, line and paragraph
// separators, the BOM, and the ASCII controls tab, newline, vertical tab,
// form feed, carriage return and the file, group, record and unit
// separators.
func isWhitespace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x1C, 0x1D, 0x1E, 0x1F, 0xFEFF:
		return true
	}
	if r < utf8.RuneSelf {
		return false
	}
	return unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp)
}

// isForbidden reports the characters that may not appear in unquoted text.
func isForbidden(r rune) bool {
	switch r {
	case '$', '"', '{', '}', '[', ']', ':', '=', ',', '+', '#', '`', '^', '?', '!', '@', '*', '&', '\\':
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// numberLen returns the length of the longest prefix of b that is a JSON
// number, or 0 if there is none.
func numberLen[T string | []byte](b T) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0
	}
	if i+1 < len(b) && b[i] == '.' && isDigit(b[i+1]) {
		i += 2
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		j := i + 1
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j < len(b) && isDigit(b[j]) {
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

func (l *lexer) lexSpace(pos Pos) token {
	start := l.off
	for {
		r, size := l.peekRune()
		if r < 0 || r == '\n' || !isWhitespace(r) {
			break
		}
		l.advance(r, size)
	}
	return token{kind: tSpace, text: string(l.src[start:l.off]), pos: pos}
}

// skipComment skips to the end of the line, leaving the newline.
func (l *lexer) skipComment() {
	i := bytes.IndexByte(l.src[l.off:], '\n')
	if i < 0 {
		i = len(l.src) - l.off
	}
	l.col += utf8.RuneCount(l.src[l.off : l.off+i])
	l.off += i
}

// lexUnquoted reads unquoted text. As in Typesafe Config, true, false and
// null are recognised at the start of unquoted text whatever follows them
// ("truefoo" is true then "foo"; concatenation makes it a string again).
func (l *lexer) lexUnquoted(pos Pos) token {
	rest := l.src[l.off:]
	for _, kind := range [...]tokKind{tTrue, tFalse, tNull} {
		if kw := keyword(kind); bytes.HasPrefix(rest, []byte(kw)) {
			l.skipASCII(len(kw))
			return token{kind: kind, text: kw, pos: pos}
		}
	}
	start := l.off
	for {
		r, size := l.peekRune()
		if r < 0 || isForbidden(r) || isWhitespace(r) || r == '/' && l.byteAt(1) == '/' {
			break
		}
		l.advance(r, size)
	}
	return token{kind: tUnquoted, text: string(l.src[start:l.off]), pos: pos}
}

func keyword(k tokKind) string {
	switch k {
	case tTrue:
		return "true"
	case tFalse:
		return "false"
	}
	return "null"
}

// lexString reads a quoted string (JSON escapes) or a triple-quoted one
// (raw, may span lines).
func (l *lexer) lexString(pos Pos) (token, error) {
	if bytes.HasPrefix(l.src[l.off:], []byte(`"""`)) {
		return l.lexTriple(pos)
	}
	l.skipASCII(1)
	var b []byte
	for {
		r, size := l.peekRune()
		switch {
		case r < 0:
			return token{}, errorf(pos, "unterminated string: missing closing '\"'")
		case r == '"':
			l.skipASCII(1)
			return token{kind: tString, text: string(b), pos: pos}, nil
		case r == '\\':
			esc := l.pos()
			c, n, msg := unescape(l.src[l.off:])
			if msg != "" {
				return token{}, errorf(esc, "%s", msg)
			}
			b = utf8.AppendRune(b, c)
			l.skipASCII(n)
		case r == '\n':
			return token{}, errorf(l.pos(), "unterminated string: a quoted string cannot span lines (write \\n, or use a \"\"\"triple-quoted\"\"\" string)")
		case r < 0x20:
			return token{}, errorf(l.pos(), "control character U+%04X must be escaped in a quoted string", r)
		default:
			b = append(b, l.src[l.off:l.off+size]...)
			l.advance(r, size)
		}
	}
}

// lexTriple reads a """triple-quoted""" string: raw text up to the first run
// of three or more quotes, of which all but the last three belong to the
// string (as in Scala).
func (l *lexer) lexTriple(pos Pos) (token, error) {
	l.skipASCII(3)
	start := l.off
	for {
		r, size := l.peekRune()
		if r < 0 {
			return token{}, errorf(pos, "unterminated triple-quoted string: missing closing '\"\"\"'")
		}
		if r == '"' {
			n := 0
			for l.byteAt(n) == '"' {
				n++
			}
			if n >= 3 {
				text := string(l.src[start : l.off+n-3])
				l.skipASCII(n)
				return token{kind: tString, text: text, pos: pos}, nil
			}
			l.skipASCII(n)
			continue
		}
		l.advance(r, size)
	}
}

// unescape decodes the JSON escape sequence at b, which starts with the
// backslash. It returns the character, the number of bytes used (the
// backslash included), and an error message if the sequence is invalid.
// Lone surrogates become U+FFFD (jsonstr.ReadEscape, mad's one reading of
// JSON escapes).
func unescape(b []byte) (rune, int, string) {
	if r, n, _ := jsonstr.ReadEscape(b); n > 0 {
		return r, n, ""
	}
	switch {
	case len(b) < 2:
		return 0, 0, "unterminated escape sequence"
	case b[1] == 'u':
		return 0, 0, `invalid escape sequence: \u must be followed by four hex digits`
	}
	r, _ := utf8.DecodeRune(b[1:])
	return 0, 0, "invalid escape sequence \\" + string(r) + ` (valid escapes: \" \\ \/ \b \f \n \r \t \uXXXX)`
}

// lexSubst reads ${path}, ${?path} or ${NAME[]}.
func (l *lexer) lexSubst(pos Pos) (token, error) {
	if l.inSubst {
		return token{}, errorf(pos, "substitutions cannot be nested")
	}
	begin := l.off
	l.skipASCII(2)
	t := token{kind: tSubst, pos: pos}
	if l.byteAt(0) == '?' {
		l.skipASCII(1)
		t.optional = true
	}
	l.inSubst = true
	defer func() { l.inSubst = false }()
	var parts []token
	for {
		p, err := l.next()
		if err != nil {
			return token{}, err
		}
		switch p.kind {
		case tSpace, tString, tUnquoted, tNumber, tTrue, tFalse, tNull:
			parts = append(parts, p)
			continue
		case tLBracket:
			if l.byteAt(0) != ']' || l.byteAt(1) != '}' {
				return token{}, errorf(p.pos, "unexpected '[' in substitution (only ${NAME[]} is allowed, for a list from the environment)")
			}
			l.skipASCII(2)
			t.list = true
		case tRBrace:
		case tEOF, tNewline:
			return token{}, errorf(pos, "unterminated substitution: missing '}'")
		default:
			return token{}, errorf(p.pos, "unexpected %s in substitution; a substitution holds a path such as ${a.b}", describe(p))
		}
		t.text = string(l.src[begin:l.off])
		if parts = trimSpace(parts); len(parts) == 0 {
			return token{}, errorf(pos, "empty substitution %s: a path is required", t.text)
		}
		if t.path, err = buildPath(parts, pos); err != nil {
			return token{}, err
		}
		return t, nil
	}
}

// trimSpace drops whitespace tokens at both ends.
func trimSpace(ts []token) []token {
	for len(ts) > 0 && ts[0].kind == tSpace {
		ts = ts[1:]
	}
	for len(ts) > 0 && ts[len(ts)-1].kind == tSpace {
		ts = ts[:len(ts)-1]
	}
	return ts
}

// buildPath turns the tokens of a path expression (a key or the inside of a
// substitution) into path elements: '.' outside quotes separates elements,
// whitespace between tokens is kept, and an element may be empty only if
// quoted.
func buildPath(ts []token, pos Pos) ([]string, error) {
	var (
		path   []string
		cur    strings.Builder
		quoted bool
	)
	flush := func() error {
		if cur.Len() == 0 && !quoted {
			return errorf(pos, "invalid path %s: it has an empty element (a leading, trailing or doubled '.'); write an empty key as \"\"", pathSource(ts))
		}
		path = append(path, cur.String())
		cur.Reset()
		quoted = false
		return nil
	}
	for _, t := range ts {
		switch t.kind {
		case tString:
			cur.WriteString(t.text)
			quoted = true
		case tSpace:
			cur.WriteString(t.text)
		default:
			for i, part := range strings.Split(t.text, ".") {
				if i > 0 {
					if err := flush(); err != nil {
						return nil, err
					}
				}
				cur.WriteString(part)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return path, nil
}

// pathSource renders path tokens back to source form for messages.
func pathSource(ts []token) string {
	var b strings.Builder
	for _, t := range ts {
		if t.kind == tString {
			b.WriteString(strconv.Quote(t.text))
		} else {
			b.WriteString(t.text)
		}
	}
	return strconv.Quote(b.String())
}

// describe names a token for error messages.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tNewline:
		return "newline"
	case tSpace:
		return "whitespace"
	case tComma:
		return "','"
	case tColon:
		return "':'"
	case tEquals:
		return "'='"
	case tPlusEquals:
		return "'+='"
	case tLBrace:
		return "'{'"
	case tRBrace:
		return "'}'"
	case tLBracket:
		return "'['"
	case tRBracket:
		return "']'"
	case tString:
		return "string " + strconv.Quote(t.text)
	case tNumber:
		return "number " + t.text
	case tTrue, tFalse, tNull:
		return t.text
	case tSubst:
		return "substitution " + t.text
	}
	return strconv.Quote(t.text)
}
