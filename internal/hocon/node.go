package hocon

import (
	"sort"
	"strings"
)

// node is an unresolved value: the parser builds a tree of nodes, merging
// duplicate keys as it goes, and the resolver turns it into Values.
type node interface{ position() Pos }

type (
	// valNode is an already resolved value: a literal scalar, or (during
	// resolution) the result of a substitution.
	valNode struct{ v *Value }

	// objNode is a literal object. Its fields may hold merge stacks.
	objNode struct {
		keys   []string
		fields map[string]node
		pos    Pos
	}

	// listNode is a literal array.
	listNode struct {
		elems []node
		pos   Pos
	}

	// substNode is ${path} or ${?path}. path is looked up first; alt, if
	// set, second (the unprefixed path of a substitution in an included
	// file, see "Include semantics: substitution"). name is the path as
	// looked up in Options.Fallback and the environment.
	substNode struct {
		path, alt []string
		name      string
		text      string
		optional  bool
		list      bool
		pos       Pos
	}

	// concatNode is a value concatenation with at least one unresolved part.
	concatNode struct {
		parts []node
		pos   Pos
	}

	// wsNode is unquoted whitespace between the parts of a concatenation:
	// kept in strings, ignored between arrays and objects.
	wsNode struct {
		text string
		pos  Pos
	}

	// belowNode stands for the value the field had before ("a += b" is
	// "a = <below> [b]"): the rest of the merge stack under the current
	// definition, or undefined.
	belowNode struct{ pos Pos }

	// mergeNode is a merge stack: the definitions of one field that could
	// not be merged while parsing because some are unresolved. The first
	// element has the lowest priority. It is only ever a field value and
	// never contains another mergeNode.
	mergeNode struct{ stack []node }
)

func (n *valNode) position() Pos    { return n.v.Pos }
func (n *objNode) position() Pos    { return n.pos }
func (n *listNode) position() Pos   { return n.pos }
func (n *substNode) position() Pos  { return n.pos }
func (n *concatNode) position() Pos { return n.pos }
func (n *wsNode) position() Pos     { return n.pos }
func (n *belowNode) position() Pos  { return n.pos }
func (n *mergeNode) position() Pos  { return n.stack[len(n.stack)-1].position() }

func newObjNode(pos Pos) *objNode {
	return &objNode{fields: make(map[string]node), pos: pos}
}

// setField defines key in obj, merging with an earlier definition.
func setField(obj *objNode, key string, v node) {
	old, ok := obj.fields[key]
	if !ok {
		obj.keys = append(obj.keys, key)
		obj.fields[key] = v
		return
	}
	obj.fields[key] = mergeNodes(old, v)
}

// mergeObjInto merges the fields of src into dst, src winning.
func mergeObjInto(dst, src *objNode) {
	for _, k := range src.keys {
		setField(dst, k, src.fields[k])
	}
	dst.pos = src.pos
}

// mergeNodes merges a later definition (hi) over an earlier one (lo), as for
// duplicate keys: two objects merge; a resolved non-object replaces what was
// there; an unresolved value (substitution, concatenation) is stacked over
// the earlier one, to be merged when resolved.
func mergeNodes(lo, hi node) node {
	switch h := hi.(type) {
	case *mergeNode:
		for _, n := range h.stack {
			lo = mergeNodes(lo, n)
		}
		return lo
	case *objNode:
		switch l := lo.(type) {
		case *objNode:
			mergeObjInto(l, h)
			return l
		case *mergeNode:
			if top, ok := l.stack[len(l.stack)-1].(*objNode); ok {
				mergeObjInto(top, h)
			} else {
				l.stack = append(l.stack, h)
			}
			return l
		case *substNode, *concatNode, *belowNode:
			return &mergeNode{stack: []node{lo, h}}
		}
		return h
	case *substNode, *concatNode, *belowNode:
		if l, ok := lo.(*mergeNode); ok {
			l.stack = append(l.stack, h)
			return l
		}
		return &mergeNode{stack: []node{lo, hi}}
	}
	return hi
}

// mergeUnder merges fallback under obj: obj's values win, obj's keys keep
// their order and fallback-only keys follow.
func mergeUnder(obj, fallback *objNode) {
	for _, k := range fallback.keys {
		lo := fallback.fields[k]
		hi, ok := obj.fields[k]
		if !ok {
			obj.keys = append(obj.keys, k)
			obj.fields[k] = lo
			continue
		}
		lobj, lok := lo.(*objNode)
		hobj, hok := hi.(*objNode)
		if lok && hok {
			mergeUnder(hobj, lobj)
			continue
		}
		obj.fields[k] = mergeNodes(lo, hi)
	}
}

// fallbackTree builds the object of Options.Fallback: keys split on '.'
// like Java system properties (keeping empty elements), values always
// strings, and an object winning over a string at the same path.
func fallbackTree(props map[string]string) *objNode {
	pos := Pos{File: "fallback"}
	root := newObjNode(pos)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := strings.Split(strings.ToValidUTF8(k, "\uFFFD"), ".")
		obj := root
		for _, seg := range path[:len(path)-1] {
			child, ok := obj.fields[seg].(*objNode)
			if !ok {
				if _, exists := obj.fields[seg]; !exists {
					obj.keys = append(obj.keys, seg)
				}
				child = newObjNode(pos)
				obj.fields[seg] = child
			}
			obj = child
		}
		last := path[len(path)-1]
		if _, isObj := obj.fields[last].(*objNode); isObj {
			continue
		}
		if _, exists := obj.fields[last]; !exists {
			obj.keys = append(obj.keys, last)
		}
		obj.fields[last] = &valNode{v: &Value{Kind: String, Str: props[k], Pos: pos}}
	}
	return root
}

// valueNode turns a parsed JSON value into nodes, so that it merges like
// HOCON source.
func valueNode(v *Value) node {
	switch v.Kind {
	case Object:
		o := newObjNode(v.Pos)
		for _, k := range v.Obj.Keys {
			o.keys = append(o.keys, k)
			o.fields[k] = valueNode(v.Obj.Fields[k])
		}
		return o
	case Array:
		l := &listNode{pos: v.Pos, elems: make([]node, len(v.Arr))}
		for i, e := range v.Arr {
			l.elems[i] = valueNode(e)
		}
		return l
	}
	return &valNode{v: v}
}
