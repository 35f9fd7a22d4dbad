package hocon

import (
	"bytes"
	"unicode/utf8"

	"github.com/gomad/mad/internal/jsonstr"
)

// jsonParser parses strict JSON (RFC 8259) with positions: no comments, no
// trailing commas, no unquoted or single-quoted strings, no leading zeros.
type jsonParser struct {
	src      []byte
	file     string
	off      int
	line     int
	col      int
	maxDepth int
}

func parseJSON(name string, data []byte, maxDepth int) (*Value, error) {
	if err := checkUTF8(name, data); err != nil {
		return nil, err
	}
	p := &jsonParser{src: data, file: name, line: 1, col: 1, maxDepth: maxDepth}
	if bytes.HasPrefix(data, []byte("\uFEFF")) {
		p.off = 3 // a byte order mark may be ignored (RFC 8259, 8.1)
	}
	p.skipWS()
	switch c := p.peek(); {
	case p.eof():
		return nil, p.errorf("empty document: expected a JSON object")
	case c == '[':
		return nil, p.errorf("the root of a JSON configuration must be an object, not an array")
	case c != '{':
		return nil, p.errorf("expected '{' at the start of the JSON object, got %s", p.describe())
	}
	v, err := p.value(1)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if !p.eof() {
		return nil, p.errorf("unexpected %s after the end of the JSON object", p.describe())
	}
	return v, nil
}

func (p *jsonParser) pos() Pos   { return Pos{File: p.file, Line: p.line, Col: p.col} }
func (p *jsonParser) eof() bool  { return p.off >= len(p.src) }
func (p *jsonParser) peek() byte { return p.at(0) }

func (p *jsonParser) at(i int) byte {
	if p.off+i < len(p.src) {
		return p.src[p.off+i]
	}
	return 0
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return errorf(p.pos(), format, args...)
}

// describe names the character at the current position.
func (p *jsonParser) describe() string {
	if p.eof() {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.src[p.off:])
	return quoteRune(r)
}

// skip advances over n bytes of ASCII (never a newline).
func (p *jsonParser) skip(n int) {
	p.off += n
	p.col += n
}

