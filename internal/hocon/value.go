package hocon

import (
	"sort"
	"strconv"

	"github.com/gomad/mad/internal/jsonstr"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds of values, as in JSON.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// String returns the name of the kind as used in error messages.
func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Pos is a position in a configuration file. Line and Col are 1-based; Col
// counts characters (not bytes). A zero Line or Col means unknown.
type Pos struct {
	File      string
	Line, Col int
}

// String renders the position as "file:line:col", omitting the parts that
// are unknown.
func (p Pos) String() string {
	s := p.File
	if p.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += strconv.Itoa(p.Line)
		if p.Col > 0 {
			s += ":" + strconv.Itoa(p.Col)
		}
	}
	return s
}

// Value is a resolved configuration value.
type Value struct {
	Kind Kind
	// Str is, for a String, the decoded text; for a Number, the literal as
	// written (always valid JSON number syntax, e.g. "7090", "0.5", "1e3");
	// for a Bool, "true" or "false".
	Str  string
	Bool bool
	Arr  []*Value
	Obj  *Obj
	// Pos is where the value was written; after merging, where the winning
	// definition was written. Values taken from the environment or from
	// Options.Fallback by a substitution carry the substitution's position.
	Pos Pos
}

// Obj holds the fields of an Object value.
type Obj struct {
	// Keys lists the keys in the order of their first definition.
	Keys   []string
	Fields map[string]*Value
}

// Get returns the field called key (a single key, not a path).
func (o *Obj) Get(key string) (*Value, bool) {
	if o == nil {
		return nil, false
	}
	v, ok := o.Fields[key]
	return v, ok && v != nil
}

// Path looks up a nested value by already-split key segments:
// v.Path("a", "b.c") is field "b.c" of field "a" of v. With no segments it
// returns v itself.
func (v *Value) Path(path ...string) (*Value, bool) {
	cur := v
	for _, k := range path {
		if cur == nil || cur.Kind != Object {
			return nil, false
		}
		var ok bool
		if cur, ok = cur.Obj.Get(k); !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// JSON renders the value as compact JSON, objects in Keys order, like
// Typesafe Config's ConfigRenderOptions.concise(). Numbers are rendered as
// written. A nil Value renders as null.
func (v *Value) JSON() []byte {
	return appendJSON(nil, v)
}

func appendJSON(b []byte, v *Value) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch v.Kind {
	case Bool:
		if v.Bool {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case Number:
		if numberLen(v.Str) == len(v.Str) && v.Str != "" {
			return append(b, v.Str...)
		}
		return jsonstr.AppendString(b, v.Str)
	case String:
		return jsonstr.AppendString(b, v.Str)
	case Array:
		b = append(b, '[')
		for i, e := range v.Arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case Object:
		return appendObject(b, v.Obj)
	}
	return append(b, "null"...)
}

func appendObject(b []byte, o *Obj) []byte {
	b = append(b, '{')
	if o == nil {
		return append(b, '}')
	}
	first := true
	field := func(k string, v *Value) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonstr.AppendString(b, k)
		b = append(b, ':')
		b = appendJSON(b, v)
	}
	if consistent(o) {
		for _, k := range o.Keys {
			field(k, o.Fields[k])
		}
		return append(b, '}')
	}
	// A hand-built Obj whose Keys and Fields disagree: render the fields
	// named in Keys once each, then the others in sorted order.
	seen := make(map[string]bool, len(o.Fields))
	for _, k := range o.Keys {
		if v, ok := o.Fields[k]; ok && !seen[k] {
			seen[k] = true
			field(k, v)
		}
	}
	var rest []string
	for k := range o.Fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		field(k, o.Fields[k])
	}
	return append(b, '}')
}

// consistent reports whether o.Keys names each field of o exactly once, as
// it does in every Obj this package builds.
func consistent(o *Obj) bool {
	if len(o.Keys) != len(o.Fields) {
		return false
	}
	for _, k := range o.Keys {
		if _, ok := o.Fields[k]; !ok {
			return false
		}
	}
	return keysDistinct(o.Keys)
}

// keysDistinct reports whether keys has no duplicates (for the small
// objects of configurations a quadratic check beats a map).
func keysDistinct(keys []string) bool {
	if len(keys) > 16 {
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			if seen[k] {
				return false
			}
			seen[k] = true
		}
		return true
	}
	for i, k := range keys {
		for _, k2 := range keys[:i] {
			if k == k2 {
				return false
			}
		}
	}
	return true
}

// scalarText is the text of a simple value in a string concatenation.
func scalarText(v *Value) string {
	switch v.Kind {
	case Null:
		return "null"
	case Bool:
		if v.Bool {
			return "true"
		}
		return "false"
	}
	return v.Str
}

// kindPhrase names the kind of v for error messages ("an object", ...).
func kindPhrase(v *Value) string {
	switch v.Kind {
	case Object:
		return "an object"
	case Array:
		return "an array"
	case Null:
		return "null"
	}
	return "the " + v.Kind.String() + " " + strconv.Quote(scalarText(v))
}
