package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomad/mad/internal/hocon"
)

// binder binds configuration values to Go values the way MAD's Jackson
// binding does (MAD-SPEC §0): keys are builder setter names, unknown keys
// are ignored (and listed), numbers may be written as strings, durations are
// ISO-8601, null is allowed where MAD allows it. It collects every problem
// rather than stopping at the first.
type binder struct {
	file     string
	problems Problems
	// unknown lists ignored keys (logged at debug level).
	unknown []string
}

func (b *binder) problem(pos hocon.Pos, key, format string, args ...any) {
	if pos.File == "" {
		pos.File = b.file
	}
	b.problems = append(b.problems, Problem{Pos: pos, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// node is one configuration object being bound: it remembers which keys were
// read so that the rest can be reported as unknown.
type node struct {
	b    *binder
	v    *hocon.Value
	path string
	used map[string]bool
}

func (b *binder) root(v *hocon.Value) *node {
	return &node{b: b, v: v, used: map[string]bool{}}
}

func (n *node) key(k string) string {
	if n.path == "" {
		return k
	}
	return n.path + "." + k
}

// get returns the value of key k, nil when absent; a null value is returned
// as is (callers decide whether null is allowed).
func (n *node) get(k string) *hocon.Value {
	n.used[k] = true
	if n.v == nil || n.v.Obj == nil {
		return nil
	}
	v, _ := n.v.Obj.Get(k)
	return v
}

// has reports whether k is set (to anything, null included).
func (n *node) has(k string) bool {
	if n.v == nil || n.v.Obj == nil {
		return false
	}
	_, ok := n.v.Obj.Get(k)
	return ok
}

func (n *node) pos(v *hocon.Value) hocon.Pos {
	if v != nil {
		return v.Pos
	}
	if n.v != nil {
		return n.v.Pos
	}
	return hocon.Pos{}
}

func (n *node) fail(v *hocon.Value, k, format string, args ...any) {
	n.b.problem(n.pos(v), n.key(k), format, args...)
}

// ignore marks keys as known and deliberately unused.
func (n *node) ignore(keys ...string) {
	for _, k := range keys {
		n.used[k] = true
	}
}

// done reports the keys of the object nobody read.
func (n *node) done() {
	if n.v == nil || n.v.Obj == nil {
		return
	}
	for _, k := range n.v.Obj.Keys {
		if !n.used[k] {
			n.b.unknown = append(n.b.unknown, fmt.Sprintf("%s: %s", n.pos(n.v.Obj.Fields[k]), n.key(k)))
		}
	}
}

func kindName(v *hocon.Value) string {
	switch v.Kind {
	case hocon.Null:
		return "null"
	case hocon.Bool:
		return "a boolean"
	case hocon.Number:
		return "a number"
	case hocon.String:
		return "a string"
	case hocon.Array:
		return "a list"
	default:
		return "an object"
	}
}

// scalar returns the text of a string, number or boolean (Jackson coerces
// between them).
func scalar(v *hocon.Value) (string, bool) {
	switch v.Kind {
	case hocon.String, hocon.Number:
		return v.Str, true
	case hocon.Bool:
		return strconv.FormatBool(v.Bool), true
	}
	return "", false
}

// str returns the string at k, def when absent or null.
func (n *node) str(k, def string) string {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return def
	}
	s, ok := scalar(v)
	if !ok {
		n.fail(v, k, "must be a string, not %s", kindName(v))
		return def
	}
	return s
}

// reqStr returns the non-empty string at k, reporting its absence.
func (n *node) reqStr(k string) string {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		n.fail(nil, k, "is required")
		return ""
	}
	s := n.str(k, "")
	if s == "" {
		n.fail(v, k, "must not be empty")
	}
	return s
}

// integer returns the integer at k (a number or a string holding one, as
// Jackson coerces), def when absent or null, checked against [lo, hi].
func (n *node) integer(k string, def, lo, hi int64) int64 {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return def
	}
	s, ok := scalar(v)
	if !ok || v.Kind == hocon.Bool {
		n.fail(v, k, "must be an integer, not %s", kindName(v))
		return def
	}
	i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		// Jackson accepts an integral floating-point literal ("1.0", "1e3").
		f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			n.fail(v, k, "must be an integer, not %q", s)
			return def
		}
		i = int64(f)
	}
	if i < lo || i > hi {
		n.fail(v, k, "must be between %d and %d, not %d", lo, hi, i)
		return def
	}
	return i
}

