package hocon

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
)

// Resolution turns the merged node tree into Values, resolving
// substitutions against the whole tree.
//
// The value at a path is described by a merge stack: the definitions of the
// field, lowest priority first, that could not be merged while parsing.
// Resolving a stack scans it from the top: objects become layers that merge;
// the first non-object ends the scan (it hides what is below); an undefined
// optional substitution is skipped (the earlier value stays).
//
// A substitution or concatenation in a stack is resolved with the stack
// below it standing in for the field: while it is resolved, lookups that go
// through the field's path see only the lower definitions (an override).
// That is how "a = ${a} [x]" and "a = ${?A}" refer to the earlier value of
// a, while substitutions inside objects and arrays look forward to the
// final value, as the spec requires.
//
// Results are memoized per path and per stack element. A result that
// depended on overrides already in force when its computation started is
// only valid while they are: such element results are memoized with the
// newest override they used, and forgotten with it. Dependencies are tracked
// as a bit set of override indexes.
type resolver struct {
	root      *objNode
	env       func(string) (string, bool)
	fallback  map[string]string
	memo      map[string]memoEntry // canonical value at a path (pathKey)
	elemMemo  map[node]memoEntry   // value of a stack element in its stack
	overrides []override
	used      uint64           // overrides used by the current computation (depBit)
	claimed   map[**Value]bool // array slots some slice has been extended into
	warmed    map[*node]bool   // merge stacks (by backing array) warmed up
	active    map[*substNode]bool
	chain     []*substNode // substitutions being looked up, outermost first
	depth     int
	steps     int
	maxSteps  int
	values    int
	maxValues int
	text      int // bytes of strings built by concatenation
	maxText   int
}

type memoEntry struct {
	v    *Value
	ok   bool
	deps uint64 // for scoped entries: the overrides the result used
}

// override replaces the stack at a path while one of its elements is
// resolved.
type override struct {
	key   string
	idx   int
	stack []node
	ctxOK bool
	chain int // len(resolver.chain) when installed
	// memo holds the element results valid only while this override (and
	// so every older one) is in force.
	memo map[node]memoEntry
}

// below is the part of a merge stack under the element being resolved.
type below struct {
	path  []string
	stack []node
	ctxOK bool
}

// cycleError reports that the substitution s was reached again while being
// resolved. It is caught by the innermost substitution lookup in progress.
type cycleError struct{ s *substNode }

func (e *cycleError) Error() string { return "substitution cycle at " + e.s.text }

func newResolver(root *objNode, opt Options, inputBytes int) *resolver {
	return &resolver{
		root:      root,
		env:       opt.Env,
		fallback:  opt.Fallback,
		memo:      make(map[string]memoEntry),
		elemMemo:  make(map[node]memoEntry),
		active:    make(map[*substNode]bool),
		claimed:   make(map[**Value]bool),
		warmed:    make(map[*node]bool),
		maxSteps:  max(minSteps, stepsPerByte*inputBytes),
		maxValues: max(minValues, valuesPerByte*inputBytes),
		maxText:   max(minText, textPerByte*inputBytes),
	}
}

// run resolves the whole configuration.
func (r *resolver) run() (*Value, error) {
	v, ok, err := r.resolveStack([]string{}, []node{r.root}, true, true)
	if err != nil {
		var ce *cycleError
		if errors.As(err, &ce) { // not expected: lookupSubst converts them
			return nil, errorf(ce.s.pos, "substitution %s is part of a cycle", ce.s.text)
		}
		return nil, err
	}
	if !ok {
		v = &Value{Kind: Object, Obj: &Obj{Fields: map[string]*Value{}}, Pos: r.root.pos}
	}
	return r.finish(v, make(map[*Value]bool), 1)
}

func pathKey(path []string) string {
	var b strings.Builder
	for _, s := range path {
		b.WriteByte(0xff) // never in valid UTF-8, so keys are unambiguous
		b.WriteString(s)
	}
	return b.String()
}

// depBit is the bit of override idx in a dependency set; the last bit
// stands for all the overrides from 63 up.
func depBit(idx int) uint64 { return 1 << min(idx, 63) }

