package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gomad/mad/ingest"
	"github.com/gomad/mad/internal/hocon"
	"github.com/gomad/mad/sinks"
)

// The class registry maps each MAD class name (the `type` of a source, sink
// or parser: a Java class name, MAD-SPEC §0) and its aliases (the simple
// class name) to one entry: its kind, how its keys bind and, for the
// classes mad implements, how it is built. The entry of a class sits next
// to its configuration struct, in the file of its family (source_*.go,
// sink_*.go). Classes mad does not implement yet are still bound, so that
// their values are checked, and then refused by name.

// kind is what a class is.
type kind uint8

const (
	kindSource kind = iota
	kindSink
	kindParser
)

func (k kind) String() string {
	return [...]string{"source", "sink", "parser"}[k]
}

// class is one MAD class.
type class struct {
	fqcn string
	// aliases are other names of the class; its simple name always is one.
	aliases []string
	kind    kind
	// bind reads the class's keys (other than type and name) into its
	// configuration: a pointer to its *Conf struct, nil for classes without
	// keys.
	bind func(n *node) any
	// missing says why mad cannot run this class yet ("" when it can).
	missing string
	// For a class mad runs, the builder of its kind: source makes a
	// source's configuration, sink a sink, and line configures the
	// TcpLineSource a parser class reads lines for.
	source func(b *Builder, s ClassSpec) (ingest.SourceConfig, error)
	sink   func(b *Builder, s ClassSpec) (sinks.Sink, error)
	line   func(conf any, tcp *ingest.TCPConfig)
	// value says the parser reads Kafka message values (KafkaSource's).
	value bool
	// check, for a sink whose building touches the outside world (creates
	// a file, connects), checks what building would find wrong without
	// doing so (Builder.Check).
	check func(b *Builder, s ClassSpec) error
}

// simpleName is the class name without its package.
func (c *class) simpleName() string { return c.fqcn[strings.LastIndexByte(c.fqcn, '.')+1:] }

// available reports whether mad runs the class.
func (c *class) available() bool {
	return c.missing == "" && (c.source != nil || c.sink != nil || c.line != nil || c.value)
}

const (
	pkgSources    = "com.arpnetworking.metrics.common.sources."
	pkgMadSources = "com.arpnetworking.metrics.mad.sources."
	pkgParsers    = "com.arpnetworking.metrics.mad.parsers."
	pkgSinks      = "com.arpnetworking.tsdcore.sinks."
	pkgExpSources = "com.arpnetworking.metrics.mad.experimental.sources."
	pkgExpSinks   = "com.arpnetworking.metrics.mad.experimental.sinks."
	// pkgMad names the classes mad adds.
	pkgMad = "io.gomad.mad.sinks."
)

var registry = map[string]*class{}

// register adds c under its class name, its simple name and its aliases.
func register(c *class) {
	if _, dup := registry[c.fqcn]; dup {
		panic("BUG: class " + c.fqcn + " registered twice")
	}
	switch {
	case c.missing == "" && c.kind == kindSource && c.source == nil,
		c.missing == "" && c.kind == kindSink && c.sink == nil,
		c.missing == "" && c.kind == kindParser && c.line == nil && !c.value:
		panic("BUG: class " + c.fqcn + " is available but has no builder of its kind")
	}
	registry[c.fqcn] = c
	for _, a := range append([]string{c.simpleName()}, c.aliases...) {
		if _, dup := registry[a]; !dup {
			registry[a] = c
		}
	}
}

// lookupClass finds a class by MAD class name or alias.
func lookupClass(name string) (*class, bool) {
	c, ok := registry[name]
	return c, ok
}

// ClassNames returns every class mad knows, by kind, marking those it
// cannot run yet (for -check-config and documentation).
func ClassNames() []string {
	var out []string
	for name, c := range registry {
		if name != c.fqcn {
			continue
		}
		state := "available"
		if !c.available() {
			state = "not available yet"
		}
		out = append(out, fmt.Sprintf("%s %s (%s): %s", c.kind, c.fqcn, c.simpleName(), state))
	}
	slices.Sort(out)
	return out
}