// boolean returns the boolean at k (true/false, also as strings), def when
// absent or null.
func (n *node) boolean(k string, def bool) bool {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return def
	}
	if v.Kind == hocon.Bool {
		return v.Bool
	}
	if v.Kind == hocon.String {
		switch v.Str {
		case "true":
			return true
		case "false":
			return false
		}
	}
	s, _ := scalar(v)
	n.fail(v, k, "must be true or false, not %s %q", kindName(v), s)
	return def
}

// duration returns the ISO-8601 duration at k; set is false when it is
// absent or null (MAD's nullable durations).
func (n *node) duration(k string, def time.Duration) (d time.Duration, set bool) {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return def, false
	}
	d, err := durationOf(v)
	if err != nil {
		n.fail(v, k, "%v", err)
		return def, false
	}
	return d, true
}

// positiveDuration is duration, refusing zero and negative values.
func (n *node) positiveDuration(k string, def time.Duration) time.Duration {
	d, set := n.duration(k, def)
	if set && d <= 0 {
		n.fail(n.get(k), k, "must be a positive duration")
		return def
	}
	return d
}

// list returns the elements of the list at k (nil when absent or null).
func (n *node) list(k string) []*hocon.Value {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return nil
	}
	if v.Kind != hocon.Array {
		n.fail(v, k, "must be a list, not %s", kindName(v))
		return nil
	}
	return v.Arr
}

// strings returns the list of strings at k; present reports whether the key
// was set (to a list).
func (n *node) strings(k string) (out []string, present bool) {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return nil, false
	}
	for i, e := range n.list(k) {
		s, ok := scalar(e)
		if !ok {
			n.fail(e, fmt.Sprintf("%s[%d]", k, i), "must be a string, not %s", kindName(e))
			continue
		}
		out = append(out, s)
	}
	return out, v.Kind == hocon.Array
}

// durations returns the list of durations at k, def when absent.
func (n *node) durations(k string, def []time.Duration) []time.Duration {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return def
	}
	var out []time.Duration
	for i, e := range n.list(k) {
		d, err := durationOf(e)
		if err != nil {
			n.fail(e, fmt.Sprintf("%s[%d]", k, i), "%v", err)
			continue
		}
		if !slices.Contains(out, d) { // a Java Set
			out = append(out, d)
		}
	}
	return out
}

// KV is one entry of an ordered string map.
type KV struct{ Key, Value string }

// strMap returns the object at k as an ordered map of strings.
func (n *node) strMap(k string) []KV {
	o := n.object(k)
	if o == nil {
		return nil
	}
	var out []KV
	for _, key := range o.v.Obj.Keys {
		out = append(out, KV{key, o.str(key, "")})
	}
	return out
}

// listMap returns the object at k as an ordered map of string lists
// (MappingSource's findAndReplace).
func (n *node) listMap(k string) []KVs {
	o := n.object(k)
	if o == nil {
		return nil
	}
	var out []KVs
	for _, key := range o.v.Obj.Keys {
		vs, present := o.strings(key)
		if !present {
			o.fail(o.get(key), key, "must be a list of strings")
		}
		out = append(out, KVs{key, vs})
	}
	return out
}

// KVs is one entry of an ordered map of string lists.
type KVs struct {
	Key    string
	Values []string
}

// object returns the object at k as a node (nil when absent or null).
func (n *node) object(k string) *node {
	v := n.get(k)
	if v == nil || v.Kind == hocon.Null {
		return nil
	}
	if v.Kind != hocon.Object {
		n.fail(v, k, "must be an object, not %s", kindName(v))
		return nil
	}
	return &node{b: n.b, v: v, path: n.key(k), used: map[string]bool{}}
}

// elem returns element i of a list as a node, refusing non-objects.
func (n *node) elem(k string, i int, v *hocon.Value) *node {
	key := fmt.Sprintf("%s[%d]", k, i)
	if v.Kind != hocon.Object {
		n.fail(v, key, "must be an object, not %s", kindName(v))
		return nil
	}
	return &node{b: n.b, v: v, path: n.key(key), used: map[string]bool{}}
}

// eachObject binds each element of the non-empty list of objects at k with
// fn, then reports the element's unknown keys.
func (n *node) eachObject(k string, fn func(e *node)) {
	elems := n.list(k)
	if len(elems) == 0 {
		n.fail(n.get(k), k, "must be a non-empty list")
	}
	for i, v := range elems {
		if e := n.elem(k, i, v); e != nil {
			fn(e)
			e.done()
		}
	}
}

// enum returns the string at k, which must be one of values.
func (n *node) enum(k, def string, values ...string) string {
	s := n.str(k, def)
	if !slices.Contains(values, s) {
		n.fail(n.get(k), k, "must be one of %s, not %q", strings.Join(values, ", "), s)
		return def
	}
	return s
}

// maxPort is the largest TCP or UDP port.
const maxPort = 65535