// tracked runs f and returns the overrides it used that were already in
// force when it started: with none, its result is valid in general.
func (r *resolver) tracked(f func() error) (uint64, error) {
	start := len(r.overrides)
	saved := r.used
	r.used = 0
	err := f()
	used := r.used
	r.used = saved | used
	if start < 64 {
		used &= 1<<start - 1
	}
	return used, err
}

// scopedMemo returns the memo of the newest override in foreign (a
// non-empty dependency set), or nil if it cannot be told apart.
func (r *resolver) scopedMemo(foreign uint64) map[node]memoEntry {
	k := bits.Len64(foreign) - 1
	if k >= 63 {
		return nil
	}
	if r.overrides[k].memo == nil {
		r.overrides[k].memo = make(map[node]memoEntry)
	}
	return r.overrides[k].memo
}

// enter counts a level of resolution; leave must follow unless it fails.
func (r *resolver) enter(pos Pos) error {
	r.steps++
	if r.depth++; r.depth > maxResolveDepth {
		r.depth--
		return errorf(pos, "substitutions nest too deeply (more than %d levels); is there a very long chain of references?", maxResolveDepth)
	}
	if r.steps > r.maxSteps {
		r.depth--
		return errorf(pos, "the configuration is too complex to resolve (more than %d steps)", r.maxSteps)
	}
	return nil
}

func (r *resolver) leave() { r.depth-- }

func (r *resolver) findOverride(key string) *override {
	for i := len(r.overrides) - 1; i >= 0; i-- {
		if r.overrides[i].key == key {
			o := r.overrides[i]
			return &o
		}
	}
	return nil
}

// valueAt looks up an absolute path, resolving only what the lookup needs.
// It also returns the last override the lookup went through, if any.
func (r *resolver) valueAt(path []string) (*Value, bool, *override, error) {
	if len(r.overrides) == 0 {
		if m, ok := r.memo[pathKey(path)]; ok {
			return m.v, m.ok, nil, nil
		}
	}
	stack := []node{r.root}
	memoOK, ctxOK := true, true
	var hit *override
	var kb strings.Builder // the keys of the prefixes of path, without copying
	for i, seg := range path {
		kb.WriteByte(0xff)
		kb.WriteString(seg)
		key := kb.String()
		if ov := r.findOverride(key); ov != nil {
			r.used |= depBit(ov.idx)
			stack, memoOK, ctxOK, hit = ov.stack, false, ov.ctxOK, ov
			continue
		}
		if memoOK {
			if m, ok := r.memo[key]; ok {
				stack = nil
				if m.ok {
					stack = []node{&valNode{v: m.v}}
				}
				continue
			}
		}
		var layers []node
		foreign, err := r.tracked(func() (err error) {
			layers, _, err = r.scan(path[:i], stack, ctxOK)
			return err
		})
		if err != nil {
			return nil, false, hit, err
		}
		if foreign != 0 {
			memoOK, ctxOK = false, false
		}
		stack = childStack(layers, seg)
	}
	v, ok, err := r.resolveStack(path, stack, memoOK, ctxOK)
	return v, ok, hit, err
}

