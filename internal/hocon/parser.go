package hocon

import (
	"path/filepath"
	"strings"
)

// parser turns the tokens of one HOCON file into a tree of nodes. Objects
// know their path from the root of the whole configuration (for the
// relative prefix of substitutions in included files) unless they are inside
// an array, where there is no path.
type parser struct {
	lx  *lexer
	dir string // directory of the file, for relative includes
	// prefix is the path at which this file is included, prepended to the
	// paths of its substitutions; nil for the main file or when unknown.
	prefix []string
	inc    *includer
}

// parseHOCON parses a whole file into its root object. at is the path of the
// object the file is merged into (known is false inside arrays); depth is
// that object's nesting depth.
func parseHOCON(name string, data []byte, inc *includer, at []string, known bool, depth int) (*objNode, error) {
	if err := checkUTF8(name, data); err != nil {
		return nil, err
	}
	p := &parser{lx: newLexer(name, data), dir: dirOf(name), inc: inc}
	if known && len(at) > 0 {
		p.prefix = at
	}
	return p.parseRoot(at, known, depth)
}

func dirOf(name string) string {
	if name == "" {
		return "."
	}
	return filepath.Dir(name)
}

// skipBlank returns the next token that is not whitespace or a newline.
func (p *parser) skipBlank() (token, error) {
	for {
		t, err := p.lx.next()
		if err != nil || t.kind != tSpace && t.kind != tNewline {
			return t, err
		}
	}
}

// skipSpace returns the next token that is not (non-newline) whitespace.
func (p *parser) skipSpace() (token, error) {
	for {
		t, err := p.lx.next()
		if err != nil || t.kind != tSpace {
			return t, err
		}
	}
}

func (p *parser) parseRoot(path []string, known bool, depth int) (*objNode, error) {
	t, err := p.skipBlank()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tLBrace:
		obj, err := p.parseObject(t.pos, true, path, known, depth)
		if err != nil {
			return nil, err
		}
		if t, err = p.skipBlank(); err != nil {
			return nil, err
		}
		if t.kind != tEOF {
			return nil, errorf(t.pos, "unexpected %s after the closing '}' of the root object", describe(t))
		}
		return obj, nil
	case tLBracket:
		return nil, errorf(t.pos, "the root of a configuration must be an object, not an array")
	}
	p.lx.unread(t)
	return p.parseObject(Pos{File: p.lx.file, Line: 1, Col: 1}, false, path, known, depth)
}

// parseObject parses the fields of an object up to its closing brace (or
// the end of input for a root without braces). Fields are separated by
// commas and/or newlines; one trailing comma is allowed.
func (p *parser) parseObject(open Pos, braced bool, path []string, known bool, depth int) (*objNode, error) {
	if depth > maxDepth {
		return nil, errorf(open, "objects and arrays nest too deeply (more than %d levels)", maxDepth)
	}
	obj := newObjNode(open)
	sep, field := true, false // a separator precedes; the last item was a field
	for {
		t, err := p.lx.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tSpace:
			continue
		case tNewline:
			sep = true
			continue
		case tComma:
			if !field {
				return nil, errorf(t.pos, "unexpected ',': expected a field (two commas in a row, or a comma before the first field)")
			}
			sep, field = true, false
			continue
		case tRBrace:
			if braced {
				return obj, nil
			}
			return nil, errorf(t.pos, "unexpected '}' with no matching '{'")
		case tEOF:
			if braced {
				return nil, errorf(t.pos, "expected '}' or a field, got end of input (the '{' at %s is never closed)", open)
			}
			return obj, nil
		}
		switch {
		case !sep && braced:
			return nil, errorf(t.pos, "expected ',', a newline or '}' after a field, got %s", describe(t))
		case !sep:
			return nil, errorf(t.pos, "expected ',' or a newline after a field, got %s", describe(t))
		case !isKeyToken(t) && braced:
			return nil, errorf(t.pos, "expected '}' or a field, got %s", describe(t))
		case !isKeyToken(t):
			return nil, errorf(t.pos, "expected a field (key = value), got %s", describe(t))
		}
		if err := p.parseField(t, obj, path, known, depth); err != nil {
			return nil, err
		}
		sep, field = false, true
	}
}