// ClassSpec is one configured source, sink or parser: its class, name,
// where it was written, and its bound configuration (the *Conf value its
// class binds; nil for classes without keys).
type ClassSpec struct {
	Class string // MAD class name (an alias is resolved)
	Name  string
	Pos   hocon.Pos
	Conf  any
}

// nested binds the source, sink or parser object at k.
func (n *node) nested(k string, kd kind, required bool) ClassSpec {
	o := n.object(k)
	if o == nil {
		if required {
			n.fail(nil, k, "a %s is required", kd)
		}
		return ClassSpec{}
	}
	return o.bindClass(kd)
}

// nestedList binds the list of sources or sinks at k.
func (n *node) nestedList(k string, kd kind) []ClassSpec {
	var out []ClassSpec
	for i, v := range n.list(k) {
		if e := n.elem(k, i, v); e != nil {
			out = append(out, e.bindClass(kd))
		}
	}
	return out
}

// bindClass binds this object as a source, sink or parser: its type, name
// and keys. A class mad cannot run yet is still bound (its values checked)
// and then reported.
func (n *node) bindClass(kd kind) ClassSpec {
	spec := ClassSpec{Pos: n.v.Pos}
	typ := n.str("type", "")
	if typ == "" {
		n.fail(nil, "type", "is required: the MAD class name of this %s", kd)
		n.ignore(objKeys(n)...)
		return spec
	}
	c, ok := lookupClass(typ)
	if !ok {
		n.fail(n.get("type"), "type", "unknown %s class %q", kd, typ)
		n.ignore(objKeys(n)...)
		return spec
	}
	if c.kind != kd {
		n.fail(n.get("type"), "type", "%s is a %s, not a %s", typ, c.kind, kd)
		n.ignore(objKeys(n)...)
		return spec
	}
	spec.Class = c.fqcn
	if kd != kindParser {
		spec.Name = n.reqStr("name")
	}
	spec.Conf = c.bind(n)
	n.done()
	if !c.available() {
		n.b.problems = append(n.b.problems, Problem{Pos: n.v.Pos, Key: n.path, Unavailable: true,
			Msg: fmt.Sprintf("%s %s is not available: %s", kd, c.fqcn, c.missing)})
	}
	return spec
}

func objKeys(n *node) []string {
	if n.v == nil || n.v.Obj == nil {
		return nil
	}
	return n.v.Obj.Keys
}

// checkRegexp reports a pattern Go's regexp cannot compile (MAD's patterns
// are Java regular expressions; RE2 lacks look-around and
// back-references).
func (n *node) checkRegexp(k, pattern string) {
	if _, err := regexp.Compile(pattern); err != nil {
		n.fail(n.get(k), k, "pattern %q: %v (mad uses RE2 syntax: no look-around or back-references)", pattern, err)
	}
}

// statusCodes reads a list of HTTP status codes.
func (n *node) statusCodes(k string, def []int) []int {
	codes := n.list(k)
	if codes == nil {
		return def
	}
	out := []int{}
	for i := range codes {
		out = append(out, int(n.indexInteger(k, i, 100, 599)))
	}
	return out
}

// indexInteger reads element i of the list at k as an integer.
func (n *node) indexInteger(k string, i int, lo, hi int64) int64 {
	v := n.list(k)[i]
	// A node holding the element under the key "k[i]", so that a problem
	// names it as the file does (sinks[0].acceptedStatusCodes[1]).
	ki := fmt.Sprintf("%s[%d]", k, i)
	tmp := &node{b: n.b, v: &hocon.Value{Kind: hocon.Object, Obj: &hocon.Obj{Keys: []string{ki}, Fields: map[string]*hocon.Value{ki: v}}, Pos: v.Pos}, path: n.path, used: map[string]bool{}}
	return tmp.integer(ki, 0, lo, hi)
}