func (p *jsonParser) skipWS() {
	for !p.eof() {
		switch p.src[p.off] {
		case ' ', '\t', '\r':
			p.skip(1)
		case '\n':
			p.off++
			p.line++
			p.col = 1
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*Value, error) {
	p.skipWS()
	pos := p.pos()
	switch c := p.peek(); {
	case p.eof():
		return nil, p.errorf("unexpected end of input: expected a value")
	case c == '{':
		return p.object(pos, depth)
	case c == '[':
		return p.array(pos, depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &Value{Kind: String, Str: s, Pos: pos}, nil
	case c == '-' || isDigit(c):
		return p.number(pos)
	case c == 't':
		return p.literal(pos, "true", &Value{Kind: Bool, Str: "true", Bool: true, Pos: pos})
	case c == 'f':
		return p.literal(pos, "false", &Value{Kind: Bool, Str: "false", Pos: pos})
	case c == 'n':
		return p.literal(pos, "null", &Value{Kind: Null, Pos: pos})
	}
	return nil, p.unexpected("a value")
}

// unexpected reports the character at the current position, explaining the
// usual non-JSON suspects.
func (p *jsonParser) unexpected(want string) error {
	switch c := p.peek(); {
	case c == '/' || c == '#':
		return p.errorf("comments are not allowed in JSON")
	case c == '\'':
		return p.errorf("strings must be enclosed in double quotes in JSON")
	case p.eof():
		return p.errorf("unexpected end of input: expected %s", want)
	}
	return p.errorf("unexpected %s: expected %s", p.describe(), want)
}

func (p *jsonParser) literal(pos Pos, word string, v *Value) (*Value, error) {
	if !bytes.HasPrefix(p.src[p.off:], []byte(word)) || isIdentByte(p.at(len(word))) {
		return nil, errorf(pos, "invalid literal: expected a value (strings must be quoted in JSON)")
	}
	p.skip(len(word))
	return v, nil
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c >= utf8.RuneSelf
}

func (p *jsonParser) number(pos Pos) (*Value, error) {
	n := numberLen(p.src[p.off:])
	if n == 0 || isIdentByte(p.at(n)) || bytes.IndexByte([]byte(".+-"), p.at(n)) >= 0 {
		return nil, errorf(pos, "invalid number (JSON numbers have no leading zeros, and need digits around '.' and after 'e')")
	}
	s := string(p.src[p.off : p.off+n])
	p.skip(n)
	return &Value{Kind: Number, Str: s, Pos: pos}, nil
}

func (p *jsonParser) object(pos Pos, depth int) (*Value, error) {
	if depth > p.maxDepth {
		return nil, errorf(pos, "objects and arrays nest too deeply (more than %d levels)", maxDepth)
	}
	p.skip(1)
	obj := &Obj{Fields: make(map[string]*Value)}
	v := &Value{Kind: Object, Obj: obj, Pos: pos}
	p.skipWS()
	if p.peek() == '}' {
		p.skip(1)
		return v, nil
	}
	for {
		p.skipWS()
		switch p.peek() {
		case '"':
		case '}':
			return nil, p.errorf("trailing comma before '}' is not allowed in JSON")
		default:
			if p.eof() || p.peek() == '/' || p.peek() == '#' || p.peek() == '\'' {
				return nil, p.unexpected("a quoted key")
			}
			return nil, p.errorf("object keys must be quoted strings in JSON, got %s", p.describe())
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.peek() != ':' {
			return nil, p.unexpected("':' after the key " + string(jsonstr.AppendString(nil, key)))
		}
		p.skip(1)
		e, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, dup := obj.Fields[key]; !dup {
			obj.Keys = append(obj.Keys, key)
		}
		obj.Fields[key] = e
		p.skipWS()
		switch p.peek() {
		case ',':
			p.skip(1)
		case '}':
			p.skip(1)
			return v, nil
		default:
			return nil, p.unexpected("',' or '}' after an object member")
		}
	}
}

func (p *jsonParser) array(pos Pos, depth int) (*Value, error) {
	if depth > p.maxDepth {
		return nil, errorf(pos, "objects and arrays nest too deeply (more than %d levels)", maxDepth)
	}
	p.skip(1)
	v := &Value{Kind: Array, Arr: []*Value{}, Pos: pos}
	p.skipWS()
	if p.peek() == ']' {
		p.skip(1)
		return v, nil
	}
	for {
		p.skipWS()
		if p.peek() == ']' {
			return nil, p.errorf("trailing comma before ']' is not allowed in JSON")
		}
		e, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.Arr = append(v.Arr, e)
		p.skipWS()
		switch p.peek() {
		case ',':
			p.skip(1)
		case ']':
			p.skip(1)
			return v, nil
		default:
			return nil, p.unexpected("',' or ']' after an array element")
		}
	}
}

// str reads a quoted string at the current position.
func (p *jsonParser) str() (string, error) {
	start := p.pos()
	p.skip(1)
	var b []byte
	for {
		// Copy the run of plain characters at once.
		i := p.off
		for i < len(p.src) && p.src[i] != '"' && p.src[i] != '\\' && p.src[i] >= 0x20 {
			i++
		}
		b = append(b, p.src[p.off:i]...)
		p.col += utf8.RuneCount(p.src[p.off:i])
		p.off = i
		switch c := p.peek(); {
		case p.eof():
			return "", errorf(start, "unterminated string: missing closing '\"'")
		case c == '"':
			p.skip(1)
			return string(b), nil
		case c == '\\':
			r, n, msg := unescape(p.src[p.off:])
			if msg != "" {
				return "", p.errorf("%s", msg)
			}
			b = utf8.AppendRune(b, r)
			p.skip(n)
		default:
			return "", p.errorf("control character U+%04X must be escaped in a JSON string", c)
		}
	}
}