// resolveStack resolves the merge stack at path. memoOK says the stack is
// the canonical one at path (so the result may be memoized by path); ctxOK
// says its elements are in their canonical context (so their results may be
// memoized by element). path is nil where no lookup can reach (inside
// arrays and concatenations).
func (r *resolver) resolveStack(path []string, stack []node, memoOK, ctxOK bool) (*Value, bool, error) {
	memoOK = memoOK && path != nil
	var key string
	if memoOK {
		key = pathKey(path)
		if m, ok := r.memo[key]; ok {
			return m.v, m.ok, nil
		}
	}
	if len(stack) == 0 {
		return nil, false, nil
	}
	if err := r.enter(stack[len(stack)-1].position()); err != nil {
		return nil, false, err
	}
	defer r.leave()
	var (
		v  *Value
		ok bool
	)
	foreign, err := r.tracked(func() error {
		var (
			layers []node
			final  *Value
		)
		scanForeign, err := r.tracked(func() (err error) {
			layers, final, err = r.scan(path, stack, ctxOK)
			return err
		})
		clean := scanForeign == 0
		switch {
		case err != nil:
			return err
		case final != nil:
			v, ok = final, true
		case len(layers) > 0:
			v, err = r.mergeLayers(path, layers, memoOK && clean, ctxOK && clean)
			ok = err == nil
		}
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if memoOK && foreign == 0 {
		r.memo[key] = memoEntry{v: v, ok: ok}
	}
	return v, ok, nil
}

// scan resolves a merge stack from the top down to what its value needs. It
// returns either the value, if it is not an object, or the object layers to
// merge (lowest priority first); neither means undefined.
func (r *resolver) scan(path []string, stack []node, ctxOK bool) ([]node, *Value, error) {
	if ctxOK && len(stack) >= warmStack && !r.warmed[&stack[0]] {
		r.warm(path, stack)
	}
	var layers []node // top first
	for i := len(stack) - 1; i >= 0; i-- {
		switch n := stack[i].(type) {
		case *objNode:
			layers = append(layers, n)
			continue
		case *valNode:
			if n.v.Kind == Object {
				layers = append(layers, n)
				continue
			}
			if len(layers) == 0 {
				return nil, n.v, nil
			}
		case *listNode:
			if len(layers) == 0 {
				v, err := r.resolveList(n)
				return nil, v, err
			}
		default:
			v, ok, err := r.resolveElement(path, stack, i, ctxOK)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
			if v.Kind == Object {
				layers = append(layers, &valNode{v: v})
				continue
			}
			if len(layers) == 0 {
				return nil, v, nil
			}
		}
		break // a non-object under objects: hidden, with all below it
	}
	if len(layers) == 1 {
		if v, ok := layers[0].(*valNode); ok {
			return nil, v.v, nil // a resolved object alone: nothing to merge
		}
	}
	for i, j := 0, len(layers)-1; i < j; i, j = i+1, j-1 {
		layers[i], layers[j] = layers[j], layers[i]
	}
	return layers, nil, nil
}

// warm resolves the unresolved elements of a long merge stack bottom-up, so
// that each finds the ones below it memoized instead of recursing into them:
// a long chain of "a += x" or "a = ${a} [x]" needs no deep recursion. Errors
// are left to the lazy scan, which reports them if the element matters (a
// hidden element is never evaluated, as the spec requires).
func (r *resolver) warm(path []string, stack []node) {
	r.warmed[&stack[0]] = true // and so every prefix of it
	for i, n := range stack {
		switch n.(type) {
		case *substNode, *concatNode, *belowNode:
			if _, ok := r.elemMemo[n]; !ok {
				_, _, _ = r.resolveElement(path, stack, i, true)
			}
		}
	}
}

// childStack is the merge stack of field key in the merge of layers.
func childStack(layers []node, key string) []node {
	var cs []node
	for _, l := range layers {
		var f node
		switch t := l.(type) {
		case *objNode:
			f = t.fields[key]
		case *valNode:
			if fv, ok := t.v.Obj.Fields[key]; ok {
				f = &valNode{v: fv}
			}
		}
		if m, ok := f.(*mergeNode); ok {
			cs = append(cs, m.stack...)
		} else if f != nil {
			cs = append(cs, f)
		}
	}
	return cs
}

func layerKeys(l node) []string {
	if o, ok := l.(*objNode); ok {
		return o.keys
	}
	return l.(*valNode).v.Obj.Keys
}

// mergeLayers resolves the merge of object layers (lowest priority first):
// keys in order of first definition, each field resolved from its own merge
// stack.
func (r *resolver) mergeLayers(path []string, layers []node, memoOK, ctxOK bool) (*Value, error) {
	keys := layerKeys(layers[0])
	if len(layers) > 1 {
		seen := make(map[string]bool)
		keys = nil
		for _, l := range layers {
			for _, k := range layerKeys(l) {
				if !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
		}
	}
	if err := r.count(layers[len(layers)-1].position(), 1+len(keys)); err != nil {
		return nil, err
	}
	out := &Value{Kind: Object, Pos: layers[len(layers)-1].position(),
		Obj: &Obj{Keys: make([]string, 0, len(keys)), Fields: make(map[string]*Value, len(keys))}}
	for _, k := range keys {
		var cp []string
		if path != nil {
			cp = make([]string, len(path)+1)
			copy(cp, path)
			cp[len(path)] = k
		}
		v, ok, err := r.resolveStack(cp, childStack(layers, k), memoOK, ctxOK)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Obj.Keys = append(out.Obj.Keys, k)
			out.Obj.Fields[k] = v
		}
	}
	return out, nil
}

// resolveElement resolves the unresolved element stack[i] of the merge stack
// at path, with the stack below it standing in for the field.
func (r *resolver) resolveElement(path []string, stack []node, i int, ctxOK bool) (*Value, bool, error) {
	n := stack[i]
	if ctxOK {
		if m, ok := r.elemMemo[n]; ok {
			return m.v, m.ok, nil
		}
		for j := len(r.overrides) - 1; j >= 0; j-- {
			if m, ok := r.overrides[j].memo[n]; ok {
				r.used |= m.deps
				return m.v, m.ok, nil
			}
		}
	}
	if err := r.enter(n.position()); err != nil {
		return nil, false, err
	}
	defer r.leave()
	var (
		v  *Value
		ok bool
	)
	b := below{path: path, stack: stack[:i], ctxOK: ctxOK}
	foreign, err := r.tracked(func() (err error) {
		if path != nil {
			r.overrides = append(r.overrides, override{key: pathKey(path), idx: len(r.overrides), stack: stack[:i], ctxOK: ctxOK, chain: len(r.chain)})
			defer func() { r.overrides = r.overrides[:len(r.overrides)-1] }()
		}
		v, ok, err = r.resolveValue(n, b)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	switch {
	case !ctxOK:
	case foreign == 0:
		r.elemMemo[n] = memoEntry{v: v, ok: ok}
	default:
		if m := r.scopedMemo(foreign); m != nil {
			m[n] = memoEntry{v, ok, foreign}
		}
	}
	return v, ok, nil
}

// resolveValue resolves a node standing alone (an array element, a part of
// a concatenation, a stack element). b is the stack below it, for +=.
func (r *resolver) resolveValue(n node, b below) (*Value, bool, error) {
	switch t := n.(type) {
	case *valNode:
		return t.v, true, nil
	case *wsNode:
		return &Value{Kind: String, Str: t.text, Pos: t.pos}, true, nil
	case *objNode:
		v, err := r.mergeLayers(nil, []node{t}, false, true)
		return v, err == nil, err
	case *listNode:
		v, err := r.resolveList(t)
		return v, err == nil, err
	case *mergeNode:
		return r.resolveStack(nil, t.stack, false, true)
	case *substNode:
		return r.lookupSubst(t)
	case *belowNode:
		return r.resolveStack(b.path, b.stack, false, b.ctxOK)
	case *concatNode:
		return r.resolveConcat(t, b)
	}
	panic("hocon: unknown node type")
}

func (r *resolver) resolveList(l *listNode) (*Value, error) {
	if err := r.enter(l.pos); err != nil {
		return nil, err
	}
	defer r.leave()
	if err := r.count(l.pos, 1+len(l.elems)); err != nil {
		return nil, err
	}
	out := &Value{Kind: Array, Pos: l.pos, Arr: make([]*Value, 0, len(l.elems))}
	for _, e := range l.elems {
		v, ok, err := r.resolveValue(e, below{})
		if err != nil {
			return nil, err
		}
		if ok {
			out.Arr = append(out.Arr, v)
		}
	}
	return out, nil
}

// resolveConcat resolves a value concatenation. Undefined optional
// substitutions drop out; whitespace at the ends is dropped, whitespace
// between arrays or objects ignored; strings are joined, arrays
// concatenated, objects merged.
func (r *resolver) resolveConcat(c *concatNode, b below) (*Value, bool, error) {
	type piece struct {
		v  *Value
		ws bool
	}
	ps := make([]piece, 0, len(c.parts))
	for _, p := range c.parts {
		v, ok, err := r.resolveValue(p, b)
		if err != nil {
			return nil, false, err
		}
		if ok {
			_, ws := p.(*wsNode)
			ps = append(ps, piece{v, ws})
		}
	}
	for len(ps) > 0 && ps[0].ws {
		ps = ps[1:]
	}
	for len(ps) > 0 && ps[len(ps)-1].ws {
		ps = ps[:len(ps)-1]
	}
	switch len(ps) {
	case 0:
		return nil, false, nil
	case 1:
		return ps[0].v, true, nil
	}
	var obj, arr, simple *Value
	for _, p := range ps {
		switch {
		case p.ws:
		case p.v.Kind == Object:
			obj = firstValue(obj, p.v)
		case p.v.Kind == Array:
			arr = firstValue(arr, p.v)
		default:
			simple = firstValue(simple, p.v)
		}
	}
	switch {
	case obj != nil && arr != nil:
		return nil, false, errorf(c.pos, "cannot concatenate an object and an array")
	case obj != nil && simple != nil:
		return nil, false, errorf(c.pos, "cannot concatenate %s and an object", kindPhrase(simple))
	case arr != nil && simple != nil:
		return nil, false, errorf(c.pos, "cannot concatenate %s and an array", kindPhrase(simple))
	case obj != nil:
		var out *Value
		for _, p := range ps {
			if !p.ws {
				out = mergeValues(out, p.v)
			}
		}
		return out, true, r.count(c.pos, 1+len(out.Obj.Keys))
	case arr != nil:
		out := &Value{Kind: Array, Pos: c.pos}
		n := 0
		for _, p := range ps {
			switch {
			case p.ws:
			case out.Arr == nil:
				out.Arr = r.extensible(p.v.Arr)
			default:
				out.Arr = append(out.Arr, p.v.Arr...)
				n += len(p.v.Arr)
			}
		}
		return out, true, r.count(c.pos, 1+n)
	}
	n := 0
	for _, p := range ps {
		n += len(scalarText(p.v))
	}
	if r.text += n; r.text > r.maxText {
		return nil, false, errorf(c.pos, "the configuration is too large after substitution (more than %d bytes of concatenated strings)", r.maxText)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, p := range ps {
		sb.WriteString(scalarText(p.v))
	}
	return &Value{Kind: String, Str: sb.String(), Pos: c.pos}, true, nil
}

func firstValue(cur, v *Value) *Value {
	if cur == nil {
		return v
	}
	return cur
}

// extensible returns arr ready to be appended to: as is if the first slot
// past its end is free (so that a chain of "a += x" stays linear), capped
// (so that append copies) if another slice already extends into it.
func (r *resolver) extensible(arr []*Value) []*Value {
	if cap(arr) == len(arr) {
		return arr
	}
	slot := &arr[:len(arr)+1][len(arr)]
	if r.claimed[slot] {
		return arr[:len(arr):len(arr)]
	}
	r.claimed[slot] = true
	return arr
}

// mergeValues merges resolved object hi over lo into a new object; values
// met during resolution are never modified, since they may be shared.
func mergeValues(lo, hi *Value) *Value {
	if lo == nil || lo.Kind != Object || hi.Kind != Object {
		return hi
	}
	out := &Value{Kind: Object, Pos: hi.Pos, Obj: &Obj{
		Keys:   append(make([]string, 0, len(lo.Obj.Keys)+len(hi.Obj.Keys)), lo.Obj.Keys...),
		Fields: make(map[string]*Value, len(lo.Obj.Fields)+len(hi.Obj.Fields)),
	}}
	for k, v := range lo.Obj.Fields {
		out.Obj.Fields[k] = v
	}
	for _, k := range hi.Obj.Keys {
		h := hi.Obj.Fields[k]
		if l, ok := out.Obj.Fields[k]; ok {
			out.Obj.Fields[k] = mergeValues(l, h)
		} else {
			out.Obj.Keys = append(out.Obj.Keys, k)
			out.Obj.Fields[k] = h
		}
	}
	return out
}

// lookupSubst resolves a substitution: the configuration first (at the
// prefixed path, then the path as written), then Options.Fallback, then the
// environment.
func (r *resolver) lookupSubst(s *substNode) (*Value, bool, error) {
	if r.active[s] {
		return nil, false, &cycleError{s: s}
	}
	r.active[s] = true
	r.chain = append(r.chain, s)
	defer func() {
		delete(r.active, s)
		r.chain = r.chain[:len(r.chain)-1]
	}()
	v, ok, ov, err := r.valueAt(s.path)
	if err == nil && !ok && s.alt != nil {
		v, ok, _, err = r.valueAt(s.alt)
	}
	if err != nil {
		var ce *cycleError
		if !errors.As(err, &ce) {
			return nil, false, err
		}
		if s.optional {
			return nil, false, nil
		}
		return nil, false, r.cycleErr(s, ce.s, -1)
	}
	if !ok {
		v, ok = r.external(s)
	}
	switch {
	case ok:
		return v, true, nil
	case s.optional:
		return nil, false, nil
	case ov != nil && ov.chain == len(r.chain)-1:
		return nil, false, errorf(s.pos, "undefined substitution %s: it refers to the field being defined, which has no earlier value", s.text)
	case ov != nil:
		return nil, false, r.cycleErr(s, nil, ov.chain)
	}
	return nil, false, errorf(s.pos, "undefined substitution %s (not set in the configuration nor in the environment)", s.text)
}

// cycleErr describes a cycle of substitutions, reported at s: either the
// substitutions since the first lookup of again, or those since index from
// of the lookup chain.
func (r *resolver) cycleErr(s, again *substNode, from int) error {
	if again != nil {
		from = 0
		for i, c := range r.chain {
			if c == again {
				from = i
				break
			}
		}
	}
	var b strings.Builder
	for i, c := range r.chain[max(from, 0):] {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(c.text + " (" + c.pos.String() + ")")
	}
	if again != nil {
		b.WriteString(" -> " + again.text)
	} else if from >= 0 && from < len(r.chain) {
		b.WriteString(" -> " + r.chain[from].text)
	}
	return errorf(s.pos, "substitution %s is part of a cycle: %s", s.text, b.String())
}

// external looks a substitution up in Options.Fallback and the environment
// (where an empty variable counts as unset, as the spec says).
func (r *resolver) external(s *substNode) (*Value, bool) {
	if v, ok := r.fallback[s.name]; ok {
		return &Value{Kind: String, Str: v, Pos: s.pos}, true
	}
	if s.list {
		var arr []*Value
		for i := 0; i < maxEnvList; i++ {
			e, ok := r.env(s.name + "_" + strconv.Itoa(i))
			if !ok || e == "" {
				break
			}
			arr = append(arr, &Value{Kind: String, Str: e, Pos: s.pos})
		}
		return &Value{Kind: Array, Arr: arr, Pos: s.pos}, len(arr) > 0
	}
	if e, ok := r.env(s.name); ok && e != "" {
		return &Value{Kind: String, Str: e, Pos: s.pos}, true
	}
	return nil, false
}

// count accounts for n values created by resolution.
func (r *resolver) count(pos Pos, n int) error {
	if r.values += n; r.values > r.maxValues {
		return errorf(pos, "the configuration is too large after substitution (more than %d values)", r.maxValues)
	}
	return nil
}

// finish turns the resolved value, in which substitution results are
// shared, into a tree: a Value met a second time is copied (callers may
// modify what they get), within the budget of values; arrays get their own
// backing arrays. It also bounds the depth of the result.
func (r *resolver) finish(v *Value, seen map[*Value]bool, depth int) (*Value, error) {
	if depth > maxDepth && (v.Kind == Array || v.Kind == Object) {
		return nil, errorf(v.Pos, "the resolved configuration nests too deeply (more than %d levels)", maxDepth)
	}
	if seen[v] {
		if err := r.count(v.Pos, 1); err != nil {
			return nil, err
		}
		c := *v
		if v.Obj != nil {
			c.Obj = &Obj{Keys: append([]string(nil), v.Obj.Keys...), Fields: make(map[string]*Value, len(v.Obj.Fields))}
			for k, e := range v.Obj.Fields {
				c.Obj.Fields[k] = e
			}
		}
		v = &c
	}
	seen[v] = true
	var err error
	switch v.Kind {
	case Array:
		arr := make([]*Value, len(v.Arr))
		for i, e := range v.Arr {
			if arr[i], err = r.finish(e, seen, depth+1); err != nil {
				return nil, err
			}
		}
		v.Arr = arr
	case Object:
		for _, k := range v.Obj.Keys {
			if v.Obj.Fields[k], err = r.finish(v.Obj.Fields[k], seen, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}