func isKeyToken(t token) bool {
	switch t.kind {
	case tString, tUnquoted, tNumber, tTrue, tFalse, tNull:
		return true
	}
	return false
}

// parseField parses "key = value", "key : value", "key { ... }",
// "key += value" or an include statement, and merges it into obj.
func (p *parser) parseField(first token, obj *objNode, path []string, known bool, depth int) error {
	if first.kind == tUnquoted && first.text == "include" {
		return p.parseInclude(first, obj, path, known, depth)
	}
	key, err := p.parseKey(first)
	if err != nil {
		return err
	}
	if depth+len(key)-1 > maxDepth { // the objects the dotted key creates
		return errorf(first.pos, "objects and arrays nest too deeply (more than %d levels)", maxDepth)
	}
	var sub []string
	if known {
		sub = make([]string, 0, len(path)+len(key))
		sub = append(append(sub, path...), key...)
	}
	vdepth := depth + len(key)
	sep, err := p.skipSpace()
	if err != nil {
		return err
	}
	var value node
	switch sep.kind {
	case tColon, tEquals:
		value, err = p.parseFieldValue(sub, known, vdepth)
	case tPlusEquals:
		var elem node
		if elem, err = p.parseFieldValue(nil, false, vdepth+1); err == nil {
			value = &concatNode{pos: sep.pos, parts: []node{
				&belowNode{pos: sep.pos},
				&listNode{pos: elem.position(), elems: []node{elem}},
			}}
		}
	case tLBrace:
		p.lx.unread(sep)
		value, err = p.parseValue(sub, known, vdepth)
	case tSubst:
		return errorf(sep.pos, "substitutions are not allowed in keys")
	case tNewline:
		return errorf(sep.pos, "expected ':', '=' or '{' after the key %s, got a newline (a key and its value must start on the same line)", pathSource(keyTokens(key)))
	default:
		return errorf(sep.pos, "expected ':', '=' or '{' after the key %s, got %s", pathSource(keyTokens(key)), describe(sep))
	}
	if err != nil {
		return err
	}
	for i := len(key) - 1; i > 0; i-- {
		o := newObjNode(first.pos)
		o.keys = []string{key[i]}
		o.fields[key[i]] = value
		value = o
	}
	setField(obj, key[0], value)
	return nil
}

func keyTokens(key []string) []token {
	return []token{{kind: tUnquoted, text: strings.Join(key, ".")}}
}

// parseKey reads a path expression used as a key: keys may not contain
// substitutions; whitespace inside them is kept.
func (p *parser) parseKey(first token) ([]string, error) {
	parts := []token{first}
	for {
		t, err := p.lx.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tSpace || isKeyToken(t) {
			parts = append(parts, t)
			continue
		}
		p.lx.unread(t)
		return buildPath(trimSpace(parts), first.pos)
	}
}

// parseFieldValue parses the value after a separator, which may start on a
// later line.
func (p *parser) parseFieldValue(path []string, known bool, depth int) (node, error) {
	t, err := p.skipBlank()
	if err != nil {
		return nil, err
	}
	p.lx.unread(t)
	return p.parseValue(path, known, depth)
}

// parseValue parses a value concatenation: simple values, substitutions,
// arrays and objects separated only by non-newline whitespace.
func (p *parser) parseValue(path []string, known bool, depth int) (node, error) {
	var (
		pieces []node
		space  *wsNode
	)
	for {
		t, err := p.lx.next()
		if err != nil {
			return nil, err
		}
		var n node
		switch t.kind {
		case tSpace:
			if len(pieces) > 0 {
				space = &wsNode{text: t.text, pos: t.pos}
			}
			continue
		case tString, tUnquoted:
			n = &valNode{v: &Value{Kind: String, Str: t.text, Pos: t.pos}}
		case tNumber:
			n = &valNode{v: &Value{Kind: Number, Str: t.text, Pos: t.pos}}
		case tTrue, tFalse:
			n = &valNode{v: &Value{Kind: Bool, Str: t.text, Bool: t.kind == tTrue, Pos: t.pos}}
		case tNull:
			n = &valNode{v: &Value{Kind: Null, Pos: t.pos}}
		case tSubst:
			n = p.subst(t)
		case tLBrace:
			n, err = p.parseObject(t.pos, true, path, known, depth)
		case tLBracket:
			n, err = p.parseArray(t.pos, depth)
		default:
			p.lx.unread(t)
			if len(pieces) == 0 {
				return nil, errorf(t.pos, "expected a value, got %s", describe(t))
			}
			return concat(pieces)
		}
		if err != nil {
			return nil, err
		}
		if space != nil {
			pieces = append(pieces, space)
			space = nil
		}
		pieces = append(pieces, n)
	}
}

func (p *parser) subst(t token) node {
	s := &substNode{path: t.path, name: strings.Join(t.path, "."), text: t.text, optional: t.optional, list: t.list, pos: t.pos}
	if len(p.prefix) > 0 {
		s.alt = t.path
		s.path = append(append(make([]string, 0, len(p.prefix)+len(t.path)), p.prefix...), t.path...)
	}
	return s
}

// parseArray parses the elements of an array up to its closing bracket.
func (p *parser) parseArray(open Pos, depth int) (node, error) {
	if depth > maxDepth {
		return nil, errorf(open, "objects and arrays nest too deeply (more than %d levels)", maxDepth)
	}
	list := &listNode{pos: open}
	sep, elem := true, false
	for {
		t, err := p.lx.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tSpace:
			continue
		case tNewline:
			sep = true
			continue
		case tComma:
			if !elem {
				return nil, errorf(t.pos, "unexpected ',': expected a value (two commas in a row, or a comma before the first element)")
			}
			sep, elem = true, false
			continue
		case tRBracket:
			return list, nil
		case tEOF:
			return nil, errorf(t.pos, "expected ']' or a value, got end of input (the '[' at %s is never closed)", open)
		}
		if !sep {
			return nil, errorf(t.pos, "expected ',', a newline or ']' after an array element, got %s", describe(t))
		}
		p.lx.unread(t)
		v, err := p.parseValue(nil, false, depth+1)
		if err != nil {
			return nil, err
		}
		list.elems = append(list.elems, v)
		sep, elem = false, true
	}
}

// concat combines the pieces of a value concatenation. Without
// substitutions it is done now: strings are joined (with the whitespace
// between them), arrays concatenated, objects merged; mixing them is an
// error. With substitutions it is left to the resolver.
func concat(pieces []node) (node, error) {
	if len(pieces) == 1 {
		return pieces[0], nil
	}
	var obj, list, simple node
	subst := false
	for _, n := range pieces {
		switch n.(type) {
		case *substNode:
			subst = true
		case *objNode:
			obj = first(obj, n)
		case *listNode:
			list = first(list, n)
		case *valNode:
			simple = first(simple, n)
		}
	}
	switch {
	case obj != nil && list != nil:
		return nil, errorf(later(obj, list).position(), "cannot concatenate an object and an array")
	case obj != nil && simple != nil:
		return nil, concatError(simple.(*valNode).v, obj, "an object")
	case list != nil && simple != nil:
		return nil, concatError(simple.(*valNode).v, list, "an array")
	case subst:
		return &concatNode{parts: pieces, pos: pieces[0].position()}, nil
	case obj != nil:
		merged := obj.(*objNode)
		for _, n := range pieces {
			if o, ok := n.(*objNode); ok && o != merged {
				mergeObjInto(merged, o)
			}
		}
		return merged, nil
	case list != nil:
		l := &listNode{pos: list.position()}
		for _, n := range pieces {
			if e, ok := n.(*listNode); ok {
				l.elems = append(l.elems, e.elems...)
			}
		}
		return l, nil
	}
	var b strings.Builder
	for _, n := range pieces {
		switch t := n.(type) {
		case *wsNode:
			b.WriteString(t.text)
		case *valNode:
			b.WriteString(scalarText(t.v))
		}
	}
	return &valNode{v: &Value{Kind: String, Str: b.String(), Pos: pieces[0].position()}}, nil
}

func first(cur, n node) node {
	if cur == nil {
		return n
	}
	return cur
}

func later(a, b node) node {
	pa, pb := a.position(), b.position()
	if pa.Line > pb.Line || pa.Line == pb.Line && pa.Col > pb.Col {
		return a
	}
	return b
}

func concatError(v *Value, other node, what string) error {
	pos := later(&valNode{v: v}, other).position()
	return errorf(pos, "cannot concatenate %s and %s (quote the whole value if it is meant to be a string)", kindPhrase(v), what)
}
